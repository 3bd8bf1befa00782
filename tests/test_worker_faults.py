"""Worker faults: a worker that exits holding a job it claimed but did not start, a job that
starves the worker's heartbeat (it holds the GIL), a second signal during a shutdown, a restart
under the name of a dead worker, and a record whose ``origin`` disagrees with its claim.

Each test runs real worker processes against a redis-server of its own, and, where the
behaviour is the same, a worker in this process against the memory and SQLite drivers.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jq import Callback, Queue, Retry, SimpleWorker, Worker
from jq.broker import Broker
from jq.core.job_record import SIGNATURE, signed_fields
from jq.exceptions import SignatureError
from jq.io.signing import SignedSerializer
from jq.job import Job
from jq.serializers import JSONSerializer
from jq.testing.helpers import wait_for
from jq_backends.memory import MemoryBroker
from tests import fixtures
from tests.processes import start_worker, stop
from tests.redis_server import RedisServer

# Worker processes killed, signalled and starved, about a minute in all: slow (the CI runs
# them on the newest releases).
pytestmark = pytest.mark.slow


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A private redis-server for one test."""
    instance = RedisServer().start()
    try:
        yield instance
    finally:
        instance.cleanup()


@pytest.fixture(params=["memory", "sqlite"])
def local_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    """A broker of a driver without a server, once per driver."""
    if request.param == "memory":
        broker: Broker = MemoryBroker()
    else:
        from jq_backends.sqlite import SQLiteBroker

        broker = SQLiteBroker(str(tmp_path / "jobs.db"))
    try:
        yield broker
    finally:
        broker.close()


# -- class 4: a worker that exits gives back the job it claimed and did not start --------------

#: How the first job ends the worker's process, and what it is recorded as.
EXITS = {
    # The job raises KeyboardInterrupt: failed, and no next job is claimed with its failure.
    "keyboard-interrupt": lambda queue: queue.enqueue(fixtures.raise_keyboard_interrupt),
    # The on_failure callback exits, after the failure was recorded with the next job's claim.
    "exit-in-on-failure": lambda queue: queue.enqueue(
        fixtures.div_by_zero, 1, on_failure=Callback(fixtures.on_failure_exit)
    ),
    # The on_success callback exits, before the outcome is recorded: the job is failed, saying why.
    "exit-in-on-success": lambda queue: queue.enqueue(
        fixtures.add, 1, 2, on_success=Callback(fixtures.on_success_exit)
    ),
}


def check_given_back(queue: Queue, first: object, second: object) -> None:
    """The first job ended failed; the second, never started, is first in its queue, untouched."""
    assert first.get_status(refresh=True) == "failed"  # type: ignore[attr-defined]
    assert second.get_status(refresh=True) == "queued"  # type: ignore[attr-defined]
    assert queue.job_ids[:1] == [second.id]  # type: ignore[attr-defined]
    assert queue.started_job_registry.get_job_ids() == []
    second.refresh()  # type: ignore[attr-defined]
    assert second.execution_id is None and second.worker_name is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("exit_path", list(EXITS))
def test_a_worker_that_exits_leaves_no_claimed_job_behind(server, exit_path):
    client = server.client()
    queue = Queue(connection=client)
    first = EXITS[exit_path](queue)
    second = queue.enqueue(fixtures.add, 2, 3)
    # worker_ttl is long: a job left started would stay so for minutes, not come back by itself.
    process = start_worker(server.url, name="leaver", simple=True, worker_ttl=300)
    code, stderr = stop(process)
    assert code is not None, stderr
    check_given_back(queue, first, second)
    if exit_path != "exit-in-on-failure":
        assert ("KeyboardInterrupt" if exit_path == "keyboard-interrupt" else "SystemExit") in (
            first.exc_info or ""
        ), first.exc_info
    # The next worker runs it.
    process = start_worker(server.url, name="taker", simple=True, worker_ttl=300, work={"burst": True})
    code, stderr = stop(process)
    assert code == 0, stderr
    assert second.get_status(refresh=True) == "finished" and second.return_value() == 5


