"""The horse warden: kills what a worker's jobs started when the worker itself is killed.

A work horse dies with its worker (``PR_SET_PDEATHSIG``), but the processes its job started do
not: after a ``kill -9`` of the worker they would run on, orphaned, and may still write what the
job was doing while another worker runs the job again. The warden is a small process forked by
the worker before its first horse; the worker tells it, over a pipe, the process group of each
horse it starts and reaps. When the worker dies (its pidfd becomes readable, or the pipe's last
writer is gone) the warden SIGKILLs the process groups of the horses that were still running,
grandchildren included, and exits. When the worker stops normally, it closes the pipe and the
warden exits with nothing to kill.

The warden runs in its own process group (a terminal's Ctrl+C or a kill of the worker's group
does not reach it), holds none of the worker's other file descriptors, and never talks to the
store. A group is only killed if it is the horse's: a process that now has the horse's pid but
started at another time is left alone (the pid was reused).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import signal
import time
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["HorseWarden", "process_start_time"]

logger = logging.getLogger("jq.worker")

# How long a stopping worker waits for its warden to exit after closing the pipe.
_EXIT_WAIT = 5.0


def process_start_time(pid: int) -> int | None:
    """When a process started (clock ticks since boot, Linux), or None when it does not exist or
    this is not Linux. A pid with another start time than before belongs to another process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name (in parentheses) may hold spaces: count fields from the last ")". The
    # start time is field 22; the field after ")" is the state, field 3.
    fields = stat.rsplit(b")", 1)[-1].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


class HorseWarden:
    """One worker's warden process (see the module docstring); started by the first :meth:`watch`.

    Every call is made by the worker's main thread, which starts and reaps its horses.
    """

    def __init__(self) -> None:
        self._pid: int | None = None
        self._write = -1
        self._failed = False

    @property
    def pid(self) -> int | None:
        """The warden's pid, or None before it is started."""
        return self._pid

    def start(self, fork_guard: AbstractContextManager[Any]) -> None:
        """Fork the warden unless it runs already (call it before forking a horse, so that the
        warden holds none of that horse's pipes), holding ``fork_guard`` (the worker's)."""
        if self._pid is not None or self._failed:
            return
        read_end, write_end = os.pipe()
        parent = os.getpid()
        with fork_guard:
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the warden never returns from here
            _run_warden(parent, read_end)
        os.close(read_end)
        self._pid, self._write = pid, write_end

    def close_in_horse(self) -> None:
        """In a freshly forked horse: let go of the pipe, so that only the worker holds it."""
        if self._write >= 0:
            with contextlib.suppress(OSError):
                os.close(self._write)

    def watch(self, pid: int) -> None:
        """A horse (``pid``, leading its own process group) was forked: kill its group if the
        worker dies before :meth:`forget`."""
        start = process_start_time(pid)
        self._send(f"+{pid} {start if start is not None else -1}\n")

    def forget(self, pid: int) -> None:
        """The horse ``pid`` was reaped: its group is none of the warden's business any more."""
        self._send(f"-{pid}\n")

    def close(self) -> None:
        """The worker stops: close the pipe and reap the warden, which exits at once."""
        if self._pid is None:
            return
        with contextlib.suppress(OSError):
            os.close(self._write)
        self._write = -1
        deadline = time.monotonic() + _EXIT_WAIT
        while True:
            done, _ = os.waitpid(self._pid, os.WNOHANG)
            if done or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if not done:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            os.waitpid(self._pid, 0)
        self._pid = None

    def _send(self, line: str) -> None:
        if self._write < 0:
            return
        try:
            os.write(self._write, line.encode())
        except OSError as error:
            # Killed from outside: jobs still run and are recorded; only the clean-up after a
            # kill -9 of this worker is lost.
            logger.warning(
                "the horse warden (pid %s) is gone (%s): a killed worker's jobs' processes may outlive it",
                self._pid,
                error,
            )
            with contextlib.suppress(OSError):
                os.close(self._write)
            self._write = -1
            self._failed = True


def _run_warden(worker_pid: int, read_end: int) -> None:  # pragma: no cover - runs in the warden
    code = 0
    try:
        os.setpgid(0, 0)
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # Hold nothing of the worker's but the pipe and stderr: no store connections, no horse
        # pipes (a horse's pipe held here would hide its end from the worker).
        os.closerange(3, read_end)
        os.closerange(read_end + 1, os.sysconf("SC_OPEN_MAX"))
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(null, 1)
        os.close(null)
        _watch(worker_pid, read_end)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _watch(worker_pid: int, read_end: int) -> None:  # pragma: no cover - runs in the warden
    """Track horses until the worker is gone, then kill the groups of those still running."""
    try:
        worker_exit: int | None = os.pidfd_open(worker_pid)
    except (AttributeError, OSError):
        worker_exit = None  # the pipe's end of file tells instead
    horses: dict[int, int] = {}
    pending = [b""]
    # Reparented already: the worker died before we could watch it.
    alive = os.getppid() == worker_pid
    while alive:
        watched = [read_end] if worker_exit is None else [read_end, worker_exit]
        try:
            readable, _, _ = select.select(watched, [], [])
        except InterruptedError:
            continue
        if read_end in readable:
            chunk = os.read(read_end, 4096)
            if not chunk:
                break
            _take_news(chunk, pending, horses)
        else:
            break  # the worker exited
    # What the worker said just before it died (a horse started or reaped) still counts.
    os.set_blocking(read_end, False)
    with contextlib.suppress(OSError):
        while chunk := os.read(read_end, 4096):
            _take_news(chunk, pending, horses)
    for pid, start in horses.items():
        now = process_start_time(pid)
        if now is not None and start >= 0 and now != start:
            continue  # the pid belongs to another process now
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError as error:
            if error.errno not in (errno.ESRCH, errno.EPERM):
                logger.error("horse warden: could not kill process group %d: %s", pid, error)


def _take_news(chunk: bytes, pending: list[bytes], horses: dict[int, int]) -> None:  # pragma: no cover
    """Apply the complete lines of ``chunk`` ("+pid start" or "-pid") to ``horses``."""
    *lines, pending[0] = (pending[0] + chunk).split(b"\n")
    for line in lines:
        if line.startswith(b"+"):
            pid, start = line[1:].split()
            horses[int(pid)] = int(start)
        elif line.startswith(b"-"):
            horses.pop(int(line[1:]), None)
