"""Jobs: a function call to run later, its options, its status and its results.

A :class:`Job` is a proxy for a record in the broker. Reading ``job.result`` or calling
``job.get_status()`` asks the broker for the latest state. State changes (cancel, requeue,
delete, finishing and failing) go through :mod:`jq.lifecycle`, which makes each one atomic.
"""

from __future__ import annotations

import datetime
import inspect
import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from jq import job_record
from jq.broker import EXECUTION, Broker
from jq.callbacks import Callback
from jq.connections import resolve_broker
from jq.dependency import Dependency, dependency_ids
from jq.exceptions import (
    ConfigurationError,
    NoSuchJobError,
    SerializationError,
)
from jq.job_call import JobCall, current_job
from jq.job_results import JobResults
from jq.job_state import JobState, JobStatus
from jq.results import Result
from jq.retry import Retry
from jq.serializers import Serializer, resolve_serializer
from jq.utils import (
    JOB_ID_PATTERN,
    now,
    parse_timeout,
    validate_description,
    validate_job_id,
    validate_ttl,
)

if TYPE_CHECKING:
    from jq.queue import Queue

__all__ = [
    "JOB_ID_PATTERN",
    "UNEVALUATED",
    "Callback",
    "Dependency",
    "Job",
    "JobStatus",
    "Retry",
    "cancel_job",
    "get_current_job",
    "parse_job_id",
    "requeue_job",
]

_UNSET: Any = job_record.UNSET


def get_current_job(connection: Any = None, job_class: type[Job] | None = None) -> Job | None:
    """The job whose function is running in this thread, or None outside a job."""
    return current_job.get()


def _callable_reference(func: Any) -> tuple[str, Any]:
    """``(func_name, instance)`` naming a callable so that a worker can find it again."""
    if isinstance(func, str):
        # Identifiers only: the worker imports this path, and nothing else belongs in one.
        if not all(part.isidentifier() for part in func.split(".")):
            raise ConfigurationError(f"{func!r} is not a dotted path such as 'package.module.function'")
        return func, None
    if inspect.ismethod(func):
        return func.__name__, func.__self__
    if inspect.isfunction(func) or inspect.isbuiltin(func):
        qualname = func.__qualname__
        if "<lambda>" in qualname or "<locals>" in qualname:
            raise ConfigurationError(
                f"{qualname!r} cannot be enqueued: a worker imports a job's function by name, so "
                "define it at module level (lambdas and nested functions have no importable name)"
            )
        module = func.__module__ or "builtins"
        return (qualname if module == "builtins" else f"{module}.{qualname}"), None
    if callable(func):
        return "__call__", func
    raise ConfigurationError(f"a job runs a function, a method, a callable or a dotted path, not {func!r}")


