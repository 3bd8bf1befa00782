"""The runner of one job in a concurrent worker: a :class:`jq.worker.hooks.WorkerJobRunner` whose
outcome's store write is grouped with the other outcomes ready at the same moment.

Each running job has a runner of its own (its clock, its interrupt window). Its steps run where
the job runs (a thread of the pool; an async job's on a helper thread once its task ended, or
on the quiet conclusions' thread when they run no user code: see :mod:`jq.worker.concurrency.quiet`):
the exception handlers, the worker's hooks that record the outcome (``handle_job_success``...),
the callbacks (after the outcome is recorded), the plugins' hooks. The one store write of the outcome
goes to the worker's :class:`~jq.worker.concurrency.commits.GroupCommit`, which writes the
outcomes ready at once in one call. An outcome is written once: by the job's own run, or by the
worker on its behalf, whichever begins first (see :meth:`jq.worker.concurrency.slots.Slot.begin_recording`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from jq.broker import WorkerUpdate
from jq.core import lifecycle
from jq.core.execution import ExcInfo, JobOutcome
from jq.core.job_state import JobStatus
from jq.core.retry import Retry
from jq.plugins import get_plugin_manager
from jq.worker.hooks import WorkerHooks, WorkerJobRunner

if TYPE_CHECKING:
    from jq.core.job import Job
    from jq.worker.concurrency.commits import GroupCommit
    from jq.worker.concurrency.inbox import Inbox
    from jq.worker.concurrency.slots import Slot, SlotTable

__all__ = ["ConcurrentJobRunner", "runs_no_user_code"]

logger = logging.getLogger("jq.worker")

T = TypeVar("T")


@dataclass
class ConcurrentJobRunner(WorkerJobRunner):
    """Runs one job of a concurrent worker (see the module). ``on_behalf``: the runner with which
    the worker records the outcome of a job that could not (past its deadline, a cold shutdown)."""

    slot: Slot | None = None
    table: SlotTable | None = None
    inbox: Inbox | None = None
    on_behalf: bool = False
    commits: GroupCommit | None = None

    @classmethod
    def for_slot(
        cls,
        base: WorkerJobRunner,
        slot: Slot,
        table: SlotTable,
        inbox: Inbox,
        *,
        on_behalf: bool = False,
        commits: GroupCommit | None = None,
    ) -> ConcurrentJobRunner:
        """A runner for ``slot`` with the settings of the worker's runner ``base``."""
        return cls(
            worker=base.worker,
            death_penalty_class=base.death_penalty_class,
            exception_handlers=base.exception_handlers,
            move_to_failed=base.move_to_failed,
            default_result_ttl=base.default_result_ttl,
            outage_patience=base.outage_patience,
            slot=slot,
            table=table,
            inbox=inbox,
            on_behalf=on_behalf,
            commits=commits,
        )

    @property
    def _slot(self) -> Slot:
        assert self.slot is not None
        return self.slot

    # -- the job's own run ends: unless the worker took its outcome over ------------------------

    def conclude(
        self, job: Job, return_value: Any, next_claim: lifecycle.NextClaim | None = None
    ) -> JobOutcome:
        """The job returned: conclude it, unless its outcome was recorded on its behalf."""
        if not self.may_conclude(job):
            return JobOutcome.STALE
        return super().conclude(job, return_value, next_claim)

    def conclude_error(
        self, job: Job, exc_info: ExcInfo, next_claim: lifecycle.NextClaim | None = None
    ) -> JobOutcome:
        """The job raised: conclude it, unless its outcome was recorded on its behalf."""
        if not self.may_conclude(job):
            return JobOutcome.STALE
        return super().conclude_error(job, exc_info, next_claim)

    def may_conclude(self, job: Job) -> bool:
        """Whether the job's own run concludes it: False (logged) when the worker has recorded
        its outcome on its behalf meanwhile (what the job returned or raised is discarded)."""
        if self.on_behalf or self._slot.end_performing():
            return True
        logger.warning(
            "%s: job %s came back after the worker had recorded it as %s; what it returned or raised "
            "is discarded",
            job.origin, job.id, "timed out" if self._slot.stop_error is None else "ended",
        )  # fmt: skip
        return False

    # -- the outcome's writes, grouped -------------------------------------------------------------

    def record_success(self, job: Job, return_value: Any, next_claim: lifecycle.NextClaim | None) -> bool:
        """Through ``worker.handle_job_success``, its write grouped with others ready now."""
        return self._record_once(lambda: WorkerJobRunner.record_success(self, job, return_value, None), False)

    def record_retry(
        self, job: Job, retry: Retry, next_claim: lifecycle.NextClaim | None
    ) -> JobStatus | None:
        """Through ``worker.handle_job_retry``, its write grouped with others ready now."""
        return self._record_once(lambda: WorkerJobRunner.record_retry(self, job, retry, None), None)

    def record_failure(
        self,
        job: Job,
        exc_string: str,
        *,
        keep: bool,
        stopped: bool,
        next_claim: lifecycle.NextClaim | None,
    ) -> JobStatus | None:
        """Through ``worker.handle_job_failure``, its write grouped with others ready now."""
        return self._record_once(
            lambda: WorkerJobRunner.record_failure(
                self, job, exc_string, keep=keep, stopped=stopped, next_claim=None
            ),
            None,
        )

    def _record_once(self, record: Callable[[], T], stale: T) -> T:
        """``record()`` here, its store write handed to the worker's group commit (see
        :mod:`jq.worker.concurrency.commits`), unless the outcome is not this runner's to record
        (``stale`` then: nothing is written)."""
        slot = self._slot
        if not slot.begin_recording(on_behalf=self.on_behalf):
            return stale
        commits = self.commits
        # The job's own run lets a job be claimed for its slot with the write (see
        # jq.worker.concurrency.commits); an outcome recorded on its behalf does not: its slot
        # stays taken until its thread returns, which may be never.
        rider = slot if not self.on_behalf and _nothing_follows(slot.job) else None
        token = lifecycle.OUTCOME_WRITER.set(
            None if commits is None else (lambda change: commits.write(change, rider))
        )
        try:
            return record()
        finally:
            lifecycle.OUTCOME_WRITER.reset(token)
            slot.recorded = True

    def _worker_update(self, succeeded: bool) -> WorkerUpdate | None:
        """The worker record's change with the outcome: what still runs once this job ended
        (its state, ``current_job`` and ``running_jobs``), and its counters."""
        update = super()._worker_update(succeeded)
        if update is None or self.table is None:
            return update
        return WorkerUpdate(
            update.name,
            fields={**update.fields, **self.table.record_fields(leaving=self._slot)},
            increments=update.increments,
        )


