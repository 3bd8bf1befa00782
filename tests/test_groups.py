"""RQ 3.0's ``Group`` (docs/docs/index.md, "Grouping jobs"), on every driver: jobs enqueued in a
group are tracked by its name until they are gone."""

from __future__ import annotations

import pytest

from jq import Queue, SimpleWorker
from jq.broker import Place, PlaceKind
from jq.exceptions import ConfigurationError, InvalidJobDependency, NoSuchGroupError
from jq.group import Group
from jq.job import Job
from jq.testing.helpers import wait_for
from tests import fixtures


def datas(*job_ids: str, **options):
    return [Queue.prepare_data(fixtures.add, (1, 2), job_id=job_id, **options) for job_id in job_ids]


def test_a_group_tracks_its_jobs(queue):
    group = Group.create(connection=queue.broker)
    jobs = group.enqueue_many(queue=queue, job_datas=datas("my_job_id", "my_other_job_id"))
    assert [job.id for job in jobs] == ["my_job_id", "my_other_job_id"]
    assert {job.group_id for job in jobs} == {group.name}
    assert Job.fetch("my_job_id", connection=queue.broker).group_id == group.name
    assert group.get_jobs() == jobs
    fetched = Group.fetch(group.name, connection=queue.broker)
    assert fetched == group and repr(fetched) == f"Group(id={group.name})"
    assert Group.all(connection=queue.broker) == [group]
    assert queue.job_ids == ["my_job_id", "my_other_job_id"], "enqueued as any job is"


def test_a_named_group_and_many_batches(queue):
    group = Group.create(connection=queue.broker, name="reports")
    group.enqueue_many(queue, datas("a"))
    group.enqueue_many(queue, datas("b"))
    assert [job.id for job in Group.fetch("reports", queue.broker).get_jobs()] == ["a", "b"]


def test_deleted_or_expired_jobs_leave_their_group_and_an_empty_group_is_gone(queue):
    group = Group.create(connection=queue.broker, name="g")
    short, kept = group.enqueue_many(queue, [*datas("short", result_ttl=1), *datas("kept")])
    SimpleWorker([queue]).work(burst=True)
    assert wait_for(lambda: not Job.exists(short.id, queue.broker), timeout=10), "result_ttl=1"
    assert group.get_jobs() == [kept]
    kept.delete()
    assert group.get_jobs() == []
    assert Group.all(queue.broker) == []
    with pytest.raises(NoSuchGroupError):
        Group.fetch("g", queue.broker)


def test_a_workers_maintenance_cleans_every_group(queue):
    group = Group.create(connection=queue.broker, name="g")
    group.enqueue_many(queue, datas("j1"))
    # The record goes as an expired one does, without a word to the group.
    queue.broker.delete_job("j1", [Place(PlaceKind.QUEUE, queue.name)])
    assert queue.broker.group_job_ids("g") == ["j1"], "nothing has cleaned it yet"
    SimpleWorker([queue]).run_maintenance_tasks()
    assert queue.broker.group_names() == []


def test_delete_job_and_delete(queue):
    group = Group.create(connection=queue.broker, name="g")
    _first, second = group.enqueue_many(queue, datas("a", "b"))
    group.delete_job("a")
    assert group.get_jobs() == [second] and Job.exists("a", queue.broker)
    group.delete()
    assert Group.all(queue.broker) == [] and Job.exists("b", queue.broker)
    group.enqueue_many(queue, datas("c"))
    group.delete(delete_jobs=True)
    assert not Job.exists("c", queue.broker) and Group.all(queue.broker) == []


def test_a_refused_batch_leaves_no_group(queue):
    group = Group.create(connection=queue.broker, name="g")
    with pytest.raises(ConfigurationError):
        group.enqueue_many(queue, datas("x", "x"))
    cycle = [
        Queue.prepare_data(fixtures.add, (1, 2), job_id="a", depends_on="b"),
        Queue.prepare_data(fixtures.add, (1, 2), job_id="b", depends_on="a"),
    ]
    with pytest.raises(InvalidJobDependency):
        group.enqueue_many(queue, cycle)
    assert Group.all(queue.broker) == [] and not Job.exists("a", queue.broker)


def test_group_names_are_checked(queue):
    with pytest.raises(ConfigurationError):
        Group.create(connection=queue.broker, name="")
    with pytest.raises(ConfigurationError):
        queue.enqueue_many(datas("a"), group_id="")


def test_on_a_callers_pipeline(redis_client):
    """With a redis-py pipeline, the jobs and the group are written by ``execute()``."""
    queue = Queue(connection=redis_client)
    group = Group.create(connection=redis_client, name="piped")
    with redis_client.pipeline() as pipe:
        jobs = group.enqueue_many(queue, datas("p1", "p2"), pipeline=pipe)
        assert Group.all(redis_client) == [] and queue.count == 0
        pipe.execute()
    assert group.get_jobs() == jobs and queue.count == 2


def test_is_async_false_runs_them(broker):
    queue = Queue(connection=broker, is_async=False)
    group = Group.create(connection=broker, name="now")
    jobs = group.enqueue_many(queue, datas("s1", "s2"))
    assert [job.get_status() for job in jobs] == ["finished", "finished"]
    assert group.get_jobs() == jobs
