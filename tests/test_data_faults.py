"""Bad data in the store never stops a worker or a queue (issue 14, fault classes 5 and 6).

Class 5, poison records: a job record whose fields cannot be decoded at all (a number too large
for a float, JSON nested past any recursion limit) is refused as corrupt like any other bad field;
maintenance ends each abandoned job on its own, so one that raises cannot hold up the others.

Class 6, keys of the wrong type: a job key or a queue's key that holds something else than jq
keeps there (a string where a hash, a list or a sorted set belongs). The scripts check types
before their first write: a bad job key is dropped and reported, a queue with a bad key is skipped
and reported, and no script fails half way leaving another job popped and started by nobody.

The worker tests run real worker processes against a redis-server of their own; the poison record
is also fed to the memory, SQLite and fakeredis drivers through the store itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from jq import Queue, SimpleWorker
from jq.broker import STATUS, Move, Place, PlaceKind, RecordEdit, ToRegistry, Transition
from jq.exceptions import DeserializationError, StoreDataError
from jq.job import Job
from jq.queueing import registry as registry_module
from jq.worker.maintenance import Maintenance
from jq_backends.redis import RedisBroker
from tests import fixtures
from tests.processes import start_worker, stop
from tests.redis_server import RedisServer
from tests.test_cli import jqueue

# A record field -> a value that no jq writes and that no decoder may choke on.
POISON = {
    "retry_intervals out of range": ("retry_intervals", b"[1e400]"),
    "retry_intervals too deep": ("retry_intervals", b"[" * 50_000 + b"]" * 50_000),
    "dependency_ids too deep": ("dependency_ids", b"[" * 50_000 + b"]" * 50_000),
    "repeat_intervals not a number": ("repeat_intervals", b"[NaN]"),
}


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A private redis-server for one test."""
    instance = RedisServer().start()
    try:
        yield instance
    finally:
        instance.cleanup()


def abandon(broker, queue: Queue) -> Job:
    """A job claimed by a worker that died: its lease ran out a second ago."""
    job = queue.enqueue(fixtures.add, 1, 2)
    claimed = broker.claim([queue.name], {"execution": b"gone-1", "worker_name": b"gone"}, time.time() - 1)
    assert claimed is not None and claimed.job_id == job.id
    return job


def poison(broker, job_id: str, field: str, value: bytes) -> None:
    """Write ``value`` over ``field`` of the job's record, through the store."""
    record = broker.load_job(job_id)
    assert record is not None
    record[field] = value
    broker.save_job(job_id, record)


# -- class 5: poison records ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", POISON)
def test_a_poison_record_in_the_started_registry_stops_no_worker(server, kind):
    """Two worker processes, both of whose first maintenance meets the poison record: both run
    the sound jobs and exit 0, the poison job is failed saying why, and ``jqueue job`` reports
    it in one line."""
    client = server.client()
    queue = Queue(connection=client)
    bad = abandon(queue.broker, queue)
    field, value = POISON[kind]
    client.hset(bad.key, field, value)  # as another program would write it
    sound = [queue.enqueue(fixtures.add, n, 1) for n in range(6)]

    workers = [start_worker(server.url, name=f"w{n}", work={"burst": True}) for n in range(2)]
    results = [stop(worker) for worker in workers]
    for code, stderr in results:
        assert code == 0, stderr
        for crash in ("OverflowError", "RecursionError", "Traceback"):
            assert crash not in stderr, stderr
    assert [job.get_status() for job in sound] == ["finished"] * len(sound)
    assert client.hget(bad.key, STATUS) == b"failed"
    reason = client.hget(bad.key, "exc_info").decode()
    assert "abandoned" in reason
    assert queue.started_job_registry.get_job_ids() == []

    done = jqueue("job", "-u", server.url, bad.id)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert f"the record of job '{bad.id}' is corrupt: {field}" in done.stderr


@pytest.mark.parametrize("kind", POISON)
def test_every_store_fails_a_poison_record_and_ends_the_other_abandoned_jobs(any_broker, kind):
    queue = Queue(connection=any_broker)
    bad = abandon(any_broker, queue)
    other = abandon(any_broker, queue)
    poison(any_broker, bad.id, *POISON[kind])

    with pytest.raises(DeserializationError, match="is corrupt"):
        Job.fetch(bad.id, connection=any_broker)
    ended = queue.started_job_registry.cleanup()

    assert sorted(ended) == sorted([bad.id, other.id])
    assert any_broker.load_job(bad.id)[STATUS] == b"failed"
    assert any_broker.load_job(other.id)[STATUS] == b"failed"
    assert queue.started_job_registry.get_job_ids() == []


