"""``jqueue worker`` and ``jqueue worker-pool`` with every flag, run for real against the session's
redis-server. The classes and handlers the flags name are defined here, at module level, so the
worker process imports them as ``tests.test_cli_worker.<name>``."""

from __future__ import annotations

import datetime
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis

from jq import Queue, SimpleWorker, get_current_job
from jq.job import Job
from jq.serializers import JSONSerializer
from tests import fixtures
from tests.test_cli import ROOT, cli_env, finish, jqueue, one_error_line, start_jqueue

HERE = "tests.test_cli_worker"
HANDLED = "cli-test:handled"
QUEUE_CLASSES = "cli-test:queue-classes"


class MarkedJob(Job):
    """A job class the worker is told to use."""


class MarkedRedis(redis.Redis):
    """A connection class the worker is told to build its client with."""


class RecordingQueue(Queue):
    """A queue class that notes in Redis each time a worker builds one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.broker.connection.rpush(QUEUE_CLASSES, type(self).__name__)


class InProcessWorker(SimpleWorker):
    """A worker class of the user's: runs jobs in its own process."""


def job_class_name() -> str:
    """The class of the job running this function."""
    return type(get_current_job()).__name__


def connection_class_name() -> str:
    """The class of the client the running job's worker uses."""
    job = get_current_job()
    assert job is not None
    return type(job.connection).__name__


def first_handler(job: Job, exc_type: type, exc_value: BaseException, tb: Any) -> None:
    """Note the failure and pass it on."""
    job.connection.rpush(HANDLED, f"first:{job.id}:{exc_type.__name__}")


def second_handler(job: Job, exc_type: type, exc_value: BaseException, tb: Any) -> None:
    """Note the failure after the first handler."""
    job.connection.rpush(HANDLED, f"second:{job.id}")


def handled(client: redis.Redis) -> list[str]:
    """What the handlers noted, in order."""
    return [item.decode() for item in client.lrange(HANDLED, 0, -1)]


def test_worker_class_job_class_queue_class_and_connection_class(redis_server, redis_client):
    queue = Queue("classes", connection=redis_client)
    kinds = queue.enqueue(job_class_name)
    client = queue.enqueue(connection_class_name)
    pid = queue.enqueue(fixtures.pid_of_runner)
    process = start_jqueue(
        "worker", "--burst", "--url", redis_server.url, "classes",
        "--worker-class", f"{HERE}.InProcessWorker",
        "-j", f"{HERE}.MarkedJob",
        "--queue-class", f"{HERE}.RecordingQueue",
        "--connection-class", f"{HERE}.MarkedRedis",
    )  # fmt: skip
    done = finish(process)
    assert done.returncode == 0, done.stderr
    assert kinds.result == "MarkedJob"
    assert client.result == "MarkedRedis"
    assert pid.result == process.pid  # InProcessWorker ran it in the worker's own process
    assert b"RecordingQueue" in redis_client.lrange(QUEUE_CLASSES, 0, -1)


def test_short_flags_for_worker_and_job_class(redis_server, redis_client):
    job = Queue(connection=redis_client).enqueue(job_class_name)
    done = jqueue("worker", "-b", "-u", redis_server.url, "-w", "jq.SimpleWorker", "-j", f"{HERE}.MarkedJob")
    assert done.returncode == 0, done.stderr
    assert job.result == "MarkedJob"


