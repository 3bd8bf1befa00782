"""A heartbeat a job cannot starve: a small forked process that renews a worker's record and its
running job's lease for as long as the worker process lives.

A SimpleWorker runs its jobs in its own interpreter, so its heartbeat thread needs the GIL: a job
that holds it (a catastrophic regular expression, a C extension that does not release it) for
longer than ``worker_ttl`` stops the heartbeat, and another worker's maintenance ends the job as
abandoned while it still runs (with a Retry, it then runs twice at once). The pulse does not
share the job's interpreter: while a job runs, it renews the worker's record and the job's lease
every heartbeat interval. It stops at once when the worker process dies (its pipe from the worker
reaches end of file, and it watches the worker's pid): the lease of a dead worker's job then runs
out as it would without it. The worker tells it the running leases on a board in shared memory
(:mod:`jq.worker.lease_board`), which it reads when it beats: a job's start and end wake nothing.

A :class:`jq.Worker` needs none: its jobs run in work horses, and its heartbeat thread runs in
the worker process, which no job's code runs in.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import sys
import time
import weakref
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from jq.base.utils import format_timestamp, now
from jq.broker import Broker
from jq.worker.horse_process import die_with_parent
from jq.worker.lease_board import IN_PIPE, Lease, LeaseBoard, decode_leases, read_frames

__all__ = ["Lease", "LeasePulse"]

logger = logging.getLogger("jq.worker")

# The pulse reads its pipe after renewing this many leases (a few milliseconds of round trips).
_DRAIN_EVERY = 64

# The pulses started by this process and not stopped yet (see _forget_in_child).
_STARTED: weakref.WeakSet[LeasePulse] = weakref.WeakSet()


def _forget_in_child() -> None:  # pragma: no cover - runs in forked children
    """In any process forked from one that runs pulses (a job's own fork, another worker's pulse):
    close its copies of their pipes and forget them. A pulse ends when its worker closes the
    pipe's write end (:meth:`LeasePulse.stop`); a copy held by a child that outlives the job
    would keep the pulse alive and the worker's stop waiting for it as long as the child lives."""
    for pulse in list(_STARTED):
        pulse._forget()
    _STARTED.clear()


os.register_at_fork(after_in_child=_forget_in_child)