def test_maintenance_fails_the_job_whose_ending_raised_and_ends_the_rest(broker, monkeypatch, caplog):
    """Whatever goes wrong while one abandoned job is ended (here: anything the core did not
    foresee), that job is failed with the reason and every other one is ended."""
    queue = Queue(connection=broker)
    jobs = [abandon(broker, queue) for _ in range(3)]
    unlucky = jobs[1].id
    end_abandoned = registry_module.StartedJobRegistry._end_abandoned

    def explode_on_one(self, job_id, *args):
        if job_id == unlucky:
            raise ZeroDivisionError("something nobody foresaw")
        return end_abandoned(self, job_id, *args)

    monkeypatch.setattr(registry_module.StartedJobRegistry, "_end_abandoned", explode_on_one)
    ended = queue.started_job_registry.cleanup()

    assert sorted(ended) == sorted(job.id for job in jobs)
    for job in jobs:
        assert broker.load_job(job.id)[STATUS] == b"failed"
    reason = broker.load_job(unlucky)["exc_info"].decode()
    assert "ZeroDivisionError: something nobody foresaw" in reason
    assert f"job {unlucky}: could not end it as abandoned" in caplog.text


def test_a_chore_that_raises_does_not_stop_the_others_and_is_logged_once(broker, monkeypatch, caplog):
    queue = Queue(connection=broker)
    job = abandon(broker, queue)
    maintenance = Maintenance("janitor", broker, [queue], 60)

    def broken() -> None:
        raise ZeroDivisionError("bad data somewhere")

    monkeypatch.setattr(queue.finished_job_registry, "cleanup", broken)
    maintenance.clean_registries()
    maintenance.clean_registries()

    assert broker.load_job(job.id)[STATUS] == b"failed"  # the chore before it ran
    assert caplog.text.count("cleaning the finished registry failed; the other chores go on") == 1


def test_a_chore_refused_for_bad_data_is_logged_in_one_line(broker, monkeypatch, caplog):
    queue = Queue(connection=broker)
    maintenance = Maintenance("janitor", broker, [queue], 60)

    def refused() -> None:
        raise StoreDataError("WRONGTYPE key jq:queues holds a string where jq keeps a set")

    monkeypatch.setattr(queue.finished_job_registry, "cleanup", refused)
    maintenance.clean_registries()

    [record] = [record for record in caplog.records if "the other chores go on" in record.getMessage()]
    assert record.exc_info is None and "jq:queues holds a string where jq keeps a set" in record.getMessage()


# -- class 6: keys of the wrong type ---------------------------------------------------------------


def test_job_keys_of_the_wrong_type_are_dropped_and_the_queue_goes_on(server):
    client = server.client()
    queue = Queue(connection=client)
    jobs = [queue.enqueue(fixtures.add, n, 1) for n in range(9)]
    spoiled = {jobs[0].id: "string", jobs[4].id: "list", jobs[8].id: "set"}
    for job in jobs:
        if job.id in spoiled:
            client.delete(job.key)
    client.set(jobs[0].key, "overwritten")
    client.rpush(jobs[4].key, "a", "b")
    client.sadd(jobs[8].key, "x")

    workers = [start_worker(server.url, name=f"w{n}", work={"burst": True}) for n in range(2)]
    results = [stop(worker) for worker in workers]
    stderr = "".join(text for _, text in results)
    assert [code for code, _ in results] == [0, 0], stderr
    assert "WRONGTYPE" not in stderr and "Traceback" not in stderr, stderr
    for job in jobs:
        if job.id in spoiled:
            assert (
                f"job {job.id} was dropped from the queue: its key {job.key} holds a {spoiled[job.id]}"
                in stderr
            )
            assert client.type(job.key).decode() == spoiled[job.id]  # left for the user to inspect
        else:
            assert job.get_status() == "finished"
    assert len(queue) == 0 and queue.started_job_registry.get_job_ids() == []


