"""Microseconds per call of the Redis driver's hot calls, on a private redis-server.

Run from the repository root (``python benchmarks/driver_calls.py``; ``--calls N`` and
``--rounds R`` change how much is measured). It starts its own redis-server on a free loopback
port (``tests.redis_server.RedisServer``), then measures once with redis-py's pure-Python reply
parser and command packer and, when the ``hiredis`` package can be imported, once more with
hiredis. Each measurement runs in a fresh child process, so the two never share a client.

For each call the best of ``R`` rounds of ``N`` calls is printed (the least disturbed by whatever
else the machine does): the elapsed time, the client's CPU time (what redis-py's packing and
parsing and the driver's own Python cost; less sensitive to other load on the machine) and the
server's time (from ``INFO commandstats``), with the number of arguments the call sends
(EVALSHA, its SHA, the key count, the keys and the arguments: the packing of each costs time in
pure Python).

The first row, ``ping``, is one PING round trip: the floor any call pays on this machine. The
calls are those of a worker's hot loop and of a producer: ``enqueue`` (one job, no
dependencies, a record like the one ``Queue.enqueue`` writes), ``claim`` (from a deep queue),
``claim_worker`` (the same, updating the worker's record), ``transition`` (finishing a started
job: result, dependents, record expiry), ``finish_and_claim`` (finishing one job and claiming
the next), ``finish_and_claim_tally`` (the same with the outcome's tally, as a worker sends it:
the history's share of the call), ``finish_and_start`` (a batched worker's call per job: finishing
one job and starting the next it reserved, every eighth call reserving the next seven),
``finish_ten`` (ten outcomes in one ``transition_many`` call), ``extend_lease`` and ``heartbeat_worker``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `tests` and the working tree importable
    sys.path.insert(0, str(ROOT))

QUEUE = "bench"
LEASE = 4_000_000_000.0
#: The batch size of ``finish_and_start``: jobs a claim takes at once (one started, the rest reserved).
BATCH = 8


def record_fields(job_id: str) -> dict[str, bytes]:
    """What ``Queue.enqueue(len, "abc")`` stores (without the status, which the broker writes)."""
    return {
        "data": b"\x80\x05\x95\x15\x00\x00\x00\x00\x00\x00\x00(\x8c\x03len\x94N\x8c\x03abc"
        b"\x94\x85\x94}\x94t\x94.",
        "origin": QUEUE.encode(),
        "created_at": b"2026-11-23T07:48:05.607632Z",
        "description": b"len('abc')",
        "enqueued_at": b"2026-11-23T07:48:05.607839Z",
        "timeout": b"180",
    }


def claim_fields(execution: str) -> dict[str, bytes]:
    """What a worker writes on the job it claims (``jq.lifecycle.claim_fields``)."""
    stamp = b"2026-11-23T07:48:05.607632Z"
    return {
        "started_at": stamp,
        "last_heartbeat": stamp,
        "worker_name": b"w1",
        "execution": execution.encode(),
    }


class Bench:
    """The measured calls on one broker; each ``measure_*`` yields one timed call at a time."""

    def __init__(self, port: int, calls: int, prefix: str) -> None:
        import redis

        from jq_backends.redis import RedisBroker

        self.client = redis.Redis(host="127.0.0.1", port=port)
        self.client.flushdb()
        self.broker = RedisBroker(self.client, prefix=prefix)
        self.calls = calls
        self.serial = 0
        self.broker.register_worker("w1", {"state": b"idle"}, [QUEUE], 600)

    def fresh_id(self) -> str:
        self.serial += 1
        return f"job-{self.serial:08d}"

    def fill(self, count: int) -> None:
        """Put ``count`` jobs on the queue (untimed, in batches of one round trip each)."""
        from jq.broker import EnqueueRequest

        for start in range(0, count, 500):
            batch = [self.fresh_id() for _ in range(min(500, count - start))]
            self.broker.enqueue_many(
                [EnqueueRequest(job_id, QUEUE, record_fields(job_id)) for job_id in batch]
            )

    def finish(self, job_id: str, execution: str, tally: bool = False) -> Any:
        """The Transition a worker makes for a job that succeeded (``jq.lifecycle.finish``),
        without its tally unless asked (the history's share of the call is measured apart)."""
        from jq.broker import (
            DependentsPolicy,
            Move,
            Outcome,
            Place,
            PlaceKind,
            RecordEdit,
            ResultEntry,
            Settlement,
            Tally,
            ToRegistry,
            Transition,
        )

        return Transition(
            job_id,
            Move(
                Place(PlaceKind.STARTED, QUEUE),
                ToRegistry(Place(PlaceKind.FINISHED, QUEUE), time.time() + 500),
            ),
            RecordEdit({"status": b"finished", "ended_at": b"2026-11-23T07:48:05.700000Z"}, record_ttl=500),
            result=ResultEntry(b"\x80\x05\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01t\x94K\x01u."),
            settlement=Settlement(DependentsPolicy.FINISHED),
            released_fields={"enqueued_at": b"2026-11-23T07:48:05.700000Z"},
            execution_id=execution,
            tally=Tally(QUEUE, "benchmarks.tasks.noop", Outcome.FINISHED, 0.0002) if tally else None,
        )

    def worker_update(self) -> Any:
        from jq.broker import WorkerUpdate

        return WorkerUpdate("w1", {"state": b"busy", "last_heartbeat": b"2026-11-23T07:48:05Z"})

    def measure_ping(self) -> Iterator[Callable[[], Any]]:
        """The floor: one PING round trip on the same client."""
        for _ in range(self.calls):
            yield self.client.ping

    def measure_enqueue(self) -> Iterator[Callable[[], Any]]:
        from jq.broker import EnqueueRequest

        for _ in range(self.calls):
            job_id = self.fresh_id()
            request = EnqueueRequest(job_id, QUEUE, record_fields(job_id))
            yield lambda request=request: self.broker.enqueue(request)

    def _claims(self, worker: Any) -> Iterator[Callable[[], Any]]:
        self.fill(self.calls + 1000)  # deeper than what is taken
        for index in range(self.calls):
            fields = claim_fields(f"e{index}")
            yield lambda fields=fields: self.broker.claim([QUEUE], fields, LEASE, worker=worker)

    def measure_claim(self) -> Iterator[Callable[[], Any]]:
        return self._claims(None)

    def measure_claim_worker(self) -> Iterator[Callable[[], Any]]:
        return self._claims(self.worker_update())

    def measure_transition(self) -> Iterator[Callable[[], Any]]:
        self.fill(self.calls)
        started = []
        for index in range(self.calls):
            claimed = self.broker.claim([QUEUE], claim_fields(f"t{index}"), LEASE)
            assert claimed is not None
            started.append((claimed.job_id, f"t{index}"))
        for job_id, execution in started:
            change = self.finish(job_id, execution)
            yield lambda change=change: self.broker.transition(change)

    def measure_finish_and_claim(self, tally: bool = False) -> Iterator[Callable[[], Any]]:
        from jq.broker import ClaimRequest

        self.fill(self.calls + 1)
        claimed = self.broker.claim([QUEUE], claim_fields("f0"), LEASE)
        assert claimed is not None
        current = [claimed.job_id, "f0"]
        for index in range(1, self.calls + 1):
            execution = f"f{index}"

            def call(execution: str = execution) -> None:
                change = self.finish(current[0], current[1], tally)
                request = ClaimRequest([QUEUE], claim_fields(execution), LEASE, self.worker_update())
                moved, next_job = self.broker.finish_and_claim(change, request)
                assert moved and next_job is not None
                current[:] = [next_job.job_id, execution]

            yield call

    def measure_finish_and_claim_tally(self) -> Iterator[Callable[[], Any]]:
        """finish_and_claim as a worker makes it: with the outcome's tally (the history's cost)."""
        return self.measure_finish_and_claim(tally=True)

    def measure_finish_and_start(self) -> Iterator[Callable[[], Any]]:
        """A batched worker's call per job (``batch_size`` :data:`BATCH`): finish the job that ran
        and start the next reservation; every :data:`BATCH`-th call claims off the queue instead
        and reserves the next ``BATCH - 1`` jobs."""
        from jq.broker import ClaimRequest

        self.fill(self.calls + BATCH + 1)
        claimed = self.broker.claim([QUEUE], claim_fields("s0"), LEASE)
        assert claimed is not None
        state: dict[str, Any] = {"job": claimed.job_id, "execution": "s0", "held": ()}
        for index in range(1, self.calls + 1):
            execution = f"s{index}"

            def call(execution: str = execution) -> None:
                held = state["held"]
                reserve = () if held else [f"{execution}-{n}" for n in range(BATCH - 1)]
                request = ClaimRequest([QUEUE], claim_fields(execution), LEASE, self.worker_update(),
                                       reserved=held, reserve=reserve)  # fmt: skip
                moved, next_job = self.broker.finish_and_claim(
                    self.finish(state["job"], state["execution"]), request
                )
                assert moved and next_job is not None
                state["held"] = (
                    held[next_job.from_reserved :] if next_job.from_reserved else next_job.reservations
                )
                state["job"], state["execution"] = next_job.job_id, execution

            yield call

    def measure_finish_ten(self) -> Iterator[Callable[[], Any]]:
        """Ten outcomes recorded in one call (``transition_many``): divide by ten for a job's share."""
        self.fill(self.calls * 10)
        batches = []
        for index in range(self.calls):
            changes = []
            for n in range(10):
                execution = f"m{index}-{n}"
                claimed = self.broker.claim([QUEUE], claim_fields(execution), LEASE)
                assert claimed is not None
                changes.append(self.finish(claimed.job_id, execution))
            batches.append(changes)
        for changes in batches:
            yield lambda changes=changes: self.broker.transition_many(changes)

    def measure_extend_lease(self) -> Iterator[Callable[[], Any]]:
        self.fill(1)
        claimed = self.broker.claim([QUEUE], claim_fields("x"), LEASE)
        assert claimed is not None
        for index in range(self.calls):
            yield lambda lease=LEASE + index: self.broker.extend_lease(QUEUE, claimed.job_id, "x", lease)

    def measure_heartbeat_worker(self) -> Iterator[Callable[[], Any]]:
        fields = {"last_heartbeat": b"2026-11-23T07:48:05Z", "state": b"busy"}
        for _ in range(self.calls):
            yield lambda: self.broker.heartbeat_worker("w1", fields, 600, {"busy_seconds": 0.25})


MEASURES = (
    "ping",
    "enqueue",
    "claim",
    "claim_worker",
    "transition",
    "finish_and_claim",
    "finish_and_claim_tally",
    "finish_and_start",
    "finish_ten",
    "extend_lease",
    "heartbeat_worker",
)


def count_arguments(bench: Bench, name: str) -> int:
    """How many arguments one call of ``name`` sends, summed over its commands (EVALSHA, the SHA
    and the key count included). The second call is counted: the first may load the script."""
    bench.client.ping()  # the pool's one connection exists from here on
    connection = bench.client.connection_pool.get_connection()
    bench.client.connection_pool.release(connection)
    sent: list[int] = []
    original = connection.send_command

    def counting(*args: Any, **options: Any) -> Any:
        sent.append(len(args))
        return original(*args, **options)

    calls = getattr(bench, f"measure_{name}")()
    next(calls)()
    connection.send_command = counting  # type: ignore[method-assign]
    try:
        next(calls)()
    finally:
        connection.send_command = original  # type: ignore[method-assign]
    return sum(sent)


def server_microseconds(client: Any) -> float:
    """Microseconds the server spent in commands since its statistics were last reset."""
    stats = client.info("commandstats")
    return float(sum(entry["usec"] for entry in stats.values()))


def child(port: int, calls: int, rounds: int) -> None:
    """Measure every call on this process's parser and print one JSON line of results."""
    results: dict[str, Any] = {}
    for name in MEASURES:
        wall = cpu = server = math.inf
        for round_index in range(rounds):
            bench = Bench(port, calls, prefix=f"bench{round_index}:")
            calls_made = list(getattr(bench, f"measure_{name}")())
            # Built beforehand (the setup is not timed); run and time only the calls.
            bench.client.config_resetstat()
            started, started_cpu = time.perf_counter(), time.process_time()
            for call in calls_made:
                call()
            ended, ended_cpu = time.perf_counter(), time.process_time()
            count = len(calls_made)
            wall = min(wall, (ended - started) / count * 1e6)
            cpu = min(cpu, (ended_cpu - started_cpu) / count * 1e6)
            server = min(server, server_microseconds(bench.client) / count)
        args = count_arguments(Bench(port, 2, prefix="count:"), name)
        results[name] = {"us": wall, "cpu": cpu, "server": server, "args": args}
    print(json.dumps(results))


def run_child(port: int, calls: int, rounds: int, parser: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(port), "--calls", str(calls), "--rounds", str(rounds)]
    env = dict(os.environ)
    env["JQ_BENCH_PARSER"] = parser
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=400, help="calls per round (default 400)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds per call, best kept (default 15)")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child is not None:
        child(options.child, options.calls, options.rounds)
        return

    from tests.redis_server import RedisServer

    parsers = ["python"]
    if importlib.util.find_spec("hiredis") is not None:
        parsers.append("hiredis")
    server = RedisServer().start()
    try:
        table = {name: run_child(server.port, options.calls, options.rounds, name) for name in parsers}
    finally:
        server.cleanup()
    columns = [(name, "us", "wall") for name in parsers] + [(name, "cpu", "cpu") for name in parsers]
    header = f"{'call':<24}{'args':>6}" + "".join(f"{f'{name} {label}':>14}" for name, _, label in columns)
    header += f"{'server':>9}"
    print(header)
    print("-" * len(header))
    for call in MEASURES:
        first = table[parsers[0]][call]
        row = f"{call:<24}{first['args']:>6}"
        row += "".join(f"{table[name][call][key]:>14.1f}" for name, key, _ in columns)
        row += f"{first['server']:>9.1f}"
        print(row)
    print(
        "microseconds per call: wall = elapsed, best round; cpu = this client's CPU time; server ="
        " Redis's own time (INFO commandstats)"
    )
    if "hiredis" not in parsers:
        print("(hiredis is not installed: only redis-py's pure-Python parser was measured)")


if __name__ == "__main__":
    if os.environ.get("JQ_BENCH_PARSER") == "python":
        # Hide hiredis from redis-py, which then packs commands and parses replies in Python.
        sys.modules["hiredis"] = None  # type: ignore[assignment]
    main()
