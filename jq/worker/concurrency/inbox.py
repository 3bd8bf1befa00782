"""What the other threads of a concurrent worker tell its main thread, and how they wait for it.

The main thread handles signals, claims' results and every outcome: it waits on one
:class:`Inbox`, which a signal handler may also write to (``queue.SimpleQueue.put`` is
reentrant), so a shutdown wakes it at once.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from jq.broker import Claimed
    from jq.core.execution import JobOutcome
    from jq.worker.concurrency.slots import Slot

__all__ = ["Call", "Claims", "Inbox", "Message", "SlotEnded", "Wake"]

T = TypeVar("T")


@dataclass
class Call:
    """Run ``function`` on the main thread and hand its result (or error) to ``future``."""

    function: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)

    def run(self) -> None:
        """Run it here (the main thread) and settle the future."""
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            self.future.set_result(self.function())
        except BaseException as error:
            self.future.set_exception(error)


@dataclass(frozen=True)
class Claims:
    """What one claim for free slots brought (``error``: the store's error instead). ``last``:
    the claiming thread is done with the request (the main thread may make another)."""

    claimed: list[Claimed]
    error: BaseException | None = None
    last: bool = True


@dataclass(frozen=True)
class SlotEnded:
    """The code running a slot's job has returned: ``outcome`` as its run counted it (None: it
    ended without one), or ``error``, an exception that escaped the run (a KeyboardInterrupt...)."""

    slot: Slot
    outcome: JobOutcome | None
    error: BaseException | None = None


@dataclass(frozen=True)
class Wake:
    """Look at the worker's flags again (a shutdown was asked)."""


Message = Call | Claims | SlotEnded | Wake


class Inbox:
    """The main thread's queue of messages."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self._main: int | None = None

    def bind(self) -> None:
        """The calling thread is the main thread from now on."""
        self._main = threading.get_ident()

    @property
    def on_main_thread(self) -> bool:
        """Whether the caller is the main thread."""
        return threading.get_ident() == self._main

    def put(self, message: Message) -> None:
        """Hand ``message`` to the main thread (safe from a signal handler)."""
        self._queue.put(message)

    def get(self, timeout: float | None) -> Message | None:
        """The next message, waiting up to ``timeout`` seconds; None when none came."""
        try:
            if timeout is not None and timeout <= 0:
                return self._queue.get_nowait()
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def call(self, function: Callable[[], T]) -> T:
        """``function()``, run on the main thread (at once when called there), this thread
        waiting for it."""
        if self.on_main_thread:
            return function()
        call = Call(function)
        self.put(call)
        result: T = call.future.result()
        return result