@pytest.mark.parametrize("exit_path", ["exit-in-on-failure", "exit-in-on-success"])
def test_a_worker_in_process_that_exits_leaves_no_claimed_job_behind(local_broker, exit_path):
    queue = Queue(connection=local_broker)
    first = EXITS[exit_path](queue)
    second = queue.enqueue(fixtures.add, 2, 3)
    worker = SimpleWorker([queue], connection=local_broker, worker_ttl=300)
    with pytest.raises(SystemExit):
        worker.work(burst=True)
    check_given_back(queue, first, second)
    assert worker.work(burst=True)
    assert second.get_status(refresh=True) == "finished"


# -- class 9: a second signal during the shutdown; a restart under a dead worker's name --------

#: The file a PausingAtUnregister worker writes when it is about to unregister; it goes on once
#: the same path with ``.go`` added exists.
UNREGISTER_MARKER = "JQ_TEST_UNREGISTER_MARKER"


class PausingAtUnregister:
    """Waits, when it is about to unregister, until the test says go: the moment a second signal
    must not kill it (set up by the test through the environment)."""

    def register_death(self) -> None:
        marker = Path(os.environ[UNREGISTER_MARKER])
        marker.write_text(str(os.getpid()))
        go = marker.with_name(marker.name + ".go")
        deadline = time.monotonic() + 30
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        super().register_death()  # type: ignore[misc]


class SimplePausingAtUnregister(PausingAtUnregister, SimpleWorker):
    """A SimpleWorker that pauses before it unregisters."""


class ForkingPausingAtUnregister(PausingAtUnregister, Worker):
    """A Worker that pauses before it unregisters."""


@pytest.mark.parametrize("worker_class", [SimplePausingAtUnregister, ForkingPausingAtUnregister])
def test_a_second_signal_during_the_shutdown_does_not_skip_unregistering(server, tmp_path, worker_class):
    client = server.client()
    queue = Queue(connection=client)
    marker = tmp_path / "unregistering"
    process = start_worker(
        server.url,
        name="twice",
        worker_ttl=300,
        extra_env={UNREGISTER_MARKER: str(marker)},
        **{
            "class": f"{__name__}.{worker_class.__name__}",
            "simple": worker_class is SimplePausingAtUnregister,
        },
    )
    try:
        running = tmp_path / "running"
        job = queue.enqueue(fixtures.mark_started_and_sleep, str(running), 0.2)
        assert wait_for(running.exists)
        process.send_signal(signal.SIGTERM)
        assert wait_for(marker.exists)
        # The loop has ended and the worker is about to unregister: the second signal comes now.
        process.send_signal(signal.SIGTERM)
        # Once the signal was handled (not the default action: that would have killed it).
        assert wait_for(lambda: process.poll() is not None, timeout=1) is False
        marker.with_name(marker.name + ".go").touch()
        code, stderr = stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            stop(process)
    assert code == 0, stderr
    assert Worker.count(connection=client) == 0
    assert job.get_status(refresh=True) == "finished"
    # The name is free at once.
    again = start_worker(server.url, name="twice", simple=True, worker_ttl=300, work={"burst": True})
    code, stderr = stop(again)
    assert code == 0, stderr


@pytest.mark.parametrize("delay", [0.0, 0.015, 0.03, 0.045, 0.06])
def test_two_quick_sigterms_to_a_busy_worker_leave_no_record(server, tmp_path, delay):
    """The measured fault: a second SIGTERM 0-60 ms after the first (the job is short)."""
    client = server.client()
    queue = Queue(connection=client)
    process = start_worker(server.url, name="quick", simple=True, worker_ttl=300)
    running = tmp_path / "running"
    queue.enqueue(fixtures.mark_started_and_sleep, str(running), 0.02)
    assert wait_for(running.exists)
    process.send_signal(signal.SIGTERM)
    time.sleep(delay)  # the scenario: how far apart the two signals come
    process.send_signal(signal.SIGTERM)
    code, stderr = stop(process)
    # Handled as a cold shutdown; or, when it came after work() returned (the handlers it found
    # are back then), the default action ended the process: only once it had unregistered.
    assert code == 0 or (code == -signal.SIGTERM and "stopped after" in stderr), stderr
    assert Worker.count(connection=client) == 0
    again = start_worker(server.url, name="quick", simple=True, worker_ttl=300, work={"burst": True})
    code, stderr = stop(again)
    assert code == 0, stderr


