"""``jqueue info``: counts per registry, workers, filters, JSON, and the in-place refresh, run for
real against the session's redis-server (and on a pseudo-terminal for ``--interval``)."""

from __future__ import annotations

import datetime
import json
import os
import re
import select
import signal
import subprocess
import time
from pathlib import Path

import pytest

from jq import Queue, RateLimit, SimpleWorker
from jq.testing.helpers import wait_for
from jq.worker.registration import WorkerStatus
from jq_backends.redis import RedisBroker
from tests import fixtures
from tests.processes import read_pid
from tests.redis_server import RedisServer
from tests.test_cli import cli_env, command, finish, jqueue, jqueue_many, run_in_pty, start_jqueue, table_rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: alpha's counts after :func:`populate`, in the table's column order.
ALPHA = {
    "queued": 3, "started": 0, "deferred": 1, "scheduled": 1, "rate_limited": 1, "finished": 1, "failed": 1,
    "canceled": 1,
}  # fmt: skip


def populate(client):
    """alpha: a job in every place but started (one waits for its rate limit); beta: one queued
    job."""
    alpha = Queue("alpha", connection=client)
    alpha.enqueue(fixtures.add, 1, 1)
    alpha.enqueue(fixtures.div_by_zero, 1)
    SimpleWorker([alpha]).work(burst=True, logging_level="CRITICAL")
    blocker = alpha.enqueue(fixtures.add, 2, 2)
    alpha.enqueue(fixtures.add, 3, 3)
    alpha.enqueue(fixtures.add, 4, 4, depends_on=blocker)
    alpha.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 5, 5)
    alpha.enqueue(fixtures.add, 6, 6).cancel()
    limit = RateLimit("reports", concurrency=1)
    alpha.enqueue(fixtures.add, 8, 8, rate_limit=limit)  # queued: it has the key's one slot
    alpha.enqueue(fixtures.add, 9, 9, rate_limit=limit)  # waits for it
    Queue("beta", connection=client).enqueue(fixtures.add, 7, 7)


def hold_until_released(started: str, release: str) -> str:
    """A long job: say it started, then wait (at most a minute) until ``release`` exists."""
    Path(started).write_text(str(os.getpid()))
    wait_for(lambda: os.path.exists(release), timeout=60, interval=0.05)
    return "released"


@pytest.fixture
def busy_worker(redis_server, redis_client, tmp_path):
    """A real worker named busy-1 on queue gamma, in the middle of a job; (its job's id)."""
    started, release = tmp_path / "started", tmp_path / "release"
    job = Queue("gamma", connection=redis_client).enqueue(hold_until_released, str(started), str(release))
    process = start_jqueue("worker", "-u", redis_server.url, "--name", "busy-1", "gamma")
    try:
        assert wait_for(lambda: read_pid(started) is not None, timeout=30), "the job never started"
        yield job.id
    finally:
        # Let the job end, then stop the idle worker: while it waits for its work horse, a signal
        # that the kernel hands to one of its helper threads goes unnoticed until the horse exits.
        release.touch()
        wait_for(lambda: job.get_status() != "started", timeout=30)
        process.send_signal(signal.SIGTERM)
        finish(process, timeout=30)


def counts_of(rows, queue):
    """The counts row of ``queue`` in a queue table, as ints."""
    (row,) = [row for row in rows if row[0] == queue and len(row) == 10]
    return [int(cell) for cell in row[1:]]


