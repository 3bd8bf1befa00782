"""The jq benchmark's measures for huey, dramatiq and Celery, on one private redis-server.

    python -m benchmarks.peers            # full run, writes the peers section of docs/benchmarks.md
    python -m benchmarks.peers --quick    # a smoke run (small counts, one round), writes nothing
    python -m benchmarks.peers --libraries huey --measures drain   # a subset, writes nothing

Each measure runs ``--rounds`` times per library (median reported), each time in a fresh process
(``benchmarks/peer_measure.py``) on an emptied store. Needs huey, dramatiq[redis] and celery[redis]
installed next to jq: ``nox -s bench_peers`` does that in a virtualenv of its own.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import statistics
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.docs_section import replace_section  # noqa: E402
from benchmarks.peer_systems import BATCH, PEERS  # noqa: E402 - the repository root is on the path now
from benchmarks.run import machine, measure_in_fresh_process  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

#: Table rows: (value, what it says, number format). Several values can come from one measure.
ROWS: list[tuple[str, str, str]] = [
    ("enqueue", "enqueue, one by one (jobs/s)", ",.0f"),
    ("enqueue_bulk", f"bulk enqueue, {BATCH:,} per call (jobs/s)", ",.0f"),
    ("drain", "drain of a full queue, one worker process (jobs/s)", ",.0f"),
    ("startup", "worker process launch -> first job start (s)", ",.2f"),
    ("latency_p50", "enqueue -> start latency p50, 150 jobs/s (ms)", ",.2f"),
    ("latency_p99", "enqueue -> start latency p99, 150 jobs/s (ms)", ",.2f"),
]
#: The process-level measures (``benchmarks/peer_measure.py``) and the rows each one fills.
MEASURES: dict[str, tuple[str, ...]] = {
    "enqueue": ("enqueue",),
    "enqueue_bulk": ("enqueue_bulk",),
    "drain": ("drain", "startup"),
    "latency": ("latency_p50", "latency_p99"),
}
#: Jobs per measure and library for a full run; rates are per job, so the slower libraries get
#: fewer jobs to keep the whole run to a few minutes. Latency runs 750 jobs (5 s at 150/s) each.
COUNTS: dict[str, dict[str, int]] = {
    "huey": {"enqueue": 20_000, "enqueue_bulk": 20_000, "drain": 10_000, "latency": 750},
    "dramatiq": {"enqueue": 10_000, "enqueue_bulk": 10_000, "drain": 10_000, "latency": 750},
    "celery": {"enqueue": 5_000, "enqueue_bulk": 5_000, "drain": 5_000, "latency": 750},
}
QUICK_COUNTS = {"enqueue": 200, "enqueue_bulk": 200, "drain": 200, "latency": 30}


def run_measure(library: str, measure: str, count: int, url: str) -> dict[str, float]:
    """One measurement of a peer library in a fresh process."""
    values: dict[str, float] = measure_in_fresh_process(
        "benchmarks.peer_measure", library, measure, count, url
    )["values"]
    return values


def round_trip_us(client: redis.Redis, count: int = 5000) -> float:
    """Mean µs per PING from this process: the machine's pace, since every measure here is mostly
    Redis round trips (compare runs, or this table with another, through it)."""
    client.ping()
    started = time.perf_counter()
    for _ in range(count):
        client.ping()
    return (time.perf_counter() - started) / count * 1e6


def version(package: str) -> str:
    """The installed version of ``package``."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def settings() -> dict[str, str]:
    """One line per library: its version and exactly what the benchmark ran."""
    import billiard  # Celery's multiprocessing fork: its cpu_count() is celery worker's default

    return {
        "huey": (
            f"huey {version('huey')}: `RedisHuey('bench')` with default settings (blocking BRPOP "
            "dequeue, results on); consumer `huey_consumer benchmarks.peer_tasks.huey_tasks.huey -q` "
            "with its defaults: 1 worker, thread worker type (`-q`: log warnings only)"
        ),
        "dramatiq": (
            f"dramatiq {version('dramatiq')}: `RedisBroker` with default middleware; worker "
            "`dramatiq benchmarks.peer_tasks.dramatiq_tasks --processes 1`: one process with "
            "dramatiq's default 8 worker threads (prefetch 16)"
        ),
        "celery": (
            f"Celery {version('celery')} (kombu {version('kombu')}): Redis broker (db 0), Redis "
            "result backend (db 1), default task settings (results stored); worker `celery -A "
            "benchmarks.peer_tasks.celery_tasks worker --pool=prefork --loglevel=WARNING`: the "
            f"default prefork pool with its default concurrency here, {billiard.cpu_count()} child "
            "processes (prefetch multiplier 4)"
        ),
    }