class LeasePulse:
    """The pulse process of worker ``name``: every ``interval`` seconds while the worker says a
    job runs (:meth:`running`), it extends the job's lease and the worker's record by ``ttl``
    seconds. It is forked holding ``fork_guard`` (the worker's), so never in the middle of a call
    to the store by another thread of the worker.
    """

    def __init__(
        self, name: str, broker: Broker, interval: float, ttl: float, fork_guard: AbstractContextManager[Any]
    ) -> None:
        self.name, self.broker, self.interval, self.ttl = name, broker, interval, ttl
        self.fork_guard = fork_guard
        self.pid: int | None = None
        self._pipe = -1
        self._board: LeaseBoard | None = None
        # In the pulse process: the last list the pipe brought, and a part of the next one.
        self._pipe_leases: list[Lease] = []
        self._pending = b""

    def start(self) -> None:
        """Fork the pulse process."""
        self._board = LeaseBoard()
        read_end, write_end = os.pipe()
        parent = os.getpid()
        try:
            with self.fork_guard:
                pid = os.fork()
        except OSError:
            # Not forked (EAGAIN, ENOMEM): the caller's stop() closes the board, not the pipe.
            os.close(read_end)
            os.close(write_end)
            raise
        if pid == 0:  # pragma: no cover - the child never returns from here
            code = 0
            try:
                os.close(write_end)
                self._serve(parent, read_end)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(read_end)
        self.pid, self._pipe = pid, write_end
        _STARTED.add(self)  # after the fork: the pulse's own process keeps its board

    def running(self, leases: Sequence[Lease]) -> None:
        """Renew these leases (and the worker's record) from now on; none: stop renewing."""
        if self._pipe < 0 or self._board is None:
            return
        try:
            self._board.write(leases, self._pipe)
        except OSError:
            # It died (killed from outside): the heartbeat thread still renews, GIL permitting.
            logger.warning("worker %s: the lease pulse process is gone", self.name)
            self._close_pipe()

    def check(self) -> bool:
        """Whether the pulse process still runs; once it is found dead (killed from outside), the
        worker is told once in its log, and the pulse is forgotten (the heartbeat thread still
        renews, GIL permitting). The worker's heartbeat thread asks at each beat: writing to the
        board would not notice a dead reader."""
        # Read once: stop(), in the worker's main thread, may forget it meanwhile.
        pid = self.pid
        if pid is None:
            return False
        try:
            found, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            found = pid  # reaped elsewhere (by stop()): gone all the same
        if found == 0:
            return True
        if self._pipe < 0:
            return False  # being stopped (stop() closes the pipe first): not news
        logger.warning("worker %s: the lease pulse process is gone", self.name)
        self.pid = None
        self._close_pipe()
        return False

    def stop(self) -> None:
        """End the pulse (it reads end of file) and reap it."""
        _STARTED.discard(self)
        self._close_pipe()
        # Read once: the heartbeat thread's check() forgets a pulse it finds dead.
        pid, self.pid = self.pid, None
        if pid is not None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        if self._board is not None:
            self._board.close()
            self._board = None

    def _forget(self) -> None:  # pragma: no cover - runs in forked children
        """Drop this process's copies of the pipe and the board (in a forked child): the pulse
        is its parent's, neither to tell nor to reap from here."""
        self._close_pipe()
        self.pid = None
        if self._board is not None:
            self._board.close()
            self._board = None

    def _close_pipe(self) -> None:
        # Taken before it is closed: check() (the heartbeat thread) and stop() (the main thread)
        # may both close it, and a descriptor closed twice could be another one by then.
        pipe, self._pipe = self._pipe, -1
        if pipe >= 0:
            with contextlib.suppress(OSError):
                os.close(pipe)

    # -- in the pulse process ----------------------------------------------------------------------

    def _serve(self, parent: int, read_end: int) -> None:  # pragma: no cover - runs in the child
        """Renew while told to, until the worker closes the pipe or dies."""
        die_with_parent()
        # Signals are the worker's to act on (Ctrl+C reaches the whole process group); the pulse
        # ends with the worker, through its pipe.
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
        if os.getppid() != parent:
            return
        try:
            watch = [read_end, os.pidfd_open(parent)]
        except (AttributeError, OSError):
            watch = [read_end]
        board = self._board
        if board is None:
            return
        leases: list[Lease] = []
        next_beat = time.monotonic() + self.interval
        while True:
            wait = max(next_beat - time.monotonic(), 0.0)
            # Without a pidfd, the parent is looked at every second at least.
            readable, _, _ = select.select(watch, [], [], wait if len(watch) > 1 else min(wait, 1.0))
            if (len(watch) > 1 and watch[1] in readable) or os.getppid() != parent:
                return  # the worker died
            if read_end in readable and not self._read_pipe(read_end):
                return  # the worker closed the pipe, or died
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + self.interval
                # A list sent through the pipe is there before the board points to it.
                if not self._drain(read_end):
                    return
                found = board.read()
                if found == IN_PIPE:
                    leases = self._pipe_leases
                elif isinstance(found, list):
                    leases = found
                if leases and not self._renew(leases, read_end):
                    return  # the worker closed the pipe while the leases were renewed

    def _read_pipe(self, read_end: int) -> bool:  # pragma: no cover - runs in the child
        """Read what the pipe holds (lists too long for the board); False at end of file."""
        chunk = os.read(read_end, 65536)
        if not chunk:
            return False
        messages, self._pending = read_frames(self._pending + chunk)
        if messages:
            self._pipe_leases = decode_leases(messages[-1])
        return True

    def _drain(self, read_end: int) -> bool:  # pragma: no cover - runs in the child
        """Read all the pipe holds now, without waiting; False at end of file."""
        while select.select([read_end], [], [], 0)[0]:
            if not self._read_pipe(read_end):
                return False
        return True

    def _renew(self, leases: list[Lease], read_end: int) -> bool:  # pragma: no cover - in the child
        """Extend ``leases`` and the worker's record; False when the worker closed the pipe
        meanwhile. The pipe is read every :data:`_DRAIN_EVERY` leases: a list sent through it
        (thousands of leases) is written by the worker's main loop, which waits while the pipe
        is full, and renewing that many takes as many round trips."""
        try:
            until = self.broker.now() + self.ttl  # the store's clock, as every lease
            for done, (queue, job_id, execution_id) in enumerate(leases, 1):
                self.broker.extend_lease(queue, job_id, execution_id, until)
                if done % _DRAIN_EVERY == 0 and not self._drain(read_end):
                    return False
            stamp = format_timestamp(now()).encode()
            self.broker.heartbeat_worker(self.name, {"last_heartbeat": stamp}, self.ttl)
        except Exception as error:
            # The store may be briefly unreachable: the next beat tries again.
            print(f"jq worker {self.name}: lease pulse failed: {error}", file=sys.stderr)
        return True
