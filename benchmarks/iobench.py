"""I/O-bound jobs: jq's concurrent workers beside RQ, arq, SAQ, dramatiq and Celery, in one run.

    python -m benchmarks.iobench                  # full run, writes two sections of docs/benchmarks.md
    python -m benchmarks.iobench --quick          # a smoke run (small counts, one round), writes nothing
    python -m benchmarks.iobench --systems jq-asyncio,arq --jobs 1000   # a subset, writes nothing

Every job GETs a local HTTP server that answers 20 ms later (``benchmarks/io_server.py``, a process
of its own, started here; its capacity is measured and stated first). One worker process per
system, at each concurrency it offers; each measurement in a fresh process
(``benchmarks/io_measure.py``) on an emptied private redis-server. Needs the peers installed next
to jq: ``nox -s bench_peers`` does that in a virtualenv of its own and runs this after the no-op
peers table.
"""

from __future__ import annotations

import argparse
import json
import os
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
from benchmarks.io_server import capacity  # noqa: E402
from benchmarks.io_systems import SYSTEMS, version  # noqa: E402
from benchmarks.run import machine  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

DELAY_MS = 20
LEVELS = (1, 10, 100)
#: Jobs per rate measurement: the issue's 5,000, and fewer at concurrency 1 (500 jobs there are
#: 10 s of waiting alone) so that a full run stays within minutes.
JOBS, JOBS_AT_ONE = 5000, 500
QUICK_JOBS, QUICK_JOBS_AT_ONE = 300, 30
#: Jobs in flight for the memory measure.
MEMORY_CONCURRENCY = 100
#: (system, level) whose library still showed jobs unfinished a minute after the server had
#: answered every job once: the jobs ran, the figure stands, the table marks it.
LAGGING: set[tuple[str, int]] = set()
#: The measurements that failed in this run (each is skipped; a run with any writes nothing).
FAILURES: list[str] = []


def in_fresh_process(args: list[str]) -> dict[str, float]:
    """``python -m benchmarks.io_measure ARGS``: its JSON values."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "benchmarks.io_measure", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    values: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])["values"]
    return values


class SlowServer:
    """``benchmarks/io_server.py`` in a process of its own."""

    def __init__(self, delay_ms: int) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen([sys.executable, "-m", "benchmarks.io_server", str(delay_ms)],
                                        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if len(line) != 2 or line[0] != "port":
            self.stop()
            raise RuntimeError(f"the slow server did not start: {line}")
        self.url = f"http://127.0.0.1:{line[1]}"

    def stop(self) -> None:
        """End the server process."""
        self.process.terminate()
        self.process.wait(timeout=10)


def main() -> None:
    """Run the rate and memory measures for each system and report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts, one round, writes nothing")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per rate measurement (median reported)")
    parser.add_argument("--jobs", type=int, help=f"jobs per rate at concurrency 10 and 100 ({JOBS:,})")
    parser.add_argument("--jobs-at-one", type=int, help=f"jobs per rate at concurrency 1 ({JOBS_AT_ONE:,})")
    parser.add_argument("--systems", help=f"comma-separated subset of {','.join(SYSTEMS)}")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measure")
    parser.add_argument("--no-write", action="store_true", help="do not write docs/benchmarks.md")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    jobs = args.jobs or (QUICK_JOBS if args.quick else JOBS)
    jobs_at_one = args.jobs_at_one or (QUICK_JOBS_AT_ONE if args.quick else JOBS_AT_ONE)
    names = args.systems.split(",") if args.systems else list(SYSTEMS)
    started = time.monotonic()
    redis_server = RedisServer().start()
    client = redis.Redis(port=redis_server.port)
    server = SlowServer(DELAY_MS)
    memory: dict[str, dict[str, float]] = {}
    try:
        ceiling = capacity(server.url, count=3000 if not args.quick else 500, concurrency=100)
        print(f"slow server: {ceiling['rate']:,.0f} requests/s at 100 concurrent, "
              f"{ceiling['cpu_us']:.0f} µs of its CPU per request", flush=True)  # fmt: skip
        rates, counts, cpu = measure_rates(
            names, rounds, jobs, jobs_at_one, client, redis_server.url, server.url
        )
        if not args.no_memory:
            memory = measure_memory(names, client, redis_server.url, server.url)
    finally:
        server.stop()
        redis_server.cleanup()
    elapsed = time.monotonic() - started
    fastest = max((rate for by_level in rates.values() for rate in by_level.values()), default=0.0)
    header = environment(ceiling, names, fastest)
    io_rows = io_table(rates, counts, cpu)
    memory_rows = memory_table(memory)
    print("\n".join(["", *header, "", *io_rows, *(["", *memory_rows] if memory else [])]))
    print(f"\n({elapsed:.0f} s, {rounds} round(s) per rate measurement)")
    if FAILURES:
        print(f"FAILED: {', '.join(FAILURES)} (see above); nothing written to docs/benchmarks.md")
        raise SystemExit(1)
    if args.quick or args.systems or args.no_write or args.no_memory:
        print("(not written to docs/benchmarks.md: only a full run is)")
        return
    footer = f"{rounds} round(s) per rate (median); the whole run took {elapsed / 60:.1f} min."
    replace_section("io-bound", [*header, "", *io_rows, "", footer, "", *IO_NOTES.splitlines()],
                    heading="I/O-bound jobs: jq, RQ, arq, SAQ, dramatiq and Celery")  # fmt: skip
    replace_section("memory-per-job", [*memory_rows, "", *MEMORY_NOTES.splitlines()],
                    heading="Memory per concurrent job")  # fmt: skip