def test_info_shows_queues_with_counts_and_workers(redis_server, redis_client, busy_worker):
    populate(redis_client)
    url = redis_server.url
    everything, alpha_only, by_queue, queues_only, workers_only = jqueue_many(
        [
            ("info", "-u", url),
            ("info", "-u", url, "alpha"),
            ("info", "-u", url, "-R"),
            ("info", "-u", url, "-Q"),
            ("info", "-u", url, "--only-workers"),
        ]
    )
    for done in (everything, alpha_only, by_queue, queues_only, workers_only):
        assert done.returncode == 0, done.stderr

    rows = table_rows(everything.stdout)
    assert counts_of(rows, "alpha") == [*ALPHA.values(), 0]
    assert counts_of(rows, "beta") == [1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert counts_of(rows, "gamma") == [0, 1, 0, 0, 0, 0, 0, 0, 1]
    (worker,) = [row for row in rows if len(row) == 8]
    assert worker[:4] == ["busy-1", "busy", "gamma", busy_worker]
    assert worker[4:6] == ["0", "0"]
    assert worker[6].split("@")[0].isdigit()
    assert everything.stdout.startswith(f"{url} · 3 queue(s) · 1 worker(s) · ")

    rows = table_rows(alpha_only.stdout)
    assert [row[0] for row in rows] == ["alpha"]  # no other queue, and busy-1 is not alpha's
    assert "no workers" in alpha_only.stdout

    assert "Workers by queue" in by_queue.stdout
    grouped = {row[0]: row[1] for row in table_rows(by_queue.stdout) if len(row) == 2}
    assert grouped == {"alpha": "-", "beta": "-", "gamma": "busy-1 (busy)"}

    assert "Queues" in queues_only.stdout and "Workers" not in queues_only.stdout
    assert "Workers" in workers_only.stdout and "Queues" not in workers_only.stdout
    assert [row[0] for row in table_rows(workers_only.stdout)] == ["busy-1"]


def test_info_json_for_scripts(redis_server, redis_client, busy_worker):
    populate(redis_client)
    url = redis_server.url
    full, filtered, queues_only = jqueue_many(
        [
            ("info", "-u", url, "--json"),
            ("info", "-u", url, "--json", "-R", "gamma"),
            ("info", "-u", url, "--json", "-Q"),
        ]
    )
    payload = json.loads(full.stdout)
    assert payload["store"] == url
    assert [q["name"] for q in payload["queues"]] == ["alpha", "beta", "gamma"]
    assert payload["queues"][0] == {"name": "alpha", **ALPHA, "workers": 0}
    (worker,) = payload["workers"]
    assert worker["name"] == "busy-1" and worker["state"] == "busy" and worker["queues"] == ["gamma"]
    assert worker["current_job"] == busy_worker
    assert worker["last_heartbeat"].endswith("Z") and isinstance(worker["pid"], int)
    assert "by_queue" not in payload

    filtered_payload = json.loads(filtered.stdout)
    assert [q["name"] for q in filtered_payload["queues"]] == ["gamma"]
    assert filtered_payload["by_queue"] == {"gamma": ["busy-1"]}
    assert set(json.loads(queues_only.stdout)) == {"store", "time", "suspended", "suspended_until", "queues"}


def test_info_on_an_empty_store(redis_server, redis_client):
    done = jqueue("info", "-u", redis_server.url)
    assert done.returncode == 0, done.stderr
    assert "no queues" in done.stdout and "no workers" in done.stdout
    assert json.loads(jqueue("info", "-u", redis_server.url, "--json").stdout)["queues"] == []


def test_info_interval_redraws_in_place_on_a_terminal_until_ctrl_c(redis_server, redis_client):
    populate(redis_client)
    header = f"{redis_server.url} · "
    status, output = run_in_pty(
        ["info", "-u", redis_server.url, "--interval", "1"],
        interrupt_when=lambda text: text.count(header) >= 2,
    )
    assert status == 0, output
    assert output.count(header) >= 2  # at least two frames
    assert "\x1b[1A" in output and "\x1b[2K" in output  # cursor up, erase line: drawn over in place
    assert "alpha" in output
    assert "Traceback" not in output and "Aborted" not in output


def test_info_interval_prints_frame_after_frame_into_a_pipe(redis_server, redis_client):
    populate(redis_client)
    header = f"{redis_server.url} · ".encode()
    process = subprocess.Popen(
        command("info", "-u", redis_server.url, "-i", "0.2", "-Q"),
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    output = b""
    deadline = time.monotonic() + 20
    try:
        while output.count(header) < 2 and time.monotonic() < deadline:
            ready, _, _ = select.select([process.stdout], [], [], 0.1)
            if ready:
                output += os.read(process.stdout.fileno(), 65536)
        assert output.count(header) >= 2, output
        process.send_signal(signal.SIGINT)
        rest, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert b"\x1b[" not in output + rest  # no terminal control codes in a pipe
    assert b"Traceback" not in stderr


def _read_until(process: subprocess.Popen[bytes], output: bytearray, predicate, timeout: float = 20) -> None:
    """Read ``process``'s stdout into ``output`` until ``predicate(output)`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate(bytes(output)):
        assert time.monotonic() < deadline, bytes(output)
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            output += os.read(process.stdout.fileno(), 65536)


def test_info_interval_waits_out_an_outage(tmp_path):
    # A server of its own: this test stops it.
    server = RedisServer().start()
    header = f"{server.url} · ".encode()
    process = subprocess.Popen(
        command("info", "-u", server.url, "-i", "0.2", "-Q"),
        cwd=ROOT,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    output = bytearray()
    try:
        _read_until(process, output, lambda text: header in text)
        server.stop()
        _read_until(process, output, lambda text: b"(retrying)" in text)
        outage = output.rindex(b"(retrying)")
        server.start()
        _read_until(process, output, lambda text: header in text[outage:])
        process.send_signal(signal.SIGINT)
        rest, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        server.cleanup()
    assert process.returncode == 0, stderr
    assert f"cannot connect to the store at {server.url}".encode() in output
    assert b"Traceback" not in stderr + output + rest


def test_piped_tables_have_no_trailing_spaces(redis_server, redis_client):
    populate(redis_client)
    job = Queue("alpha", connection=redis_client).enqueue(fixtures.say_hello, "a much longer argument " * 3)
    shown_job, shown_info = jqueue_many(
        [("job", "-u", redis_server.url, job.id), ("info", "-u", redis_server.url, "-R")]
    )
    for done in (shown_job, shown_info):
        assert done.returncode == 0, done.stderr
        assert [line for line in done.stdout.splitlines() if line != line.rstrip()] == []
    assert "status       queued\n" in shown_job.stdout
    assert "Workers by queue\n" in shown_info.stdout


# -- narrow terminals ---------------------------------------------------------------------------------

#: A worker named as jq names one by default (32 characters), one named as a pool names its
#: workers, and one listening to many queues with long names.
WORKER_NAMES = ("9d06f39060004cd1b6fd4dc2fd0a3f47", "pool-a1b2c3d4-0-3e8662", "reports-1")
LONG_QUEUES = ("high", "default", "low", "reports-nightly", "emails-transactional")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]")


def register_workers(client, *, long_queues: bool = True) -> tuple[list[SimpleWorker], str]:
    """Three worker records as :data:`WORKER_NAMES` (the first busy with a job, the second
    suspended), without running them; (the workers, the busy one's job id)."""
    queues = [("high", "default", "low"), ("default",), LONG_QUEUES if long_queues else ("low", "high")]
    for name in {name for listens in queues for name in listens}:
        job = Queue(name, connection=client).enqueue(fixtures.add, 1, 2)
    states = (WorkerStatus.BUSY, WorkerStatus.SUSPENDED, WorkerStatus.IDLE)
    workers = []
    for name, listens, state in zip(WORKER_NAMES, queues, states, strict=True):
        worker = SimpleWorker(list(listens), name=name, connection=client)
        worker.registration.register_birth()
        worker.registration.heartbeat(state=state, current_job=job.id if state is WorkerStatus.BUSY else None)
        workers.append(worker)
    return workers, job.id


def assert_readable(output: str, columns: int, queue_names, job_id: str | None = None) -> None:
    """Nothing is cut, nothing is wider than the terminal, and every worker's name, state and
    queues can be read whole on some line."""
    lines = output.splitlines()
    assert "…" not in output and "..." not in output, output
    assert all(len(line) <= columns for line in lines), output

    def on_a_line(word: str) -> bool:
        return any(re.search(rf"(^|[\s│(,]){re.escape(word)}([\s│),]|$)", line) for line in lines)

    for word in (*WORKER_NAMES, "busy", "suspended", "idle", *queue_names):
        assert on_a_line(word), (word, output)
    if job_id is not None:
        assert job_id in output, output


def test_info_at_80_and_200_columns_shows_every_name_whole(redis_server, redis_client):
    workers, job_id = register_workers(redis_client)
    try:
        narrow = jqueue("info", "-u", redis_server.url, env_extra={"COLUMNS": "80"})
        wide = jqueue("info", "-u", redis_server.url, env_extra={"COLUMNS": "200"})
    finally:
        for worker in workers:
            worker.registration.register_death()
    for done, columns in ((narrow, 80), (wide, 200)):
        assert done.returncode == 0, done.stderr
        assert_readable(done.stdout, columns, LONG_QUEUES, job_id)
    # At 80 columns what is left out is said, not silently missing, and the current job moved
    # under its worker's name; at 200 everything fits.
    assert "hidden at this width: pid@host, ok, failed, heartbeat (see --json)" in narrow.stdout
    assert "worker / current job" in narrow.stdout
    assert f"↳ {job_id}" in narrow.stdout
    assert "hidden at this width" not in wide.stdout
    assert "│ current job" not in wide.stdout and "┃ current job" in wide.stdout


def test_info_at_60_columns_wraps_queue_lists(redis_server, redis_client):
    workers, _job_id = register_workers(redis_client, long_queues=False)
    try:
        done, by_queue = jqueue_many(
            [("info", "-u", redis_server.url), ("info", "-u", redis_server.url, "-R")],
            env_extra={"COLUMNS": "60"},
        )
    finally:
        for worker in workers:
            worker.registration.register_death()
    for shown in (done, by_queue):
        assert shown.returncode == 0, shown.stderr
        assert_readable(shown.stdout, 60, ("high", "default", "low"))
    # The queue table keeps each queue's name with its queued and failed counts.
    assert re.search(r"┃ queue\s+┃ queued ┃.*┃ failed ┃", done.stdout), done.stdout


@pytest.mark.parametrize("columns", [80, 60])
def test_info_interval_redraws_narrow_terminals_readably(redis_server, redis_client, columns):
    workers, _job_id = register_workers(redis_client, long_queues=columns > 60)
    header = f"{redis_server.url} · "
    try:
        status, output = run_in_pty(
            ["info", "-u", redis_server.url, "--interval", "0.5", "-W"],
            interrupt_when=lambda text: ANSI.sub("", text).count(header) >= 2,
            columns=columns,
        )
    finally:
        for worker in workers:
            worker.registration.register_death()
    assert status == 0, output
    # Each cursor move or erase starts a new line, so that no two frames run together.
    plain = ANSI.sub("\n", output).replace("\r", "")
    assert_readable(plain, columns, LONG_QUEUES if columns > 60 else ("high", "default", "low"))


# -- suspension ---------------------------------------------------------------------------------------


def test_info_says_when_workers_are_suspended(redis_server, redis_client):
    broker = RedisBroker(redis_client)
    url = redis_server.url
    (before,) = jqueue_many([("info", "-u", url, "--json")])
    broker.suspend(duration=600)
    for_a_while, for_a_while_json = jqueue_many([("info", "-u", url), ("info", "-u", url, "--json")])
    broker.suspend()
    until_resumed, until_resumed_json = jqueue_many([("info", "-u", url), ("info", "-u", url, "--json")])
    broker.resume()

    assert (json.loads(before.stdout)["suspended"], json.loads(before.stdout)["suspended_until"]) == (
        False,
        None,
    )
    assert "suspended" not in jqueue("info", "-u", url).stdout

    line = re.search(r"Workers are suspended until (\d\d:\d\d:\d\d) \((\d+)m (\d+)s left", for_a_while.stdout)
    assert line is not None, for_a_while.stdout
    assert 9 * 60 <= int(line.group(2)) * 60 + int(line.group(3)) <= 600
    payload = json.loads(for_a_while_json.stdout)
    until = datetime.datetime.fromisoformat(payload["suspended_until"].replace("Z", "+00:00"))
    left = (until - datetime.datetime.fromisoformat(payload["time"].replace("Z", "+00:00"))).total_seconds()
    assert payload["suspended"] is True and 590 <= left <= 600
    assert until.astimezone().strftime("%H:%M:%S") == line.group(1)

    assert "Workers are suspended until 'jqueue resume'." in until_resumed.stdout
    payload = json.loads(until_resumed_json.stdout)
    assert (payload["suspended"], payload["suspended_until"]) == (True, None)
