"""``async def`` jobs of a concurrent worker: tasks on one event loop, in a thread of its own.

A job's task is cancelled at its deadline (it ends with :class:`jq.timeouts.JobTimeoutException`)
or when it is stopped (a stop-job command: :class:`jq.exceptions.JobStopped`; a cold shutdown:
:class:`jq.exceptions.ShutDownImminentException`), so its ``finally`` blocks and ``async with``
exits run. A coroutine that blocks the loop (``time.sleep()`` in an ``async def``) stalls every
task of the loop, and no cancellation reaches it: the worker records it as timed out once its
deadline and the grace have passed (see :mod:`jq.worker.concurrency.engine`).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from jq.base.threads import start_background_thread
from jq.base.timeouts import JobTimeoutException
from jq.core.job_call import current_job
from jq.exceptions import ShutDownImminentException

if TYPE_CHECKING:
    from jq.core.execution import ExcInfo
    from jq.core.job import Job
    from jq.worker.concurrency.slots import Slot

__all__ = ["EventLoopThread", "is_coroutine_job", "perform_on_loop"]

logger = logging.getLogger("jq.worker")


def is_coroutine_job(job: Job) -> bool:
    """Whether the job's function is an ``async def`` (a coroutine function, an async method, an
    object whose ``__call__`` is one). False when the function cannot be found: the job then
    fails on a thread, saying why, as any job does."""
    try:
        func = job.func
    except Exception:
        return False
    if inspect.iscoroutinefunction(func):
        return True
    call = getattr(type(func), "__call__", None)  # noqa: B004 - the class's own __call__ is asked
    return not inspect.isroutine(func) and inspect.iscoroutinefunction(call)


class EventLoopThread:
    """An event loop running in a daemon thread named ``name`` until :meth:`close`."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        # Tasks to start, and whether the loop was already woken to start them (see submit).
        self._lock = threading.Lock()
        self._pending: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._woken = False
        self._thread = start_background_thread(self._run, name)
        self._started.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._started.set)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def submit(self, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``make()`` as a task of the loop (from any thread), after those submitted before."""
        # Waking the loop is a write to its self-pipe, a system call that lets go of the GIL and
        # waits to take it back: the jobs submitted before the loop's next turn share one wake.
        with self._lock:
            self._pending.append(make)
            if self._woken:
                return
            self._woken = True
        try:
            self.loop.call_soon_threadsafe(self._start_pending)
        except BaseException:  # the loop is closed: nothing will start them
            with self._lock:
                self._pending.clear()
                self._woken = False
            raise

    def _start_pending(self) -> None:
        """On the loop: start the tasks submitted since it was woken."""
        with self._lock:
            pending, self._pending = self._pending, []
            self._woken = False
        for make in pending:
            self.loop.create_task(make())

    def close(self, timeout: float) -> None:
        """Cancel the tasks left, stop the loop and wait up to ``timeout`` seconds for its thread
        (a loop blocked by a coroutine is left behind: its thread is a daemon)."""

        def stop() -> None:
            for task in asyncio.all_tasks(self.loop):
                task.cancel()
            # One more turn, so that the cancelled tasks run their cleanups.
            self.loop.call_soon(self.loop.stop)

        if self.loop.is_closed():
            return
        try:
            self.loop.call_soon_threadsafe(stop)
        except RuntimeError:  # closed meanwhile
            return
        self._thread.join(timeout)


async def perform_on_loop(slot: Slot) -> tuple[Any, ExcInfo | None]:
    """Run the slot's async job in the current task, under its timeout: ``(return value, None)``,
    or ``(None, exc_info)`` when it raised or was stopped. Sets ``slot.cancel``."""
    job = slot.job
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def stop(error: BaseException) -> None:
        # From any thread; the first reason to stop is the one the job ends with.
        if slot.stop_error is None:
            slot.stop_error = error
        loop.call_soon_threadsafe(task.cancel)

    slot.cancel = stop
    deadline = None
    if slot.timeout is not None:
        message = f"Task exceeded maximum timeout value ({slot.timeout:g} seconds)"
        deadline = loop.call_later(slot.timeout, stop, JobTimeoutException(message))
    token = current_job.set(job)
    try:
        value = job.func(*job.args, **job.kwargs)
        if inspect.isawaitable(value):
            value = await value
    except asyncio.CancelledError:
        return None, _stopped(slot)
    except BaseException:
        return None, sys.exc_info()  # type: ignore[return-value]
    finally:
        if deadline is not None:
            deadline.cancel()
        current_job.reset(token)
    return value, None


def _stopped(slot: Slot) -> ExcInfo:
    """The exc_info of a job whose task was cancelled: its stop's error (the loop's own
    cancellation, at the worker's exit, counts as a cold shutdown)."""
    error = slot.stop_error
    if error is None:
        error = slot.stop_error = ShutDownImminentException("the worker's event loop was closed")
    try:
        raise error
    except BaseException:
        return sys.exc_info()  # type: ignore[return-value]
