"""A full Redis is an outage, not a crash (issue 14, fault class 7).

Redis at ``maxmemory`` under ``noeviction`` refuses writes but keeps everything it holds. The
server here is one of the test's own, started with ``maxmemory`` and ``noeviction``; memory runs
out the way it does in production, by data that jq does not own (1 MiB filler keys), and the
limit is then set just below what is used, so that the server stays full whatever small buffers
it frees meanwhile. Freeing memory is deleting the fillers.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
import redis

from jq import Queue, Worker
from jq.exceptions import StoreFullError
from jq.testing.helpers import wait_for
from jq_backends.redis import RedisBroker
from tests import fixtures
from tests.processes import read_stderr_until, start_worker, stop
from tests.redis_server import RedisServer

# A redis-server filled to maxmemory under live workers: slow (the CI runs them on the newest releases).
pytestmark = pytest.mark.slow

FILLERS = 8
MIB = 1 << 20


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A private redis-server with a memory limit that never evicts."""
    instance = RedisServer(extra_args=("--maxmemory", "100mb", "--maxmemory-policy", "noeviction")).start()
    try:
        yield instance
    finally:
        instance.cleanup()


def fill(client: redis.Redis) -> None:
    """Use memory up with keys jq does not own, until Redis refuses every write."""
    for n in range(FILLERS):
        client.set(f"filler:{n}", os.urandom(MIB))
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory", used - (FILLERS - 2) * MIB)
    with pytest.raises(redis.OutOfMemoryError):
        client.set("probe", b"x")


def free(client: redis.Redis) -> None:
    """Delete the fillers: Redis takes writes again."""
    client.delete(*(f"filler:{n}" for n in range(FILLERS)))
    client.set("probe", b"x")


def test_the_driver_counts_a_full_server_among_its_transient_errors():
    assert issubclass(redis.OutOfMemoryError, RedisBroker.transient_errors)
    assert issubclass(StoreFullError, RedisBroker.transient_errors)
    assert issubclass(redis.OutOfMemoryError, RedisBroker.full_errors)


def test_a_full_redis_is_an_outage_not_a_crash(server, record_property):
    client = server.client()
    queue = Queue(connection=client)
    # Acknowledged before memory runs out: they must run once there is room again.
    before = [queue.enqueue(fixtures.add, n, 1) for n in range(3)]
    # Idle through the outage (it listens elsewhere): its heartbeats meet the full server.
    idle = start_worker(server.url, ["other"], name="idle", worker_ttl=3)
    seen: dict[str, str] = {"idle": "", "late": ""}
    late = None
    try:
        assert wait_for(lambda: Worker.count(connection=client) == 1, timeout=30)
        fill(client)

        with pytest.raises(StoreFullError) as refused:
            queue.enqueue(fixtures.add, 40, 2)
        message = str(refused.value)
        assert "out of memory" in message and "nothing stored was lost" in message
        assert "raise maxmemory" in message and "free memory" in message and "noeviction" in message

        # A worker that starts now waits for room instead of exiting.
        late = start_worker(server.url, ["default"], name="late", worker_ttl=3)
        seen["idle"] += read_stderr_until(idle, "heartbeat failed: ", timeout=30)
        seen["late"] += read_stderr_until(late, "cannot start: ", timeout=30)
        assert idle.poll() is None and late.poll() is None
        # Reads still work while the server is full, and nothing acknowledged was lost.
        assert [job.get_status() for job in before] == ["queued"] * len(before)

        freed = time.monotonic()
        free(client)
        assert wait_for(lambda: all(job.get_status() == "finished" for job in before), timeout=30)
        recovery = time.monotonic() - freed
        record_property("recovery_seconds", round(recovery, 2))
        print(f"\nqueued jobs ran {recovery:.2f} s after memory was freed")
        assert [job.result for job in before] == [1, 2, 3]
        other = Queue("other", connection=client).enqueue(fixtures.add, 20, 22)
        assert wait_for(lambda: other.get_status() == "finished", timeout=30)
        # Its heartbeat says so at its next beat (up to an interval after the room came back).
        seen["idle"] += read_stderr_until(idle, "heartbeats go through again", timeout=30)
    finally:
        for process in (idle, late):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
    for name, process in (("idle", idle), ("late", late)):
        assert process is not None
        code, rest = stop(process)
        seen[name] += rest
        assert code == 0, seen[name]
        assert "Traceback" not in seen[name], seen[name]
    # Said once per outage, not once per try.
    assert seen["idle"].count("heartbeat failed") == 1, seen["idle"]
    assert seen["late"].count("cannot start") == 1, seen["late"]
    assert "heartbeats go through again" in seen["idle"]


def test_every_kind_of_write_refused_for_memory_says_so_and_writes_nothing(server):
    """Not only scripts: a MULTI (saving a job, adding to a group) and a single command (a
    registry entry, a suspension) refused at maxmemory raise StoreFullError with what to do, and
    the store holds what it held before."""
    client = server.client()
    queue = Queue(connection=client)
    job = queue.enqueue(fixtures.add, 1, 2)
    broker = queue.broker
    fill(client)
    before = {key: client.dump(key) for key in client.keys("jq:*")}
    job.meta["note"] = "x" * 1000
    writes = {
        "job.save()": job.save,
        "group_add": lambda: broker.group_add("g", [job.id]),
        "registry_add": lambda: queue.finished_job_registry.add(job, ttl=60),
        "suspend": broker.suspend,
    }
    for what, write in writes.items():
        with pytest.raises(StoreFullError, match="out of memory") as refused:
            write()
        assert "raise maxmemory" in str(refused.value), what
    assert {key: client.dump(key) for key in client.keys("jq:*")} == before