def new_job_id() -> str:
    """A random job id: a version-4 UUID in its usual text form, as ``str(uuid.uuid4())`` gives,
    built from the random bytes directly (a quarter of the time, and it happens per enqueue)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class Job(JobCall, JobState, JobResults):
    """A function call to run in the background; a proxy for its record in the broker."""

    def __init__(self, id: str | None = None, connection: Any = None, serializer: Any = None) -> None:
        self.broker: Broker = resolve_broker(connection)
        self.serializer: Serializer = resolve_serializer(serializer)
        self._id = new_job_id() if id is None else id
        #: Whether the caller chose the id (``unique=True`` needs one).
        self._id_given = id is not None
        self.created_at: datetime.datetime = now()
        self.origin = ""
        self.description: str | None = None
        self._data: bytes | None = None
        self._func_name: Any = _UNSET
        self._instance: Any = _UNSET
        self._args: Any = _UNSET
        self._kwargs: Any = _UNSET
        self.timeout: int | None = None
        self.result_ttl: int | None = None
        self.failure_ttl: int | None = None
        self.ttl: int | None = None
        self.meta: dict[str, Any] = {}
        self._status: JobStatus | None = None
        self.enqueued_at: datetime.datetime | None = None
        self.started_at: datetime.datetime | None = None
        self.ended_at: datetime.datetime | None = None
        self.last_heartbeat: datetime.datetime | None = None
        self.worker_name: str | None = None
        self.execution_id: str | None = None
        self._dependency_ids: list[str] = []
        self.enqueue_at_front = False
        self.allow_dependency_failures = False
        self.retries_left: int | None = None
        #: ``Retry(max=...)``: with ``retries_left`` it says which retry comes next.
        self.retry_max: int | None = None
        self.retry_intervals: list[int] | None = None
        #: How many times the job returned ``Retry(...)`` and was retried for it.
        self.number_of_retries: int | None = None
        self.success_callback_ref: Callback | None = None
        self.failure_callback_ref: Callback | None = None
        self.stopped_callback_ref: Callback | None = None
        self._latest_result: Result | None = None
        self._return_value: Any = _UNSET

    # -- creating, fetching -----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        func: Callable[..., Any] | str,
        args: Sequence[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        connection: Any = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        status: JobStatus | None = None,
        description: str | None = None,
        depends_on: Any = None,
        timeout: int | str | None = None,
        id: str | None = None,
        origin: str = "",
        meta: dict[str, Any] | None = None,
        failure_ttl: int | str | None = None,
        serializer: Any = None,
        *,
        on_success: Callback | Callable[..., Any] | str | None = None,
        on_failure: Callback | Callable[..., Any] | str | None = None,
        on_stopped: Callback | Callable[..., Any] | str | None = None,
        retry: Retry | None = None,
    ) -> Job:
        """A new job for ``func(*args, **kwargs)``; every option is checked here, nothing is written.

        ``func`` is a module-level function, a method of a picklable object, a callable object, or
        a dotted path (``'package.module.function'``) the worker will import.
        """
        if args is None:
            args = ()
        if kwargs is None:
            kwargs = {}
        if not isinstance(args, list | tuple):
            raise ConfigurationError(f"args must be a list or a tuple, not {type(args).__name__}")
        if not isinstance(kwargs, dict) or not all(isinstance(key, str) for key in kwargs):
            raise ConfigurationError("kwargs must be a dict with string keys")
        if meta is not None and not isinstance(meta, dict):
            raise ConfigurationError(f"meta must be a dict, not {type(meta).__name__}")
        if retry is not None and not isinstance(retry, Retry):
            raise ConfigurationError(f"retry must be a Retry(max=..., interval=...), not {retry!r}")
        if status is not None:
            status = JobStatus(status)
        job = cls(
            validate_job_id(id) if id is not None else None, connection=connection, serializer=serializer
        )
        job._func_name, job._instance = _callable_reference(func)
        job._args, job._kwargs = args, kwargs
        job.origin = origin
        job.description = validate_description(description)
        job.timeout = parse_timeout(timeout)
        job.result_ttl = validate_ttl(result_ttl, name="result_ttl", allow_zero=True)
        job.failure_ttl = validate_ttl(failure_ttl, name="failure_ttl", allow_zero=True)
        job.ttl = validate_ttl(ttl, name="ttl", allow_zero=False)
        job.meta = dict(meta or {})
        job._status = status
        job._dependency_ids = dependency_ids(depends_on)
        if job.id in job._dependency_ids:
            from jq.exceptions import InvalidJobDependency

            raise InvalidJobDependency(f"job {job.id!r} cannot depend on itself")
        for item in depends_on if isinstance(depends_on, list | tuple) else [depends_on]:
            if isinstance(item, Dependency):
                job.allow_dependency_failures = job.allow_dependency_failures or item.allow_failure
                job.enqueue_at_front = job.enqueue_at_front or item.enqueue_at_front
        if retry is not None:
            job.retries_left = job.retry_max = retry.max
            job.retry_intervals = list(retry.intervals)
        job.success_callback_ref = Callback.coerce(on_success, "on_success")
        job.failure_callback_ref = Callback.coerce(on_failure, "on_failure")
        job.stopped_callback_ref = Callback.coerce(on_stopped, "on_stopped")
        return job

    @classmethod
    def fetch(
        cls, id: str, connection: Any = None, serializer: Any = None, *, decode_call: bool = True
    ) -> Job:
        """The job with this id; raises :class:`NoSuchJobError` if there is none.

        Raises :class:`DeserializationError` when its record, or (unless ``decode_call=False``)
        its call, cannot be read: corrupt, written with another serializer, or unsigned where
        signing is required (:class:`SignatureError`).
        """
        job = cls(id, connection=connection, serializer=serializer)
        job.refresh()
        if decode_call:
            job._decode_data()
        return job

    @classmethod
    def unreadable(
        cls,
        id: str,
        origin: str,
        record: dict[str, bytes] | None,
        connection: Any = None,
        serializer: Any = None,
    ) -> Job:
        """A stand-in for a job whose record cannot be read, holding only what ending it needs:
        its id, its queue and its current execution. Nothing in ``record`` is decoded."""
        job = cls(id, connection=connection, serializer=serializer)
        job.origin = origin
        execution = (record or {}).get(EXECUTION)
        job.execution_id = execution.decode("ascii", errors="replace") if execution else None
        return job

    @classmethod
    def fetch_many(
        cls, job_ids: Iterable[str], connection: Any = None, serializer: Any = None
    ) -> list[Job | None]:
        """The jobs with these ids, in order, in one round trip (None for an id with no job)."""
        ids = list(job_ids)
        broker = resolve_broker(connection)
        jobs: list[Job | None] = []
        for job_id, record in zip(ids, broker.load_jobs(ids), strict=True):
            if record is None:
                jobs.append(None)
                continue
            job = cls(job_id, connection=broker, serializer=serializer)
            job_record.apply(job, record)
            jobs.append(job)
        return jobs

    @classmethod
    def exists(cls, job_id: str, connection: Any = None) -> bool:
        """Whether a job with this id exists."""
        return resolve_broker(connection).job_exists(job_id)

    def refresh(self) -> None:
        """Reload everything from the broker; raises :class:`NoSuchJobError` if the job is gone."""
        record = self.broker.load_job(self.id)
        if record is None:
            raise NoSuchJobError(f"No such job: {self.id} (it never existed, was deleted, or expired)")
        job_record.apply(self, record)
        self._latest_result = None
        self._return_value = _UNSET

    # -- identity -----------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The job's id."""
        return self._id

    def get_id(self) -> str:
        """The job's id (RQ's spelling)."""
        return self._id

    @property
    def key(self) -> str:
        """The key under which the job's record is stored."""
        return self.broker.job_key(self.id)

    @property
    def connection(self) -> Any:
        """The client the job's broker uses (what callbacks receive as ``connection``)."""
        return self.broker.connection

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r}, enqueued_at={self.enqueued_at!r})"

    # -- meta -----------------------------------------------------------------------------------

    def save_meta(self) -> None:
        """Store ``job.meta`` (call it from inside the job to report progress)."""
        try:
            encoded = self.serializer.dumps(self.meta)
        except Exception as exc:
            raise SerializationError(f"job.meta cannot be serialized: {type(exc).__name__}: {exc}") from exc
        if not self.broker.update_job(self.id, {"meta": encoded}):
            raise NoSuchJobError(f"No such job: {self.id}")

    def get_meta(self, refresh: bool = True) -> dict[str, Any]:
        """``job.meta``, reloaded from the broker unless ``refresh=False``."""
        if refresh:
            values = self.broker.load_job_fields(self.id, ["meta"])
            if values is None:
                raise NoSuchJobError(f"No such job: {self.id}")
            self.meta = job_record.decode_meta(self.id, values[0], self.serializer)
        return self.meta

    # -- dependencies ---------------------------------------------------------------------------

    @property
    def dependency_ids(self) -> list[str]:
        """The ids of the jobs this job depends on."""
        return list(self._dependency_ids)

    @property
    def dependencies(self) -> list[Job]:
        """The jobs this job depends on that still exist."""
        fetched = type(self).fetch_many(
            self._dependency_ids, connection=self.broker, serializer=self.serializer
        )
        return [job for job in fetched if job is not None]

    @property
    def dependency(self) -> Job | None:
        """The first job this job depends on, or None."""
        found = self.dependencies
        return found[0] if found else None

    # -- writing and state changes --------------------------------------------------------------

    def to_record(self) -> dict[str, bytes]:
        """Every field of the job's record, encoded (serializes the call and meta)."""
        return job_record.encode(self)

    def save(self) -> None:
        """Write the job's whole record (its place and results are left as they are)."""
        self.broker.save_job(self.id, self.to_record(), self.ttl)

    def cancel(
        self, pipeline: Any = None, enqueue_dependents: bool = False, remove_from_dependencies: bool = False
    ) -> dict[str, list[str]]:
        """Cancel the job, whatever its status but canceled (RQ's rules); it ends ``canceled``,
        kept ``failure_ttl`` (0: not kept). Jobs waiting for it stay deferred; with
        ``enqueue_dependents`` they are released (once nothing else is unmet). Returns the ids of
        the released jobs by queue name. See :func:`jq.lifecycle.cancel`; ``pipeline``: see
        :func:`jq.lifecycle.refuse_pipeline`."""
        from jq import lifecycle

        lifecycle.refuse_pipeline(pipeline, "Job.cancel")
        return lifecycle.cancel(
            self, enqueue_dependents=enqueue_dependents, remove_from_dependencies=remove_from_dependencies
        )

    def requeue(self, at_front: bool = False) -> Job:
        """Put a failed or stopped job back on its queue (not a canceled one, as in RQ)."""
        from jq import lifecycle

        lifecycle.requeue(self, at_front=at_front)
        return self

    def delete(
        self, pipeline: Any = None, remove_from_queue: bool = True, delete_dependents: bool = False
    ) -> None:
        """Delete the job's record and results and take it out of its registry (and its queue,
        unless ``remove_from_queue=False``). Deleting a job that is gone raises
        :class:`NoSuchJobError`. Jobs waiting for it stay deferred until a worker's maintenance
        settles them; with ``delete_dependents`` they are deleted (see :func:`jq.lifecycle.delete`)."""
        from jq import lifecycle

        lifecycle.refuse_pipeline(pipeline, "Job.delete")
        lifecycle.delete(self, remove_from_queue=remove_from_queue, delete_dependents=delete_dependents)

    def get_ttl(self, default_ttl: int | None = None) -> int | None:
        """The job's ``ttl``, or ``default_ttl`` when it has none."""
        return default_ttl if self.ttl is None else self.ttl

    def get_result_ttl(self, default_ttl: int) -> int:
        """The job's ``result_ttl``, or ``default_ttl`` when it has none."""
        return default_ttl if self.result_ttl is None else self.result_ttl

    @property
    def queue(self) -> Queue:
        """The job's queue."""
        from jq.queue import Queue

        return Queue(self.origin, connection=self.broker, serializer=self.serializer, job_class=type(self))


def cancel_job(
    job_id: str, connection: Any = None, serializer: Any = None, enqueue_dependents: bool = False
) -> None:
    """Cancel the job with this id (see :meth:`Job.cancel`); with ``enqueue_dependents``, the jobs
    waiting for it are released."""
    Job.fetch(job_id, connection=connection, serializer=serializer).cancel(
        enqueue_dependents=enqueue_dependents
    )


def requeue_job(job_id: str, connection: Any = None, serializer: Any = None) -> Job:
    """Requeue the job with this id (see :meth:`Job.requeue`)."""
    return Job.fetch(job_id, connection=connection, serializer=serializer).requeue()


# RQ's module-level names (``rq.job``) that jq's code does not use.

# JOB_ID_PATTERN (imported above from jq.utils): what a job id may hold, up to 128 characters.
#: Marks a lazily read attribute of a job that was not read yet.
UNEVALUATED: Any = _UNSET


def parse_job_id(job_or_execution_id: str) -> str:
    """The job id of a job id or of an execution's ``<job id>:<execution id>``."""
    return job_or_execution_id.split(":", 1)[0]
