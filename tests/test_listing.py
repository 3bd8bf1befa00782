"""Listing jobs (:func:`jq.queueing.listing.list_jobs`) on every driver: places, order, the function filter
through many batches, records that cannot be read, and one round trip per batch of records."""

from __future__ import annotations

import datetime

import pytest

from jq import Queue, SimpleWorker
from jq.queueing.listing import LISTED_STATUSES, list_jobs
from tests import fixtures
from tests.test_corrupt_data import DAMAGE, damage


def one_of_each(broker):
    """A job in every place of queue ``default`` but started, and one queued in ``other``;
    {status: job}."""
    queue = Queue(connection=broker)
    finished = queue.enqueue(fixtures.add, 1, 1)
    failed = queue.enqueue(fixtures.div_by_zero, 1)
    SimpleWorker([queue], connection=broker).work(burst=True, logging_level="CRITICAL")
    blocker = queue.enqueue(fixtures.add, 2, 2)
    deferred = queue.enqueue(fixtures.add, 3, 3, depends_on=blocker)
    scheduled = queue.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 4, 4)
    canceled = queue.enqueue(fixtures.say_hello, "x")
    canceled.cancel()
    other = Queue("other", connection=broker).enqueue(fixtures.say_hello, "other")
    return {
        "finished": finished,
        "failed": failed,
        "queued": blocker,
        "deferred": deferred,
        "scheduled": scheduled,
        "canceled": canceled,
        "other": other,
    }


def test_every_place_is_listed_with_status_function_and_error(broker):
    jobs = one_of_each(broker)
    listing = list_jobs([Queue(connection=broker)])
    by_id = {entry.id: entry for entry in listing.jobs}
    assert set(by_id) == {job.id for name, job in jobs.items() if name != "other"}
    assert listing.total == 6 and listing.complete
    for name in ("finished", "failed", "queued", "deferred", "scheduled", "canceled"):
        entry = by_id[jobs[name].id]
        assert (entry.status, entry.place, entry.queue) == (name, name, "default")
        assert entry.problem is None
    assert by_id[jobs["failed"].id].function == "tests.fixtures.div_by_zero"
    assert by_id[jobs["failed"].id].error == "ZeroDivisionError: division by zero"
    assert by_id[jobs["finished"].id].error is None

    # Newest first by enqueue time, then oldest first.
    times = [entry.since for entry in listing.jobs]
    assert times == sorted(times, reverse=True)
    oldest = list_jobs([Queue(connection=broker)], newest=False)
    assert [entry.id for entry in oldest.jobs] == [entry.id for entry in listing.jobs][::-1]

    failed_only = list_jobs(
        [Queue(connection=broker), Queue("other", connection=broker)], ["failed", "queued"]
    )
    assert {entry.id for entry in failed_only.jobs} == {
        jobs["failed"].id,
        jobs["queued"].id,
        jobs["other"].id,
    }


def test_the_limit_keeps_the_newest_and_says_there_are_more(broker):
    queue = Queue(connection=broker)
    jobs = [queue.enqueue(fixtures.add, n, n) for n in range(5)]
    newest = list_jobs([queue], ["queued"], limit=2)
    assert [entry.id for entry in newest.jobs] == [jobs[4].id, jobs[3].id]
    assert not newest.complete and newest.total == 5
    oldest = list_jobs([queue], ["queued"], limit=2, newest=False)
    assert [entry.id for entry in oldest.jobs] == [jobs[0].id, jobs[1].id]
    assert list_jobs([queue], ["queued"], limit=5).complete