def runs_no_user_code(runner: WorkerJobRunner, job: Job) -> bool:
    """Whether concluding the job once it returned runs only jq's own code: no success callback,
    nothing after the outcome (see :func:`_nothing_follows`), no outcome hook overridden by the
    worker's class (``handle_job_success``...). Such a conclusion never blocks but for the
    outcome's write: an async job's runs on the quiet conclusions' thread, with the others ready
    then, not on a thread of its own (see :mod:`jq.worker.concurrency.quiet`)."""
    if job.success_callback_ref is not None or not _nothing_follows(job):
        return False
    cls = type(runner.worker)
    return all(getattr(cls, hook) is getattr(WorkerHooks, hook) for hook in _OUTCOME_HOOKS)


#: The worker's methods that an outcome goes through (a subclass may run its own code in them).
_OUTCOME_HOOKS = (
    "handle_exception",
    "handle_job_success",
    "handle_job_failure",
    "handle_job_retry",
    "prepare_execution",
)


def _nothing_follows(job: Job) -> bool:
    """Whether only jq's own bookkeeping follows the write of the job's outcome: no webhook, no
    ``on_failure`` or ``on_stopped`` callback, no plugin told of the outcome. Only then may the
    slot's next job be claimed with the write: it starts microseconds later, and is never held
    claimed but not started (shown as running) while user code or a network call runs."""
    if job.webhooks or job.failure_callback_ref is not None or job.stopped_callback_ref is not None:
        return False
    return not get_plugin_manager().notifies("jq_job_finished", "jq_job_failed")
