"""jq on its SQLite driver beside huey's ``SqliteHuey``, on one machine in one run.

    python -m benchmarks.sqlite            # full run, writes the SQLite section of docs/benchmarks.md
    python -m benchmarks.sqlite --quick    # a smoke run (small counts, one round), writes nothing

Each measure runs ``--rounds`` times per system (median reported), each time in a fresh process
(``benchmarks/sqlite_measure.py``) on a new database file in a new temporary directory. Needs
huey installed next to jq: ``nox -s bench_sqlite`` does that in a virtualenv of its own.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.docs_section import replace_section  # noqa: E402
from benchmarks.peers import version  # noqa: E402 - the repository root is on the path now
from benchmarks.run import machine, measure_in_fresh_process  # noqa: E402

#: (system, column title): jq and huey with their defaults (a sync at every commit), then each
#: without it: jq's ``synchronous=normal``, huey's ``fsync=False``.
SYSTEMS: list[tuple[str, str]] = [
    ("jq", "jq"),
    ("huey", "huey"),
    ("jq-normal", "jq, synchronous=normal"),
    ("huey-nosync", "huey, fsync=False"),
]
#: The ratios reported: (jq's system, huey's system), each pair alike in what a power loss costs.
PAIRS: list[tuple[str, str]] = [("jq", "huey"), ("jq-normal", "huey-nosync")]
#: (measure, row title)
MEASURES: list[tuple[str, str]] = [
    ("enqueue", "enqueue, one by one (jobs/s)"),
    ("drain", "drain of a full queue, one worker in one process (jobs/s)"),
]
#: Jobs per measure: (full run, --quick).
COUNTS: dict[str, tuple[int, int]] = {"enqueue": (5_000, 50), "drain": (5_000, 50)}


def run_measure(system: str, measure: str, count: int) -> float:
    """One measurement in a fresh process, on a new file in a new temporary directory."""
    directory = tempfile.mkdtemp(prefix="jq-bench-sqlite-")
    try:
        path = str(Path(directory) / "jobs.db")
        return float(
            measure_in_fresh_process("benchmarks.sqlite_measure", system, measure, count, path)["value"]
        )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def filesystem() -> str:
    """The type of the file system the temporary directories are made on."""
    done = subprocess.run(
        ["df", "--output=fstype", tempfile.gettempdir()], capture_output=True, text=True, check=False
    )
    lines = done.stdout.split()
    return lines[-1] if done.returncode == 0 and len(lines) > 1 else "unknown"


def table(results: dict[str, dict[str, float]], counts: dict[str, int]) -> list[str]:
    """The results as markdown rows: one column per system, then the ratio of each pair alike in
    durability (:data:`PAIRS`)."""
    titles = dict(SYSTEMS)
    rows = [
        "| measure | "
        + " | ".join(title for _, title in SYSTEMS)
        + " | "
        + " | ".join(f"{titles[ours]} / {titles[theirs]}" for ours, theirs in PAIRS)
        + " | jobs |",
        "|---|" + "---:|" * (len(SYSTEMS) + len(PAIRS)) + "---:|",
    ]
    for measure, title in MEASURES:
        if measure not in results:
            continue
        values = results[measure]
        cells = [f"{values[name]:,.0f}" for name, _ in SYSTEMS]
        cells += [f"{values[ours] / values[theirs]:,.2f}x" for ours, theirs in PAIRS]
        rows.append(f"| {title} | {' | '.join(cells)} | {counts[measure]:,} |")
    return rows


def spread(spreads: dict[str, dict[str, tuple[float, float]]]) -> str:
    """One line: the slowest and the fastest round of each measure and system."""
    parts = []
    for measure, _ in MEASURES:
        if measure in spreads:
            ranges = "; ".join(
                f"{title} {spreads[measure][name][0]:,.0f} to {spreads[measure][name][1]:,.0f}"
                for name, title in SYSTEMS
            )
            parts.append(f"{measure}: {ranges}")
    return "Slowest and fastest rounds (jobs/s). " + ". ".join(parts) + "."


def main() -> None:
    """Run every measure for each system and report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts, one round, writes nothing")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measure (median reported)")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    counts = {measure: quick if args.quick else full for measure, (full, quick) in COUNTS.items()}
    results: dict[str, dict[str, float]] = {}
    spreads: dict[str, dict[str, tuple[float, float]]] = {}
    started = time.monotonic()
    for measure, _ in MEASURES:
        for name, _ in SYSTEMS:
            values = [run_measure(name, measure, counts[measure]) for _ in range(rounds)]
            results.setdefault(measure, {})[name] = statistics.median(values)
            spreads.setdefault(measure, {})[name] = (min(values), max(values))
            rounds_text = ", ".join(f"{value:,.0f}" for value in values)
            print(f"{measure:>8} {name:>12}: {results[measure][name]:,.0f}  ({rounds_text})", flush=True)
    rows = table(results, counts)
    rows += ["", spread(spreads)]
    environment = [
        *machine()[:2],
        f"SQLite {sqlite3.sqlite_version}; the database files on {filesystem()} "
        f"({tempfile.gettempdir()}), a new file per measurement",
        f"jq-queue {version('jq-queue')}: `sqlite:////<tmp>/jobs.db` with the driver's defaults "
        "(WAL, `synchronous=FULL`: a sync per commit, one `BEGIN IMMEDIATE` transaction per call), "
        "and with `?synchronous=normal`; producer "
        "`Queue('bench').enqueue(noop)`; drain `SimpleWorker([queue]).work(burst=True)`",
        f"huey {version('huey')}: `SqliteHuey('bench', filename=...)` with its defaults (WAL, "
        "SQLite's default `synchronous=FULL`: an fsync per commit), and with `fsync=False` "
        "(`synchronous=OFF`); producer `noop()` (a `@huey.task()`); drain huey's consumer loop "
        "in-process: `huey.dequeue()` then `huey.execute(task)` until the queue is empty",
    ]
    header = [f"- {line}" for line in environment]
    print("\n".join(["", *header, "", *rows]))
    print(f"\n({time.monotonic() - started:.0f} s, {rounds} round(s) per measure, medians)")
    if args.quick:
        print("(not written to docs/benchmarks.md: only a full run is)")
    else:
        write_docs(header, rows, rounds)