@pytest.mark.parametrize("key", ["queue", "started registry"])
def test_a_queue_with_a_key_of_the_wrong_type_is_skipped_and_no_job_is_orphaned(server, key):
    """The pool's workers listen to ``default`` and to ``bad``, one of whose keys is a string: every
    job of ``default`` runs (none is left started by a claim script that failed half way), and
    ``bad`` is reported once per worker."""
    client = server.client()
    broker = RedisBroker(client)
    names = {
        "queue": broker.keys.queue("bad"),
        "started registry": broker.keys.registry(PlaceKind.STARTED, "bad"),
    }
    client.set(names[key], "not jq's")
    queue = Queue(connection=client)
    jobs = [queue.enqueue(fixtures.add, n, 1) for n in range(20)]

    done = jqueue("worker-pool", "-n", "2", "--burst", "-u", server.url, "default", "bad", timeout=60)

    assert done.returncode == 0, done.stderr
    # No script failed (half way or at all). A started registry of the wrong type also fails
    # the maintenance chore that reads it: logged once per worker, and the other chores go on.
    assert "user_script" not in done.stderr, done.stderr
    assert done.stderr.count("Traceback") <= (2 if key == "started registry" else 0), done.stderr
    assert [job.get_status() for job in jobs] == ["finished"] * len(jobs)
    assert queue.started_job_registry.get_job_ids() == []
    assert f"queue bad is skipped: its key {names[key]} holds a string" in done.stderr
    assert client.get(names[key]) == b"not jq's"


def test_a_blocked_claim_leaves_out_a_wake_key_of_the_wrong_type(server, monkeypatch, caplog):
    """A claim deletes the wake key of a queue it finds empty, whatever it holds; one that turns
    into a string between the claim and the wait fails BLPOP for every queue: the wait reports it
    once and goes on without it."""
    client = server.client()
    broker = RedisBroker(client)
    wake = broker.keys.wake("bad")
    monkeypatch.setattr(broker, "_claim_once", lambda *args: None)  # the key is set after the claim
    client.set(wake, "not jq's")

    for _ in range(2):
        started = time.monotonic()
        assert broker.claim(["default", "bad"], {}, time.time() + 60, wait=0.3) is None
        assert time.monotonic() - started >= 0.3  # it waited, on the other wake key

    assert caplog.text.count(f"the wake key {wake} holds a string where jq keeps a list") == 1


def test_an_abandoned_job_whose_key_became_a_string_is_dropped_once_and_the_rest_ended(server, caplog):
    client = server.client()
    queue = Queue(connection=client)
    spoiled, sound = abandon(queue.broker, queue), abandon(queue.broker, queue)
    client.delete(spoiled.key)
    client.set(spoiled.key, "overwritten")
    maintenance = Maintenance("janitor", queue.broker, [queue], 60)

    maintenance.clean_registries()
    maintenance.clean_registries()

    assert client.hget(sound.key, STATUS) == b"failed"
    assert client.zscore(queue.started_job_registry.key, spoiled.id) is None
    assert caplog.text.count(f"job {spoiled.id}: dropped from the started registry") == 1
    assert f"the key {spoiled.key} holds a string, not a hash" in caplog.text
    assert client.get(spoiled.key) == b"overwritten"


def test_jqueue_reports_a_job_key_of_the_wrong_type_in_one_line_and_lists_the_rest(server):
    client = server.client()
    queue = Queue(connection=client)
    spoiled, sound = queue.enqueue(fixtures.add, 1, 1), queue.enqueue(fixtures.add, 2, 2)
    client.delete(spoiled.key)
    client.set(spoiled.key, "overwritten")

    shown = jqueue("job", "-u", server.url, spoiled.id)
    listed = jqueue("jobs", "-u", server.url)

    assert shown.returncode == 1 and "Traceback" not in shown.stderr, shown.stderr
    assert f"the key {spoiled.key} holds a string, not a hash" in shown.stderr
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    assert sound.id in listed.stdout


@pytest.mark.parametrize("path", ["plain", "with a dependency"])
def test_an_enqueue_onto_a_queue_key_of_the_wrong_type_writes_nothing(server, path):
    """A plain enqueue goes through the script for fresh jobs, one with a (finished) dependency
    through the general one: both refuse before their first write, naming the key."""
    client = server.client()
    finished = Queue(connection=client).enqueue(fixtures.add, 1, 1)
    SimpleWorker(["default"], connection=client).work(burst=True)
    assert finished.get_status() == "finished"
    bad = Queue("bad", connection=client)
    client.set(bad.key, "not jq's")
    keys_before = set(client.keys("*"))
    options = {"depends_on": finished} if path == "with a dependency" else {}

    with pytest.raises(StoreDataError, match=f"key {bad.key} holds a string where jq keeps a list"):
        bad.enqueue(fixtures.add, 2, 2, **options)

    assert set(client.keys("*")) == keys_before  # no record left without a queue


