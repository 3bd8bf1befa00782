"""The ``jqueue`` command, run for real in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from jq import Queue
from tests import fixtures
from tests.redis_server import env_without_jq_url

ROOT = Path(__file__).resolve().parent.parent


def jqueue(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m jq ARGS`` from the repository root."""
    env = env_without_jq_url()
    env["PYTHONPATH"] = str(ROOT)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "jq", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_and_version():
    assert "worker" in jqueue("--help").stdout
    assert "Examples:" in jqueue("worker", "--help").stdout
    assert "0.1.0" in jqueue("--version").stdout


def test_worker_burst_runs_the_queues_in_order(redis_server, redis_client):
    high = Queue("high", connection=redis_client)
    low = Queue("low", connection=redis_client)
    low_job = low.enqueue(fixtures.add, 1, 2)
    high_job = high.enqueue(fixtures.say_hello, "cli")
    done = jqueue("worker", "--burst", "--url", redis_server.url, "high", "low")
    assert done.returncode == 0, done.stderr
    assert high_job.result == "Hi there, cli!"
    assert low_job.result == 3
    high_job.refresh()
    low_job.refresh()
    assert high_job.ended_at <= low_job.started_at


def test_url_from_jq_url(redis_server, redis_client):
    job = Queue(connection=redis_client).enqueue(fixtures.add, 2, 2)
    done = jqueue("worker", "--burst", env_extra={"JQ_URL": redis_server.url})
    assert done.returncode == 0, done.stderr
    assert job.result == 4


def test_user_mistakes_print_one_line_without_traceback():
    cases = {
        ("worker", "--burst", "--url", "nonsense"): "is not a URL",
        ("worker", "--burst", "--url", "memory://", "--worker-class", "no.such.Worker"): "cannot be imported",
        ("worker", "--burst", "--url", "memory://", "--worker-class", "jq.Queue"): "not a subclass",
        ("worker", "--burst", "--url", "memory://", "bad queue"): "queue name",
        ("worker", "--burst", "--url", "memory://"): "SimpleWorker",
        ("worker", "--burst"): "no connection given",
    }
    for args, message in cases.items():
        done = jqueue(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr, (args, done.stderr)
