"""What a worker is running, as RQ 3.0's workers describe it: executions.

Every claim of a job is one *execution*, with its own id (``job.execution_id``): the lease in the
started registry is the execution's, and an outcome reported by an older execution is refused.
A jq worker runs one execution at a time; :meth:`jq.worker.BaseWorker.get_current_executions`
returns it (or nothing), read from the worker's record, so it works on workers found with
``Worker.all()`` too.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jq.job import Job

__all__ = ["Execution"]


class Execution:
    """One execution of a job by a worker: ``id``, ``job_id``, ``worker_name``, ``created_at``
    (when the job was claimed), ``last_heartbeat``, and the :attr:`job` itself.

    Equal to another execution with the same id.
    """

    def __init__(
        self,
        id: str,
        job_id: str,
        connection: Any,
        worker_name: str = "",
        created_at: datetime.datetime | None = None,
        last_heartbeat: datetime.datetime | None = None,
        job: Job | None = None,
    ) -> None:
        self.id = id
        self.job_id = job_id
        self.connection = connection
        self.worker_name = worker_name
        moment = datetime.datetime.now(datetime.timezone.utc)
        self.created_at = created_at or moment
        self.last_heartbeat = last_heartbeat or self.created_at
        self._job = job

    @classmethod
    def of(cls, job: Job, worker_name: str = "") -> Execution:
        """The execution a claimed ``job`` carries (its ``execution_id``)."""
        return cls(
            job.execution_id or "",
            job.id,
            job.broker,
            worker_name=worker_name or job.worker_name or "",
            created_at=job.started_at,
            last_heartbeat=job.last_heartbeat or job.started_at,
            job=job,
        )

    @property
    def job(self) -> Job:
        """The job this execution runs (fetched on first use)."""
        if self._job is None:
            from jq.job import Job

            self._job = Job.fetch(self.job_id, connection=self.connection)
        return self._job

    @property
    def composite_key(self) -> str:
        """``job_id:execution_id``, how RQ names an execution."""
        return f"{self.job_id}:{self.id}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Execution) and self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"Execution(id={self.id!r}, job_id={self.job_id!r}, worker_name={self.worker_name!r})"
