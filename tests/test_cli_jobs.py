"""``jqueue job``, ``cancel``, ``requeue``, ``empty``, ``suspend`` and ``resume``, run for real
against the session's redis-server (``enqueue``: test_cli_enqueue.py)."""

from __future__ import annotations

import json

from jq import Queue, SimpleWorker
from jq_backends.redis import RedisBroker
from tests import fixtures
from tests.test_cli import jqueue, jqueue_many, one_error_line, run_in_pty

UUID_LINE = r"[0-9a-f-]{36}"


def run_failures(client, count, queue_name="default"):
    """Enqueue ``count`` failing jobs and fail them with an in-process worker; their jobs."""
    queue = Queue(queue_name, connection=client)
    jobs = [queue.enqueue(fixtures.div_by_zero, n) for n in range(count)]
    SimpleWorker([queue]).work(burst=True, logging_level="ERROR")
    return jobs


# -- job ----------------------------------------------------------------------------------------------


def test_job_shows_status_timestamps_and_result_or_traceback(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    good = queue.enqueue(fixtures.add, 40, 2)
    waiting = Queue("later", connection=redis_client).enqueue(fixtures.say_hello, "[bold]x[/bold]")
    (bad,) = run_failures(redis_client, 1)
    shown_good, shown_bad, shown_waiting, as_json = jqueue_many(
        [
            ("job", "-u", redis_server.url, good.id),
            ("job", "-u", redis_server.url, bad.id),
            ("job", "-u", redis_server.url, waiting.id),
            ("job", "-u", redis_server.url, "--json", bad.id),
        ]
    )
    for done in (shown_good, shown_bad, shown_waiting, as_json):
        assert done.returncode == 0, done.stderr
    lines = {
        line.split("  ", 1)[0]: line.split("  ", 1)[1].strip() for line in shown_good.stdout.splitlines()
    }
    assert lines["status"] == "finished"
    assert lines["result"] == "42"
    assert lines["queue"] == "default"
    assert lines["description"] == "tests.fixtures.add(40, 2)"
    for stamp in ("created at", "enqueued at", "started at", "ended at"):
        assert lines[stamp].endswith("Z"), (stamp, lines)
    assert "status       failed" in shown_bad.stdout
    assert "traceback:\nTraceback (most recent call last):" in shown_bad.stdout
    assert shown_bad.stdout.rstrip().endswith("ZeroDivisionError: division by zero")
    # Stored text is shown as it is: no rich markup is applied to it.
    assert "tests.fixtures.say_hello('[bold]x[/bold]')" in shown_waiting.stdout
    assert "status       queued" in shown_waiting.stdout
    payload = json.loads(as_json.stdout)
    assert payload["id"] == bad.id and payload["status"] == "failed" and payload["queue"] == "default"
    assert payload["traceback"].rstrip().endswith("ZeroDivisionError: division by zero")
    assert payload["started_at"].endswith("Z") and payload["worker"]


def test_job_result_as_json(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    job = queue.enqueue(fixtures.echo, 1, key="value")
    pending = jqueue("job", "-u", redis_server.url, "--json", job.id)
    SimpleWorker([queue]).work(burst=True, logging_level="ERROR")
    done = jqueue("job", "-u", redis_server.url, "--json", job.id)
    assert json.loads(pending.stdout)["result"] is None
    assert json.loads(done.stdout)["result"] == [[1], {"key": "value"}]


def test_an_unknown_job_id_is_exit_1():
    done = jqueue("job", "--url", "memory://", "no-such-job")
    assert done.returncode == 1, done.stderr
    assert "No such job: no-such-job" in one_error_line(done)


# -- cancel -------------------------------------------------------------------------------------------


def test_cancel_each_job_and_report_the_ones_that_cannot_be(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    first = queue.enqueue(fixtures.add, 1, 1)
    second = queue.enqueue(fixtures.add, 2, 2)
    done = jqueue("cancel", "-u", redis_server.url, first.id, "no-such-job", second.id)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [f"canceled {first.id}", f"canceled {second.id}"]
    assert "No such job: no-such-job" in one_error_line(done)
    assert first.get_status() == "canceled" and second.get_status() == "canceled"
    assert queue.count == 0
    assert first.id in queue.canceled_job_registry

    again = jqueue("cancel", "-u", redis_server.url, first.id)
    assert again.returncode == 1
    assert "Cannot cancel already canceled job" in one_error_line(again)


# -- requeue ------------------------------------------------------------------------------------------


def test_requeue_some_failed_jobs(redis_server, redis_client):
    first, second, third = run_failures(redis_client, 3)
    queue = Queue(connection=redis_client)
    done = jqueue("requeue", "-u", redis_server.url, "--queue", "default", first.id, "no-such-job", third.id)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [f"requeued {first.id}", f"requeued {third.id}"]
    assert "no-such-job" in one_error_line(done)
    assert set(queue.job_ids) == {first.id, third.id}
    assert queue.failed_job_registry.get_job_ids() == [second.id]


def test_requeue_all_failed_jobs_of_a_queue(redis_server, redis_client):
    failed = run_failures(redis_client, 25, "batch")
    other = run_failures(redis_client, 1)
    done = jqueue("requeue", "-u", redis_server.url, "-q", "batch", "-a")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "requeued 25 job(s) from the failed registry of batch\n"
    assert set(Queue("batch", connection=redis_client).job_ids) == {job.id for job in failed}
    assert Queue(connection=redis_client).failed_job_registry.get_job_ids() == [other[0].id]


def test_requeue_all_shows_a_progress_bar_on_a_terminal(redis_server, redis_client):
    run_failures(redis_client, 40)
    status, output = run_in_pty(["requeue", "-u", redis_server.url, "--all"])
    assert status == 0, output
    assert "Requeuing default" in output
    assert "━" in output and "40/40" in output
    assert "requeued 40 job(s)" in output
    assert Queue(connection=redis_client).count == 40


# -- empty --------------------------------------------------------------------------------------------


def test_empty_queues_and_all_queues(redis_server, redis_client):
    (failed,) = run_failures(redis_client, 1, "high")
    high = Queue("high", connection=redis_client)
    low = Queue("low", connection=redis_client)
    other = Queue("other", connection=redis_client)
    for queue, count in ((high, 3), (low, 2), (other, 1)):
        for n in range(count):
            queue.enqueue(fixtures.add, n, n)
    done = jqueue("empty", "-u", redis_server.url, "high", "low")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["emptied high: 3 job(s) deleted", "emptied low: 2 job(s) deleted"]
    assert (high.count, low.count, other.count) == (0, 0, 1)
    assert high.failed_job_registry.get_job_ids() == [failed.id]  # registries are left alone

    done = jqueue("empty", "-u", redis_server.url, "-a")
    assert done.returncode == 0, done.stderr
    assert "emptied other: 1 job(s) deleted" in done.stdout.splitlines()
    assert other.count == 0


def test_empty_or_requeue_with_nothing_to_do(redis_server):
    # As RQ: no queue (or no job id) given, or --all of a store with none, is nothing to do.
    cases = [
        ("empty", "-u", redis_server.url),
        ("empty", "-u", "memory://", "--all"),  # a store with no queue
        ("requeue", "-u", redis_server.url),
        ("requeue", "-u", redis_server.url, "--queue", "nosuch", "--all"),
    ]
    for args, done in zip(cases, jqueue_many(cases), strict=True):
        assert (done.returncode, done.stdout, done.stderr) == (0, "Nothing to do\n", ""), args


def test_empty_shows_a_progress_bar_on_a_terminal(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    for n in range(30):
        queue.enqueue(fixtures.add, n, n)
    status, output = run_in_pty(["empty", "-u", redis_server.url, "default"])
    assert status == 0, output
    assert "Emptying" in output
    assert "━" in output and "30/30" in output
    assert "emptied default: 30 job(s) deleted" in output
    assert queue.count == 0


# -- suspend and resume -------------------------------------------------------------------------------


def test_suspend_and_resume(redis_server, redis_client):
    broker = RedisBroker(redis_client)
    done = jqueue("suspend", "-u", redis_server.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"suspended the workers of {redis_server.url} until 'jqueue resume'\n"
    assert broker.is_suspended()
    assert redis_client.pttl(broker.keys.suspended) == -1

    # A worker started on a suspended system does not start (RQ's rule), burst or not.
    job = Queue(connection=redis_client).enqueue(fixtures.add, 1, 1)
    for args in (("worker", "-b", "-u", redis_server.url), ("worker", "-u", redis_server.url)):
        worker = jqueue(*args)
        assert worker.returncode == 1, worker.stderr
        assert "are suspended: run 'jqueue resume'" in one_error_line(worker)
    assert job.get_status() == "queued"

    done = jqueue("resume", "-u", redis_server.url)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"resumed the workers of {redis_server.url}\n"
    assert not broker.is_suspended()

    done = jqueue("suspend", "-u", redis_server.url, "--duration", "5m")
    assert done.returncode == 0, done.stderr
    assert "for 300 s" in done.stdout
    assert 290_000 < redis_client.pttl(broker.keys.suspended) <= 300_000
