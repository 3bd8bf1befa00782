"""The ``jqueue`` command, run for real in a subprocess: help, the worker basics, and how it fails.

The helpers here (:func:`jqueue`, :func:`jqueue_many`, :func:`run_in_pty`) are shared by the
other ``test_cli_*`` modules.
"""

from __future__ import annotations

import codecs
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from jq import Queue
from tests import fixtures
from tests.redis_server import env_without_jq_url, free_port

ROOT = Path(__file__).resolve().parent.parent

#: Every command of ``jqueue --help``; a new command must be added here (and tested).
COMMANDS = (
    "cancel",
    "cron",
    "dashboard",
    "empty",
    "enqueue",
    "info",
    "job",
    "jobs",
    "metrics",
    "migrate-rq",
    "requeue",
    "resume",
    "scheduler",
    "suspend",
    "worker",
    "worker-pool",
)


def cli_env(env_extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for ``jqueue``: none of the developer's JQ_* settings, none of RQ's
    (RQ_REDIS_URL, RQ_CONFIG... and REDIS_HOST..., which jqueue reads too), no terminal width.

    Without them, a command given no store connects to localhost:6379 (RQ's default): a test that
    means to reach a server gives its URL, or REDIS_HOST and REDIS_PORT, explicitly."""
    env = {
        key: value
        for key, value in env_without_jq_url().items()
        if not key.startswith(("JQ_", "RQ_", "REDIS_")) and key not in ("COLUMNS", "LINES")
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(env_extra or {})
    return env


def command(*args: str) -> list[str]:
    """The argv of ``python -m jq ARGS``."""
    return [sys.executable, "-m", "jq", *args]


def jqueue(
    *args: str, env_extra: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m jq ARGS`` and wait for it."""
    return subprocess.run(
        command(*args),
        cwd=cwd,
        env=cli_env(env_extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_jqueue(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``python -m jq ARGS`` without waiting (stdout and stderr captured)."""
    return subprocess.Popen(
        command(*args),
        cwd=ROOT,
        env=cli_env(env_extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Wait for a started ``jqueue`` (killing it past ``timeout``) and return what it printed."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        raise AssertionError(f"jqueue did not exit within {timeout}s:\n{stderr}") from None
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def jqueue_many(
    cases: Sequence[Sequence[str]], env_extra: dict[str, str] | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Run several ``jqueue`` commands at once (they are independent) and wait for all."""
    processes = [start_jqueue(*args, env_extra=env_extra) for args in cases]
    return [finish(process) for process in processes]


def run_in_pty(
    args: Sequence[str],
    *,
    interrupt_when: Callable[[str], bool] | None = None,
    timeout: float = 20.0,
    columns: int = 120,
) -> tuple[int, str]:
    """Run ``jqueue ARGS`` on a pseudo-terminal (``columns`` wide, 40 lines); (exit status,
    everything it wrote).

    With ``interrupt_when``, send SIGINT as soon as the output satisfies it.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = cli_env({"TERM": "xterm-256color"})
    process = subprocess.Popen(
        command(*args), cwd=ROOT, env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True
    )
    os.close(slave)
    chunks: list[str] = []
    # One decoder for the whole stream: a read may end inside a character (the tables' box
    # drawing is 3 bytes each), which decoded on its own would be two replacement characters.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    interrupted = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(decoder.decode(data))
            if interrupt_when is not None and not interrupted and interrupt_when("".join(chunks)):
                process.send_signal(signal.SIGINT)
                interrupted = True
        else:
            raise AssertionError(f"jqueue {' '.join(args)} ran past {timeout}s:\n{''.join(chunks)}")
        return process.wait(timeout=10), "".join(chunks) + decoder.decode(b"", final=True)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)


def table_rows(text: str) -> list[list[str]]:
    """The cells of every body row of the rich tables in ``text``."""
    rows = [line.strip().strip("│") for line in text.splitlines() if line.startswith("│")]
    return [[cell.strip() for cell in row.split("│")] for row in rows]


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single ``Error: ...`` line of a failed command (asserting there is nothing else)."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0]


# -- help --------------------------------------------------------------------------------------------


def test_help_and_version():
    assert "worker" in jqueue("--help").stdout
    assert "Examples:" in jqueue("worker", "--help").stdout
    assert "0.1.0" in jqueue("--version").stdout


def test_every_command_has_help_with_examples():
    listed = jqueue("--help").stdout
    section = listed.split("Commands:", 1)[1]
    assert tuple(sorted(re.findall(r"^  (\S+)", section, re.M))) == COMMANDS
    for name, done in zip(COMMANDS, jqueue_many([(name, "--help") for name in COMMANDS]), strict=True):
        assert done.returncode == 0, (name, done.stderr)
        examples = done.stdout.split("Examples:", 1)[1]
        assert f"jqueue {name} " in examples, (name, done.stdout)


# -- the worker basics --------------------------------------------------------------------------------


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


# -- failures -----------------------------------------------------------------------------------------

MEMORY = ("--url", "memory://")

#: Mistakes jqueue reports itself: exactly one line on stderr, exit status 2.
USER_ERRORS: dict[tuple[str, ...], str] = {
    ("worker", "--burst", "--url", "nonsense"): "is not a URL",
    ("worker", "--burst", "--url", "redis://127.0.0.1:1/notadb"): "is not a number",
    ("worker", "--burst", "--url", "redis://127.0.0.1:notaport/0"): "is not valid",
    ("worker", "--burst", "--url", "nosuch://x"): "no jq backend handles nosuch://",
    ("worker", "--burst", *MEMORY, "--worker-class", "no.such.Worker"): "cannot be imported",
    ("worker", "--burst", *MEMORY, "--worker-class", "jq.Queue"): "not a subclass",
    ("worker", "--burst", *MEMORY, "--job-class", "jq.Queue"): "job class 'jq.Queue' is not a subclass",
    ("worker", "--burst", *MEMORY, "--queue-class", "no.such.Queue"): "queue class 'no.such.Queue' cannot",
    ("worker", "--burst", *MEMORY, "--connection-class", "jq.Job"): "connection class 'jq.Job' is not",
    ("worker", "--burst", *MEMORY, "--exception-handler", "no.such.handler"): "exception handler",
    ("worker", "--burst", *MEMORY, "--exception-handler", "jq.__version__"): "is not callable",
    ("worker", "--burst", *MEMORY, "--serializer", "nosuch"): "no serializer is named 'nosuch'",
    ("worker", "--burst", *MEMORY, "bad queue"): "queue name",
    ("worker", "--burst", *MEMORY): "SimpleWorker",
    (
        "worker",
        "--burst",
        *MEMORY,
        "-w",
        "jq.SimpleWorker",
        "--reuse-horse",
    ): "--reuse-horse applies to jq.Worker",
    (
        "worker",
        "--burst",
        *MEMORY,
        "--pid",
        "/nonexistent/dir/w.pid",
    ): "--pid '/nonexistent/dir/w.pid': cannot",
    ("empty", *MEMORY, "-j", "jq.Queue"): "job class 'jq.Queue' is not a subclass",
    ("suspend", *MEMORY, "--queue-class", "jq.Job"): "queue class 'jq.Job' is not a subclass",
    (
        "worker",
        "--burst",
        "-c",
        "no_such_settings_module",
    ): "config module 'no_such_settings_module' not found",
    ("worker", "--burst", "-c", "settings.py"): "looks like a file name",
    ("worker-pool", "--burst", *MEMORY): "use a redis:// connection",
    ("info", "--url", "nonsense"): "is not a URL",
    # Checked before connecting: port 1 is never reached.
    ("info", "--url", "redis://127.0.0.1:1/0?timeout=5"): "did you mean 'socket_timeout'?",
    ("info", "--url", "redis://[::1/0"): "URL 'redis://[::1/0' is not valid: Invalid IPv6 URL",
    ("info", "--url", "redis://"): "URL 'redis://' names no host",
    ("info", "--url", "redis:///3"): "URL 'redis:///3' names no host",
    ("info", "--url", "redis://:hunter2@/0"): "URL 'redis://:***@/0' names no host",
    ("info", "--url", "unix://"): "URL 'unix://' names no socket",
    ("enqueue", *MEMORY, "not a path"): "is not a dotted path",
    ("enqueue", *MEMORY, "--queue", "bad queue", "os.getpid"): "queue name",
    ("info", *MEMORY, "bad queue"): "queue name",
    ("jobs", *MEMORY, "nosuch"): "no queue named 'nosuch' in memory://",
    ("jobs", *MEMORY, "--status", "queued,nope"): "unknown status 'nope': use one or more of queued,",
    ("jobs", *MEMORY, "--status", "stopped"): "stopped jobs are kept with the failed ones",
    ("jobs", *MEMORY, "--limit", "0"): "--limit must be a whole number of jobs, 1 or more, not '0'",
    ("jobs", *MEMORY, "--limit", "many"): "--limit must be a whole number of jobs, 1 or more, not 'many'",
    ("jobs", *MEMORY, "bad queue"): "queue name",
    ("enqueue", *MEMORY, "os.getpid", "@tests"): "cannot read the argument file 'tests': Is a directory",
    ("enqueue", *MEMORY, "os.getpid", "@docs/images/dashboard-job.png"): "not text",
    ("enqueue", *MEMORY, "os.getpid", "--at", "9999-12-31T23:00:00-05:00"): "cannot be read as a time in UTC",
}

#: Mistakes click reports as usage errors (a usage line, a hint and the error): exit status 2.
USAGE_ERRORS: dict[tuple[str, ...], str] = {
    ("worker", *MEMORY, "--results-ttl", "soon"): "is not a TTL",
    ("worker", *MEMORY, "--max-jobs", "0"): "--max-jobs",
    ("worker", *MEMORY, "--quiet", "--verbose"): "only one of --logging-level, --quiet and --verbose",
    ("worker", *MEMORY, "--logging-level", "LOUD"): "--logging-level",
    ("worker", *MEMORY, "--no-such-flag"): "No such option",
    ("info", *MEMORY, "-Q", "-W"): "at most one of --only-queues and --only-workers",
    ("info", *MEMORY, "--json", "--interval", "1"): "--json prints once",
    ("requeue", *MEMORY, "--all", "some-id"): "either job ids or --all, not both",
    ("empty", *MEMORY, "--all", "default"): "either queue names or --all, not both",
    ("info", *MEMORY, "--raw", "--json"): "at most one of --json and --raw",
    ("worker", *MEMORY, "--dequeue-strategy", "sideways"): "'sideways' is not one of 'default', 'random'",
    ("worker", *MEMORY, "-ds", "sideways"): "Invalid value for '--dequeue-strategy' / '-ds'",
    ("worker", *MEMORY, "--fork-per-job", "--reuse-horse"): "at most one of --fork-per-job and --reuse-horse",
    ("worker", *MEMORY, "--worker-ttl", "0"): "--worker-ttl",
    ("worker", *MEMORY, "--logging_level", "LOUD"): "--logging-level",
    ("cron", *MEMORY, "-l", "LOUD", "tests.cron_config"): "'LOUD' is not one of",
    ("enqueue", *MEMORY, "os.getpid", "--kwargs", "{nope"): "not JSON",
    ("enqueue", *MEMORY, "os.getpid", "--kwargs", "[1]"): "must be a JSON object",
    ("enqueue", *MEMORY, "os.getpid", "--at", "tomorrow"): "is not an ISO date",
    ("enqueue", *MEMORY, "os.getpid", "--in", "soon"): "is not a duration",
    ("enqueue", *MEMORY, "os.getpid", "--at", "2030-01-01", "--in", "1m"): "at most one of --schedule-in",
    ("suspend", *MEMORY, "--duration", "-5"): "is not a",
    ("suspend", *MEMORY, "--duration", "0"): "'0' is not a positive duration",
    # Longer than Redis and jq keep anything (2**31-1 s), and too big for a timedelta.
    (
        "suspend",
        *MEMORY,
        "--duration",
        "99999999999999999999",
    ): "longer than the maximum of 2147483647 seconds",
    ("enqueue", *MEMORY, "os.getpid", "--in", "99999999999999999999d"): "longer than the maximum of",
    ("enqueue", *MEMORY, "os.getpid", "--in", "24856d"): "'24856d' is longer than the maximum",
    ("worker", *MEMORY, "--results-ttl", "99999999999999999999"): "use -1 to keep results forever",
    ("worker", *MEMORY, "--log-format", "%(nosuch)s"): "Formatting field not found in record: 'nosuch'",
    ("worker", *MEMORY, "--log-format", "%(message)d"): "is not a logging format",
    ("worker-pool", *MEMORY, "--log-format", "no fields"): "is not a logging format",
    ("cancel", *MEMORY): "Missing argument",
    ("enqueue", *MEMORY, "os.getpid", "--at", "0001-01-01T00:00:00"): "is not an ISO date and time",
    ("worker", *MEMORY, "--maintenance-interval", "nan"): "'nan' is not a number of seconds",
    ("worker", *MEMORY, "--maintenance-interval", "1e20"): "is not in the range 0<x<=2147483647",
    ("worker", *MEMORY, "--worker-ttl", "99999999999999999999"): "is not in the range 1<=x<=2147483647",
    ("info", *MEMORY, "--interval", "nan"): "'nan' is not a number of seconds",
    ("info", *MEMORY, "--interval", "inf"): "inf is not in the range 0.1<=x<=86400.0",
}


def test_user_mistakes_print_one_line_without_traceback():
    cases = list(USER_ERRORS)
    for args, done in zip(cases, jqueue_many(cases), strict=True):
        assert done.returncode == 2, (args, done.stderr)
        line = one_error_line(done)
        assert USER_ERRORS[args] in line, (args, line)


def test_usage_errors_exit_2_with_the_reason():
    cases = list(USAGE_ERRORS)
    for args, done in zip(cases, jqueue_many(cases), strict=True):
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr and "Logging error" not in done.stderr, (args, done.stderr)
        assert USAGE_ERRORS[args] in done.stderr, (args, done.stderr)


def test_a_bad_jq_url_is_one_line_and_exit_2():
    cases = {
        "redis://[::1/0": "URL 'redis://[::1/0' is not valid: Invalid IPv6 URL",
        "redis://": "URL 'redis://' names no host",
        "redis://127.0.0.1:1/0?socket_timout=1": "did you mean 'socket_timeout'?",
    }
    processes = [start_jqueue("info", env_extra={"JQ_URL": url}) for url in cases]
    for (url, message), process in zip(cases.items(), processes, strict=True):
        done = finish(process)
        assert done.returncode == 2, (url, done.stderr)
        assert message in one_error_line(done), url


def test_an_unreachable_store_is_one_line_and_exit_1_quickly():
    closed = f"redis://127.0.0.1:{free_port()}/0"
    cases = [
        ("worker", "--burst", "--url", closed),
        ("worker-pool", "--burst", "--url", closed),
        ("info", "--url", closed),
        ("enqueue", "--url", closed, "os.getpid"),
        ("job", "--url", closed, "some-id"),
        ("suspend", "--url", f"redis://:hunter2@127.0.0.1:{free_port()}/0"),
    ]
    started = time.monotonic()
    results = jqueue_many(cases)
    assert time.monotonic() - started < 30
    for args, done in zip(cases, results, strict=True):
        assert done.returncode == 1, (args, done.stderr)
        line = one_error_line(done)
        assert "cannot connect to the store at redis://" in line, (args, line)
        assert "hunter2" not in line


def test_a_config_module_that_is_broken_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "broken_syntax.py").write_text("QUEUES = [\n")
    (tmp_path / "broken_import.py").write_text("import no_such_dependency_of_settings\n")
    (tmp_path / "broken_type.py").write_text("QUEUES = 'high'\n")
    (tmp_path / "broken_port.py").write_text("REDIS_PORT = '6379'\n")
    (tmp_path / "broken_sentinel.py").write_text("SENTINEL = {'INSTANCES': ['localhost:26379']}\n")
    (tmp_path / "broken_exit.py").write_text("import sys\nsys.exit(3)\n")
    # Unknown keywords are refused before anything connects (nothing listens on port 1).
    (tmp_path / "broken_connection_kwargs.py").write_text(
        "SENTINEL = {'INSTANCES': [('127.0.0.1', 1)], 'CONNECTION_KWARGS': {'health_check_intervall': 3}}\n"
    )
    (tmp_path / "broken_sentinel_kwargs.py").write_text(
        "SENTINEL = {'INSTANCES': [('127.0.0.1', 1)], 'SENTINEL_KWARGS': {'nosuch': 1}}\n"
    )
    (tmp_path / "broken_tls_kwargs.py").write_text(
        "SENTINEL = {'INSTANCES': [('127.0.0.1', 1)], 'CONNECTION_KWARGS': {'ssl_ca_certs': '/ca.crt'}}\n"
    )
    expected = {
        "broken_syntax": "has a syntax error",
        "broken_import": "cannot be imported: No module named 'no_such_dependency_of_settings'",
        "broken_type": "QUEUES in config module 'broken_type' must be a list of queue names",
        "broken_port": "REDIS_PORT in config module 'broken_port' must be an integer, not str",
        "broken_sentinel": "SENTINEL['INSTANCES'] in config module 'broken_sentinel' must be a list",
        "broken_exit": "config module 'broken_exit' called sys.exit(3) while being imported",
        "broken_connection_kwargs": (
            "SENTINEL['CONNECTION_KWARGS'] (from config module broken_connection_kwargs) has an unknown "
            "key 'health_check_intervall'; did you mean 'health_check_interval'?"
        ),
        "broken_sentinel_kwargs": (
            "SENTINEL['SENTINEL_KWARGS'] (from config module broken_sentinel_kwargs) has an unknown key "
            "'nosuch'"
        ),
        "broken_tls_kwargs": "unknown key 'ssl_ca_certs': TLS options apply with 'SSL': True",
    }
    cases = [("worker", "--burst", "-P", str(tmp_path), "-c", name) for name in expected]
    for (name, message), done in zip(expected.items(), jqueue_many(cases), strict=True):
        assert done.returncode == 2, (name, done.stderr)
        assert message in one_error_line(done), (name, done.stderr)


def test_a_class_whose_module_raises_on_import_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "raises_on_import.py").write_text("raise RuntimeError('no DATABASE_URL')\n")
    options = ("-w", "--job-class", "--queue-class", "--connection-class", "-S", "--exception-handler")
    cases = [
        ("worker", "--burst", *MEMORY, "-P", str(tmp_path), option, "raises_on_import.X")
        for option in options
    ]
    for option, done in zip(options, jqueue_many(cases), strict=True):
        assert done.returncode == 2, (option, done.stderr)
        assert "'raises_on_import.X' cannot be imported: its module raised RuntimeError: no DATABASE_URL" in (
            one_error_line(done)
        ), option


def test_a_sqlite_url_naming_no_usable_database_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    cases = {
        f"sqlite:///{tmp_path}/no/such/dir/jobs.db": "unable to open database file",
        f"sqlite:///{tmp_path}/notes.txt": "file is not a database",
    }
    for (url, message), done in zip(
        cases.items(), jqueue_many([("info", "--url", url) for url in cases]), strict=True
    ):
        assert done.returncode == 2, (url, done.stderr)
        line = one_error_line(done)
        assert message in line and "as a SQLite database" in line, line


def test_a_bad_environment_variable_is_one_line_and_exit_2():
    done = jqueue("worker", "--burst", *MEMORY, env_extra={"JQ_LOGGING_LEVEL": "LOUD"})
    assert done.returncode == 2, done.stderr
    assert "JQ_LOGGING_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in one_error_line(done)


def test_docs_cover_every_command_option_and_variable():
    from jq.cli import cli
    from jq.cli.config import ENVIRONMENT_VARIABLES, RQ_ENVIRONMENT_VARIABLES

    docs = (ROOT / "docs" / "cli.md").read_text()
    for variable in (*ENVIRONMENT_VARIABLES, *RQ_ENVIRONMENT_VARIABLES):
        assert f"| `{variable}` |" in docs, variable
    for name, cmd in cli.commands.items():
        assert f"## `jqueue {name}`" in docs or f"`jqueue {name}`" in docs, name
        for param in cmd.params:
            for option in param.opts:
                if option.startswith("--") and option != "--help":
                    assert f"`{option}" in docs, (name, option)