def measure_rates(
    names: list[str],
    rounds: int,
    jobs: int,
    jobs_at_one: int,
    client: redis.Redis,
    redis_url: str,
    server: str,
) -> tuple[dict[str, dict[int, float]], dict[str, dict[int, int]], dict[str, dict[int, float]]]:
    """Jobs/s of each system at each concurrency it offers (median of ``rounds``)."""
    rates: dict[str, dict[int, float]] = {name: {} for name in names}
    counts: dict[str, dict[int, int]] = {name: {} for name in names}
    cpu: dict[str, dict[int, float]] = {name: {} for name in names}
    for name in names:
        for level in SYSTEMS[name].levels:
            count = min(jobs if level != 1 else jobs_at_one, SYSTEMS[name].most.get(level, jobs))
            samples, cpu_samples = [], []
            for _ in range(rounds):
                client.flushall()
                try:
                    values = in_fresh_process([name, "rate", str(count), str(level), redis_url, server])
                except (RuntimeError, subprocess.TimeoutExpired) as error:
                    # one failed measurement must not lose the rest of a long run: reported, skipped
                    print(f"{name} at {level} FAILED: {error}", flush=True)
                    FAILURES.append(f"{SYSTEMS[name].title} at concurrency {level}")
                    continue
                samples.append(values["rate"])
                cpu_samples.append(values["cpu_us"])
                if values.get("lagging"):
                    LAGGING.add((name, level))
            if not samples:
                continue
            rates[name][level] = statistics.median(samples)
            cpu[name][level] = statistics.median(cpu_samples)
            counts[name][level] = count
            print(f"{name:>12} at {level:>3}: {rates[name][level]:,.1f} jobs/s ({count:,} jobs)", flush=True)
    return rates, counts, cpu


def measure_memory(
    names: list[str], client: redis.Redis, redis_url: str, server: str
) -> dict[str, dict[str, float]]:
    """Memory per job in flight of each system that runs jobs concurrently."""
    memory: dict[str, dict[str, float]] = {}
    level = str(MEMORY_CONCURRENCY)
    for name in names:
        if MEMORY_CONCURRENCY not in SYSTEMS[name].levels:
            continue
        client.flushall()
        try:
            memory[name] = in_fresh_process([name, "memory", level, level, redis_url, server])
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            print(f"{name} memory FAILED: {error}", flush=True)
            FAILURES.append(f"{SYSTEMS[name].title}, memory")
            continue
        print(f"{name:>12} memory: {memory[name]['per_job_kib']:,.1f} KiB per job in flight", flush=True)
    return memory


def environment(ceiling: dict[str, Any], names: list[str], fastest: float) -> list[str]:
    """The machine, the server's measured capacity and each system's version and settings."""
    lines = [*machine()[:3], f"redis-py {version('redis')}, hiredis {version('hiredis')}"]
    lines.append(
        f"the slow server (asyncio, its own process) answered {ceiling['count']:,} requests "
        f"{ceiling['concurrency']} at a time at {ceiling['rate']:,.0f}/s from one stdlib asyncio client "
        f"process (the client's limit), spending {ceiling['cpu_us']:.0f} µs of its CPU per request: "
        f"about {1e6 / ceiling['cpu_us']:,.0f} requests/s on one core, so the fastest rate below "
        f"({fastest:,.0f} jobs/s) took {fastest * ceiling['cpu_us'] / 1e4:.0f} % of one core "
        f"(a {DELAY_MS} ms wait alone allows {100 * 1000 // DELAY_MS:,}/s at 100 in flight)"
    )
    lines += [SYSTEMS[name].describe() for name in names]
    return [f"- {line}" for line in lines]


