"""What each page shows, read from the store: plain values for the templates and the JSON
endpoints. Nothing here writes.

With ``hide_args`` the arguments of jobs are not shown (nor their description, which spells the
call with its arguments): lists and pages show the function's name only.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jq.admin.overview import COUNTS, Snapshot, WorkerRow
from jq.base.utils import format_timestamp, now
from jq.core.job import Job
from jq.core.job_state import JobStatus
from jq.exceptions import DeserializationError, NoSuchJobError
from jq.queueing.listing import ListedJob
from jq.queueing.queue import Queue
from jq.scheduling.cron_entries import CronJob
from jq.worker import WorkerStatus

__all__ = [
    "HIDDEN",
    "JobView",
    "age",
    "cron_rows",
    "job_detail",
    "job_row",
    "overview_of",
    "scheduled_rows",
    "when",
    "worker_row",
]

#: What stands where a hidden value would be.
HIDDEN = "(hidden)"


def when(moment: datetime.datetime | None) -> str | None:
    """A stored moment as the pages show it (UTC, ISO 8601), or None."""
    return format_timestamp(moment) if moment is not None else None


def age(seconds: float | None) -> str:
    """A duration for a person: ``42s``, ``3m 12s``, ``2h 5m``, ``3d 4h``; ``-`` for None."""
    if seconds is None or math.isnan(seconds):
        return "-"
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60}s"
    if whole < 86400:
        return f"{whole // 3600}h {whole % 3600 // 60}m"
    return f"{whole // 86400}d {whole % 86400 // 3600}h"


def _since(moment: datetime.datetime | None, at: datetime.datetime) -> float | None:
    return None if moment is None else max((at - moment).total_seconds(), 0.0)


def overview_of(snapshot: Snapshot) -> dict[str, Any]:
    """The overview's values from a snapshot: each queue's counts and latency, totals, workers
    busy and idle (and each worker's row), the suspension."""
    busy = sum(1 for w in snapshot.workers if w.state == WorkerStatus.BUSY)
    totals = {status: sum(row.counts[status] for row in snapshot.queues) for status in COUNTS}
    return {
        "store": snapshot.store,
        "time": when(snapshot.taken_at),
        "suspended": snapshot.suspension is not None,
        "suspended_until": when(snapshot.suspended_until),
        "statuses": list(COUNTS),
        "queues": [
            {
                "name": row.name,
                "counts": row.counts,
                "workers": row.workers,
                "latency": row.latency,
                "latency_text": age(row.latency),
            }
            for row in snapshot.queues
        ],
        "totals": totals,
        "workers": {"total": len(snapshot.workers), "busy": busy, "idle": len(snapshot.workers) - busy},
        "worker_rows": [worker_row(w, snapshot.taken_at) for w in snapshot.workers],
    }


def worker_row(worker: WorkerRow, at: datetime.datetime) -> dict[str, Any]:
    """One worker of the workers page: a :class:`jq.admin.overview.WorkerRow` as plain values."""
    jobs = [
        {"id": job_id, "running_for": age(_since(worker.job_started.get(job_id), at))}
        for job_id in worker.current_jobs
    ]
    return {
        "name": worker.name,
        "state": worker.state,
        "queues": list(worker.queues),
        "hostname": worker.hostname,
        "pid": worker.pid,
        "current_jobs": jobs,
        "successful": worker.successful,
        "failed": worker.failed,
        "birth_date": when(worker.birth_date),
        "last_heartbeat": when(worker.last_heartbeat),
        "heartbeat_age": age(_since(worker.last_heartbeat, at)),
    }


@dataclass(frozen=True)
class JobView:
    """How a job's call and arguments are shown."""

    hide_args: bool = False

    def call(self, job: Job) -> str:
        """The call as a person reads it: ``app.tasks.send(1, to='x')``, or ``app.tasks.send(…)``
        with arguments hidden."""
        try:
            if self.hide_args:
                return f"{job.func_name}(…)"
            return job.get_call_string() or job.func_name
        except DeserializationError as exc:
            return f"<cannot be read: {exc}>"

    def description(self, job: Job) -> str | None:
        """The job's description, or None with arguments hidden."""
        return None if self.hide_args else job.description

    def value(self, read: Any) -> str:
        """``repr`` of a value read from the job (``HIDDEN`` with arguments hidden)."""
        if self.hide_args:
            return HIDDEN
        try:
            return repr(read())
        except DeserializationError as exc:
            return f"<cannot be read: {exc}>"


def job_row(entry: ListedJob, view: JobView) -> dict[str, Any]:
    """One job of a list: id, status, function, call, times, and the error's last line."""
    job = entry.job
    return {
        "id": entry.id,
        "status": entry.status,
        "function": entry.function,
        "call": view.call(job) if job is not None and entry.problem is None else None,
        "description": view.description(job) if job is not None else None,
        "enqueued_at": when(entry.since),
        "ended_at": when(job.ended_at) if job is not None else None,
        "problem": entry.problem,
        "error": entry.error,
    }


def _results(job: Job, view: JobView) -> list[dict[str, Any]]:
    rows = []
    for result in job.results():
        value = None
        if result.type == result.Type.SUCCESSFUL:
            value = view.value(lambda result=result: result.return_value)
        rows.append(
            {
                "execution": result.id,
                "type": result.type.name.lower().replace("_", " "),
                "created_at": when(result.created_at),
                "worker": result.worker_name or None,
                "return_value": value,
                "traceback": result.exc_string,
            }
        )
    return rows


def job_detail(queue: Queue, job_id: str, view: JobView) -> dict[str, Any]:
    """Everything the job page shows. Raises :class:`NoSuchJobError` when the job is gone."""
    job = queue.job_class.fetch(job_id, connection=queue.broker, serializer=queue.serializer)
    status = job.get_status(refresh=False)
    scheduled_for = None
    if status is JobStatus.SCHEDULED:
        try:
            scheduled_for = when(job.queue.scheduled_job_registry.get_scheduled_time(job.id))
        except NoSuchJobError:
            scheduled_for = None
    executions = [
        {
            "id": e.id,
            "worker": e.worker_name,
            "started_at": when(e.created_at),
            "heartbeat": when(e.last_heartbeat),
        }
        for e in job.get_executions()
    ]
    try:
        function = job.func_name
    except DeserializationError as exc:
        function = f"<cannot be read: {exc}>"
    return {
        "id": job.id,
        "status": status.value if status is not None else None,
        "queue": job.origin,
        "function": function,
        "call": view.call(job),
        "description": view.description(job),
        "args": view.value(lambda: job.args),
        "kwargs": view.value(lambda: job.kwargs),
        "meta": view.value(lambda: job.meta) if job.meta else None,
        "times": {
            "created": when(job.created_at),
            "enqueued": when(job.enqueued_at),
            "started": when(job.started_at),
            "ended": when(job.ended_at),
            "scheduled for": scheduled_for,
        },
        "settings": {
            "timeout": job.timeout,
            "result ttl": job.result_ttl,
            "failure ttl": job.failure_ttl,
            "ttl": job.ttl,
            "retries left": job.retries_left,
            "retry intervals": job.retry_intervals,
            "position in queue": job.get_position() if status is JobStatus.QUEUED else None,
            "worker": job.worker_name,
        },
        "retries_left": job.retries_left,
        "executions": executions,
        "results": _results(job, view),
        "traceback": job.exc_info,
        "depends_on": job.dependency_ids,
        "dependents": job.dependent_ids,
        "running": status is JobStatus.STARTED,
        "failed": status in (JobStatus.FAILED, JobStatus.STOPPED),
        "scheduled": status is JobStatus.SCHEDULED,
        "canceled": status is JobStatus.CANCELED,
    }


def scheduled_rows(queues: Sequence[Queue], view: JobView, limit: int) -> list[dict[str, Any]]:
    """The scheduled jobs of ``queues``, soonest first, at most ``limit`` of each queue."""
    rows = []
    for queue in queues:
        registry = queue.scheduled_job_registry
        ids = queue.broker.registry_ids(registry.place, 0, limit - 1)
        jobs = queue.job_class.fetch_many(ids, connection=queue.broker, serializer=queue.serializer)
        for job_id, job in zip(ids, jobs, strict=True):
            score = queue.broker.registry_score(registry.place, job_id)
            rows.append(
                {
                    "id": job_id,
                    "queue": queue.name,
                    "call": view.call(job) if job is not None else "(gone)",
                    "due": when(datetime.datetime.fromtimestamp(score, datetime.timezone.utc))
                    if score is not None and math.isfinite(score)
                    else None,
                    "due_score": score,
                }
            )
    return sorted(rows, key=lambda row: row["due_score"] if row["due_score"] is not None else math.inf)


def cron_rows(entries: Sequence[CronJob]) -> list[dict[str, Any]]:
    """The cron entries the dashboard was given, each with its next run."""
    moment = now()
    return [
        {
            "name": entry.name,
            "function": entry.func_path,
            "queue": entry.queue,
            "schedule": f"every {entry.interval:g} s" if entry.interval is not None else entry.cron,
            "next_run": when(entry.next_tick(moment)),
        }
        for entry in entries
    ]
