"""``python -m jq.migrate_rq``: the jobs in flight on an RQ Redis, written by the real RQ 3.0 (in a
process of its own: tests/rq_writer.py), become jq jobs with the same ids, calls, options,
dependencies and due times."""

from __future__ import annotations

import datetime
import importlib.util
import json
import subprocess
import sys

import pytest

from jq import Queue, SimpleWorker
from jq.job import Job, JobStatus
from jq.migrate_rq import main
from jq.serializers import JSONSerializer
from tests.processes import ROOT
from tests.redis_server import env_without_jq_url

# find_spec finds RQ without importing it (it must never be imported in this process).
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("rq") is None, reason="RQ is not installed (pip install -e '.[test]')"
)


def rq_writes(url: str, serializer: str = "") -> dict:
    """Have the real RQ write its jobs (tests/rq_writer.py); the names of what it made."""
    env = env_without_jq_url()
    env["PYTHONPATH"] = str(ROOT)
    env.pop("JQ_AS_RQ", None)  # the real RQ, not jq
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "rq_writer.py"), url, *([serializer] if serializer else [])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def rq_snapshot(client) -> dict[bytes, object]:
    """Every RQ key with its content (for 'left as it was')."""
    dump = {}
    for key in client.scan_iter(match="rq:*"):
        kind = client.type(key)
        if kind == b"hash":
            dump[key] = client.hgetall(key)
        elif kind == b"list":
            dump[key] = client.lrange(key, 0, -1)
        elif kind == b"zset":
            dump[key] = client.zrange(key, 0, -1, withscores=True)
        elif kind == b"set":
            dump[key] = client.smembers(key)
        else:
            dump[key] = kind
    return dump


def migrate(*args: str) -> tuple[int, list[str]]:
    """``python -m jq.migrate_rq ARGS`` (in this process): its exit status and output lines."""
    lines: list[str] = []
    return main(list(args), out=lines.append), lines


