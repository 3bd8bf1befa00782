"""Raising an exception inside a running job's code from another thread, and only there.

CPython can raise an exception in another thread between two of its bytecodes
(``PyThreadState_SetAsyncExc``). jq uses it to stop a job that runs in the worker's own process
(a stop-job command, a cold shutdown) and for :class:`jq.timeouts.TimerDeathPenalty`. The
exception is raised by class, without arguments, so :func:`with_default_message` bakes the
message into a subclass.
"""

from __future__ import annotations

import ctypes
import threading
from contextlib import AbstractContextManager
from typing import Any, Literal

__all__ = ["InterruptWindow", "raise_in_thread", "with_default_message"]


def with_default_message(exception: type[BaseException], message: str) -> type[BaseException]:
    """A subclass of ``exception`` (same name) whose instances default to ``message``."""

    def __init__(error: BaseException, *args: Any) -> None:
        BaseException.__init__(error, *(args or (message,)))

    return type(exception.__name__, (exception,), {"__init__": __init__, "__module__": exception.__module__})


def raise_in_thread(thread_id: int, exception: type[BaseException] | None) -> None:
    """Raise ``exception`` in the thread at its next bytecode (None clears a pending one)."""
    target = ctypes.py_object(exception) if exception is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), target)


class InterruptWindow:
    """Marks where a job's own code runs, so an interruption lands there or nowhere.

    :meth:`open` wraps the call of the job's function; :meth:`interrupt` raises an exception in
    that code from any thread. Outside the window (before the function starts, while the outcome
    is recorded) an interruption is held back, and raised when the window opens; :meth:`discard`
    drops one that came too late, once the job is over.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: int | None = None
        self._pending: BaseException | None = None

    def open(self) -> AbstractContextManager[None]:
        """Run the job's function inside this block."""
        return _Open(self)

    def interrupt(self, error: BaseException) -> None:
        """Raise ``error`` in the job's code now, or as soon as the job's function starts."""
        with self._lock:
            target = self._thread
            if target is None:
                self._pending = error
                return
            if target != threading.get_ident():
                raise_in_thread(target, with_default_message(type(error), str(error)))
                return
        # From the job's own thread (a signal handler while the job runs): raise right here.
        raise error

    def discard(self) -> None:
        """Forget an interruption that arrived after the job's function ended."""
        with self._lock:
            self._pending = None


class _Open:
    """The block of :meth:`InterruptWindow.open` (a class rather than a generator-based context
    manager: it is entered once per job, and costs a third as much)."""

    __slots__ = ("_window",)

    def __init__(self, window: InterruptWindow) -> None:
        self._window = window

    def __enter__(self) -> None:
        window = self._window
        with window._lock:
            pending, window._pending = window._pending, None
            window._thread = threading.get_ident()
        if pending is not None:
            self._close()
            raise pending

    def __exit__(self, *exc_info: object) -> Literal[False]:
        self._close()
        return False

    def _close(self) -> None:
        # Leaving under the lock: an exception raised into this thread before the lock was taken
        # is delivered here, still inside the caller's error handling.
        with self._window._lock:
            self._window._thread = None
