"""Running ``async def`` jobs: a coroutine a job's function returns is run to its end, on an
event loop of its own, within the job's timeout.

A job's function may be a coroutine function (``async def``, an async method, an object whose
``__call__`` is one): :meth:`jq.job.Job.perform` then runs the coroutine it returns with
:func:`run_coroutine`, wherever the job runs (a work horse, a SimpleWorker, a spawned process,
``is_async=False``), and what it returns is the job's result, as RQ does.

* **A new event loop per job** (``asyncio.run``), closed when the job ends: nothing of one job's
  loop (tasks it left running, its executor) reaches the next job. Tasks the job leaves running
  are cancelled when it returns, as ``asyncio.run`` does.
* **The timeout cancels the task.** Inside a death penalty (every worker runs a job inside one,
  and its callbacks too), the job's task is cancelled just before the penalty's time is up
  (0.25 s before, or a quarter of a shorter timeout), so its ``finally`` blocks and
  ``async with`` exits have that long to run before the alarm, and the job ends with
  :class:`jq.timeouts.JobTimeoutException`. The death penalty itself stays armed behind it, for a
  job that blocks its loop (a ``time.sleep()`` in a coroutine), which no cancellation reaches.
* **Called from a running event loop** (``is_async=False`` used inside async code), where
  ``asyncio.run`` cannot be called, the coroutine runs on a new loop in a thread of its own while
  the caller waits, as it waits for any job of a synchronous queue.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Coroutine
from typing import Any

from jq.base.timeouts import JobTimeoutException, current_deadline

__all__ = ["run_coroutine"]

# A coroutine job's task is cancelled this long before the death penalty's deadline (at most
# this share of its timeout), so that its cleanup (finally blocks, async with exits, which often
# write to a store or a socket) can run before the alarm, which would cut it short.
_AHEAD_OF_THE_ALARM = 0.25
_AHEAD_SHARE = 0.25


def run_coroutine(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coroutine`` to its end on a new event loop and return its result (or raise its
    error), cancelling it at the deadline of the death penalty it runs in (see the module)."""
    deadline = current_deadline()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_within(coroutine, deadline))
    return _in_a_thread(coroutine, deadline)


async def _within(coroutine: Coroutine[Any, Any, Any], deadline: tuple[float, float] | None) -> Any:
    task = asyncio.ensure_future(coroutine)
    if deadline is None:
        return await task
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    at, seconds = deadline
    # Before the death penalty's own alarm, so that the cancellation, not the alarm, is what
    # stops a job that awaits (the alarm lands wherever the loop happens to be).
    ahead = min(_AHEAD_OF_THE_ALARM, seconds * _AHEAD_SHARE)
    delay = max(at - time.monotonic() - ahead, 0.0)
    handle = asyncio.get_running_loop().call_later(delay, expire)
    try:
        return await task
    except asyncio.CancelledError:
        if expired:
            raise JobTimeoutException(f"Task exceeded maximum timeout value ({seconds:g} seconds)") from None
        raise
    finally:
        handle.cancel()


def _in_a_thread(coroutine: Coroutine[Any, Any, Any], deadline: tuple[float, float] | None) -> Any:
    outcome: dict[str, Any] = {}
    # The thread sees the caller's context (get_current_job(), connection contexts).
    context = contextvars.copy_context()

    def run() -> None:
        try:
            outcome["value"] = context.run(asyncio.run, _within(coroutine, deadline))
        except BaseException as error:  # handed to the caller, who raises it
            outcome["error"] = error

    thread = threading.Thread(target=run, name="jq-coroutine", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
