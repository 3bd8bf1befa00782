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


def run_module(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python -m ARGS`` from the repository root, its output captured; ``timeout`` comes before
    the test's own, so a hang reports what the run printed."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


# About 20 s on an idle machine; minutes when the machine is busy with other work. The
# subprocess's own limit comes first, so a hang reports what the benchmark printed.
@pytest.mark.timeout(900)
def test_quick_benchmark_runs_every_measure_for_jq_and_rq():
    pytest.importorskip("rq")
    done = run_module("benchmarks.run", "--quick", "--no-write", timeout=840)
    assert done.returncode == 0, done.stderr
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    from benchmarks.run import MEASURES

    assert len(table) == 1 + len(MEASURES)  # the header row, then one row per measure
    for _measure, title, _higher, _target in MEASURES:
        assert any(row.startswith(f"| {title} |") for row in table), title


# A second or two: 50 jobs per measure, one round, four systems, each in a fresh process.
@pytest.mark.timeout(300)
def test_quick_sqlite_benchmark_runs_every_measure_for_jq_and_huey():
    pytest.importorskip("huey")
    done = run_module("benchmarks.sqlite", "--quick", timeout=240)
    assert done.returncode == 0, done.stderr
    assert "not written to docs/benchmarks.md" in done.stdout
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    from benchmarks.sqlite import MEASURES

    assert len(table) == 1 + len(MEASURES)
    for _measure, title in MEASURES:
        assert any(row.startswith(f"| {title} |") for row in table), title


# About 15 s on an idle machine: 200 jobs, 3 worker kills and a Redis restart.
@pytest.mark.timeout(180)
def test_quick_soak_loses_nothing_and_runs_nothing_twice():
    done = run_module("benchmarks.soak", "--quick", timeout=150)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "lost (never ended): 0 []" in done.stdout
    assert "ran again, real duplicate: 0 []" in done.stdout
    assert done.stdout.rstrip().endswith("OK")


def _soak_run(pid: int, start: int, end: int | None, detail: str = "returned"):
    from benchmarks.soak import Execution, Line

    begun = Line("start", "j", pid, 1, pid, start, "")
    return Execution(begun, None if end is None else Line("end", "j", pid, 1, pid, end, detail))


def _soak_worker(pid: int, started: int, killed: int | None):
    from benchmarks.soak import WorkerProcess

    class Process:  # what the judge reads of a worker's process
        def __init__(self) -> None:
            self.pid = pid

    return WorkerProcess(0, f"w{pid}", Process(), started, killed)  # type: ignore[arg-type]


def test_soak_judge_tells_a_duplicate_from_a_rerun_after_a_kill():
    from benchmarks.soak import AFTER_KILL, AFTER_RAISE, DUPLICATE, UNEXPLAINED, classify

    killed_at_50 = [_soak_worker(100, 0, 50)]
    # The first execution's worker was killed mid-job; the job ran again after the kill.
    assert classify(_soak_run(100, 10, None), _soak_run(200, 60, 70), [], killed_at_50) == AFTER_KILL
    # Two executions at once: the second began while the first was running.
    assert classify(_soak_run(100, 10, 40), _soak_run(200, 30, 45), [], []) == DUPLICATE
    # The first never ended and nobody killed its worker: nothing known ended it.
    assert classify(_soak_run(100, 10, None), _soak_run(200, 60, 70), [], []) == DUPLICATE
    # Its worker was killed only after the second began.
    late_kill = [_soak_worker(100, 0, 65)]
    assert classify(_soak_run(100, 10, None), _soak_run(200, 60, 70), [], late_kill) == DUPLICATE
    # The first raised: its Retry ran it again.
    raised = _soak_run(100, 10, 20, "raised:RuntimeError")
    assert classify(raised, _soak_run(200, 30, 40), [], []) == AFTER_RAISE
    # The first returned and nothing was killed: a re-run without a cause.
    assert classify(_soak_run(100, 10, 20), _soak_run(200, 30, 40), [], []) == UNEXPLAINED
    # Killed after the job had ended (its success line came before the kill): no excuse.
    from benchmarks.soak import Line

    ended = [Line("success", "j", 100, 1, 100, 25, "")]
    assert classify(_soak_run(100, 10, 20), _soak_run(200, 60, 70), ended, killed_at_50) == UNEXPLAINED


# A few seconds: 2,000 jobs in 5 queues, each page asked five times.
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_dashboard_benchmark_times_every_page():
    done = run_module("benchmarks.dashboard", "--quick", timeout=240)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ") and "ms |" in line]
    assert len(rows) == 7 and rows[0].startswith("| overview (HTML) |")


# A few seconds: 2,000 jobs in 3 queues, 200 run, each read timed twice.
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_quick_scrape_benchmark_times_every_read():
    done = run_module(
        "benchmarks.scrape", "--jobs", "2000", "--queues", "3", "--run", "200", "--scrapes", "2", timeout=150
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2,000 jobs in 3 queues, 200 run" in done.stdout
    for read in (
        "Prometheus scrape",
        "take_snapshot",
        "history, last hour",
        "history_by both",
        "history, last 7 days",
    ):
        assert any(line.startswith(read) for line in done.stdout.splitlines()), read


# Seconds: a tenth of the jobs, one round, each case in a fresh process.
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_cpu_cost_prints_both_sides_for_both_systems():
    pytest.importorskip("rq")
    done = run_module("benchmarks.cpu_cost", "--quick", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("| enqueue")]
    assert [row[0] for row in rows] == ["| enqueue", "| enqueue_many"]
    for row in rows:
        assert all(float(cell.rstrip("x |")) > 0 for cell in row[1:]), row


# Seconds: a few hundred jobs per phase, one round, in a fresh process.
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_server_cost_prints_every_phase_with_the_scripts_share():
    done = run_module("benchmarks.server_cost", "--jobs", "300", "--rounds", "1", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    phases = [line.split(" (")[0] for line in done.stdout.splitlines() if "server CPU" in line]
    assert phases == ["enqueue", "enqueue_many", "drain"]
    assert "evalsha" in done.stdout and "lua own" in done.stdout
