"""The benchmark harness keeps working: a quick run of every measure, jq beside RQ.

Numbers are not checked here (no timed assertions in the test suite): only that every measure
runs for both systems and the report is produced. ``nox -s bench`` runs the real thing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


# About 20 s on an idle machine; minutes when the machine is busy with other work. The
# subprocess's own limit comes first, so a hang reports what the benchmark printed.
@pytest.mark.timeout(900)
def test_quick_benchmark_runs_every_measure_for_jq_and_rq():
    pytest.importorskip("rq")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--no-write"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    from benchmarks.run import MEASURES

    assert len(table) == 1 + len(MEASURES)  # the header row, then one row per measure
    for _measure, title, _higher, _target in MEASURES:
        assert any(row.startswith(f"| {title} |") for row in table), title


# A second or two: 50 jobs per measure, one round, three systems, each in a fresh process.
@pytest.mark.timeout(300)
def test_quick_sqlite_benchmark_runs_every_measure_for_jq_and_huey():
    pytest.importorskip("huey")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.sqlite", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "not written to docs/benchmarks.md" in done.stdout
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    from benchmarks.sqlite import MEASURES

    assert len(table) == 1 + len(MEASURES)
    for _measure, title in MEASURES:
        assert any(row.startswith(f"| {title} |") for row in table), title
