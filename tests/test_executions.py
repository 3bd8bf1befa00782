"""RQ 3.0's executions (docs/docs/jobs.md, "Job Executions"), on every driver: one ``Execution``
class, what ``job.get_executions()``, ``worker.execution`` and ``Result.execution_id`` give."""

from __future__ import annotations

import datetime

import pytest

from jq import SimpleWorker
from jq.executions import Execution, ExecutionRegistry
from jq.job import Job
from tests import fixtures


def test_one_execution_class():
    from jq.worker import executions as worker_executions

    assert worker_executions.Execution is Execution
    execution = Execution("e", "j", None)
    members = ("fetch", "job", "heartbeat", "created_at", "last_heartbeat", "composite_key", "id",
               "job_id", "worker_name", "from_composite_key", "serialize", "restore", "refresh")  # fmt: skip
    assert [member for member in members if member not in dir(execution)] == []


def test_a_running_job_has_one_execution_and_an_ended_one_none(queue):
    seen = {}

    def look(job, *exc_info):
        stored = Job.fetch(job.id, connection=queue.broker)
        executions = stored.get_executions()
        seen["executions"] = executions
        seen["registry"] = stored.execution_registry
        seen["worker"] = worker.execution
        seen["fetched"] = Execution.fetch(job.execution_id, job.id, queue.broker)

    worker = SimpleWorker([queue], name="runner", exception_handlers=[look])
    job = queue.enqueue(fixtures.div_by_zero, 1)
    worker.work(burst=True)

    (execution,) = seen["executions"]
    job.refresh()
    assert isinstance(execution, Execution) and type(seen["worker"]) is Execution
    assert execution == seen["worker"] == seen["fetched"]
    assert execution.id == job.execution_id and execution.job_id == job.id
    assert execution.composite_key == f"{job.id}:{execution.id}"
    assert execution.worker_name == "runner"
    assert isinstance(execution.created_at, datetime.datetime)
    assert execution.created_at == job.started_at and execution.last_heartbeat >= execution.created_at
    assert execution.job.id == job.id
    assert isinstance(seen["registry"], ExecutionRegistry) and seen["registry"].job_id == job.id
    # Ended: no execution runs any more; the result names the one that produced it.
    assert job.get_executions() == [] and job.execution_registry.get_execution_ids() == []
    assert job.latest_result().execution_id == execution.id
    with pytest.raises(ValueError):
        Execution.fetch(execution.id, job.id, queue.broker)


def test_a_queued_job_has_no_execution(queue):
    job = queue.enqueue(fixtures.add, 1, 2)
    assert job.get_executions() == []
    assert job.execution_registry.get_job_count() == 0