def test_copies_the_jobs_in_flight_and_leaves_rq_as_it_was(redis_server, redis_client):
    made = rq_writes(redis_server.url)
    rq_order = [item.decode() for item in redis_client.lrange("rq:queue:default", 0, -1)]
    before = rq_snapshot(redis_client)

    code, lines = migrate("--from", redis_server.url)

    assert code == 1, lines  # two jobs stay on RQ, and say why
    assert "default: copied 3 queued, 1 scheduled, 3 deferred, 2 failed" in lines
    assert "  history left on RQ (not copied): 1 canceled, 1 finished" in lines
    assert "high: copied 1 queued" in lines
    assert "  default running-1 (started): running on an RQ worker: let RQ finish it" in lines
    assert "  default waits-1 (deferred): waits for job running-1, which stays on RQ (started)" in lines
    refused = [line for line in lines if "jq refuses it" in line]
    assert len(refused) == 2, lines
    assert refused[0].startswith(f"  default {made['odd_id']} (queued): jq refuses it: ")
    assert refused[1].startswith(f"  odd queue {made['odd_queue']} (queued): jq refuses it: ")
    assert rq_snapshot(redis_client) == before

    default = Queue("default", connection=redis_client)
    assert rq_order == ["queued-3", "queued-1", "queued-2", made["odd_id"]]
    assert default.get_job_ids() == rq_order[:3]
    assert Queue("high", connection=redis_client).get_job_ids() == ["high-1"]
    assert [queue.name for queue in Queue.all(connection=redis_client)] == ["default", "high"]
    assert not Job.exists(made["odd_queue"], connection=redis_client)

    first = Job.fetch("queued-1", connection=redis_client)
    assert (first.func_name, first.args, first.kwargs) == ("tests.addons.jobs.add", (1, 2), {})
    assert (first.timeout, first.result_ttl, first.failure_ttl) == (77, 99, 1000)
    assert 500 < first.ttl <= 600  # what was left of it on RQ
    assert (first.description, first.meta) == ("the first", {"owner": "rq"})
    assert (first.retries_left, first.retry_intervals) == (3, [1, 2])
    assert first.success_callback_ref.name == "tests.addons.jobs.on_success"
    assert first.success_callback_timeout == 5
    assert first.failure_callback_ref.name == "tests.addons.jobs.on_failure"
    rq_created = before[b"rq:job:queued-1"][b"created_at"].decode()
    assert first.created_at == datetime.datetime.strptime(rq_created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc
    )

    scheduled = Job.fetch("scheduled-1", connection=redis_client)
    assert scheduled.get_status() == JobStatus.SCHEDULED and scheduled.enqueue_at_front
    when = default.scheduled_job_registry.get_scheduled_time(scheduled)
    assert when.timestamp() == pytest.approx(made["scheduled_at"], abs=1)

    for job_id, parents in (("child-1", ["queued-2"]), ("grandchild-1", ["child-1"])):
        job = Job.fetch(job_id, connection=redis_client)
        assert job.get_status() == JobStatus.DEFERRED and job.dependency_ids == parents
    lenient = Job.fetch("lenient-1", connection=redis_client)
    assert lenient.allow_dependency_failures and lenient.dependency_ids == ["failed-1", "queued-1"]
    assert lenient.get_status() == JobStatus.DEFERRED  # waits for queued-1 (failed-1 is allowed)

    failed = Job.fetch("failed-1", connection=redis_client)
    assert failed.get_status() == JobStatus.FAILED and "failed-1" in default.failed_job_registry
    assert "ValueError: boom" in failed.latest_result().exc_string
    assert 3000 < redis_client.ttl(failed.key) <= 3600  # its failure_ttl, counted from its failure on RQ
    # a failed job that ran before its dependency finished is failed on jq too, waiting for nothing
    early = Job.fetch("early-1", connection=redis_client)
    assert early.get_status() == JobStatus.FAILED and early.dependency_ids == ["queued-2"]
    assert "early-1" not in default.deferred_job_registry

    for job_id in ("running-1", "waits-1", "finished-1", "canceled-1"):
        assert not Job.exists(job_id, connection=redis_client)

    # jq runs them: the queued jobs, then the dependents they release, down the chain
    SimpleWorker([default, "high"], connection=redis_client).work(burst=True)
    for job_id in ("queued-1", "queued-2", "queued-3", "high-1", "child-1", "grandchild-1", "lenient-1"):
        assert Job.fetch(job_id, connection=redis_client).get_status() == JobStatus.FINISHED, job_id
    assert Job.fetch("grandchild-1", connection=redis_client).return_value() == 27
    assert Job.fetch("early-1", connection=redis_client).get_status() == JobStatus.FAILED  # not released
    Job.fetch("failed-1", connection=redis_client).requeue()
    assert default.get_job_ids() == ["failed-1"]

    # Run again: what jq has is left alone, nothing is copied twice.
    code, lines = migrate("--from", redis_server.url)
    assert "default: copied nothing" in lines and "  in jq already (left as they are): 9" in lines
    assert default.get_job_ids() == ["failed-1"]


def test_move_takes_the_copied_jobs_off_rq(redis_server, redis_client):
    made = rq_writes(redis_server.url)
    code, lines = migrate("--from", redis_server.url, "--move")
    assert code == 1, lines
    assert "default: moved 3 queued, 1 scheduled, 3 deferred, 2 failed" in lines
    moved = ["queued-1", "queued-2", "queued-3", "high-1", "scheduled-1", "child-1", "grandchild-1"]
    for job_id in [*moved, "lenient-1", "failed-1", "early-1"]:
        assert Job.exists(job_id, connection=redis_client), job_id
        rq_keys = [f"rq:job:{job_id}", f"rq:results:{job_id}", f"rq:job:{job_id}:dependents"]
        assert not redis_client.exists(*rq_keys, f"rq:job::{job_id}:dependencies")
    # what jq refused stays on RQ, in its place
    assert redis_client.lrange("rq:queue:default", 0, -1) == [made["odd_id"].encode()]
    assert redis_client.llen("rq:queue:high") == 0
    for registry in ("scheduled", "failed"):
        assert redis_client.zrange(f"rq:{registry}:default", 0, -1) == []
    assert redis_client.zrange("rq:deferred:default", 0, -1) == [b"waits-1"]
    # what stays on RQ is whole
    for job_id in ("running-1", "waits-1", "finished-1", "canceled-1"):
        assert redis_client.exists(f"rq:job:{job_id}") and not Job.exists(job_id, connection=redis_client)
    assert redis_client.smembers("rq:job:running-1:dependents") == {b"waits-1"}
    assert redis_client.smembers("rq:job:failed-1:dependents") == set()  # lenient-1 moved