@pytest.mark.parametrize("simple", [True, False], ids=["SimpleWorker", "Worker"])
def test_a_restart_takes_the_name_of_a_killed_worker(server, simple):
    client = server.client()
    queue = Queue(connection=client)
    dead = start_worker(server.url, name="phoenix", simple=simple, worker_ttl=300)
    assert wait_for(lambda: Worker.count(connection=client) == 1)
    dead.kill()
    stop(dead)
    # Its record stays (for worker_ttl): the restart must not take it for a live worker.
    assert (
        Worker.find_by_key(Worker.redis_worker_namespace_prefix + "phoenix", connection=client).pid
        == dead.pid
    )
    job = queue.enqueue(fixtures.add, 1, 2)
    again = start_worker(server.url, name="phoenix", simple=simple, worker_ttl=300, work={"burst": True})
    code, stderr = stop(again)
    assert code == 0, stderr
    assert "took over the record of an earlier worker" in stderr
    assert job.get_status(refresh=True) == "finished"
    assert Worker.count(connection=client) == 0


def test_a_live_worker_keeps_its_name(server):
    client = server.client()
    live = start_worker(server.url, name="taken", simple=True, worker_ttl=300)
    try:
        assert wait_for(lambda: Worker.count(connection=client) == 1)
        twin = start_worker(server.url, name="taken", simple=True, worker_ttl=300, work={"burst": True})
        code, stderr = stop(twin)
        assert code != 0 and "already registered" in stderr, stderr
        assert (
            Worker.find_by_key(Worker.redis_worker_namespace_prefix + "taken", connection=client).pid
            == live.pid
        )
    finally:
        live.send_signal(signal.SIGTERM)
        stop(live)


# -- class 9: a record whose origin disagrees with the queue it is on ---------------------------


def test_a_claimed_job_whose_record_names_another_queue_is_failed(server):
    client = server.client()
    queue = Queue(connection=client)
    job = queue.enqueue(fixtures.add, 1, 2)
    # Changed in the store behind jq's back (the job stays on the default queue).
    queue.broker.update_job(job.id, {"origin": b"elsewhere"})
    process = start_worker(server.url, name="checker", simple=True, worker_ttl=300, work={"burst": True})
    code, stderr = stop(process)
    assert code == 0, stderr
    assert job.get_status(refresh=True) == "failed"
    assert "names queue 'elsewhere', but the job was claimed on queue 'default'" in job.exc_info
    assert "it was not run" in job.exc_info
    assert queue.started_job_registry.get_job_ids() == []
    assert queue.failed_job_registry.get_job_ids() == [job.id]


def test_an_abandoned_job_whose_record_names_another_queue_is_ended(local_broker):
    queue = Queue(connection=local_broker)
    job = queue.enqueue(fixtures.add, 1, 2)
    claimed = local_broker.claim(["default"], {"execution": b"x1"}, time.time() - 1)
    assert claimed is not None and claimed.job_id == job.id
    local_broker.update_job(job.id, {"origin": b"elsewhere"})
    assert queue.started_job_registry.cleanup() == [job.id]
    assert job.get_status(refresh=True) == "failed"
    assert "was abandoned" in job.exc_info and "names queue 'elsewhere'" in job.exc_info
    assert queue.started_job_registry.get_job_ids() == []


def test_the_signature_covers_the_origin(local_broker):
    serializer = SignedSerializer(JSONSerializer, keys={"k1": b"s" * 32})
    queue = Queue(connection=local_broker, serializer=serializer)
    job = queue.enqueue(fixtures.add, 1, 2)
    local_broker.update_job(job.id, {"origin": b"elsewhere"})
    with pytest.raises(SignatureError, match="wrong signature"):
        Job.fetch(job.id, connection=local_broker, serializer=serializer)


