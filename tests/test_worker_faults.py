"""Worker faults: a worker that exits holding a job it claimed but did not start, a job that
starves the worker's heartbeat (it holds the GIL), a second signal during a shutdown, a restart
under the name of a dead worker, and a record whose ``origin`` disagrees with its claim.

Each test runs real worker processes against a redis-server of its own, and, where the
behaviour is the same, a worker in this process against the memory and SQLite drivers.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from jq import Callback, Queue, SimpleWorker
from jq.broker import Broker
from jq_backends.memory import MemoryBroker
from tests import fixtures
from tests.processes import start_worker, stop
from tests.redis_server import RedisServer


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


def _unused() -> None:  # keeps imports used while the file grows
    _ = signal
