"""Running a test's jobs until nothing is left to run: :func:`run_until_idle`.

What a test of code that enqueues jobs wants after the code ran: every job run by a real worker
(a :class:`~jq.worker.SimpleWorker`, in this process), including the jobs those jobs enqueue,
the dependents they release, their retries and the scheduled jobs that are due; then a report
of what ran. "Due" is decided by jq's scheduling clock (:mod:`jq.clock`): with a
:class:`~jq.testing.clock.ManualClock` installed (the ``jq_clock`` fixture), a test moves time
on and runs again, instead of sleeping.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jq.broker import Broker
from jq.broker.clock import due_time_or_none
from jq.core import lifecycle
from jq.core.execution import JobOutcome
from jq.core.job import Job
from jq.core.lifecycle import NextClaim
from jq.exceptions import ConfigurationError
from jq.io.connections import resolve_broker
from jq.queueing.queue import Queue
from jq.worker import SimpleWorker

__all__ = ["QueueRunner", "RunReport", "run_until_idle"]

# Due scheduled jobs moved to their queue per broker call.
_PROMOTE_BATCH = 1000


@dataclass(frozen=True)
class RunReport:
    """What one :func:`run_until_idle` did.

    ``runs`` holds every execution in the order they ran, as ``(job, outcome)``: a job that was
    retried appears once per attempt. ``promoted`` counts the scheduled jobs (``enqueue_at``,
    ``enqueue_in``, retries waiting for their interval) that were due and so were queued.
    """

    runs: tuple[tuple[Job, JobOutcome], ...] = ()
    promoted: int = 0

    @property
    def jobs(self) -> list[Job]:
        """The jobs run, in order, once per execution."""
        return [job for job, _outcome in self.runs]

    @property
    def job_ids(self) -> list[str]:
        """The ids of :attr:`jobs`."""
        return [job.id for job, _outcome in self.runs]

    def _count(self, outcome: JobOutcome) -> int:
        return sum(1 for _job, seen in self.runs if seen is outcome)

    @property
    def succeeded(self) -> int:
        """Executions that ended ``finished``."""
        return self._count(JobOutcome.SUCCEEDED)

    @property
    def failed(self) -> int:
        """Executions that ended the job ``failed`` (or ``stopped``) for good."""
        return self._count(JobOutcome.FAILED)

    @property
    def retried(self) -> int:
        """Executions that failed with retries left (the job was queued or scheduled again)."""
        return self._count(JobOutcome.RETRIED)

    def __len__(self) -> int:
        return len(self.runs)


class _RecordingWorker(SimpleWorker):
    """A SimpleWorker that notes each job it runs and how that ended."""

    runs: list[tuple[Job, JobOutcome]]

    def perform(self, job: Job, next_claim: NextClaim | None = None) -> JobOutcome:
        """Run the job as a SimpleWorker does, and note it."""
        outcome = super().perform(job, next_claim)
        self.runs.append((job, outcome))
        return outcome


def _promote_due(broker: Broker, names: Sequence[str]) -> int:
    """Queue every scheduled job of these queues that is due by jq's scheduling clock (the
    store's, unless a test installed one)."""
    now = due_time_or_none()
    promoted = 0
    for name in names:
        while True:
            moved = broker.promote_scheduled(name, now, lifecycle.released_fields(), _PROMOTE_BATCH)
            promoted += len(moved)
            if len(moved) < _PROMOTE_BATCH:
                break
    return promoted


def run_until_idle(
    *queues: Queue | str,
    connection: Any = None,
    max_jobs: int | None = None,
    **worker_options: Any,
) -> RunReport:
    """Run jobs with a :class:`~jq.worker.SimpleWorker` in this process until none is left to run.

    :param queues: the queues to run, in priority order (objects or names); none: every queue
        the store knows, by name, looked up again before each burst (a job may enqueue on a new
        queue).
    :param connection: the store, as for a Queue; by default the queues', else the current
        connection (``with Connection(...)``, ``JQ_URL``; the plugin's ``jq_broker`` fixture
        sets it).
    :param max_jobs: stop after this many executions, even if jobs are left (a job that
        enqueues itself forever would otherwise never let this return).
    :param worker_options: for the SimpleWorker: ``exception_handlers``,
        ``disable_default_exception_handler``, ``serializer``, ``job_class``...

    Before each burst, scheduled jobs that are due by jq's scheduling clock are queued (there is
    no need for a scheduler); a burst runs the queues empty, and whatever it queued, released or
    made due is run by the next one. It returns when a look finds nothing due and nothing queued.
    Retry intervals and ``enqueue_in`` delays are not skipped: advance a
    :class:`~jq.testing.clock.ManualClock` (``jq_clock``) past them and call this again.
    """
    if max_jobs is not None and max_jobs < 1:
        raise ConfigurationError(f"max_jobs must be at least 1, not {max_jobs}")
    if connection is None:
        connection = next((queue.broker for queue in queues if isinstance(queue, Queue)), None)
    broker = resolve_broker(connection)
    runs: list[tuple[Job, JobOutcome]] = []
    promoted = 0
    # The worker's logger keeps the level the test's logging set (work() would set INFO).
    level = logging.getLogger("jq.worker").getEffectiveLevel()
    while max_jobs is None or len(runs) < max_jobs:
        targets: list[Queue | str] = list(queues)
        if not targets:
            targets.extend(sorted(broker.queue_names()))
        names = [target.name if isinstance(target, Queue) else target for target in targets]
        moved = _promote_due(broker, names)
        promoted += moved
        if not any(broker.queue_length(name) for name in names):
            break
        worker = _RecordingWorker(targets, connection=broker, **worker_options)
        worker.runs = runs
        before = len(runs)
        left = None if max_jobs is None else max_jobs - len(runs)
        worker.work(burst=True, max_jobs=left, logging_level=level)
        if len(runs) == before and not moved:
            break  # only ids of jobs that expired were left, and the burst dropped them
    return RunReport(tuple(runs), promoted)


class QueueRunner:
    """The ``jq_worker`` fixture: :func:`run_until_idle` on one store.

    :param broker: the store whose queues it runs.
    """

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def run_until_idle(
        self, *queues: Queue | str, max_jobs: int | None = None, **worker_options: Any
    ) -> RunReport:
        """Run the store's jobs until none is left to run; see :func:`run_until_idle`."""
        return run_until_idle(*queues, connection=self.broker, max_jobs=max_jobs, **worker_options)

    def __repr__(self) -> str:
        return f"QueueRunner({self.broker!r})"