def test_a_record_signed_before_the_origin_was_still_loads(local_broker):
    """Jobs signed by an earlier release (or by an enqueuer not upgraded yet) still run."""
    serializer = SignedSerializer(JSONSerializer, keys={"k1": b"s" * 32})
    queue = Queue(connection=local_broker, serializer=serializer)
    job = queue.enqueue(fixtures.add, 1, 2)
    record = local_broker.load_job(job.id)
    legacy = serializer.sign(signed_fields(job.id, record, legacy=True))
    local_broker.update_job(job.id, {SIGNATURE: legacy})
    assert Job.fetch(job.id, connection=local_broker, serializer=serializer).origin == "default"
    # Without the origin in it, a changed origin passes the signature: the worker's claim check
    # still refuses to run it (see test_a_claimed_job_whose_record_names_another_queue_is_failed).
    local_broker.update_job(job.id, {"origin": b"elsewhere"})
    assert Job.fetch(job.id, connection=local_broker, serializer=serializer).origin == "elsewhere"
    worker = SimpleWorker([queue], connection=local_broker, serializer=serializer)
    worker.work(burst=True)
    assert job.get_status(refresh=True) == "failed"
    failed = Job.fetch(job.id, connection=local_broker, serializer=serializer)
    assert "names queue 'elsewhere'" in failed.exc_info


# -- class 8: a job that holds the GIL must not starve its worker's liveness --------------------

#: worker_ttl of the workers in these tests (seconds): the job holds the GIL for much longer.
SHORT_TTL = 2
GIL_HELD = 3 * SHORT_TTL + 1


def _runs(path: Path) -> int:
    """How many times a hold_the_gil job started."""
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.parametrize("mode", ["simple", "simple-sqlite", "fork-per-job", "reused-horse"])
def test_a_job_holding_the_gil_is_not_declared_abandoned(server, tmp_path, mode):
    url = f"sqlite:///{tmp_path}/jobs.db" if mode == "simple-sqlite" else server.url
    queue = Queue(connection=url)
    config = {"fork-per-job": {}, "reused-horse": {"reuse_horse": True}}.get(mode, {"simple": True})
    runs = tmp_path / "runs"
    runner = start_worker(url, name="holder", worker_ttl=SHORT_TTL, **config)
    # A second worker whose maintenance looks for abandoned jobs twice a second, started once the
    # job runs (so that it is the first worker's).
    watcher = None
    try:
        job = queue.enqueue(fixtures.hold_the_gil, str(runs), GIL_HELD, retry=Retry(max=1))
        assert wait_for(lambda: _runs(runs) == 1)
        watcher = start_worker(
            url, name="watcher", simple=True, worker_ttl=SHORT_TTL, maintenance_interval=0.5
        )
        assert wait_for(lambda: job.get_status(refresh=True) != "started", timeout=GIL_HELD + 20)
        assert job.get_status() == "finished", job.exc_info
        assert _runs(runs) == 1
    finally:
        for process in (runner, watcher):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                stop(process)
        queue.broker.close()


def test_a_dead_worker_holding_the_gil_is_still_detected(server, tmp_path, record_property):
    """The pulse dies with its worker: the job of a worker killed while it held the GIL is ended
    as abandoned within two lease lengths (plus the watcher's maintenance interval)."""
    client = server.client()
    queue = Queue(connection=client)
    runner = start_worker(server.url, name="holder", simple=True, worker_ttl=SHORT_TTL)
    runs = tmp_path / "runs"
    job = queue.enqueue(fixtures.hold_the_gil, str(runs), 30)
    assert wait_for(lambda: _runs(runs) == 1)
    # Started once the job runs, so that it is the first worker's.
    watcher = start_worker(
        server.url, name="watcher", simple=True, worker_ttl=SHORT_TTL, maintenance_interval=0.5
    )
    try:
        assert wait_for(lambda: Worker.count(connection=client) == 2)
        runner.kill()
        killed = time.monotonic()
        stop(runner)
        assert wait_for(lambda: job.get_status(refresh=True) == "failed", timeout=4 * SHORT_TTL + 5)
        detected = time.monotonic() - killed
        record_property("abandoned_detected_seconds", round(detected, 2))
        print(f"\nabandoned job of a killed worker ended {detected:.2f} s after the kill")
        assert detected < 2 * SHORT_TTL + 1.5
        assert "abandoned" in job.exc_info
        # Nothing of the killed worker is left running.
        assert wait_for(lambda: not _children_of(runner.pid), timeout=5)
    finally:
        watcher.send_signal(signal.SIGTERM)
        stop(watcher)


def _children_of(pid: int) -> list[int]:
    """Processes whose command line is the killed worker's (the pulse is a fork of it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        state = stat.rsplit(")", 1)[1].split()[0]
        if b'"name": "holder"' in cmdline and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found
