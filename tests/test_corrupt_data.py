"""Corrupt job records: Job.fetch refuses them clearly, and a worker fails such a job and goes on.

Records are damaged the way a bug, a manual edit or another program would: garbage in ``data``,
a call written with another serializer, a bad timestamp, an unknown or missing status, bad meta.
The record decoder is also fuzzed: whatever the bytes, it either reads the record or raises
:class:`DeserializationError`, never anything else.
"""

from __future__ import annotations

import json
import pickle
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jq import Queue, SimpleWorker, Worker
from jq.broker import STATUS
from jq.core import job_record
from jq.exceptions import DeserializationError, JQError
from jq.job import Job, JobStatus
from jq.results import decode_result
from jq.serializers import DefaultSerializer, JSONSerializer
from tests import fixtures

# field -> the corrupt value written over it (None deletes the field)
DAMAGE = {
    "garbage data": ("data", b"\x80\x04garbage"),
    "data from another serializer": ("data", json.dumps(["tests.fixtures.add", None, [1, 2], {}]).encode()),
    "data that is not a call": ("data", pickle.dumps({"not": "a call"})),
    "bad timestamp": ("created_at", b"yesterday"),
    "bad enqueued_at": ("enqueued_at", b"2026-13-45T99:00:00.000000Z"),
    "bad timeout": ("timeout", b"soon"),
    "bad meta": ("meta", b"\x80\x04junk"),
    "bad dependency ids": ("dependency_ids", b"[1, 2"),
    "bad callback": ("on_success", b"tests.fixtures.say_hello:forever"),
}
STATUS_DAMAGE = {"unknown status": b"weird", "empty status": b"", "missing status": None}


def damage(broker, job_id: str, field: str, value: bytes | None) -> None:
    record = broker.load_job(job_id)
    assert record is not None
    record.pop(field, None)
    if value is not None:
        record[field] = value
    broker.save_job(job_id, record)


@pytest.mark.parametrize("kind", [*DAMAGE, "unknown status", "empty status"])
def test_fetch_refuses_a_corrupt_record_with_a_clear_error(broker, kind):
    job = Queue(connection=broker).enqueue(fixtures.add, 1, 2)
    if kind in DAMAGE:
        damage(broker, job.id, *DAMAGE[kind])
    else:
        damage(broker, job.id, STATUS, STATUS_DAMAGE[kind])
    with pytest.raises(DeserializationError) as caught:
        Job.fetch(job.id, connection=broker)
    assert isinstance(caught.value, JQError)
    assert job.id in str(caught.value)


def test_a_record_without_a_status_reads_as_a_job_never_enqueued(broker):
    """job.save() of a created job writes no status field: that is not corrupt to read, it is a
    job that was created and never enqueued (status ``created``, as RQ's); it is only corrupt on
    a queue, where a worker fails it (see below)."""
    job = Job.create(fixtures.add, args=(1, 2), connection=broker)
    job.save()
    assert broker.load_job_fields(job.id, ["status"]) == [None]
    assert Job.fetch(job.id, connection=broker).get_status(refresh=False) == JobStatus.CREATED


def test_fetch_without_decoding_the_call_reads_the_rest(broker):
    job = Queue(connection=broker).enqueue(fixtures.add, 1, 2)
    damage(broker, job.id, "data", b"garbage")
    fetched = Job.fetch(job.id, connection=broker, decode_call=False)
    assert fetched.get_status(refresh=False) == "queued"
    with pytest.raises(DeserializationError):
        fetched.args


def test_a_worker_fails_every_corrupt_job_and_goes_on(broker):
    queue = Queue(connection=broker)
    damaged: dict[str, str] = {}
    for kind, (field, value) in DAMAGE.items():
        job = queue.enqueue(fixtures.add, 1, 2)
        damage(broker, job.id, field, value)
        damaged[job.id] = kind
    for kind, value in STATUS_DAMAGE.items():
        job = queue.enqueue(fixtures.add, 1, 2)
        damage(broker, job.id, STATUS, value)
        damaged[job.id] = kind
    sound = queue.enqueue(fixtures.add, 20, 22)

    # One burst: a corrupt record is not mistaken for an empty queue, and nothing crashes.
    SimpleWorker([queue], connection=broker).work(burst=True)

    assert sound.get_status() == "finished" and sound.result == 42
    assert len(queue) == 0
    assert queue.started_job_registry.get_job_ids() == []
    failed = set(queue.failed_job_registry.get_job_ids())
    # The bad callback field only matters once the job succeeds: that job runs, then its
    # callback cannot be found; every other damaged job fails without running.
    assert set(damaged) <= failed | {sound.id} | set(queue.finished_job_registry.get_job_ids())
    for job_id, kind in damaged.items():
        if kind == "bad callback":
            continue
        assert job_id in failed, kind
        text = broker.load_job(job_id)["exc_info"].decode()
        assert "DeserializationError" in text and job_id in text, kind


