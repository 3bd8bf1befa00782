"""Real RQ writes jobs in flight to a Redis, for tests/test_migrate_rq.py.

Run as ``python tests/rq_writer.py URL [json]`` with the repository on ``PYTHONPATH``, in a
process of its own: it imports the real RQ
package (installed in the test environment), which must never be imported next to jq's tests.
Prints a JSON object naming the jobs it made.
"""

from __future__ import annotations

import datetime
import json
import sys

import redis
from rq import Callback, Queue, Retry, SimpleWorker
from rq.executions import Execution
from rq.job import Dependency, Job
from rq.serializers import JSONSerializer

from tests.addons import jobs

assert Queue.__module__.startswith("rq."), "this must run with the real RQ, not jq"


def main(url: str, serializer: str | None) -> dict[str, object]:
    connection = redis.Redis.from_url(url)
    options = {"serializer": JSONSerializer} if serializer == "json" else {}
    default = Queue("default", connection=connection, **options)
    high = Queue("high", connection=connection, **options)
    made: dict[str, object] = {}

    # A failed and a finished job, run by RQ's worker as its work loop runs each job (its loop,
    # work(burst=True), can take a minute to close its pub/sub connection at the end).
    worker = SimpleWorker([default], connection=connection, **options)
    for job in (
        default.enqueue(jobs.fail, "boom", job_id="failed-1", failure_ttl=3600),
        default.enqueue(jobs.add, 1, 1, job_id="finished-1"),
    ):
        default.remove(job)
        worker.execute_job(job, default)
    made["failed"], made["finished"] = "failed-1", "finished-1"

    made["queued"] = [
        default.enqueue(
            jobs.add, 1, 2, job_id="queued-1", job_timeout=77, result_ttl=99, ttl=600, failure_ttl=1000,
            description="the first", meta={"owner": "rq"}, retry=Retry(max=3, interval=[1, 2]),
            on_success=Callback("tests.addons.jobs.on_success", timeout=5),
            on_failure=Callback("tests.addons.jobs.on_failure"),
        ).id,
        default.enqueue(jobs.add, 3, 4, job_id="queued-2").id,
        default.enqueue(jobs.add, 5, 6, job_id="queued-3", at_front=True).id,
    ]  # fmt: skip
    made["high"] = high.enqueue(jobs.add, 7, 8, job_id="high-1").id
    in_an_hour = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    scheduled = default.enqueue_at(in_an_hour, jobs.add, 9, 10, job_id="scheduled-1", at_front=True)
    made["scheduled"] = scheduled.id
    made["scheduled_at"] = int(in_an_hour.timestamp())
    # a chain: queued-2 <- child <- grandchild; and one allowing failure of failed-1
    made["child"] = default.enqueue(jobs.add, 11, 12, job_id="child-1", depends_on="queued-2").id
    made["grandchild"] = default.enqueue(jobs.add, 13, 14, job_id="grandchild-1", depends_on="child-1").id
    lenient = Dependency(jobs=["failed-1", "queued-1"], allow_failure=True)
    made["lenient"] = default.enqueue(jobs.add, 15, 16, job_id="lenient-1", depends_on=lenient).id
    # a job an RQ worker is running (marked as RQ's worker marks it), and one waiting for it
    running = default.enqueue(jobs.add, 17, 18, job_id="running-1")
    default.remove(running)
    with connection.pipeline() as pipe:
        running.set_status("started", pipeline=pipe)
        Execution.create(running, ttl=600, pipeline=pipe, worker_name="an-rq-worker")
        pipe.execute()
    made["running"] = running.id
    made["waits_for_running"] = default.enqueue(jobs.add, 19, 20, job_id="waits-1", depends_on=running).id
    canceled = default.enqueue(jobs.add, 21, 22, job_id="canceled-1")
    canceled.cancel()
    made["canceled"] = canceled.id
    # a job run before its dependency finished (enqueued by hand, as django-rq's "enqueue" action
    # does), which failed
    early = default.enqueue(jobs.fail, "early", job_id="early-1", depends_on="queued-2")
    default._enqueue_job(early)
    default.remove(early)
    worker.execute_job(early, default)
    made["early"] = early.id
    # names RQ takes and jq refuses (two names must never share a key in jq)
    made["odd_id"] = default.enqueue(jobs.add, 23, 24, job_id="x" * 200).id
    made["odd_queue"] = Queue("odd queue", connection=connection, **options).enqueue(jobs.add, 0, 0).id
    assert Job.fetch("child-1", connection=connection, **options).get_status() == "deferred"
    for job_id in ("failed-1", "early-1"):
        assert Job.fetch(job_id, connection=connection, **options).get_status() == "failed"
    return made


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)))
