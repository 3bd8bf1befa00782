"""What workers write: every line starts with a timestamp (tracebacks included), and each job's
outcome line says how long it ran; for ``jqueue worker``, ``jqueue worker-pool`` and
``Worker.work()`` with its default logging, run for real against the session's redis-server."""

from __future__ import annotations

import datetime
import re
import subprocess
import sys

import pytest

from jq import Queue, Retry
from tests import fixtures
from tests.test_cli import ROOT, cli_env, jqueue

TIME = r"\d\d:\d\d:\d\d"

#: A program that runs one burst of a worker as a library user would, logging left to jq.
WORK_SCRIPT = """
import sys
from redis import Redis
from jq import Worker
Worker(["default"], connection=Redis.from_url(sys.argv[1])).work(burst=True)
"""


def enqueue_outcomes(client):
    """A job that finishes after 0.2 s, one that fails, one that fails and will be retried;
    {name: job}."""
    queue = Queue(connection=client)
    return {
        "slow": queue.enqueue(fixtures.sleep_for, 0.2),
        "zero": queue.enqueue(fixtures.div_by_zero, 1),
        "retried": queue.enqueue(fixtures.raise_value_error, "try again", retry=Retry(max=1)),
    }


def assert_every_line_timestamped(stderr: str, prefix: str = TIME + " ") -> list[str]:
    lines = stderr.splitlines()
    assert lines, "the worker wrote nothing"
    untimed = [line for line in lines if not re.match(prefix, line)]
    assert untimed == [], stderr
    return lines


def assert_outcomes(stderr: str, jobs, prefix: str = TIME + " ") -> None:
    slow = re.search(rf"^{prefix}default: job {jobs['slow'].id} finished in (\d+\.\d+) s$", stderr, re.M)
    assert slow is not None, stderr
    assert float(slow.group(1)) >= 0.2
    failed = (
        rf"^{prefix}default: job {jobs['zero'].id} failed in \d+\.\d{{3}} s: "
        r"ZeroDivisionError: division by zero$"
    )
    assert re.search(failed, stderr, re.M), stderr
    retried = (
        rf"^{prefix}default: job {jobs['retried'].id} failed in \d+\.\d{{3}} s: ValueError: try again; "
        r"it will be retried \(0 retries left\)$"
    )
    assert re.search(retried, stderr, re.M), stderr
    # The traceback follows the failure, each of its lines timestamped too.
    assert re.search(rf"^{prefix}Traceback \(most recent call last\):$", stderr, re.M), stderr
    assert re.search(rf"^{prefix}ZeroDivisionError: division by zero$", stderr, re.M), stderr


@pytest.mark.parametrize("command", ["worker", "worker-pool"])
def test_cli_workers_timestamp_every_line_and_time_each_job(redis_server, redis_client, command):
    jobs = enqueue_outcomes(redis_client)
    done = jqueue(command, "--burst", "-u", redis_server.url)
    assert done.returncode == 0, done.stderr
    assert_every_line_timestamped(done.stderr)
    assert_outcomes(done.stderr, jobs)


def test_worker_work_with_its_default_logging_timestamps_every_line(redis_server, redis_client):
    jobs = enqueue_outcomes(redis_client)
    done = subprocess.run(
        [sys.executable, "-c", WORK_SCRIPT, redis_server.url],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert_every_line_timestamped(done.stderr)
    assert_outcomes(done.stderr, jobs)


def test_log_and_date_formats_shape_every_line(redis_server, redis_client):
    jobs = enqueue_outcomes(redis_client)
    done = jqueue(
        "worker", "--burst", "-u", redis_server.url,
        "--log-format", "JQLOG|%(asctime)s|%(levelname)s|%(message)s", "--date-format", "%Y",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    prefix = rf"JQLOG\|{datetime.datetime.now().year}\|[A-Z]+\|"
    assert_every_line_timestamped(done.stderr, prefix)
    assert_outcomes(done.stderr, jobs, prefix)
    assert re.search(rf"^JQLOG\|\d+\|ERROR\|default: job {jobs['zero'].id} failed", done.stderr, re.M)
