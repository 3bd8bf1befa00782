"""Measure jq and RQ side by side on one private redis-server and print the ratios.

    python -m benchmarks.run                      # full run, writes docs/benchmarks.md
    python -m benchmarks.run --quick --no-write   # a smoke run (small counts, one round)

Each measure runs ``--rounds`` times per system (median reported), each time in a fresh process
on an emptied store. Needs ``rq`` installed next to jq (``nox -s bench`` does that).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.docs_section import replace_section  # noqa: E402 - the repository root is on the path now
from tests.redis_server import RedisServer  # noqa: E402

#: (measure, what it says, better when higher, jq target ratio or absolute target)
MEASURES: list[tuple[str, str, bool, str]] = [
    ("enqueue", "enqueue, one by one (jobs/s)", True, ">= 4x"),
    ("enqueue_many", "enqueue_many, batches of 1,000 (jobs/s)", True, ">= 5x"),
    ("drain_simple", "SimpleWorker drain (jobs/s)", True, ">= 20x"),
    (
        "drain_threads32",
        "SimpleWorker(concurrency=32, pool=threads) no-op drain; RQ: its SimpleWorker (jobs/s)",
        True,
        "",
    ),
    ("drain_isolated", "Worker drain, jq's reused horse / RQ's horse per job (jobs/s)", True, ">= 10x"),
    ("drain_fork_per_job", "Worker drain, a fresh horse per job, both defaults (jobs/s)", True, ""),
    ("latency_p50", "enqueue -> start latency p50, 150 jobs/s (ms)", False, "<= 0.5 ms"),
    ("latency_p99", "enqueue -> start latency p99, 150 jobs/s (ms)", False, "<= 1.5 ms"),
    ("rss_growth", "SimpleWorker RSS growth (MB)", False, "<= 20 MB / 100k jobs"),
    ("pool_speedup", "2-process pool vs 1 process (x)", True, ">= 1.6x"),
]
# Jobs per measure: (full jq, full RQ, quick). RQ is slower; rates are per job either way. The
# quick drains are short because RQ's SimpleWorker sometimes takes ~200 ms a job in a smoke run
# (seen with redis-py 8.2): 300 jobs would then take a minute of the test suite's time each.
COUNTS: dict[str, tuple[int, int, int]] = {
    "enqueue": (20_000, 5_000, 300),
    "enqueue_many": (50_000, 20_000, 2_000),
    "drain_simple": (20_000, 3_000, 60),
    "drain_threads32": (20_000, 3_000, 60),
    "drain_isolated": (5_000, 500, 40),
    "drain_fork_per_job": (1_000, 500, 20),
    "latency_p50": (750, 750, 60),
    "latency_p99": (750, 750, 60),
    "rss_growth": (100_000, 10_000, 500),
    "pool_speedup": (20_000, 3_000, 60),
}


def measure_in_fresh_process(module: str, system: str, measure: str, count: int, url: str) -> dict[str, Any]:
    """Run ``python -m module system measure count url`` and return the JSON its last line prints:
    each measurement starts from a fresh interpreter, so none inherits another's warm state."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", module, system, measure, str(count), url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{system} {measure} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run_measure(system: str, measure: str, count: int, url: str) -> float:
    """One measurement of jq or RQ in a fresh process."""
    return float(measure_in_fresh_process("benchmarks.measure", system, measure, count, url)["value"])


def machine() -> list[str]:
    """What the numbers were measured on."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        memory = int(handle.readline().split()[1]) / 1024 / 1024
    server = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False).stdout
    versions = []
    for package in ("jq-queue", "rq", "redis", "hiredis"):
        try:
            versions.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{package} not installed")
    return [
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB",
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"{server.split()[2] if server else 'redis-server ?'} on loopback, no persistence",
        ", ".join(versions),
    ]


def table(results: dict[str, dict[str, float]], counts: dict[str, tuple[int, int]]) -> list[str]:
    """The results as markdown rows."""
    rows = [
        "| measure | jq | RQ | jq / RQ | target | jobs (jq / RQ) |",
        "|---|---:|---:|---:|---|---|",
    ]
    for measure, title, higher_is_better, target in MEASURES:
        if measure not in results:
            continue
        ours, theirs = results[measure]["jq"], results[measure]["rq"]
        ratio = ours / theirs if higher_is_better else theirs / ours if ours else float("inf")
        label = "x" if higher_is_better else "x better"
        rows.append(
            f"| {title} | {ours:,.2f} | {theirs:,.2f} | {ratio:,.1f}{label} | {target} | "
            f"{counts[measure][0]:,} / {counts[measure][1]:,} |"
        )
    return rows


def main() -> None:
    """Run every measure for jq and RQ and report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts, one round (a smoke run)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per measure (median reported)")
    parser.add_argument("--measures", help="comma-separated subset of measures")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    wanted = args.measures.split(",") if args.measures else [m for m, *_ in MEASURES]
    server = RedisServer().start()
    client = redis.Redis(port=server.port)
    results: dict[str, dict[str, float]] = {}
    counts: dict[str, tuple[int, int]] = {}
    started = time.monotonic()
    try:
        for measure in wanted:
            full_jq, full_rq, quick = COUNTS[measure]
            counts[measure] = (quick, quick) if args.quick else (full_jq, full_rq)
            for index, system in enumerate(("jq", "rq")):
                values = []
                for _ in range(rounds):
                    client.flushall()
                    values.append(run_measure(system, measure, counts[measure][index], server.url))
                results.setdefault(measure, {})[system] = statistics.median(values)
                print(f"{measure:>20} {system}: {results[measure][system]:,.2f}", flush=True)
    finally:
        server.cleanup()
    rows = table(results, counts)
    header = [f"- {line}" for line in machine()]
    print("\n".join(["", *header, "", *rows]))
    print(f"\n({time.monotonic() - started:.0f} s, {rounds} round(s) per measure, medians)")
    if not args.no_write and not args.quick:
        write_docs(header, rows, rounds)


def write_docs(header: list[str], rows: list[str], rounds: int) -> None:
    """Replace the jq-vs-RQ section of docs/benchmarks.md with this run."""
    replace_section("jq-vs-rq", [*header, "", *rows, "", f"Medians of {rounds} rounds."])


if __name__ == "__main__":
    main()
