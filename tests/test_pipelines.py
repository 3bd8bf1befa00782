"""B19: ``pipeline=`` puts jq's writes on the caller's redis-py pipeline, made by ``execute()``.

The Redis driver queues the very script call it would make on the caller's pipeline; a store
without pipelines (the memory driver) refuses ``pipeline=`` with a clear error.
"""

from __future__ import annotations

import datetime
from typing import Any

import fakeredis
import pytest
import redis

from jq import Queue
from jq.broker import Broker, Place, PlaceKind
from jq.exceptions import ConfigurationError, DuplicateJobError, UnsupportedByBrokerError
from jq.job import Job, JobStatus
from tests import fixtures

LATER = datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture(params=["fakeredis", "redis"])
def redis_broker(request: pytest.FixtureRequest) -> Broker:
    """A Redis-driver broker, on fakeredis and on the session's redis-server."""
    from jq_backends.redis import RedisBroker

    client = request.getfixturevalue("fakeredis_client" if request.param == "fakeredis" else "redis_client")
    return RedisBroker.for_client(client)


def test_enqueues_wait_for_execute(redis_broker: Broker) -> None:
    queue = Queue("q", connection=redis_broker)
    with queue.connection.pipeline() as pipe:
        plain = queue.enqueue(fixtures.add, 1, 2, pipeline=pipe)
        called = queue.enqueue_call(fixtures.add, (3, 4), job_id="called", pipeline=pipe)
        many = queue.enqueue_many(
            [Queue.prepare_data(fixtures.add, (5, 6), job_id="m1"), Queue.prepare_data(fixtures.add, (7, 8))],
            pipeline=pipe,
        )
        at = queue.enqueue_at(LATER, fixtures.add, 1, 1, pipeline=pipe)
        scheduled = queue.schedule_job(
            Job.create(fixtures.add, connection=redis_broker), LATER, pipeline=pipe
        )
        created = Job.create(fixtures.add, (9, 9), connection=redis_broker)
        queue.enqueue_job(created, pipeline=pipe)
        ids = [plain.id, called.id, *[job.id for job in many], at.id, scheduled.id, created.id]
        assert not any(Job.exists(job_id, redis_broker) for job_id in ids)
        assert queue.count == 0 and queue.scheduled_job_registry.count == 0
        assert plain.get_status(refresh=False) == JobStatus.QUEUED
        assert at.get_status(refresh=False) == JobStatus.SCHEDULED
        pipe.execute()
    assert queue.job_ids == [plain.id, "called", "m1", many[1].id, created.id]
    assert queue.scheduled_job_registry.get_job_ids() == sorted([at.id, scheduled.id])
    assert Job.fetch("called", connection=redis_broker).args == (3, 4)


def test_a_discarded_pipeline_stores_nothing(redis_broker: Broker) -> None:
    queue = Queue("q", connection=redis_broker)
    with queue.connection.pipeline() as pipe:
        job = queue.enqueue(fixtures.add, 1, 2, pipeline=pipe)
        pipe.reset()
    assert not Job.exists(job.id, redis_broker) and queue.count == 0


def test_job_writes_wait_for_execute(redis_broker: Broker) -> None:
    queue = Queue("q", connection=redis_broker)
    job = queue.enqueue(fixtures.add, 1, 2, meta={"n": 1})
    other = queue.enqueue(fixtures.add, 3, 4)
    gone = queue.enqueue(fixtures.add, 5, 6)
    with queue.connection.pipeline() as pipe:
        job.meta["n"] = 2
        job.save(pipeline=pipe)
        job.set_status(JobStatus.STOPPED, pipeline=pipe)
        queue.remove(other, pipeline=pipe)
        gone.delete(pipeline=pipe)
        job.cleanup(600, pipeline=pipe)
        assert Job.fetch(job.id, connection=redis_broker).meta == {"n": 1}
        assert queue.job_ids == [job.id, other.id, gone.id] and Job.exists(gone.id, redis_broker)
        pipe.execute()
    fetched = Job.fetch(job.id, connection=redis_broker)
    assert (fetched.meta, fetched.get_status(refresh=False)) == ({"n": 2}, JobStatus.STOPPED)
    ttl = redis_broker.job_ttl(job.id)
    assert ttl is not None and ttl > 500
    assert queue.job_ids == [job.id] and not Job.exists(gone.id, redis_broker)