def test_dry_run_writes_nothing(redis_server, redis_client):
    rq_writes(redis_server.url)
    before = rq_snapshot(redis_client)
    code, lines = migrate("--from", redis_server.url, "--dry-run")
    assert code == 1
    assert "default: would copy 3 queued, 1 scheduled, 3 deferred, 2 failed" in lines
    assert lines[-1] == "would copy 10 jobs"
    assert list(redis_client.scan_iter(match="jq:*")) == []
    assert rq_snapshot(redis_client) == before


def test_one_queue_to_another_store_with_rqs_json_serializer(redis_server, redis_client):
    rq_writes(redis_server.url, "json")
    target = redis_server.url[: -len("/0")] + "/1"
    # read with the wrong serializer: nothing can be read, and each job says why
    code, lines = migrate("--from", redis_server.url, "--to", target, "--queue", "high")
    assert code == 1 and "high: copied nothing" in lines
    assert any(line.startswith("  high high-1 (queued): its call cannot be read") for line in lines)
    json_serializer = "rq.serializers.JSONSerializer"  # RQ's name for it is taken
    code, lines = migrate("--from", redis_server.url, "--to", target, "-q", "high", "-S", json_serializer)
    assert code == 0, lines
    assert lines[1:] == [
        "high: copied 1 queued",
        "copied 1 job; RQ's jobs were left as they were (--move takes them off RQ)",
    ]
    assert lines[0] == f"RQ at {redis_server.url} (keys rq:*) -> jq at {target}"
    jq_store = redis_server.client(db=1)
    job = Queue("high", connection=jq_store, serializer=JSONSerializer).fetch_job("high-1")
    assert (job.func_name, job.args) == ("tests.addons.jobs.add", (7, 8))
    assert not Job.exists("queued-1", connection=jq_store)
    assert list(redis_client.scan_iter(match="jq:*")) == []
    jq_store.flushdb()


def test_usage_errors_and_an_unreachable_store(redis_server, capsys):
    assert main(["--from", redis_server.url, "--serializer", "no.such.Serializer"]) == 2
    assert "cannot be imported" in capsys.readouterr().err
    from tests.redis_server import free_port

    assert main(["--from", f"redis://127.0.0.1:{free_port()}/0"]) == 1
    assert "ConnectionError" in capsys.readouterr().err
    for url in ("memory://", "redis://:hunter2@127.0.0.1:notaport/0"):
        assert main(["--from", url]) == 2
        err = capsys.readouterr().err
        assert "is not a Redis URL" in err and "redis://host:port/db" in err and "hunter2" not in err
    with pytest.raises(SystemExit):
        main([])


def test_jqueue_migrate_rq_is_the_same_command(redis_server, redis_client):
    from tests.test_cli import jqueue

    rq_writes(redis_server.url)
    done = jqueue("migrate-rq", "--from", redis_server.url, "--dry-run")
    assert done.returncode == 1, done.stderr  # two jobs stay on RQ (one running, one waiting for it)
    assert "default: would copy 3 queued, 1 scheduled, 3 deferred, 2 failed" in done.stdout.splitlines()
    assert list(redis_client.scan_iter(match="jq:*")) == []
    usage = jqueue("migrate-rq")
    assert usage.returncode == 2 and "usage: jqueue migrate-rq" in usage.stderr
