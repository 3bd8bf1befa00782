"""Jobs: a function call to run later, its options, its status and its results.

A :class:`Job` is a proxy for a record in the broker. Reading ``job.result`` or calling
``job.get_status()`` asks the broker for the latest state. State changes (cancel, requeue,
delete, finishing and failing) go through :mod:`jq.lifecycle`, which makes each one atomic.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from jq.base.utils import (
    JOB_ID_PATTERN,
    now,
    parse_timeout,
    public_module,
    validate_description,
    validate_job_id,
    validate_ttl,
)
from jq.broker import EXECUTION, Broker, Record
from jq.core import job_record, lifecycle_requests
from jq.core.callbacks import Callback
from jq.core.dependency import Dependency, recognize_jobs
from jq.core.job_call import (
    Call,
    CallPayload,
    JobCallView,
    call_string,
    callable_reference,
    current_job,
)
from jq.core.job_dependencies import JobDependencies
from jq.core.job_layout import JobPlaces, LayoutKey
from jq.core.job_options import JobOutcomeOptions
from jq.core.job_results import JobResults
from jq.core.job_state import JobStatus
from jq.core.job_status import JobStatusQueries
from jq.core.job_storage import JobStorage
from jq.core.results import Result
from jq.core.retry import Retry
from jq.core.webhook import Webhook
from jq.exceptions import (
    ConfigurationError,
    NoSuchJobError,
)
from jq.io.connections import resolve_broker
from jq.io.serializers import Serializer, resolve_serializer

if TYPE_CHECKING:
    from jq.queueing.executions import ExecutionRegistry
    from jq.queueing.queue import Queue

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
    "misplaced_record",
    "parse_job_id",
    "requeue_job",
    "validate_job_id",
]

_UNSET: Any = job_record.UNSET
#: RQ's name for the marker of a lazily decoded attribute not decoded yet.
UNEVALUATED: Any = _UNSET

logger = logging.getLogger("jq.job")


def get_current_job(connection: Any = None, job_class: type[Job] | None = None) -> Job | None:
    """The job whose function is running in this thread, or None outside a job."""
    return current_job.get()


def new_job_id() -> str:
    """A random job id: a version-4 UUID in its usual text form, as ``str(uuid.uuid4())`` gives,
    built from the random bytes directly. Kept because it is measured worth it: ~8,300
    instructions against ~20,100 for ``str(uuid.uuid4())``, 3.3 % of an enqueue's ~360,000 in
    the client (callgrind; docs/architecture.md, "Private internals"). ``tests/test_fast_paths.py``
    checks that it gives exactly the text and version ``uuid`` would."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def misplaced_record(job_id: str, origin: str, queue: str, how: str) -> str:
    """Why a job whose record names queue ``origin`` but that was ``how`` (``"claimed"``...) on
    ``queue`` is ended: its record was changed (or planted) since it was enqueued there."""
    return (
        f"the record of job {job_id!r} names queue {origin!r}, but the job was {how} on queue "
        f"{queue!r}: its record was changed (or planted) since it was enqueued"
    )


#: The attributes of a new job holding lists, which :meth:`Job._sibling` copies (``meta``, the
#: only dict, is the sibling's own anyway).
SIBLING_COPIED = ("_dependency_ids", "webhooks", "retry_intervals", "repeat_intervals")


def _checked_arguments(
    args: Sequence[Any] | str | None, kwargs: dict[str, Any] | None, meta: dict[str, Any] | None
) -> tuple[Sequence[Any] | str, dict[str, Any]]:
    """A new job's arguments (empty for None) once checked, with its meta, as :meth:`Job.create`
    takes them."""
    if args is None:
        args = ()
    if kwargs is None:
        kwargs = {}
    # A string is a sequence of its characters, as in RQ (the call gets one per argument).
    if not isinstance(args, list | tuple | str):
        raise ConfigurationError(f"args must be a list or a tuple, not {type(args).__name__}")
    if not isinstance(kwargs, dict) or (kwargs and not all(isinstance(key, str) for key in kwargs)):
        raise ConfigurationError("kwargs must be a dict with string keys")
    if meta is not None and not isinstance(meta, dict):
        raise ConfigurationError(f"meta must be a dict, not {type(meta).__name__}")
    return args, kwargs


