"""Quiet conclusions: the async jobs of a concurrent worker that succeeded and whose conclusion
runs no user code are concluded together, on one thread, their outcomes written in one call.

An async job's conclusion (its callbacks, hooks and outcome) cannot run on the event loop, which
it would block. Concluded on a thread of its own, each job takes a thread that spends most of its
life waiting for its outcome's write, and at a hundred jobs at once a hundred such threads take
turns at the GIL with the event loop: each turn a thread hand-off, each hand-off waiting for the
loop to let go of the GIL. Yet the conclusion of most jobs is jq's own code only: the job
returned, it has no success callback, nothing follows its outcome (no webhook, ``on_failure`` or
``on_stopped`` callback, plugin told of outcomes), the worker's class overrides none of the
outcome's hooks (see :func:`jq.worker.concurrency.runner.runs_no_user_code`). Such a conclusion
never blocks but for its write, so it is split at the write: the :class:`QuietConcluder`'s one
thread takes every such job that ended since its last turn, builds each one's outcome
(:func:`jq.core.lifecycle.finishing`), writes them all in one call through the worker's
:class:`~jq.worker.concurrency.commits.GroupCommit` (with the outcomes of other jobs ready then,
and the claim of a slot's next job riding on it), then settles each job (its status and result,
its log line) and frees its slot.

Every other conclusion (a failure, a retry, a callback, a hook: user code may block for as long
as it likes) still runs on a thread of its own. Each job's guarantees are those of the slow path:
its outcome is recorded once, by its own run or on its behalf (a cold shutdown that took it over
first makes its own outcome stale, as :class:`~jq.worker.concurrency.runner.ConcurrentJobRunner`
would), its lease is renewed until its outcome is written, and a return value that cannot be
stored goes back to the slow path (which fails the job, saying why). A crash before the write
leaves the job started under its lease, recovered as any job of a worker that died.
"""

from __future__ import annotations

import contextvars
import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jq.base.threads import start_background_thread
from jq.core import lifecycle
from jq.core.execution import JobOutcome
from jq.exceptions import SerializationError
from jq.worker.concurrency.inbox import Inbox, SlotEnded

if TYPE_CHECKING:
    from jq.broker import Transition
    from jq.worker.concurrency.commits import GroupCommit
    from jq.worker.concurrency.runner import ConcurrentJobRunner
    from jq.worker.concurrency.slots import Slot

__all__ = ["QuietConcluder", "QuietEnd"]

logger = logging.getLogger("jq.worker")


@dataclass(eq=False)
class QuietEnd:
    """An async job that returned ``value`` and whose conclusion runs no user code; ``context``:
    the job's context (what plugins set in ``jq_job_started``)."""

    slot: Slot
    runner: ConcurrentJobRunner
    value: Any
    context: contextvars.Context


@dataclass(eq=False)
class _Pending:
    """A job whose outcome is about to be written: its transition, and what follows a write that
    made it."""

    end: QuietEnd
    change: Transition
    settle: Callable[[], None]


class QuietConcluder:
    """One thread named ``name`` that concludes the :class:`QuietEnd` jobs handed to :meth:`submit`
    (see the module), writing through ``commits``; each job's end goes to ``inbox``, as a job's
    own run tells it. ``slow(end)`` concludes a job on the slow path instead (its return value
    could not be stored)."""

    def __init__(
        self, name: str, commits: GroupCommit, inbox: Inbox, slow: Callable[[QuietEnd], None]
    ) -> None:
        self.commits, self.inbox, self.slow = commits, inbox, slow
        self._ends: queue.SimpleQueue[QuietEnd | None] = queue.SimpleQueue()
        #: How many turns wrote outcomes, and how many jobs they concluded (for tests and logs).
        self.turns = 0
        self.concluded = 0
        self._thread = start_background_thread(self._serve, name)

    def submit(self, end: QuietEnd) -> None:
        """Conclude ``end``'s job on the thread (from any thread)."""
        self._ends.put(end)

    def close(self) -> None:
        """End the thread once the jobs handed to it are concluded (not waited for)."""
        self._ends.put(None)

    def _serve(self) -> None:
        while True:
            end = self._ends.get()
            ends: list[QuietEnd] = []
            # Every job that ended meanwhile joins this turn: their outcomes go in one call.
            while end is not None:
                ends.append(end)
                try:
                    end = self._ends.get_nowait()
                except queue.Empty:
                    break
            if ends:
                try:
                    self._turn(ends)
                except BaseException:
                    logger.exception("quiet conclusions: unexpected error")
            if end is None:
                return

    def _turn(self, ends: list[QuietEnd]) -> None:
        """Conclude ``ends`` (see the module)."""
        pending: list[_Pending] = []
        for end in ends:
            try:
                item = end.context.run(self._prepare, end)
            except BaseException as error:  # this job's alone: the others' slots still end
                self.inbox.put(SlotEnded(end.slot, None, error))
                continue
            if item is not None:
                pending.append(item)
        if not pending:
            return
        self.turns += 1
        self.concluded += len(pending)
        # Each job's own run: a job may be claimed for its slot with the write (nothing follows).
        try:
            answers = self.commits.write_many([(item.change, item.end.slot) for item in pending])
        except BaseException as error:  # a KeyboardInterrupt in the call: every job hears of it
            for item in pending:
                item.end.slot.recorded = True
                self.inbox.put(SlotEnded(item.end.slot, None, error))
            raise
        for item, answer in zip(pending, answers, strict=True):
            item.end.context.run(self._settle, item, answer)

    def _prepare(self, end: QuietEnd) -> _Pending | None:
        """The job's outcome to write, or None when there is none to write here (the job's end
        was told, or handed to the slow path)."""
        slot, runner, job = end.slot, end.runner, end.slot.job
        if not runner.may_conclude(job):
            self.inbox.put(SlotEnded(slot, JobOutcome.STALE))
            return None
        try:
            change, settle = runner.finishing(job, end.value)
        except SerializationError:
            self.slow(end)  # fails the job, saying why, as a job concluded there would
            return None
        if not slot.begin_recording(on_behalf=False):
            # Taken over meanwhile (a cold shutdown): its outcome is the worker's, nothing is
            # written here (as the slow path's record would refuse it).
            self._settle(_Pending(end, change, settle), False, wrote=False)
            return None
        return _Pending(end, lifecycle.with_admission(job, change), settle)

    def _settle(self, item: _Pending, answer: bool | BaseException, *, wrote: bool = True) -> None:
        """What follows the job's write (``answer``: whether it was made, or what it raised), as
        :meth:`jq.core.execution.JobRunner.conclude` does it; then the slot's end is told."""
        end = item.end
        if wrote:
            end.slot.recorded = True
        outcome: JobOutcome | None = None
        error: BaseException | None = None
        try:
            if isinstance(answer, BaseException):
                error = answer
            else:
                if answer:
                    item.settle()
                outcome = end.runner.succeeded(end.slot.job, end.value, answer)
        except BaseException as escaped:
            error = escaped
        self.inbox.put(SlotEnded(end.slot, outcome, error))
