"""A work horse's process: forked in a process group of its own, dying with its worker (Linux),
waited for and ended by the worker (see :mod:`jq.worker.horse` for the strategies that use it)."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from jq.worker.warden import HorseWarden

__all__ = ["HorseProcess", "die_with_parent"]

logger = logging.getLogger("jq.worker")


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` (Linux), looked up once per process. The worker calls this before it forks,
    so horses inherit it: ``ctypes.util.find_library`` runs ``ldconfig``, milliseconds per fork."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The running program's own symbols include libc's on Linux: no search needed.
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        libc_name = ctypes.util.find_library("c")
        return None if libc_name is None else ctypes.CDLL(libc_name, use_errno=True).prctl


def die_with_parent(signum: int = signal.SIGKILL) -> None:  # pragma: no cover - runs in children
    """Ask Linux to send ``signum`` to this process when its parent dies (elsewhere: nothing)."""
    prctl = _prctl()
    if prctl is not None:
        pr_set_pdeathsig = 1
        prctl(pr_set_pdeathsig, signum)


class HorseProcess:
    """One forked horse: its pid, its process group, and how to wait for it and end it. It is
    forked holding ``fork_guard`` (the worker's), and runs ``body``."""

    def __init__(
        self, fork_guard: AbstractContextManager[Any], body: Callable[[], None], warden: HorseWarden
    ) -> None:
        parent = os.getpid()
        _prctl()  # looked up here, once, for every horse forked from now on
        warden.start(fork_guard)
        with fork_guard:
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns from here
            warden.close_in_horse()
            self._run_child(parent, body)
        # Set the group from both sides: a kill may come before the child gets to it.
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)
        self.pid = pid
        self._pidfd = self._open_pidfd(pid)
        self._warden = warden
        self.reaped = False
        warden.watch(pid)

    @staticmethod
    def _run_child(parent: int, body: Callable[[], None]) -> None:  # pragma: no cover
        code = 0
        try:
            os.setpgid(0, 0)
            die_with_parent()
            if os.getppid() != parent:
                # The worker died before the line above took effect: nobody would watch us.
                os._exit(1)
            # Ctrl+C in a terminal goes to the worker, which decides; SIGTERM kills the horse.
            # The worker's signal wakeup pipe is the worker's, not the horse's.
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            body()
        except BaseException:
            # Through the worker's log, so that these lines too start with a timestamp.
            logger.exception("work horse %d stopped on an error", os.getpid())
            code = 1
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)

    @staticmethod
    def _open_pidfd(pid: int) -> int | None:
        try:
            return os.pidfd_open(pid)
        except (AttributeError, OSError):
            return None

    def wait_readable(self, fd: int, deadline: float | None) -> str:
        """Wait until ``fd`` has data, the horse exits (not reaped), or ``deadline`` passes:
        ``"ready"``, ``"exited"`` or ``"overran"``."""
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return "overran"
            if self._pidfd is not None:
                readable, _, _ = select.select([fd, self._pidfd], [], [], remaining)
                if fd in readable:
                    return "ready"
                if readable:
                    return "exited"
                continue
            # Without pidfd (not Linux): look every 50 ms at most, without reaping (WNOWAIT).
            slice_ = min(0.05, remaining) if remaining is not None else 0.05
            readable, _, _ = select.select([fd], [], [], slice_)
            if readable:
                return "ready"
            if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return "exited"

    def kill_group(self) -> None:
        """SIGKILL the horse and everything in its process group.

        Safe until :meth:`reap`: an unreaped horse keeps its group id from being reused.
        """
        if not self.reaped:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    def reap(self) -> int:
        """Wait for the horse to exit; its ``waitpid`` status."""
        return self.reap_with_usage()[0]

    def reap_with_usage(self) -> tuple[int, Any]:
        """Wait for the horse to exit: its ``waitpid`` status and its resource usage."""
        _, status, rusage = os.wait4(self.pid, 0)
        self.reaped = True
        self._warden.forget(self.pid)
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        return status, rusage