class Job(
    JobCallView, JobStatusQueries, JobResults, JobDependencies, JobOutcomeOptions, JobStorage, JobPlaces
):
    """A function call to run in the background; a proxy for its record in the broker.

    Its RQ API comes by concern from the mixins of ``jq.core.job_*``: the call and callbacks
    (:class:`~jq.core.job_call.JobCallView`), status, results, dependencies, after-run options,
    the record as stored, key names and registries. This class makes, fetches and identifies jobs,
    and starts their state changes (see :mod:`jq.core.lifecycle`).
    """

    # Defaults read from the class until a job sets its own (one job is made per enqueue: each
    # attribute set in __init__ costs every enqueue).
    #: ``Retry(enqueue_at_front=True)``: a retried job goes to the front of its queue.
    enqueue_at_front_on_retry: bool = False
    #: RQ's count of retries asked for by a job returning ``Retry``.
    number_of_retries: int | None = None
    #: The name of the :class:`~jq.group.Group` the job was enqueued in, or None.
    group_id: str | None = None
    #: How many more times the job runs after it succeeds (``Repeat``), or None.
    repeats_left: int | None = None
    #: The intervals (seconds) before the repeats still to come (the last one is reused).
    repeat_intervals: list[int] | None = None
    #: The key and concurrency of the job's ``RateLimit``, or None.
    rate_limit_key: str | None = None
    rate_limit_concurrency: int | None = None
    #: RQ's cache of the server's version; jq does not read it.
    redis_server_version: tuple[int, int, int] | None = None
    log: logging.Logger = logger
    #: The class of :attr:`queue`, whose registries a job's registries are; set by
    #: :mod:`jq.queueing` (a Job subclass may name its own Queue subclass).
    queue_class: ClassVar[type[Queue]]
    #: The class of :attr:`execution_registry`; set by :mod:`jq.queueing`.
    execution_registry_class: ClassVar[type[ExecutionRegistry]]
    #: The start of every job record's key (``jq:job:``).
    redis_job_namespace_prefix = LayoutKey(lambda broker: broker.job_key(""), "The start of job keys.")

    def __init__(self, id: str | None = None, connection: Any = None, serializer: Any = None) -> None:
        self.broker: Broker = resolve_broker(connection)
        self.serializer: Serializer = resolve_serializer(serializer)
        self._id = new_job_id() if id is None else id
        #: Whether the caller chose the id (``unique=True`` needs one).
        self._id_given = id is not None
        self.created_at: datetime.datetime = now()
        self.origin = ""
        self.description: str | None = None
        self._call = CallPayload()
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
        self.webhooks: list[Any] = []
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
        args: Sequence[Any] | str | None = None,
        kwargs: dict[str, Any] | None = None,
        connection: Any = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        status: JobStatus | None = None,
        description: str | None = None,
        depends_on: Any = None,
        timeout: int | str | None = None,
        retry: Retry | None = None,
        id: str | None = None,
        origin: str = "",
        meta: dict[str, Any] | None = None,
        failure_ttl: int | str | None = None,
        serializer: Any = None,
        group_id: str | None = None,
        *,
        on_success: Callback | Callable[..., Any] | str | None = None,
        on_failure: Callback | Callable[..., Any] | str | None = None,
        on_stopped: Callback | Callable[..., Any] | str | None = None,
        webhooks: Sequence[Any] | None = None,
    ) -> Job:
        """A new job for ``func(*args, **kwargs)``; every option is checked here, nothing is written.

        ``func`` is a module-level function, a method of a picklable object, a callable object, or
        a dotted path (``'package.module.function'``) the worker will import. The job's status is
        ``created`` unless ``status`` says otherwise, and its description the call
        (:meth:`get_call_string`) unless one is given. ``webhooks``: :class:`~jq.webhook.Webhook`
        objects, sent when the job ends as each one says (TypeError for anything else, as in RQ).
        ``group_id``: the :class:`~jq.group.Group` the job is enqueued in.
        """
        if webhooks and (
            not isinstance(webhooks, Sequence) or not all(isinstance(hook, Webhook) for hook in webhooks)
        ):
            raise TypeError("webhooks must be a sequence of Webhook instances")
        args, kwargs = _checked_arguments(args, kwargs, meta)
        if retry is not None and not isinstance(retry, Retry):
            raise ConfigurationError(f"retry must be a Retry(max=..., interval=...), not {retry!r}")
        job = cls(
            validate_job_id(id) if id is not None else None, connection=connection, serializer=serializer
        )
        job._call = CallPayload(call=Call(*callable_reference(func), args, kwargs))
        job.origin = origin
        job.description = validate_description(description) or job.get_call_string()
        job.timeout = parse_timeout(timeout)
        job.result_ttl = validate_ttl(result_ttl, name="result_ttl", allow_zero=True)
        job.failure_ttl = validate_ttl(failure_ttl, name="failure_ttl", allow_zero=True)
        job.ttl = validate_ttl(ttl, name="ttl", allow_zero=False)
        job.meta = dict(meta or {})
        job._status = JobStatus.CREATED if status is None else JobStatus(status)
        if depends_on is not None:
            job.process_dependencies(depends_on)
        if retry is not None:
            job.retries_left = job.retry_max = retry.max
            job.retry_intervals = list(retry.intervals)
            job.enqueue_at_front_on_retry = retry.enqueue_at_front
        job.success_callback_ref = Callback.coerce(on_success, "on_success")
        job.failure_callback_ref = Callback.coerce(on_failure, "on_failure")
        job.stopped_callback_ref = Callback.coerce(on_stopped, "on_stopped")
        if webhooks:
            job.webhooks = list(webhooks)
        if group_id is not None:
            job.group_id = group_id
        return job

    def _sibling(
        self,
        job_id: str | None,
        args: Sequence[Any] | str | None,
        kwargs: dict[str, Any] | None,
        meta: dict[str, Any] | None,
        description: str | None,
    ) -> Job:
        """A new job like this one, which :meth:`create` just made and nothing has changed since,
        but for its id, its call's arguments, its meta and its description (each checked as
        :meth:`create` checks it): what every other option would give is this job's already.

        :meth:`Queue.enqueue_many` makes the jobs of a batch sharing their options this way, so
        that the function's name, the timeouts, the callbacks... are checked and converted once
        per batch rather than once per job. The new job shares this one's ``created_at``.
        """
        args, kwargs = _checked_arguments(args, kwargs, meta)
        job = object.__new__(type(self))
        # A copy of this job's attributes given to it whole: a third of the time of filling its own.
        state = job.__dict__ = self.__dict__.copy()
        state["_id"] = new_job_id() if job_id is None else validate_job_id(job_id)
        state["_id_given"] = job_id is not None
        call = self._call.call(self._id, self.serializer)
        state["_call"] = CallPayload(call=Call(call.func_name, call.instance, args, kwargs))
        state["description"] = validate_description(description) or call_string(call.func_name, args, kwargs)
        state["meta"] = dict(meta) if meta else {}
        # The values a job may change in place are its own (see SIBLING_COPIED).
        for name in SIBLING_COPIED:
            value = state.get(name)
            if value is not None:
                state[name] = list(value)
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
            job._call.call(job.id, job.serializer)
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
            job.apply_record(record)
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
        self.apply_record(record)

    # -- state the broker holds now (loads, claims, enqueues, lifecycle steps) -------------------

    def apply_record(self, record: Record) -> None:
        """Set the job's attributes from its record as the broker returned it (a load, a claim),
        and forget the result read before. Raises :class:`DeserializationError` on bad fields;
        the job is then left as it was."""
        state = job_record.decode(self._id, record, self.serializer, self.log)
        self._call = CallPayload(data=state.pop("data"))
        self._status = state.pop("status")
        self._dependency_ids = state.pop("dependency_ids")
        self._latest_result, self._return_value = None, _UNSET
        job_record.assign(self, state)

    def note_status(self, status: JobStatus | None) -> None:
        """Set the status the broker holds for the job after a step that wrote it (an enqueue, a
        cancel, a requeue); nothing is written. None: the job has no stored status yet."""
        self._status = status

    def note_outcome(
        self,
        status: JobStatus,
        result: Result,
        *,
        ended_at: datetime.datetime | None = None,
        return_value: Any = _UNSET,
    ) -> None:
        """Set what a lifecycle step that ended an execution wrote: the job's status, its newest
        result and, when given, when it ended and its return value; nothing is written."""
        self._status, self._latest_result = status, result
        if ended_at is not None:
            self.ended_at = ended_at
        if return_value is not _UNSET:
            self._return_value = return_value

    # -- identity -----------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The job's id."""
        return self._id

    @id.setter
    def id(self, value: str) -> None:
        self._id = validate_job_id(value)
        self._id_given = True

    @property
    def id_given(self) -> bool:
        """Whether the job's id was chosen by its creator rather than made up (``unique=True``
        needs one)."""
        return self._id_given

    def get_id(self) -> str:
        """The job's id (RQ's spelling)."""
        return self._id

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

    def __str__(self) -> str:
        return f"<{type(self).__name__} {self.id}: {self.description}>"

    # -- state changes (see jq.lifecycle) -------------------------------------------------------

    def cancel(
        self, pipeline: Any = None, enqueue_dependents: bool = False, remove_from_dependencies: bool = False
    ) -> dict[str, list[str]]:
        """Cancel the job, whatever its status but canceled (RQ's rules); it ends ``canceled``,
        kept ``failure_ttl`` (0: not kept). Jobs waiting for it stay deferred; with
        ``enqueue_dependents`` they are released (once nothing else is unmet). Returns the ids of
        the released jobs by queue name. See :func:`jq.lifecycle.cancel`; ``pipeline``: see
        :func:`jq.lifecycle.refuse_pipeline`."""
        lifecycle_requests.refuse_pipeline(pipeline, "Job.cancel")
        return lifecycle_requests.cancel(
            self, enqueue_dependents=enqueue_dependents, remove_from_dependencies=remove_from_dependencies
        )

    def requeue(self, at_front: bool = False) -> Job:
        """Put a failed or stopped job back on its queue (not a canceled one, as in RQ)."""
        lifecycle_requests.requeue(self, at_front=at_front)
        return self

    def delete(
        self, pipeline: Any = None, remove_from_queue: bool = True, delete_dependents: bool = False
    ) -> None:
        """Delete the job's record and results and take it out of its registry (and its queue,
        unless ``remove_from_queue=False``). Deleting a job that is gone raises
        :class:`NoSuchJobError`. Jobs waiting for it stay deferred until a worker's maintenance
        settles them; with ``delete_dependents`` they are deleted (see :func:`jq.lifecycle.delete`).
        With a redis-py ``pipeline``, the deletes are queued on it and made by
        ``pipeline.execute()``."""
        store = None if pipeline is None else self.broker.pipeline_writes(pipeline)
        lifecycle_requests.delete(
            self, delete_dependents=delete_dependents, remove_from_queue=remove_from_queue, store=store
        )


def cancel_job(
    job_id: str, connection: Any = None, serializer: Any = None, enqueue_dependents: bool = False
) -> dict[str, list[str]]:
    """Cancel the job with this id (see :meth:`Job.cancel`); with ``enqueue_dependents``, the jobs
    waiting for it are released. Returns the ids of the released jobs by queue name."""
    job = Job.fetch(job_id, connection=connection, serializer=serializer)
    return job.cancel(enqueue_dependents=enqueue_dependents)


def requeue_job(job_id: str, connection: Any = None, serializer: Any = None) -> Job:
    """Requeue the job with this id (see :meth:`Job.requeue`)."""
    return Job.fetch(job_id, connection=connection, serializer=serializer).requeue()


def parse_job_id(job_or_execution_id: str) -> str:
    """The job id of a job id or of an execution's ``<job id>:<execution id>``."""
    return job_or_execution_id.split(":", 1)[0]


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.job", Job)
recognize_jobs(Job)
