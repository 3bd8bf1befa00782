"""A no-op drain in one process: jq's SimpleWorker one job at a time and at ``concurrency=N`` in
each pool, against RQ's SimpleWorker, on a private redis-server; and an I/O-bound drain (each job
sleeps 20 ms, or awaits ``asyncio.sleep(0.02)``) at concurrency 100.

Each measure runs in a process of its own (``--tree`` chooses which jq checkout it imports, so
that two trees can be compared in one run), the measures interleaved over ``--rounds`` rounds;
it prints the median CPU seconds of the worker's process (every thread of it: the machine is
shared, and wall time follows whoever else runs) and the median wall seconds, per variant, and
each no-op variant's ratio to RQ's SimpleWorker per job, in CPU time and in wall time (RQ drains
``--rq-jobs``, fewer: it is slow)::

    python benchmarks/concurrent_drain.py --jobs 20000 --rounds 5
    python benchmarks/concurrent_drain.py --tree /work/main --tree . --io
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `tests` importable
    sys.path.insert(0, str(ROOT))

# What one measure runs, in a process of its own: fill the queue (not measured), drain it.
_CHILD = r"""
import asyncio, json, resource, sys, time
import redis
url, system, kind, jobs, concurrency, pool = sys.argv[1:7]
jobs, concurrency = int(jobs), int(concurrency)
client = redis.Redis.from_url(url)
client.flushdb()
if system == "rq":
    import rq
    queue = rq.Queue("bench", connection=client)
    function = "benchmarks.jobs.noop"
    for offset in range(0, jobs, 1000):
        queue.enqueue_many([rq.Queue.prepare_data(function) for _ in range(min(1000, jobs - offset))])
    worker = rq.SimpleWorker([queue], connection=client)
else:
    import jq
    queue = jq.Queue("bench", connection=client)
    function, args = {"noop": ("benchmarks.jobs.noop", ()), "sleep": ("time.sleep", (0.02,)),
                      "async_sleep": ("asyncio.sleep", (0.02,))}[kind]
    for offset in range(0, jobs, 1000):
        queue.enqueue_many([jq.Queue.prepare_data(function, args) for _ in range(min(1000, jobs - offset))])
    options = {} if concurrency == 0 else {"concurrency": concurrency, "pool": pool}
    worker = jq.SimpleWorker([queue], connection=client, **options)
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu, wall = usage.ru_utime + usage.ru_stime, time.perf_counter()
worker.work(burst=True, logging_level="WARNING")
wall = time.perf_counter() - wall
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu
left = queue.count
print(json.dumps({"cpu": cpu, "wall": wall, "left": left}))
"""


def variants(io: bool, only_io: bool) -> list[tuple[str, str, str, int, str]]:
    """(label, system, job kind, concurrency (0: one at a time), pool) of each measure."""
    found: list[tuple[str, str, str, int, str]] = []
    if not only_io:
        found.append(("rq SimpleWorker", "rq", "noop", 0, ""))
        found.append(("jq SimpleWorker()", "jq", "noop", 0, ""))
        for concurrency in (1, 8, 32):
            for pool in ("threads", "asyncio"):
                found.append((f"jq concurrency={concurrency} {pool}", "jq", "noop", concurrency, pool))
    if io or only_io:
        found.append(("jq io sleep 20ms c=100 threads", "jq", "sleep", 100, "threads"))
        found.append(("jq io asyncio.sleep c=100 asyncio", "jq", "async_sleep", 100, "asyncio"))
    return found


def measure(
    tree: Path, url: str, system: str, kind: str, jobs: int, concurrency: int, pool: str
) -> dict[str, float]:
    """One measure in a process importing jq from ``tree``."""
    env = dict(os.environ, PYTHONPATH=f"{tree}{os.pathsep}{ROOT}")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, url, system, kind, str(jobs), str(concurrency), pool or "-"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{system} {kind} c={concurrency} {pool} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["left"]:
        raise RuntimeError(f"{system} {kind}: {result['left']} jobs left on the queue")
    return result


def main() -> None:
    """Run the measures and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=20_000, help="no-op jobs per drain")
    parser.add_argument("--io-jobs", type=int, default=2_000, help="sleeping jobs per I/O drain")
    parser.add_argument("--rq-jobs", type=int, default=2_000, help="no-op jobs per RQ drain (its are slow)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tree", action="append", type=Path, help="a jq checkout to measure (repeatable)")
    parser.add_argument("--io", action="store_true", help="also the I/O-bound drains")
    parser.add_argument("--only-io", action="store_true", help="only the I/O-bound drains")
    parser.add_argument("--only", help="only the variants whose label contains this")
    options = parser.parse_args()
    trees = [tree.resolve() for tree in (options.tree or [ROOT])]
    from tests.redis_server import RedisServer

    server = RedisServer(extra_args=("--save", "", "--appendonly", "no"))
    server.start()
    try:
        chosen = [
            v for v in variants(options.io, options.only_io) if not options.only or options.only in v[0]
        ]
        samples: dict[tuple[str, str], list[dict[str, float]]] = {}
        kinds = {label: kind for label, _, kind, _, _ in chosen}
        for _ in range(options.rounds):
            for tree in trees:
                for label, system, kind, concurrency, pool in chosen:
                    if system == "rq" and tree != trees[0]:
                        continue  # RQ does not change with the tree
                    jobs = options.jobs if kind == "noop" else options.io_jobs
                    jobs = options.rq_jobs if system == "rq" else jobs
                    result = measure(tree, server.url, system, kind, jobs, concurrency, pool)
                    samples.setdefault((str(tree), label), []).append(result)
                    line = f"cpu {result['cpu']:7.2f}s wall {result['wall']:7.2f}s"
                    print(f"  {tree.name:>10} {label:<36} {line}", file=sys.stderr, flush=True)
        rq = samples.get((str(trees[0]), "rq SimpleWorker"))
        # Per job: RQ drains fewer jobs.
        rq_cpu = statistics.median(r["cpu"] for r in rq) / options.rq_jobs if rq else 0.0
        rq_wall = statistics.median(r["wall"] for r in rq) / options.rq_jobs if rq else 0.0
        print(
            f"{'tree':>12} {'variant':<36} {'cpu s':>7} {'wall s':>7} {'jobs/cpu-s':>10} "
            f"{'xRQ cpu':>8} {'xRQ wall':>8}"
        )
        for (tree, label), results in samples.items():
            cpu = statistics.median(r["cpu"] for r in results)
            wall = statistics.median(r["wall"] for r in results)
            noop = kinds[label] == "noop"
            jobs = options.jobs if noop else options.io_jobs
            jobs = options.rq_jobs if label.startswith("rq") else jobs
            per_cpu, per_wall = cpu / jobs, wall / jobs
            ratios = (
                f"{rq_cpu / per_cpu:8.1f} {rq_wall / per_wall:8.1f}" if rq and noop else f"{'':>8} {'':>8}"
            )
            print(f"{Path(tree).name:>12} {label:<36} {cpu:7.2f} {wall:7.2f} {jobs / cpu:10.0f} {ratios}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