def io_table(
    rates: dict[str, dict[int, float]], counts: dict[str, dict[int, int]], cpu: dict[str, dict[int, float]]
) -> list[str]:
    """Jobs/s per system and concurrency, each row's best over RQ's Worker, the worker's CPU per job
    at its highest concurrency, and the job counts."""
    base = rates.get("rq-worker", {}).get(1)
    head = " | ".join(f"concurrency {level}" for level in LEVELS)
    rows = [
        f"| worker (one process) | {head} | best / RQ Worker | worker CPU per job, highest concurrency (µs) "
        f"| jobs ({' / '.join(map(str, LEVELS))}) |",
        "|---|" + "---:|" * (len(LEVELS) + 2) + "---|",
    ]
    for name, by_level in rates.items():
        if not by_level:
            continue
        cells = [
            f"{by_level[level]:,.0f}{' (*)' if (name, level) in LAGGING else ''}"
            if level in by_level
            else "n/a"
            for level in LEVELS
        ]
        ratio = f"{max(by_level.values()) / base:,.1f}x" if base else ""
        jobs = " / ".join(f"{counts[name][level]:,}" if level in by_level else "-" for level in LEVELS)
        top = cpu[name][max(by_level)]
        rows.append(f"| {SYSTEMS[name].title} | {' | '.join(cells)} | {ratio} | {top:,.0f} | {jobs} |")
    rows += ["", "Jobs/s, from the first job's start to the last job's end."]
    if LAGGING:
        rows[-1] += (
            " (*): every job ran once (the server's count), but a minute later the library's own"
            " bookkeeping still showed some unfinished."
        )
    return rows


def memory_table(memory: dict[str, dict[str, float]]) -> list[str]:
    """KiB per job in flight, and the memory (PSS) idle and busy, per system."""
    rows = [
        f"| worker | KiB per job in flight ({MEMORY_CONCURRENCY} jobs) | memory idle (MiB, PSS) "
        f"| memory with {MEMORY_CONCURRENCY} in flight (MiB, PSS) |",
        "|---|---:|---:|---:|",
    ]
    for name, values in memory.items():
        rows.append(f"| {SYSTEMS[name].title} | {values['per_job_kib']:,.1f} | {values['idle_mib']:,.1f} | "
                    f"{values['busy_mib']:,.1f} |")  # fmt: skip
    return rows


IO_NOTES = f"""\
How it is measured: every job GETs a local HTTP server that answers {DELAY_MS} ms after the request
arrives (`benchmarks/io_server.py`: asyncio, a timer per request, in a process of its own; the
line above states what it served when driven alone). Blocking jobs use `urllib.request`, async
ones a minimal HTTP/1.1 GET over `asyncio.open_connection`, the same code for jq, arq and SAQ
(`benchmarks/io_tasks/`). The queue is filled first (not timed), then one worker process of the
system is started with the concurrency of the column. The rate is the number of jobs over the
time from the first job's request reaching the server to the last answer the server sent (one
clock, the server's); the run fails unless the server answered every job exactly once and the
library's own bookkeeping shows every job finished (jq and RQ: the finished-job registry; arq:
its stored results; SAQ: nothing queued or active; dramatiq: no message left; Celery: a result
per job). Each measurement runs in a fresh process on an emptied private redis-server. "best /
RQ Worker" is the row's best rate over RQ's default `Worker` (one job at a time, a fork per
job). RQ has no concurrency setting: its rows are at concurrency 1 only. The worker's CPU per
job is its process tree's CPU time (user and system, from /proc) from the first job's request to
the end, over the jobs: what the worker spends per job besides waiting. What limits the
concurrency-100 column on a 2-core machine is the CPU shared by the worker, redis-server and the
slow server, not the 20 ms wait (which alone allows {100 * 1000 // DELAY_MS:,} jobs/s)."""

MEMORY_NOTES = f"""\
How it is measured: the worker is started at concurrency {MEMORY_CONCURRENCY} and runs one job (its
imports and connections warm), then rests {1:.0f} s and its memory is read: the proportional set
size (PSS) summed over its process tree (dramatiq runs a supervisor and a worker process, jq a
worker and its lease pulse, a fork), in which a page the processes share counts once, where a sum
of RSS would count it in each. Then {MEMORY_CONCURRENCY} jobs are queued
that the server holds unanswered; once all {MEMORY_CONCURRENCY} requests are in, the worker
rests {1:.0f} s and its memory is read again. The difference over {MEMORY_CONCURRENCY} is a job's
cost while in flight: its task or thread, its record and its connection. Threads that a worker
starts before any job (dramatiq starts all its threads at launch) are in its idle memory, not in
the difference. RQ runs one job at a time and has no row."""


if __name__ == "__main__":
    main()
