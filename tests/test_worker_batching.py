"""Batched claims in a SimpleWorker (jq.worker.batching), on a real redis-server: jobs run in
queue order and in the priority order of the worker's queues, a reserved job is never shown as
running, and every way a worker stops gives its reservations back at once (a SIGKILLed worker's
come back through maintenance)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from jq import Callback, Queue, SimpleWorker
from jq.broker import Place, PlaceKind
from jq.core import giving_back
from jq.worker import loop
from tests import batching_jobs
from tests.processes import start_worker, stop
from tests.redis_server import RedisServer

KEY = "ran"


@pytest.fixture
def queue(redis_client: redis.Redis) -> Queue:
    return Queue("default", connection=redis_client)


def fill(
    queue: Queue, count: int, special: dict[int, tuple[Any, ...]] | None = None, **options: Any
) -> list[str]:
    """Enqueue ``count`` jobs noting their tags (``t0``, ``t1``...) in order; ``special`` replaces
    job ``n`` by ``(function, *args)``. Returns the job ids (the tags)."""
    ids = []
    for n in range(count):
        tag = f"t{n}"
        function, *args = (special or {}).get(n, (batching_jobs.note, KEY, tag))
        queue.enqueue(function, *args, job_id=tag, **(options if n in (special or {}) else {}))
        ids.append(tag)
    return ids


def ran(client: redis.Redis) -> list[str]:
    return [item.decode() for item in client.lrange(KEY, 0, -1)]


def reserved_count(queue: Queue, name: str | None = None) -> int:
    return queue.broker.registry_count(Place(PlaceKind.RESERVED, name or queue.name))


def work(
    queue: Queue, *, batch_size: int = 4, queues: list[Queue] | None = None, **options: Any
) -> SimpleWorker:
    worker = SimpleWorker(queues or [queue], connection=queue.connection, batch_size=batch_size)
    worker.work(burst=True, logging_level="WARNING", **options)
    return worker


def test_jobs_run_in_queue_order_with_one_call_each(redis_client: redis.Redis, queue: Queue) -> None:
    def drain(batch_size: int) -> int:
        redis_client.delete(KEY)
        ids = fill(queue, 30)
        redis_client.config_resetstat()
        work(queue, batch_size=batch_size)
        assert ran(redis_client) == ids
        assert queue.finished_job_registry.count == 30 and reserved_count(queue) == 0
        return int(redis_client.info("commandstats")["cmdstat_evalsha"]["calls"])

    single = drain(1)  # first: it loads the scripts (an EVALSHA answered NOSCRIPT counts too)
    assert drain(8) <= single, "reservations ride on the calls a worker makes anyway"


def test_a_reserved_job_is_never_shown_as_running(redis_client: redis.Redis, queue: Queue) -> None:
    fill(queue, 12, dict.fromkeys(range(12), (batching_jobs.observe, KEY)))
    work(queue, batch_size=4)
    seen = [json.loads(item) for item in redis_client.lrange(KEY, 0, -1)]
    assert len(seen) == 12
    assert any(view["reserved"] for view in seen), "some jobs ran while others were reserved"
    for view in seen:
        assert view["started"] == [view["me"]], "only the running job is in the started registry"
        assert view["current"] == [view["me"]], "the worker's current job is the running one"
        assert view["me"] not in view["reserved"]
        assert set(view["reserved_statuses"]) <= {"queued"}


def test_a_job_pushed_to_a_higher_queue_runs_next(redis_client: redis.Redis) -> None:
    high, low = Queue("high", connection=redis_client), Queue("low", connection=redis_client)
    ids = fill(low, 8, {2: (batching_jobs.push_to, KEY, "t2", "high", "h")})
    work(low, batch_size=4, queues=[high, low])
    assert low.fetch_job("t2").return_value() == 3, "t3, t4, t5 were reserved as t2 ran"  # type: ignore[union-attr]
    assert ran(redis_client) == [*ids[:3], "h", *ids[3:]], "h ran next; the reservations after it"
    assert reserved_count(low) == 0


def test_max_jobs_leaves_the_rest_queued_in_order(redis_client: redis.Redis, queue: Queue) -> None:
    ids = fill(queue, 10)
    work(queue, batch_size=8, max_jobs=4)
    assert ran(redis_client) == ids[:4]
    assert queue.get_job_ids() == ids[4:] and reserved_count(queue) == 0
    assert {queue.fetch_job(job_id).get_status().value for job_id in ids[4:]} == {"queued"}  # type: ignore[union-attr]


def _gave_back(queue: Queue, tag: str) -> None:
    """Check that the worker held reservations as job ``tag`` ran, and holds none now."""
    assert int(queue.connection.hget(batching_jobs.RESERVED_AT, tag)) > 0, (
        f"nothing was reserved as {tag} ran"
    )
    assert reserved_count(queue) == 0


def test_a_keyboard_interrupt_in_a_job_gives_the_reservations_back(
    redis_client: redis.Redis, queue: Queue
) -> None:
    ids = fill(queue, 10, {3: (batching_jobs.interrupt, KEY, "t3")})
    with pytest.raises(KeyboardInterrupt):
        work(queue)
    assert ran(redis_client) == ids[:4]
    assert queue.get_job_ids() == ids[4:]
    _gave_back(queue, "t3")


def test_a_job_calling_sys_exit_fails_and_the_batch_goes_on(redis_client: redis.Redis, queue: Queue) -> None:
    ids = fill(queue, 10, {3: (batching_jobs.exit_now, KEY, "t3")})
    work(queue)  # the job's SystemExit is its failure, as without batches: the worker goes on
    assert ran(redis_client) == ids
    assert queue.fetch_job("t3").get_status().value == "failed"  # type: ignore[union-attr]
    assert int(redis_client.hget(batching_jobs.RESERVED_AT, "t3")) > 0
    assert reserved_count(queue) == 0 and queue.count == 0


def test_a_callback_that_exits_gives_the_reservations_back(redis_client: redis.Redis, queue: Queue) -> None:
    ids = fill(
        queue, 10, {3: (batching_jobs.note, KEY, "t3")}, on_success=Callback(batching_jobs.exit_in_callback)
    )
    with pytest.raises(SystemExit):
        work(queue)
    assert ran(redis_client) == ids[:4]
    assert queue.get_job_ids() == ids[4:]
    _gave_back(queue, "t3")


def test_a_crash_in_the_loop_gives_the_claimed_job_and_the_reservations_back(
    redis_client: redis.Redis, queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = fill(queue, 10)
    worker = SimpleWorker([queue], connection=redis_client, batch_size=4)
    titles: list[str] = []

    def procline(title: str) -> None:
        titles.append(title)
        if title == "busy with job t3":
            raise RuntimeError("the loop broke")

    monkeypatch.setattr(worker, "procline", procline)
    with pytest.raises(RuntimeError, match="the loop broke"):
        worker.work(burst=True, logging_level="WARNING")
    assert ran(redis_client) == ids[:3]
    assert queue.get_job_ids() == ids[3:], "the job claimed ahead goes back first, then the reserved ones"
    assert queue.started_job_registry.count == 0
    _gave_back(queue, "t2")


@pytest.mark.parametrize("signals", [1, 2], ids=["warm", "cold"])
def test_a_shutdown_gives_the_reservations_back(
    redis_client: redis.Redis, queue: Queue, signals: int
) -> None:
    ids = fill(queue, 10, {3: (batching_jobs.signal_own_process, KEY, "t3", signals)})
    work(queue)
    assert ran(redis_client) == ids[:4]
    assert queue.get_job_ids() == ids[4:]
    _gave_back(queue, "t3")
    # Warm: t3 finished; cold: it was killed as it ran.
    assert queue.fetch_job("t3").get_status().value == ("finished" if signals == 1 else "failed")  # type: ignore[union-attr]


def test_a_suspension_gives_the_reservations_back(
    redis_client: redis.Redis, queue: Queue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loop, "SUSPENSION_CHECK_INTERVAL", 0.0)
    ids = fill(queue, 10, {3: (batching_jobs.suspend_workers, KEY, "t3")})
    work(queue)  # a burst worker stops when workers are suspended
    queue.broker.resume()
    assert ran(redis_client) == ids[:4]
    assert queue.get_job_ids() == ids[4:]
    _gave_back(queue, "t3")


def test_a_stop_job_command_for_a_reserved_job_says_it_is_not_running(queue: Queue) -> None:
    from jq.command import send_stop_job_command
    from jq.exceptions import InvalidJobOperation

    ids = fill(queue, 4)
    [reservation] = queue.broker.reserve(["default"], ["r1"], queue.broker.now() + 60)
    assert reservation.job_id == ids[0]
    with pytest.raises(InvalidJobOperation, match="not running"):
        send_stop_job_command(queue.connection, ids[0])


def test_maintenance_puts_abandoned_reservations_back_in_order(
    redis_client: redis.Redis, queue: Queue
) -> None:
    ids = fill(queue, 5)
    broker = queue.broker
    broker.reserve(["default"], ["r1", "r2", "r3"], broker.now() - 1)  # its lease ran out
    assert queue.get_job_ids() == ids[3:]
    work(queue, batch_size=1)  # a worker's first chore puts them back, then it runs them all
    assert ran(redis_client) == ids
    assert reserved_count(queue) == 0


def test_a_live_reservation_is_left_to_its_worker(queue: Queue) -> None:
    ids = fill(queue, 3)
    broker = queue.broker
    broker.reserve(["default"], ["r1"], broker.now() + 60)
    assert giving_back.return_abandoned_reservations(broker, "default") == []
    assert reserved_count(queue) == 1 and queue.get_job_ids() == ids[1:]


@pytest.fixture
def server_url(redis_server: RedisServer, redis_client: redis.Redis) -> Iterator[str]:
    yield redis_server.url


def test_a_sigkilled_workers_reservations_come_back_to_the_head_of_the_queue(
    redis_client: redis.Redis, queue: Queue, server_url: str
) -> None:
    ids = fill(queue, 10, {3: (batching_jobs.block, KEY, "t3", "release")})
    worker = start_worker(server_url, simple=True, batch_size=4, own_group=True, work={"burst": True})
    try:
        deadline = time.monotonic() + 30
        while "t3" not in ran(redis_client):
            assert time.monotonic() < deadline and worker.poll() is None, "the worker did not reach t3"
            time.sleep(0.01)
        os.killpg(worker.pid, signal.SIGKILL)
    finally:
        stop(worker)
    broker = queue.broker
    # The jobs after t3 reserved with t2's or t3's claim (t2's when t0, the process's first, ran
    # long enough for the worker to wait for a second short job).
    held = broker.registry_ids(Place(PlaceKind.RESERVED, "default"))
    assert held and held == ids[4 : 4 + len(held)]
    assert queue.get_job_ids() == ids[4 + len(held) :]
    returned = giving_back.return_abandoned_reservations(broker, "default", now=broker.now() + 3600)
    assert returned == held
    assert queue.get_job_ids() == ids[4:], "back at the head, in order"
    assert reserved_count(queue) == 0