def test_exception_handlers_run_in_order_then_the_default_one(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    kept = queue.enqueue(fixtures.div_by_zero, 1)
    handlers = (
        "--exception-handler",
        f"{HERE}.first_handler",
        "--exception-handler",
        f"{HERE}.second_handler",
    )
    done = jqueue("worker", "--burst", "--url", redis_server.url, *handlers)
    assert done.returncode == 0, done.stderr
    assert handled(redis_client) == [f"first:{kept.id}:ZeroDivisionError", f"second:{kept.id}"]
    assert kept.id in queue.failed_job_registry

    dropped = queue.enqueue(fixtures.div_by_zero, 2)
    done = jqueue(
        "worker", "--burst", "--url", redis_server.url, *handlers, "--disable-default-exception-handler"
    )
    assert done.returncode == 0, done.stderr
    assert handled(redis_client)[-2:] == [f"first:{dropped.id}:ZeroDivisionError", f"second:{dropped.id}"]
    assert dropped.get_status() == "failed"
    assert dropped.id not in queue.failed_job_registry


def test_results_ttl_is_the_default_result_ttl(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    default = queue.enqueue(fixtures.add, 1, 1)
    own = queue.enqueue(fixtures.add, 2, 2, result_ttl=60)
    done = jqueue("worker", "--burst", "--url", redis_server.url, "--results-ttl", "1000")
    assert done.returncode == 0, done.stderr
    assert 900 < redis_client.ttl(default.key) <= 1000  # the flag, not the built-in 500
    assert 0 < redis_client.ttl(own.key) <= 60  # a job's own result_ttl still wins

    forever = queue.enqueue(fixtures.add, 3, 3)
    done = jqueue("worker", "--burst", "--url", redis_server.url, "--results-ttl", "-1")
    assert done.returncode == 0, done.stderr
    assert forever.result == 6
    assert redis_client.ttl(forever.key) == -1


def test_log_format_date_format_and_job_descriptions(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    first = queue.enqueue(fixtures.say_hello, "format")
    done = jqueue(
        "worker", "--burst", "--url", redis_server.url,
        "--log-format", "JQLOG|%(asctime)s|%(message)s", "--date-format", "%Y",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    year = datetime.datetime.now().year
    lines = [line for line in done.stderr.splitlines() if line.startswith("JQLOG|")]
    assert lines and all(line.startswith(f"JQLOG|{year}|") for line in lines), done.stderr
    assert "tests.fixtures.say_hello('format')" in done.stderr

    second = queue.enqueue(fixtures.say_hello, "secret-argument")
    done = jqueue("worker", "--burst", "--url", redis_server.url, "--disable-job-desc-logging")
    assert done.returncode == 0, done.stderr
    assert second.result == "Hi there, secret-argument!"
    assert "secret-argument" not in done.stderr
    assert second.id in done.stderr
    assert first.id not in done.stderr


def test_max_jobs_and_max_idle_time(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    first = queue.enqueue(fixtures.add, 1, 2)
    second = queue.enqueue(fixtures.add, 3, 4)
    done = jqueue("worker", "--burst", "--url", redis_server.url, "--max-jobs", "1")
    assert done.returncode == 0, done.stderr
    assert first.result == 3
    assert second.get_status() == "queued"

    # Not a burst worker: only --max-idle-time makes it stop once the queue is empty.
    done = jqueue("worker", "--url", redis_server.url, "--max-idle-time", "0.5", timeout=30)
    assert done.returncode == 0, done.stderr
    assert second.result == 7
    assert "idle for 0.5s" in done.stderr


def reserved_jobs() -> int:
    """How many jobs of the running job's queue are reserved (by its worker: there is one)."""
    job = get_current_job()
    assert job is not None
    return int(job.connection.zcard(f"jq:reserved:{job.origin}"))


def test_batch_size_reserves_jobs_from_a_deep_queue(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    jobs = [queue.enqueue(reserved_jobs) for _ in range(6)]
    done = jqueue(
        "worker", "--burst", "-w", "jq.SimpleWorker", "--url", redis_server.url, "--batch-size", "3"
    )
    assert done.returncode == 0, done.stderr
    assert max(job.result for job in jobs) == 2, "two jobs waited reserved behind a running one"


def test_batch_size_must_be_at_least_one():
    from click.testing import CliRunner

    from jq.cli import cli

    refused = CliRunner().invoke(cli, ["worker", "--burst", "--url", "memory://", "--batch-size", "0"])
    assert refused.exit_code == 2 and "Invalid value for '--batch-size'" in refused.output


def test_name_and_serializer(redis_server, redis_client):
    job = Queue(connection=redis_client, serializer=JSONSerializer).enqueue(fixtures.add, 20, 22)
    done = jqueue("worker", "-b", "-u", redis_server.url, "-n", "cli-named", "--serializer", "json")
    assert done.returncode == 0, done.stderr
    job.refresh()
    assert job.result == 42
    assert job.worker_name == "cli-named"


def test_with_scheduler_queues_due_scheduled_jobs(redis_server, redis_client):
    queue = Queue(connection=redis_client)
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    job = queue.enqueue_at(past, fixtures.add, 5, 5)
    assert job.get_status() == "scheduled"
    done = jqueue("worker", "--burst", "--url", redis_server.url, "--with-scheduler")
    assert done.returncode == 0, done.stderr
    assert job.result == 10


def test_logging_levels(redis_server, redis_client):
    url = redis_server.url
    runs = {
        "default": jqueue("worker", "-b", "-u", url),
        "quiet": jqueue("worker", "-b", "-u", url, "--quiet"),
        "warning": jqueue("worker", "-b", "-u", url, "--logging-level", "warning"),
        "verbose": jqueue("worker", "-b", "-u", url, "-v"),
        "env": jqueue("worker", "-b", "-u", url, env_extra={"JQ_LOGGING_LEVEL": "debug"}),
        "flag over env": jqueue("worker", "-b", "-u", url, "-q", env_extra={"JQ_LOGGING_LEVEL": "DEBUG"}),
    }
    for label, done in runs.items():
        assert done.returncode == 0, (label, done.stderr)
    assert "started, listening to default" in runs["default"].stderr
    assert "settings:" not in runs["default"].stderr
    for label in ("quiet", "warning", "flag over env"):
        assert runs[label].stderr == "", (label, runs[label].stderr)
    assert "settings: connection redis://127.0.0.1" in runs["verbose"].stderr
    assert "logging level DEBUG (from flags)" in runs["verbose"].stderr
    assert "logging level DEBUG (from JQ_LOGGING_LEVEL)" in runs["env"].stderr


def _fake_sentry(directory: Path, log: Path) -> None:
    """A stand-in for sentry_sdk that writes each call to ``log``."""
    package = directory / "sentry_sdk"
    package.mkdir()
    (package / "__init__.py").write_text(
        f"LOG = {str(log)!r}\n"
        "def _note(text):\n"
        "    with open(LOG, 'a') as handle:\n"
        "        handle.write(text + '\\n')\n"
        "def init(dsn):\n"
        "    _note('init ' + dsn)\n"
        "def capture_exception(exc):\n"
        "    _note('capture ' + type(exc).__name__)\n"
        "def flush():\n"
        "    _note('flush')\n"
    )


def test_sentry_dsn_from_a_config_module_reports_every_failure(redis_server, redis_client, tmp_path):
    log = tmp_path / "sentry.log"
    _fake_sentry(tmp_path, log)
    (tmp_path / "sentry_settings.py").write_text(
        f"REDIS_URL = {redis_server.url!r}\nSENTRY_DSN = 'sync+https://key@sentry.example.invalid/1'\n"
    )
    queue = Queue(connection=redis_client)
    failures = [queue.enqueue(fixtures.div_by_zero, n) for n in range(2)]
    done = jqueue("worker", "--burst", "-P", str(tmp_path), "-c", "sentry_settings")
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    # init once in the worker, with raven's "sync+" dropped; one capture (and flush) per failure
    assert calls.count("init https://key@sentry.example.invalid/1") == 1
    assert [call for call in calls if call.startswith("capture")] == ["capture ZeroDivisionError"] * 2
    assert calls.count("flush") == 2
    # the handler returned None: the default handler still kept the jobs as failed
    assert all(job.id in queue.failed_job_registry for job in failures)


def test_sentry_dsn_without_sentry_sdk_is_a_clear_error(tmp_path):
    # Shadow any installed sentry-sdk with a module that is "not installed".
    (tmp_path / "sentry_sdk.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'sentry_sdk'\", name='sentry_sdk')\n"
    )
    done = jqueue("worker", "-b", "--url", "memory://", "-P", str(tmp_path), "--sentry-dsn", "https://k@x/1")
    assert done.returncode == 2, done.stderr
    assert "sentry-sdk is not installed: pip install 'jq-queue[sentry]'" in one_error_line(done)


def test_worker_pool_takes_the_worker_flags(redis_server, redis_client):
    queue = Queue("pooled", connection=redis_client, serializer=JSONSerializer)
    jobs = [queue.enqueue(fixtures.add, n, n) for n in range(4)]
    failing = queue.enqueue(fixtures.div_by_zero, 1)
    done = jqueue(
        "worker-pool", "-n", "2", "--burst", "--url", redis_server.url, "pooled",
        "--name", "poolx", "--serializer", "jq.serializers.JSONSerializer", "--results-ttl", "1000",
        "--exception-handler", f"{HERE}.first_handler", "--disable-job-desc-logging",
        "--worker-class", "jq.Worker", "-j", f"{HERE}.MarkedJob",
        "--log-format", "POOL %(message)s",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for job in jobs:
        job.refresh()
        assert job.get_status() == "finished"
        assert re.fullmatch(r"poolx-\d-[0-9a-f]{6}", job.worker_name or "")
        assert 900 < redis_client.ttl(job.key) <= 1000
    assert handled(redis_client) == [f"first:{failing.id}:ZeroDivisionError"]
    assert "POOL pooled: " in done.stderr
    assert "tests.fixtures.add" not in done.stderr


def test_a_pool_of_finite_workers_ends_when_they_have(redis_server, redis_client):
    # Each worker ends by itself after --max-jobs or --max-idle-time (exit status 0): the pool
    # does not replace it with a fresh one, and returns once all have ended.
    queue = Queue("finite", connection=redis_client)
    jobs = [queue.enqueue(fixtures.add, n, 1) for n in range(3)]
    done = jqueue("worker-pool", "-n", "2", "-u", redis_server.url, "--max-jobs", "1", "finite", timeout=30)
    assert done.returncode == 0, done.stderr
    assert sorted(job.get_status() for job in jobs) == ["finished", "finished", "queued"]
    assert "starting another" not in done.stderr

    done = jqueue(
        "worker-pool", "-n", "2", "-u", redis_server.url, "--max-idle-time", "0.5", "finite", timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert [job.get_status() for job in jobs] == ["finished"] * 3
    assert "starting another" not in done.stderr
    assert done.stderr.count("idle for 0.5s") == 2


def test_a_worker_script_that_preloads_libraries(redis_server, redis_client):
    # docs/workers.md's example: its jobs find the modules it imported before starting the worker.
    queue = Queue(connection=redis_client)
    preloaded = queue.enqueue("tasks.is_loaded", "statistics")
    words = queue.enqueue("tasks.count_words", "one two three")
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "preloading_worker.py"), "--burst"],
        cwd=ROOT,
        env=cli_env({"JQ_URL": redis_server.url}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "preloaded email.mime.text, statistics and tasks" in done.stderr
    assert (preloaded.result, words.result) == (True, 3)

    # The same job under a plain worker: nothing imported statistics before it ran.
    plain = queue.enqueue("tasks.is_loaded", "statistics")
    done = jqueue("worker", "--burst", "-u", redis_server.url, "-P", str(ROOT / "examples"))
    assert done.returncode == 0, done.stderr
    assert plain.result is False