def table(
    results: dict[str, dict[str, float]], counts: dict[str, dict[str, int]], measures: list[str]
) -> list[str]:
    """The results of ``measures`` as markdown rows: one column per library, the job counts last.

    A library without the API a measure needs shows "n/a".
    """
    libraries = [name for name in PEERS if name in results]
    titles = " | ".join(PEERS[name].title for name in libraries)
    rows = [
        f"| measure | {titles} | jobs ({' / '.join(PEERS[name].title for name in libraries)}) |",
        "|---|" + "---:|" * len(libraries) + "---|",
    ]
    for key, title, number in ROWS:
        measure = next(name for name, keys in MEASURES.items() if key in keys)
        if measure not in measures:
            continue
        cells = []
        for name in libraries:
            value = results[name].get(key)
            cells.append("n/a" if value is None else format(value, number))
        jobs = " / ".join(f"{counts[name][measure]:,}" for name in libraries)
        rows.append(f"| {title} | {' | '.join(cells)} | {jobs} |")
    return rows


def main() -> None:
    """Run every measure for each library and report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts, one round, writes nothing")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per measure (median reported)")
    parser.add_argument("--libraries", help=f"comma-separated subset of {','.join(PEERS)}")
    parser.add_argument("--measures", help=f"comma-separated subset of {','.join(MEASURES)}")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    libraries = args.libraries.split(",") if args.libraries else list(PEERS)
    measures = args.measures.split(",") if args.measures else list(MEASURES)
    counts = {name: dict(QUICK_COUNTS) if args.quick else COUNTS[name] for name in libraries}
    server = RedisServer().start()
    client = redis.Redis(port=server.port)
    results: dict[str, dict[str, float]] = {name: {} for name in libraries}
    started = time.monotonic()
    try:
        client.flushall()
        round_trip = round_trip_us(client)
        for name in libraries:
            for measure in measures:
                if measure == "enqueue_bulk" and PEERS[name].bulk_api is None:
                    continue  # reported as n/a
                samples: dict[str, list[float]] = {}
                for _ in range(rounds):
                    client.flushall()
                    for key, value in run_measure(name, measure, counts[name][measure], server.url).items():
                        samples.setdefault(key, []).append(value)
                for key, values in samples.items():
                    results[name][key] = statistics.median(values)
                    print(f"{name:>10} {key:>14}: {results[name][key]:,.2f}", flush=True)
    finally:
        server.cleanup()
    rows = table(results, counts, measures)
    # machine()'s last line lists jq-vs-RQ packages; this run states redis-py and hiredis instead.
    environment = [
        *machine()[:3],
        f"redis-py {version('redis')}, hiredis {version('hiredis')}; "
        f"a redis-py round trip (PING) took {round_trip:.0f} µs at the start of this run",
    ]
    header = [f"- {line}" for line in environment]
    header += [f"- {line}" for name, line in settings().items() if name in libraries]
    print("\n".join(["", *header, "", *rows]))
    print(f"\n({time.monotonic() - started:.0f} s, {rounds} round(s) per measure, medians)")
    # Only a full run replaces the published table: a subset or a smoke would leave it partial.
    if args.quick or args.libraries or args.measures:
        print("(not written to docs/benchmarks.md: only a full run is)")
    else:
        write_docs(header, rows, rounds)


#: How each measure is taken, for the docs (the table's fine print).
NOTES = f"""\
How it is measured: every value is the median of {{rounds}} rounds, each in a fresh process on an
emptied store (one private redis-server on loopback). The jobs do nothing, as jq's
(`benchmarks/jobs.py`); each library's worker is a separate process started with the command
stated.

- bulk enqueue: the library's API for sending many jobs in one call, {BATCH:,} jobs per call:
  huey `task.map()`, dramatiq `group(...).run()`, Celery `group(...).apply_async()`. None of
  them batches the Redis writes (each is a loop of single enqueues), unlike jq's `enqueue_many`.
- drain: the queue holds N jobs before the worker starts; timed from the first job's start
  (a stamp the job writes) to the moment all N had finished, so the worker's start-up is the
  separate row. Completion: huey, the last job's own start stamp (one worker thread runs jobs in
  queue order); dramatiq, no message left in the broker (queued or fetched-but-unacked: acks
  follow the job); Celery, N results in the result database. Polled every 5 ms.
- latency: one idle worker; jobs sent at 150/s, each job writing `time.time()` on entry to a
  Redis hash, compared with `time.time()` read just before the enqueue call. That includes the
  library's own work between taking the job and running its code (decoding, middleware); jq's
  `started_at` is stamped as its worker claims the job, so jq's figure stops a little earlier.
"""


def write_docs(header: list[str], rows: list[str], rounds: int) -> None:
    """Replace the peers section of docs/benchmarks.md with this run (creating the file if needed)."""
    notes = NOTES.format(rounds=rounds).rstrip("\n").splitlines()
    replace_section("peers", [*header, "", *rows, "", *notes], heading="huey, dramatiq and Celery")


if __name__ == "__main__":
    main()