@pytest.mark.parametrize("reuse_horse", [False, True], ids=["fork-per-job", "reused-horse"])
def test_a_worker_with_horses_fails_a_job_without_its_call_and_goes_on(redis_client, reuse_horse):
    """A record whose 'data' field is gone: a reused horse is handed the record, which must not
    need the call to be rebuilt first, or the worker itself dies of the job's bad data."""
    queue = Queue(connection=redis_client)
    broken = queue.enqueue(fixtures.add, 1, 2)
    damage(queue.broker, broken.id, "data", None)
    sound = queue.enqueue(fixtures.add, 20, 22)
    worker = Worker([queue], connection=redis_client, reuse_horse=reuse_horse)
    worker.work(burst=True, logging_level="WARNING")
    assert broken.get_status() == "failed"
    assert "has no stored call" in queue.broker.load_job(broken.id)["exc_info"].decode()
    assert sound.get_status() == "finished" and sound.result == 42


def test_an_unknown_status_is_failed_saying_so(broker):
    queue = Queue(connection=broker)
    job = queue.enqueue(fixtures.add, 1, 2)
    damage(broker, job.id, STATUS, b"weird")
    SimpleWorker([queue], connection=broker).work(burst=True)
    assert broker.load_job(job.id)[STATUS] == b"failed"
    assert "status b'weird', which is not a status jq knows" in broker.load_job(job.id)["exc_info"].decode()


def test_a_job_written_with_another_serializer_is_failed_naming_it(broker):
    job = Queue(connection=broker, serializer=JSONSerializer).enqueue(fixtures.add, 1, 2)
    queue = Queue(connection=broker)
    SimpleWorker([queue], connection=broker, serializer=DefaultSerializer).work(burst=True)
    assert job.get_status() == "failed"
    assert "was it written with another serializer?" in broker.load_job(job.id)["exc_info"].decode()


def test_an_abandoned_job_with_a_corrupt_record_still_ends(broker):
    """A started job whose worker died and whose record is corrupt is failed, not left started."""
    queue = Queue(connection=broker)
    job = queue.enqueue(fixtures.add, 1, 2)
    claimed = broker.claim(["default"], {"execution": b"e1", "worker_name": b"gone"}, time.time() - 1)
    assert claimed is not None and claimed.job_id == job.id
    damage(broker, job.id, "created_at", b"never")
    ended = queue.started_job_registry.cleanup()
    assert ended == [job.id]
    assert broker.load_job(job.id)[STATUS] == b"failed"
    assert queue.started_job_registry.get_job_ids() == []


# -- fuzzing the decoders ------------------------------------------------------------------------

FIELDS = [
    "data",
    "status",
    "origin",
    "created_at",
    "enqueued_at",
    "started_at",
    "ended_at",
    "last_heartbeat",
    "timeout",
    "result_ttl",
    "failure_ttl",
    "ttl",
    "retries_left",
    "retry_intervals",
    "dependency_ids",
    "meta",
    "description",
    "worker_name",
    "execution",
    "on_success",
    "on_failure",
    "on_stopped",
    "exc_info",
]
TEXTS = st.one_of(
    st.binary(max_size=40),
    st.sampled_from(
        [
            *(b"queued", b"2026-11-23T06:12:07.123456Z", b"-1", b"[1]", b'["a"]', b"x:1", b"", b"nan"),
            # Values no float or recursion limit may turn into OverflowError or RecursionError.
            *(b"[1e400]", b"[-1e400]", b"[NaN]", b"[Infinity]", b"[1e300]", b"9" * 40),
            b"[" * 5000 + b"]" * 5000,
        ]
    ),
)
RECORDS = st.dictionaries(st.sampled_from(FIELDS), TEXTS, max_size=len(FIELDS))


POISON_VALUES = [b"[1e400]", b"[-1e400]", b"[NaN]", b"[Infinity]", b"[1e300]", b"9" * 40]


@pytest.mark.parametrize("value", [*POISON_VALUES, b"[" * 5000 + b"]" * 5000], ids=lambda v: repr(v[:12]))
@pytest.mark.parametrize(
    "field", ["retry_intervals", "repeat_intervals", "dependency_ids", "webhooks", "timeout", "retries_left"]
)
def test_values_past_every_limit_are_read_or_refused_as_corrupt(field, value):
    """A sound record but for one field holding a value no jq writes: a number past a float's
    range, NaN, JSON nested far past Python's recursion limit. Read, or refused with
    DeserializationError; never OverflowError or RecursionError."""
    record = job_record.encode(Job.create(fixtures.add, args=(1, 2), connection="memory://"))
    record[field] = value
    job = Job("poisoned", connection="memory://")
    try:
        job.apply_record(record)
    except DeserializationError as error:
        assert field in str(error)
    else:
        assert field == "webhooks"  # as RQ: unreadable webhooks are dropped with a warning


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=RECORDS, serializer=st.sampled_from([DefaultSerializer, JSONSerializer]))
def test_fuzzed_records_are_read_or_refused_with_deserialization_error(record, serializer):
    job = Job("fuzzed", connection="memory://", serializer=serializer)
    try:
        job.apply_record(record)
        job.args  # the call too
    except DeserializationError:
        pass


@settings(max_examples=300)
@given(data=st.binary(max_size=200))
def test_fuzzed_result_entries_are_read_or_refused(data):
    try:
        result = decode_result("fuzzed", data, JSONSerializer)
        result.return_value
    except DeserializationError:
        pass
