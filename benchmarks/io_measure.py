"""One measurement of the I/O-bound benchmark, in a fresh process:
``python -m benchmarks.io_measure SYSTEM MEASURE COUNT CONCURRENCY REDIS_URL SERVER_URL`` prints
``{"values": {...}}`` on its last line. The caller (``benchmarks/iobench.py``) empties the store
first.

- ``rate``: COUNT jobs are queued, then the system's worker is started with CONCURRENCY; the rate
  is COUNT over the time from the first job's request reaching the slow server to the last
  answer it sent (the server's clock), once the server has answered COUNT distinct jobs, each
  once, and the library's own bookkeeping shows them all finished. Also the worker's CPU time
  per job, from the first request to the end (clock ticks: 10 ms each, so a total over many jobs).
- ``memory``: the worker at CONCURRENCY runs one job (imports and connections warm), its memory
  is read idle; then CONCURRENCY jobs that the server holds unanswered are queued, and once all
  are in flight the memory is read again. The difference over CONCURRENCY, in KiB, is the memory
  one concurrent job costs. Memory is the PSS summed over the worker's process tree (dramatiq's
  supervisor and worker process, jq's worker and its lease pulse): shared pages count once.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TypeVar

from benchmarks.io_server import control
from benchmarks.io_systems import SYSTEMS, System
from benchmarks.io_tasks import CONCURRENCY_VARIABLE, REDIS_URL_VARIABLE
from benchmarks.polling import poll_until

ROOT = Path(__file__).resolve().parent.parent
POLL = 0.01  # seconds between completion checks (the rate is timed by the server, not by these)
#: Seconds the worker's memory is left to settle before each reading.
SETTLE = 1.0

T = TypeVar("T")


class WorkerProcess:
    """The system's worker, in its own process and session, its output in a temporary file."""

    def __init__(self, system: System, concurrency: int) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env[REDIS_URL_VARIABLE] = system.redis_url
        env[CONCURRENCY_VARIABLE] = str(concurrency)
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(
            system.worker_command(concurrency), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def check(self) -> None:
        """Fail at once, with the worker's output, if it has exited."""
        if self.process.poll() is not None:
            self.log.seek(0)
            raise RuntimeError(f"worker exited early:\n{self.log.read().decode(errors='replace')[-4000:]}")

    def stop(self) -> None:
        """SIGTERM; the whole session is killed if it has not exited 10 s later (how it exits is
        not measured, and RQ's worker can sleep through one in a long BLPOP)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()

    def tree(self) -> set[int]:
        """The worker's pid and those of every process below it."""
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue  # exited meanwhile
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        tree, grown = {self.process.pid}, True
        while grown:
            found = {pid for pid, parent in parents.items() if parent in tree} - tree
            tree |= found
            grown = bool(found)
        return tree

    def memory_kib(self) -> int:
        """Memory of the worker and every process below it, KiB: the sum of their proportional set
        sizes (PSS, from /proc/PID/smaps_rollup), in which a page shared by several processes of
        the tree (a forked child's copy-on-write pages) counts once in all, not once per process as
        in a sum of RSS. Where smaps_rollup cannot be read, RSS."""
        total = 0
        for pid in self.tree():
            for path, field in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
                try:
                    lines = Path(path).read_text().splitlines()
                except OSError:
                    continue
                found = [int(line.split()[1]) for line in lines if line.startswith(field)]
                if found:
                    total += found[0]
                    break
        return total

    def cpu_seconds(self) -> float:
        """CPU time (user and system) of the worker's process tree so far, with its reaped children's
        (RQ's work horses)."""
        ticks = 0
        for pid in self.tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        return ticks / os.sysconf("SC_CLK_TCK")


def wait(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``check`` every :data:`POLL` seconds (see :func:`benchmarks.polling.poll_until`)."""
    return poll_until(check, timeout, what, POLL)


def run_jobs(
    system: System, worker: WorkerProcess, server: str, count: int, total: int, timeout: float
) -> dict[str, Any]:
    """Wait until the server has answered ``count`` jobs and the library shows ``total`` finished;
    the server's counters then, checked: every job reached it exactly once."""

    def answered() -> dict[str, Any] | None:
        worker.check()
        stats = control(server, "stats")
        return stats if stats["answered"] >= count else None

    wait(answered, timeout, f"{system.name}: {count} answers")

    def finished() -> bool | None:
        worker.check()
        return True if system.finished(total) else None

    try:
        wait(finished, 60, f"{system.name}: {total} jobs finished")
        lagging = False
    except TimeoutError:
        # Every job ran (the server's check below), but the library's bookkeeping still shows
        # some unfinished a minute later: reported beside the figure rather than lost.
        lagging = True
    stats = control(server, "stats")
    if not stats["requests"] == stats["distinct"] == stats["answered"] == count:
        raise RuntimeError(f"{system.name}: expected {count} jobs, each once; the server saw {stats}")
    return {**stats, "lagging": lagging}


def rate(system: System, count: int, concurrency: int, server: str) -> dict[str, float]:
    """Jobs per second from the first job's request to the last job's answer, and the worker's CPU
    time per job meanwhile (from the first request seen, so without its start-up)."""
    control(server, "reset")
    system.fill([f"{server}/job/{index}" for index in range(count)])
    worker = WorkerProcess(system, concurrency)
    try:

        def first_request() -> float | None:
            worker.check()
            return worker.cpu_seconds() if control(server, "stats")["requests"] else None

        cpu_at_start = wait(first_request, 120, f"{system.name}: a first job")
        stats = run_jobs(system, worker, server, count, count, timeout=120 + count * 0.1 / concurrency)
        cpu = worker.cpu_seconds() - cpu_at_start
    finally:
        worker.stop()
    return {
        "rate": count / (stats["last"] - stats["first"]),
        "cpu_us": cpu / count * 1e6,
        "lagging": float(stats["lagging"]),
    }


def memory(system: System, count: int, concurrency: int, server: str) -> dict[str, float]:
    """KiB of worker memory (PSS) per job in flight, ``concurrency`` jobs held by the server at once."""
    worker = WorkerProcess(system, concurrency)
    try:
        control(server, "reset")
        system.fill([f"{server}/job/warm-up"])
        run_jobs(system, worker, server, 1, 1, timeout=120)
        time.sleep(SETTLE)  # let the worker go idle: its memory is read at rest
        idle = worker.memory_kib()
        control(server, "reset")
        system.fill([f"{server}/hold/{index}" for index in range(concurrency)])

        def all_held() -> bool | None:
            worker.check()
            return True if control(server, "stats")["held"] >= concurrency else None

        wait(all_held, 120, f"{system.name}: {concurrency} jobs in flight")
        time.sleep(SETTLE)
        busy = worker.memory_kib()
        control(server, "release")
        run_jobs(system, worker, server, concurrency, concurrency + 1, timeout=120)
    finally:
        worker.stop()
    return {"per_job_kib": (busy - idle) / concurrency, "idle_mib": idle / 1024, "busy_mib": busy / 1024}


MEASURES: dict[str, Callable[[System, int, int, str], dict[str, float]]] = {"rate": rate, "memory": memory}


def main(argv: list[str]) -> None:
    """Run one measure and print its JSON result."""
    logging.disable(logging.WARNING)
    name, measure, count, concurrency, redis_url, server = argv
    os.environ[REDIS_URL_VARIABLE] = redis_url  # the library task modules read it at import
    os.environ[CONCURRENCY_VARIABLE] = concurrency
    values = MEASURES[measure](SYSTEMS[name](redis_url), int(count), int(concurrency), server)
    print(json.dumps({"values": values}))


if __name__ == "__main__":
    main(sys.argv[1:])