def test_a_dependent_whose_queue_key_is_of_the_wrong_type_stays_deferred_and_its_parent_finishes(
    server, caplog
):
    """Releasing a dependent writes its origin queue, met only half way through the parent's
    transition: that dependent is left deferred, and the parent's outcome is recorded whole."""
    client = server.client()
    parent = Queue(connection=client).enqueue(fixtures.add, 1, 1)
    bad = Queue("bad", connection=client)
    child = bad.enqueue(fixtures.add, 2, 2, depends_on=parent)
    assert child.get_status() == "deferred"
    client.set(bad.key, "not jq's")

    SimpleWorker(["default"], connection=client).work(burst=True)

    assert "its outcome could not be recorded" not in caplog.text
    assert parent.get_status() == "finished" and parent.result == 2
    # Still deferred, and still where a deferred job is found (a script that failed half way
    # would have taken it out of the deferred registry, keeping its status).
    assert child.get_status() == "deferred"
    assert bad.deferred_job_registry.get_job_ids() == [child.id]
    assert client.get(bad.key) == b"not jq's"


def test_a_transition_refuses_a_key_of_the_wrong_type_before_writing_anything(server):
    client = server.client()
    queue = Queue(connection=client)
    job = abandon(queue.broker, queue)
    finished = queue.finished_job_registry.key
    client.set(finished, "not a registry")

    change = Transition(
        job.id,
        Move(
            Place(PlaceKind.STARTED, "default"),
            ToRegistry(Place(PlaceKind.FINISHED, "default"), time.time() + 60),
        ),
        RecordEdit({STATUS: b"finished"}),
        execution_id="gone-1",
    )

    with pytest.raises(StoreDataError, match=f"key {finished} holds a string where jq keeps a zset"):
        queue.broker.transition(change)
    # Nothing was written: the job is still started, in the started registry.
    assert client.hget(job.key, STATUS) == b"started"
    assert client.zscore(queue.started_job_registry.key, job.id) is not None


def test_a_worker_whose_outcome_write_meets_a_key_of_the_wrong_type_goes_on(server, caplog):
    """The finished registry is a string: the outcome of each job is refused before anything is
    written. The worker logs it and goes on (it does not die of it); each job stays started until
    its lease runs out, and maintenance then ends it in the failed registry."""
    client = server.client()
    queue = Queue(connection=client)
    client.set(queue.finished_job_registry.key, "not a registry")
    jobs = [queue.enqueue(fixtures.add, n, 1) for n in range(2)]

    SimpleWorker([queue], connection=client).work(burst=True)

    assert [job.get_status() for job in jobs] == ["started", "started"]
    assert caplog.text.count("its outcome could not be recorded") == 2
    ended = queue.started_job_registry.cleanup(timestamp=time.time() + 3600)
    assert sorted(ended) == sorted(job.id for job in jobs)
    assert [job.get_status() for job in jobs] == ["failed", "failed"]


def snapshot(client) -> dict[bytes, bytes | None]:
    """Every key of the store with what it holds (DUMP): equal before and after = nothing written."""
    return {key: client.dump(key) for key in client.keys("*")}


# Each store call that writes, with the key it finds of the wrong type: (the key's name, what Redis
# keeps there instead, the call). Every one is refused, naming the key, before its first write.
WRONG_TYPE_CALLS = {
    "registry cleanup": (
        lambda q: q.finished_job_registry.key,
        lambda q: q.broker.registry_cleanup(Place(PlaceKind.FINISHED, q.name), time.time() + 60),
    ),
    "promotion, queue": (
        lambda q: q.key,
        lambda q: q.broker.promote_scheduled(q.name, time.time() + 3600, {}),
    ),
    "delete, a place": (
        lambda q: q.key,
        lambda q: q.broker.delete_job(q.scheduled_ids[0], [Place(PlaceKind.SCHEDULED, q.name),
                                                           Place(PlaceKind.QUEUE, q.name)]),
    ),
    "group remove": (
        lambda q: q.broker.keys.group("g"),
        lambda q: q.broker.group_remove("g", [q.scheduled_ids[0]]),
    ),
    "group cleanup": (lambda q: q.broker.keys.group("g"), lambda q: q.broker.group_cleanup("g")),
    "delete queue, known queues": (
        lambda q: q.broker.keys.queues,
        lambda q: q.broker.delete_queue(q.name, delete_jobs=True),
    ),
    "settle orphans": (
        lambda q: q.deferred_job_registry.key,
        lambda q: q.broker.settle_orphans(q.name, released_fields={}, canceled_fields={}),
    ),
}  # fmt: skip