#: The section's opening, above its markers (written once, when the section is added).
INTRO = """\
`nox -s bench_sqlite` (or `python -m benchmarks.sqlite` with huey installed) measures jq on its
SQLite driver (`sqlite:////path/jobs.db`) and huey's `SqliteHuey` in one run on one machine.
"""


#: How each measure is taken, for the docs (the table's fine print).
NOTES = """\
How it is measured: every value is the median of {rounds} rounds, each in a fresh process on a new
database file in a new temporary directory; the job does nothing (`benchmarks/jobs.py`, and the
same no-op as a huey task). Ratios are jq's median over huey's, each with its defaults and each
without a sync per commit: above 1, jq is faster.

- enqueue: one job per call into an empty queue, timed over the whole loop. Each jq call is one
  transaction that saves the job and pushes it (one indexed read of the queue's last place);
  each huey call inserts one row.
- drain: the queue is filled first (not timed: jq `enqueue_many`, huey a loop of calls), then
  one worker runs every job in the measuring process: jq's `SimpleWorker` in burst mode (its
  start-up and registration included), huey's consumer loop without the consumer process around
  it (one worker thread's `dequeue()` + `execute()`, which is what `huey_consumer -w 1` runs per
  job). Timed until the queue is empty; the run fails if any job is left.
- What each stores differs: jq keeps every job's record, status and registry entries (a
  finished job stays readable for `result_ttl`, 500 s by default); huey keeps only the queued
  row and a result when the task returns something other than None (a no-op stores none).
- Durability: both defaults sync the log at every commit (`synchronous=FULL`): an acknowledged
  job survives a power loss. jq's `synchronous=normal` skips that sync (a process that dies
  loses nothing committed; a power loss may lose the last calls); huey's `fsync=False` sets
  `synchronous=OFF` (no sync at all), which can cost more than that on a power loss, so the
  second ratio flatters huey slightly.
"""


def write_docs(header: list[str], rows: list[str], rounds: int) -> None:
    """Replace the SQLite section of docs/benchmarks.md with this run (adding it if needed)."""
    notes = NOTES.format(rounds=rounds).rstrip("\n").splitlines()
    replace_section("sqlite", [*header, "", *rows, "", *notes], heading="SQLite: jq and huey", intro=INTRO)


if __name__ == "__main__":
    main()
