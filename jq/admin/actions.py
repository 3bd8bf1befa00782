"""Actions on jobs, queues and workers, each a call of jq's public API, applied to many ids at
once: ``jqueue requeue/cancel/empty/suspend/resume`` and the dashboard's buttons call these.

A job action goes through the ids one by one and never stops at the first that cannot be acted
on (gone meanwhile, in another state): its :class:`Report` says, in the order given, which were
acted on and why the others were not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jq.broker import Broker
from jq.core.job import Job
from jq.exceptions import InvalidJobOperation, NoSuchJobError
from jq.queueing.queue import Queue
from jq.worker.command import send_shutdown_command, send_stop_job_command

__all__ = [
    "JOB_ACTIONS",
    "Report",
    "cancel_jobs",
    "delete_jobs",
    "empty_queues",
    "enqueue_now",
    "fetch_job",
    "requeue_failed",
    "resume",
    "shutdown_worker",
    "stop_job",
    "suspend",
]

#: Told after each id, with how many ids were handled since the last call (a progress bar's step).
Progress = Callable[[int], None]


@dataclass
class Report:
    """What an action did: ``outcomes`` holds, for each id in the order given, None when it was
    acted on, else the reason it was not."""

    action: str
    outcomes: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def done(self) -> list[str]:
        """The ids acted on."""
        return [job_id for job_id, problem in self.outcomes if problem is None]

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """The ids not acted on, each with why."""
        return [(job_id, problem) for job_id, problem in self.outcomes if problem is not None]

    def summary(self) -> str:
        """One line for a person: ``requeued 3 job(s); 1 skipped``."""
        line = f"{self.action} {len(self.done)} job(s)"
        return f"{line}; {len(self.skipped)} skipped" if self.skipped else line


def _each(action: str, ids: Iterable[str], act: Callable[[str], Any], progress: Progress | None) -> Report:
    report = Report(action)
    for job_id in ids:
        try:
            act(job_id)
        except (NoSuchJobError, InvalidJobOperation) as exc:
            # Gone meanwhile (expired, acted on by someone else) or in another state: said, and
            # the others are still acted on.
            report.outcomes.append((job_id, str(exc)))
        else:
            report.outcomes.append((job_id, None))
        if progress is not None:
            progress(1)
    return report


def fetch_job(queue: Queue, job_id: str) -> Job:
    """The job ``job_id``, read with the job class and serializer of ``queue``."""
    return queue.job_class.fetch(job_id, connection=queue.broker, serializer=queue.serializer)


def requeue_failed(queue: Queue, ids: Sequence[str], progress: Progress | None = None) -> Report:
    """Put failed (or stopped) jobs of the failed registry of ``queue`` back on it
    (``FailedJobRegistry.requeue``)."""
    registry = queue.failed_job_registry
    return _each("requeued", ids, registry.requeue, progress)


def cancel_jobs(queue: Queue, ids: Sequence[str], progress: Progress | None = None) -> Report:
    """Cancel jobs (``Job.cancel``): they end canceled and never run (again)."""
    return _each("canceled", ids, lambda job_id: fetch_job(queue, job_id).cancel(), progress)


def delete_jobs(queue: Queue, ids: Sequence[str], progress: Progress | None = None) -> Report:
    """Delete jobs, their results and their places (``Job.delete``)."""
    return _each("deleted", ids, lambda job_id: fetch_job(queue, job_id).delete(), progress)


def enqueue_now(queue: Queue, ids: Sequence[str], progress: Progress | None = None) -> Report:
    """Queue scheduled jobs of ``queue`` at once (``ScheduledJobRegistry.enqueue_now``)."""
    return _each("enqueued", ids, queue.scheduled_job_registry.enqueue_now, progress)


def stop_job(queue: Queue, ids: Sequence[str], progress: Progress | None = None) -> Report:
    """Ask the workers running these jobs to stop them (``send_stop_job_command``): each ends
    stopped. A job no worker has taken is refused."""
    return _each(
        "asked to stop",
        ids,
        lambda job_id: send_stop_job_command(queue.broker, job_id, serializer=queue.serializer),
        progress,
    )


#: The job actions by the name a request gives.
JOB_ACTIONS: dict[str, Callable[[Queue, Sequence[str], Progress | None], Report]] = {
    "requeue": requeue_failed,
    "cancel": cancel_jobs,
    "delete": delete_jobs,
    "enqueue-now": enqueue_now,
    "stop": stop_job,
}


def empty_queues(queues: Sequence[Queue], progress: Progress | None = None) -> list[tuple[str, int]]:
    """Delete every job waiting in each queue (``Queue.empty``, one atomic call per queue);
    registries are left as they are. Returns how many jobs each queue lost; ``progress`` is told
    that many after each queue."""
    emptied: list[tuple[str, int]] = []
    for queue in queues:
        emptied.append((queue.name, queue.empty()))
        if progress is not None:
            progress(emptied[-1][1])
    return emptied


def suspend(broker: Broker, duration: float | None = None) -> None:
    """Suspend every worker of the store (for ``duration`` seconds; None: until resumed): each
    finishes its current job and takes no new one."""
    broker.suspend(duration)


def resume(broker: Broker) -> None:
    """Let suspended workers take jobs again."""
    broker.resume()


def shutdown_worker(broker: Broker, name: str) -> int:
    """Ask the worker ``name`` for a warm shutdown (``send_shutdown_command``): it finishes its
    current job, then stops. Returns how many listening workers got the command (0: none)."""
    return send_shutdown_command(broker, name)