def test_the_function_filter_reads_batch_after_batch(broker):
    queue = Queue(connection=broker)
    hellos = []
    for n in range(12):
        job = queue.enqueue(
            fixtures.say_hello if n % 4 == 0 else fixtures.add, *((str(n),) if n % 4 == 0 else (n, n))
        )
        if n % 4 == 0:
            hellos.append(job)
    found = list_jobs([queue], ["queued"], function="say_hello", limit=2, batch=3)
    assert [entry.id for entry in found.jobs] == [hellos[2].id, hellos[1].id]
    assert not found.complete
    everything = list_jobs([queue], ["queued"], function="fixtures.say_hello", limit=10, batch=3)
    assert [entry.id for entry in everything.jobs] == [job.id for job in reversed(hellos)]
    assert everything.complete
    assert list_jobs([queue], ["queued"], function="nothing.like.this", batch=3).jobs == []


@pytest.mark.parametrize(
    "kind", ["garbage data", "data from another serializer", "bad timestamp", "bad meta"]
)
def test_a_record_that_cannot_be_read_is_listed_with_the_reason(broker, kind):
    queue = Queue(connection=broker)
    good = queue.enqueue(fixtures.add, 1, 2)
    bad = queue.enqueue(fixtures.add, 3, 4)
    damage(broker, bad.id, *DAMAGE[kind])
    listing = list_jobs([queue], function="fixtures.add")
    assert {entry.id for entry in listing.jobs} == {good.id, bad.id}
    (entry,) = [entry for entry in listing.jobs if entry.id == bad.id]
    assert entry.problem is not None and ("cannot be read" in entry.problem or "corrupt" in entry.problem)
    assert entry.function is None and entry.status == "queued"
    if entry.since is None:  # the record itself cannot be read, not only its call: listed last
        assert listing.jobs[-1] is entry


def test_records_are_read_a_batch_per_round_trip(broker, monkeypatch):
    queue = Queue(connection=broker)
    for n in range(30):
        queue.enqueue(fixtures.div_by_zero, n)
    SimpleWorker([queue], connection=broker).work(burst=True, logging_level="CRITICAL")
    for n in range(30):
        queue.enqueue(fixtures.add, n, n)
    batches: list[int] = []
    inside_a_batch = []
    load_jobs = broker.load_jobs

    def counted(ids):
        batches.append(len(ids))
        inside_a_batch.append(True)
        try:
            return load_jobs(ids)
        finally:
            inside_a_batch.pop()

    def one_at_a_time(original):
        def refuse(*args, **kwargs):
            # The memory driver's batch read reads each record in turn: no round trip there.
            assert inside_a_batch, "a listing reads records in batches, never one at a time"
            return original(*args, **kwargs)

        return refuse

    monkeypatch.setattr(broker, "load_jobs", counted)
    for name in ("load_job", "load_results", "load_job_fields"):
        monkeypatch.setattr(broker, name, one_at_a_time(getattr(broker, name)))
    listing = list_jobs([queue], LISTED_STATUSES, limit=50)
    assert len(listing.jobs) == 50 and {entry.status for entry in listing.jobs} == {"queued", "failed"}
    # One round trip per place that holds jobs (queued and failed), none per job.
    assert sorted(batches) == [30, 30]
    assert all(
        entry.error == "ZeroDivisionError: division by zero"
        for entry in listing.jobs
        if entry.status == "failed"
    )


def test_jobs_waiting_for_their_rate_limit_are_listed(broker):
    from jq import RateLimit

    queue = Queue(connection=broker)
    limit = RateLimit("reports", concurrency=1)
    running = queue.enqueue(fixtures.add, 1, 1, rate_limit=limit)
    waiting = queue.enqueue(fixtures.add, 2, 2, rate_limit=limit)
    assert waiting.get_status() == "rate_limited"
    listing = list_jobs([queue], statuses=["rate_limited"])
    assert [(entry.id, entry.status, entry.place) for entry in listing.jobs] == [
        (waiting.id, "rate_limited", "rate_limited")
    ]
    assert queue.rate_limited_job_registry.get_job_ids() == [waiting.id]
    assert {entry.id for entry in list_jobs([queue]).jobs} == {running.id, waiting.id}
