"""CPU time per enqueued job, client and server, for jq and RQ: ``python -m benchmarks.cpu_cost``.

Wall-clock rates on a shared 2-core machine drift by tens of percent from run to run; CPU time
does not depend on what else runs. This measures, on one private redis-server:

- **client µs/job**: the enqueuing process's CPU time (``time.process_time``) over the jobs;
- **server µs/job**: the redis-server's CPU time over the same jobs (``used_cpu_user`` +
  ``used_cpu_sys`` of ``INFO cpu``, read before and after).

for one-by-one ``enqueue`` and ``enqueue_many`` in batches of 1,000, each case in a fresh process,
the cases interleaved round after round (so a slow moment of the machine hits all of them), and
prints the medians as a table. A round's first jobs warm the process up and are not counted.
``python -m benchmarks.cpu_cost --profile jq:enqueue_many`` prints a cProfile of one case instead.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: (system, mode, jobs counted per round).
CASES = (
    ("jq", "enqueue", 5000),
    ("rq", "enqueue", 2000),
    ("jq", "enqueue_many", 20000),
    ("rq", "enqueue_many", 10000),
)
BATCH = 1000
WARM_UP = 1000


def _server_cpu(client: Any) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def _producer(system: str, mode: str, url: str) -> Any:
    """A function enqueuing ``count`` jobs the way ``mode`` says, on a fresh queue of ``system``."""
    import importlib

    import redis

    from benchmarks.jobs import noop

    module = importlib.import_module(system)
    client = redis.Redis.from_url(url)
    queue = module.Queue("cpu_cost", connection=client)
    prepare = module.Queue.prepare_data

    def one_by_one(count: int) -> None:
        for _ in range(count):
            queue.enqueue(noop)

    def many(count: int) -> None:
        for offset in range(0, count, BATCH):
            queue.enqueue_many([prepare(noop) for _ in range(min(BATCH, count - offset))])

    return client, (one_by_one if mode == "enqueue" else many)


def measure_one(system: str, mode: str, count: int, url: str) -> dict[str, float]:
    """Client and server CPU µs per job of one case (run in its own process)."""
    client, produce = _producer(system, mode, url)
    produce(WARM_UP)
    client.flushall()
    server_before, client_before = _server_cpu(client), time.process_time()
    produce(count)
    client_after, server_after = time.process_time(), _server_cpu(client)
    client.flushall()
    return {
        "client": (client_after - client_before) * 1e6 / count,
        "server": (server_after - server_before) * 1e6 / count,
    }


def profile_one(system: str, mode: str, count: int, url: str) -> None:
    """Print the cProfile of one case, sorted by own time."""
    client, produce = _producer(system, mode, url)
    produce(WARM_UP)
    profiler = cProfile.Profile()
    profiler.enable()
    produce(count)
    profiler.disable()
    client.flushall()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(35)


def _run_case(system: str, mode: str, count: int, url: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("JQ_AS_RQ", None)  # RQ must be RQ, not jq under its name
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.cpu_cost", "--child", f"{system}:{mode}:{count}", url],
        capture_output=True, text=True, check=True, cwd=ROOT, env=env,
    ).stdout  # fmt: skip
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    """Run the cases, interleaved, and print the medians (or one case's child run or profile)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds (medians reported)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the jobs, one round (a smoke run)")
    parser.add_argument("--profile", help="SYSTEM:MODE, e.g. jq:enqueue_many: print its cProfile")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("url", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        system, mode, count = args.child.split(":")
        print(json.dumps(measure_one(system, mode, int(count), args.url)))
        return
    from tests.redis_server import RedisServer

    server = RedisServer().start()
    try:
        if args.profile:
            system, mode = args.profile.split(":")
            count = {(s, m): c for s, m, c in CASES}[(system, mode)]
            profile_one(system, mode, count, server.url)
            return
        values: dict[tuple[str, str], dict[str, list[float]]] = {}
        rounds = 1 if args.quick else args.rounds
        for _ in range(rounds):
            for system, mode, count in CASES:
                result = _run_case(system, mode, count // 10 if args.quick else count, server.url)
                slot = values.setdefault((system, mode), {"client": [], "server": []})
                slot["client"].append(result["client"])
                slot["server"].append(result["server"])
    finally:
        server.cleanup()
    print(f"CPU µs per job, medians of {rounds} interleaved rounds")
    print("| measure | jq client | RQ client | RQ / jq | jq server | RQ server | RQ / jq |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode in ("enqueue", "enqueue_many"):
        jq_values, rq_values = values[("jq", mode)], values[("rq", mode)]
        cells = []
        for side in ("client", "server"):
            jq_median, rq_median = statistics.median(jq_values[side]), statistics.median(rq_values[side])
            cells += [f"{jq_median:.1f}", f"{rq_median:.1f}", f"{rq_median / jq_median:.1f}x"]
        print(f"| {mode} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