def test_registry_writes_wait_for_execute(redis_broker: Broker) -> None:
    """What a registry's add/remove with pipeline= (RQ's) write through."""
    failed = Place(PlaceKind.FAILED, "q")
    redis_broker.registry_add(failed, "old", 5.0)
    with redis_broker.connection.pipeline() as pipe:
        writes = redis_broker.pipeline_writes(pipe)
        writes.registry_add(failed, "new", 10.0)
        writes.registry_remove(failed, "old")
        assert redis_broker.registry_ids(failed) == ["old"]
        pipe.execute()
    assert redis_broker.registry_ids(failed) == ["new"]
    assert redis_broker.registry_score(failed, "new") == 10.0


def test_a_decoding_client_pipeline_works(redis_broker: Broker) -> None:
    client: Any = redis_broker.connection
    decoding = (
        fakeredis.FakeRedis(server=client.connection_pool.connection_kwargs["server"], decode_responses=True)
        if isinstance(client, fakeredis.FakeRedis)
        else redis.Redis(**_server_of(client), decode_responses=True)
    )
    queue = Queue("q", connection=decoding)
    with decoding.pipeline() as pipe:
        job = queue.enqueue(fixtures.echo, b"\x00\xff binary", pipeline=pipe)
        pipe.execute()
    decoding.close()
    assert Job.fetch(job.id, connection=redis_broker).args == (b"\x00\xff binary",)


def _server_of(client: Any) -> dict[str, Any]:
    kwargs = client.connection_pool.connection_kwargs
    return {name: kwargs[name] for name in ("host", "port", "db") if name in kwargs}


def test_unique_is_checked_at_once(redis_broker: Broker) -> None:
    """As RQ: a unique enqueue must answer at once whether the id is taken, so it is made now."""
    queue = Queue("q", connection=redis_broker)
    queue.enqueue(fixtures.add, 1, 2, job_id="taken")
    with queue.connection.pipeline() as pipe:
        with pytest.raises(DuplicateJobError):
            queue.enqueue(fixtures.add, 1, 2, job_id="taken", unique=True, pipeline=pipe)
        fresh = queue.enqueue(fixtures.add, 1, 2, job_id="fresh", unique=True, pipeline=pipe)
        assert Job.exists(fresh.id, redis_broker)
        pipe.execute()


def test_a_pipeline_of_another_server_is_refused(redis_broker: Broker) -> None:
    queue = Queue("q", connection=redis_broker)
    elsewhere = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    with pytest.raises(ConfigurationError, match="own Redis server"):
        queue.enqueue(fixtures.add, 1, 2, pipeline=elsewhere.pipeline())
    with pytest.raises(ConfigurationError, match="redis-py pipeline"):
        queue.enqueue(fixtures.add, 1, 2, pipeline=object())
    assert queue.count == 0


def test_a_synchronous_queue_refuses_a_pipeline(redis_broker: Broker) -> None:
    queue = Queue("q", connection=redis_broker, is_async=False)
    with queue.connection.pipeline() as pipe, pytest.raises(ConfigurationError, match="is_async=False"):
        queue.enqueue(fixtures.add, 1, 2, pipeline=pipe)
    assert queue.count == 0


def test_a_store_without_pipelines_refuses() -> None:
    queue = Queue("q", connection="memory://no-pipelines")
    with pytest.raises(UnsupportedByBrokerError, match="pipeline="):
        queue.enqueue(fixtures.add, 1, 2, pipeline=object())
    job = queue.enqueue(fixtures.add, 1, 2)
    with pytest.raises(UnsupportedByBrokerError, match="pipeline="):
        job.save(pipeline=object())
    assert queue.count == 1