@pytest.mark.parametrize("call", WRONG_TYPE_CALLS)
def test_every_script_refuses_a_key_of_the_wrong_type_before_writing_anything(server, call):
    client = server.client()
    queue = Queue("work", connection=client)
    scheduled = queue.enqueue_in(timedelta(seconds=60), fixtures.add, 1, 1)
    queue.enqueue(fixtures.add, 2, 2)
    queue.scheduled_ids = [scheduled.id]
    key_of, write = WRONG_TYPE_CALLS[call]
    key = key_of(queue)
    client.delete(key)
    client.set(key, "not jq's")
    before = snapshot(client)

    with pytest.raises(StoreDataError, match=f"key {key} holds a string where jq keeps"):
        write(queue)

    assert snapshot(client) == before


def test_a_due_scheduled_id_whose_key_is_not_a_record_is_dropped_and_the_rest_promoted(server, caplog):
    client = server.client()
    queue = Queue(connection=client)
    spoiled = queue.enqueue_in(timedelta(seconds=1), fixtures.add, 1, 1)
    sound = queue.enqueue_in(timedelta(seconds=2), fixtures.add, 2, 2)
    client.delete(spoiled.key)
    client.set(spoiled.key, "overwritten")

    promoted = queue.broker.promote_scheduled(queue.name, time.time() + 60, {}, limit=1)

    # The bad id did not use up the limit of one: the good job behind it was promoted.
    assert promoted == [sound.id] and queue.get_job_ids() == [sound.id]
    assert queue.scheduled_job_registry.get_job_ids() == []
    assert f"scheduled job {spoiled.id} was dropped from the scheduled registry" in caplog.text
    assert f"its key {spoiled.key} holds a string" in caplog.text
    assert client.get(spoiled.key) == b"overwritten"


# -- the pool says when its workers die -----------------------------------------------------------


def test_a_burst_pool_whose_worker_died_exits_non_zero(server):
    client = server.client()
    queue = Queue(connection=client)
    queue.enqueue(fixtures.exit_process, 3)
    after = queue.enqueue(fixtures.add, 1, 1)

    done = jqueue("worker-pool", "-n", "1", "--burst", "-w", "jq.SimpleWorker", "-u", server.url, timeout=60)

    assert done.returncode == 1, done.stderr
    assert "1 worker(s) of the pool died; their errors are logged above" in done.stderr
    assert after.get_status() == "finished"


def test_a_pool_whose_workers_keep_dying_at_start_exits_non_zero(server):
    client = server.client()
    queue = Queue(connection=client)
    for _ in range(6):
        queue.enqueue(fixtures.exit_process, 3)

    done = jqueue("worker-pool", "-n", "1", "-w", "jq.SimpleWorker", "-u", server.url, timeout=60)

    assert done.returncode == 1, done.stderr
    assert "the pool stopped: its workers kept dying at start" in done.stderr


# -- worker records -------------------------------------------------------------------------------

#: A worker record's field -> a value no worker writes.
WORKER_DAMAGE = {
    "pid": b"abc",
    "birth_date": b"yesterday",
    "last_heartbeat": b"\xff",
    "successful_job_count": b"many",
    "state": b"dancing",
    "queues": b"default,bad queue",
}


@pytest.mark.parametrize("field", WORKER_DAMAGE)
def test_a_corrupt_worker_record_is_left_out_and_the_others_listed(redis_client, field, caplog):
    for name in ("spoiled", "sound"):
        SimpleWorker(["default"], connection=redis_client, name=name).register_birth()
    broker = Queue(connection=redis_client).broker
    redis_client.hset(broker.worker_key("spoiled"), field, WORKER_DAMAGE[field])
    assert [worker.name for worker in SimpleWorker.all(connection=redis_client)] == ["sound"]
    assert "the record of worker 'spoiled' is corrupt" in caplog.text


def test_jqueue_info_lists_the_workers_beside_a_corrupt_record(server):
    client = server.client()
    for name in ("spoiled", "sound"):
        SimpleWorker(["default"], connection=client, name=name).register_birth()
    client.hset(Queue(connection=client).broker.worker_key("spoiled"), "pid", b"abc")
    done = jqueue("info", "-u", server.url, "--json")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert [worker["name"] for worker in json.loads(done.stdout)["workers"]] == ["sound"]
    assert "the record of worker 'spoiled' is corrupt" in done.stderr
