"""Jobs: a function call to run later, its options, its status and its results.

A :class:`Job` is a proxy for a record in the broker. Reading ``job.result`` or calling
``job.get_status()`` asks the broker for the latest state. State changes (cancel, requeue,
delete, finishing and failing) go through :mod:`jq.lifecycle`, which makes each one atomic.
"""

from __future__ import annotations

import datetime
import inspect
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from jq.base.coroutines import run_coroutine
from jq.base.utils import (
    JOB_ID_PATTERN,
    format_timestamp,
    import_attribute,
    now,
    parse_timeout,
    public_module,
    validate_description,
    validate_job_id,
    validate_ttl,
)
from jq.broker import EXECUTION, STATUS, Broker, Record, RecordEdit, Transition
from jq.core import job_record, lifecycle_requests
from jq.core.callbacks import Callback
from jq.core.dependency import Dependency, dependency_ids, recognize_jobs
from jq.core.job_call import (
    Call,
    CallPayload,
    call_string,
    callable_reference,
    callback_timeout,
    current_job,
)
from jq.core.job_layout import LayoutKey, layout_broker, queueing_class
from jq.core.job_results import load_results, wait_for_latest_result
from jq.core.job_state import UNSTORED_STATUSES, JobStatus
from jq.core.results import Result
from jq.core.retry import Retry
from jq.core.webhook import Webhook
from jq.exceptions import (
    ConfigurationError,
    DeserializationError,
    InvalidJobDependency,
    MissingJobError,
    NoSuchJobError,
    SerializationError,
)
from jq.io.connections import resolve_broker
from jq.io.serializers import Serializer, resolve_serializer

if TYPE_CHECKING:
    from jq.queueing.executions import Execution, ExecutionRegistry
    from jq.queueing.queue import Queue
    from jq.queueing.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry

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
    if not isinstance(kwargs, dict) or not all(isinstance(key, str) for key in kwargs):
        raise ConfigurationError("kwargs must be a dict with string keys")
    if meta is not None and not isinstance(meta, dict):
        raise ConfigurationError(f"meta must be a dict, not {type(meta).__name__}")
    return args, kwargs


class Job:
    """A function call to run in the background; a proxy for its record in the broker."""

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
        state = job.__dict__
        state.update(self.__dict__)
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
        for name, value in state.items():
            setattr(self, name, value)

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

    # -- the call: decoded from the stored ``data`` on first access ---------------------------------

    @property
    def data(self) -> bytes:
        """The serialized call, as stored."""
        return self._call.data(self._id, self.serializer)

    @property
    def func_name(self) -> str:
        """The function's dotted path (or the method name, for an instance method)."""
        return self._call.call(self._id, self.serializer).func_name

    @property
    def instance(self) -> Any:
        """The object whose method is called, or None for a plain function."""
        return self._call.call(self._id, self.serializer).instance

    @property
    def args(self) -> list[Any] | tuple[Any, ...]:
        """The positional arguments."""
        return self._call.call(self._id, self.serializer).args  # type: ignore[no-any-return]

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments."""
        return self._call.call(self._id, self.serializer).kwargs

    @property
    def func(self) -> Callable[..., Any]:
        """The callable to run, imported by name (raises if it cannot be found)."""
        if self.instance is not None:
            return getattr(self.instance, self.func_name)  # type: ignore[no-any-return]
        return import_attribute(self.func_name)  # type: ignore[no-any-return]

    def get_call_string(self) -> str:
        """``module.func(arg, key=value)``, for logs and the default description, as RQ writes
        it (see :func:`jq.core.job_call.call_string`)."""
        try:
            return call_string(self.func_name, self.args, self.kwargs)
        except DeserializationError:
            return "<call cannot be read>"

    def perform(self) -> Any:
        """Run the call in this process and return its result (no timeout, nothing recorded).

        A coroutine function's coroutine (``async def``) is run to its end on an event loop of its
        own, within the death penalty around this call (see :mod:`jq.base.coroutines`).
        """
        token = current_job.set(self)
        try:
            result = self.func(*self.args, **self.kwargs)
            if inspect.iscoroutine(result):
                result = run_coroutine(result)
            return result
        finally:
            current_job.reset(token)

    @property
    def success_callback_timeout(self) -> int:
        """Seconds the ``on_success`` callback may run."""
        return callback_timeout(self.success_callback_ref)

    @property
    def failure_callback_timeout(self) -> int:
        """Seconds the ``on_failure`` callback may run."""
        return callback_timeout(self.failure_callback_ref)

    @property
    def stopped_callback_timeout(self) -> int:
        """Seconds the ``on_stopped`` callback may run."""
        return callback_timeout(self.stopped_callback_ref)

    @property
    def success_callback(self) -> Callable[..., Any] | None:
        """The imported ``on_success`` function, or None."""
        return self.success_callback_ref.func if self.success_callback_ref else None

    @property
    def failure_callback(self) -> Callable[..., Any] | None:
        """The imported ``on_failure`` function, or None."""
        return self.failure_callback_ref.func if self.failure_callback_ref else None

    @property
    def stopped_callback(self) -> Callable[..., Any] | None:
        """The imported ``on_stopped`` function, or None."""
        return self.stopped_callback_ref.func if self.stopped_callback_ref else None

    # -- status -------------------------------------------------------------------------------------

    def get_status(self, refresh: bool = True) -> JobStatus:
        """The job's status, read from the broker unless ``refresh=False``.

        Raises :class:`MissingJobError` (both a :class:`NoSuchJobError` and an
        :class:`InvalidJobOperation`) when refreshing a job whose record is gone.
        """
        if refresh:
            values = self.broker.load_job_fields(self._id, [STATUS])
            if values is None:
                raise MissingJobError(f"Failed to retrieve status for job {self._id}: it does not exist")
            self._status = JobStatus(values[0].decode()) if values[0] else JobStatus.CREATED
        return JobStatus.CREATED if self._status is None else self._status

    def set_status(self, status: JobStatus | str, pipeline: Any = None) -> None:
        """Write the status field only: no place changes (prefer the lifecycle methods).

        With a redis-py ``pipeline``, the write is queued on it and made by ``pipeline.execute()``.
        """
        value = JobStatus(status)
        if value in UNSTORED_STATUSES:
            raise ConfigurationError(
                f"status {value.value!r} names no place a job can be in, and jq never stores it"
            )
        fields = {STATUS: value.value.encode()}
        if pipeline is not None:
            self.broker.pipeline_writes(pipeline).update_job(self._id, fields)
        elif not self.broker.update_job(self._id, fields):
            raise NoSuchJobError(f"No such job: {self._id}")
        self._status = value

    @property
    def is_queued(self) -> bool:
        """The job waits in its queue (raises :class:`MissingJobError` when it is gone)."""
        return self.get_status() == JobStatus.QUEUED

    @property
    def is_started(self) -> bool:
        """A worker is running the job."""
        return self.get_status() == JobStatus.STARTED

    @property
    def is_finished(self) -> bool:
        """The job ran and succeeded."""
        return self.get_status() == JobStatus.FINISHED

    @property
    def is_failed(self) -> bool:
        """The job ran and failed."""
        return self.get_status() == JobStatus.FAILED

    @property
    def is_deferred(self) -> bool:
        """The job waits for its dependencies."""
        return self.get_status() == JobStatus.DEFERRED

    @property
    def is_scheduled(self) -> bool:
        """The job waits for its time."""
        return self.get_status() == JobStatus.SCHEDULED

    @property
    def is_canceled(self) -> bool:
        """The job was canceled."""
        return self.get_status() == JobStatus.CANCELED

    @property
    def is_stopped(self) -> bool:
        """The job was stopped while it ran."""
        return self.get_status() == JobStatus.STOPPED

    @property
    def is_ready_to_enqueue(self) -> bool:
        """RQ's "released, not queued yet": never true in jq (see :attr:`JobStatus.READY_TO_ENQUEUE`)."""
        return self.get_status() == JobStatus.READY_TO_ENQUEUE

    def get_position(self) -> int | None:
        """The job's 0-based position in its queue, or None when it is not queued."""
        if not self.origin:
            return None
        return self.broker.queue_position(self.origin, self._id)

    # -- results: one entry per execution -------------------------------------------------------

    def results(self) -> list[Result]:
        """One :class:`Result` per kept execution, newest first."""
        return load_results(self.broker, self._id, self.serializer)

    def latest_result(self, timeout: float = 0) -> Result | None:
        """The newest result; with ``timeout`` seconds, wait up to that long for one to appear."""
        result = wait_for_latest_result(self.broker, self._id, self.serializer, timeout)
        if result is not None:
            self._latest_result = result
        return result

    def return_value(self, refresh: bool = False) -> Any:
        """The return value of the newest execution if it succeeded, else None."""
        if self._return_value is not _UNSET and not refresh:
            return self._return_value
        result = self.latest_result()
        if result is None or result.type is not Result.Type.SUCCESSFUL:
            return None
        self._return_value = result.return_value
        return self._return_value

    @property
    def result(self) -> Any:
        """The return value once the job succeeded; None before that (RQ's ``job.result``)."""
        return self.return_value()

    @property
    def exc_info(self) -> str | None:
        """The traceback text of the newest failed execution, or None."""
        result = self._latest_result if self._latest_result is not None else self.latest_result()
        if result is None or result.type is Result.Type.SUCCESSFUL:
            return None
        return result.exc_string

    # -- dependencies (the jobs it waits for) and dependents (the jobs waiting for it) -------------
    # Whether a job waits, and when it is released, is decided by the broker in the step that
    # enqueues it or ends its dependency (see jq.broker.DependentsPolicy): these only read.

    def process_dependencies(self, depends_on: Any) -> None:
        """Set the jobs this job waits for from a ``depends_on=`` value (a job, an id, a
        :class:`Dependency`, or a list of these); a Dependency's ``allow_failure`` and
        ``enqueue_at_front`` then apply to the job."""
        ids = dependency_ids(depends_on)
        if self._id in ids:
            raise InvalidJobDependency(f"job {self._id!r} cannot depend on itself: it would wait forever")
        for item in depends_on if isinstance(depends_on, list | tuple) else [depends_on]:
            if isinstance(item, Dependency):
                self.allow_dependency_failures = self.allow_dependency_failures or item.allow_failure
                self.enqueue_at_front = self.enqueue_at_front or item.enqueue_at_front
        self._dependency_ids = ids

    @property
    def dependency_ids(self) -> list[str]:
        """The ids of the jobs this job depends on."""
        return list(self._dependency_ids)

    @property
    def dependencies(self) -> list[Job]:
        """The jobs this job depends on that still exist."""
        return self._existing(self._dependency_ids)

    @property
    def dependency(self) -> Job | None:
        """The first job this job depends on, or None."""
        found = self.dependencies
        return found[0] if found else None

    def fetch_dependencies(self, watch: bool = False, pipeline: Any = None) -> list[Job]:
        """The jobs this job depends on that still exist (``watch`` and ``pipeline`` are RQ's
        WATCH machinery, which jq's atomic enqueue does not need: they are accepted and unused)."""
        return self.dependencies

    @property
    def dependent_ids(self) -> list[str]:
        """The ids of the jobs still waiting for this one, sorted."""
        return self.broker.dependent_ids(self._id)

    def dependencies_are_met(
        self,
        parent_job: Job | None = None,
        pipeline: Any = None,
        exclude_job_id: str | None = None,
        refresh_job_status: bool = True,
    ) -> bool:
        """Whether every dependency finished (or, when the job allows failures, failed), read
        now. ``parent_job`` is judged by its status (refreshed unless ``refresh_job_status`` is
        False); ``exclude_job_id`` is left out; dependencies whose record is gone are left out, as
        RQ does. (``pipeline`` is accepted and unused.)"""
        met = {JobStatus.FINISHED}
        if self.allow_dependency_failures:
            met.add(JobStatus.FAILED)
        ids = [job_id for job_id in self._dependency_ids if job_id != exclude_job_id]
        if parent_job is not None and parent_job.id != exclude_job_id:
            if parent_job.get_status(refresh=refresh_job_status) not in met:
                return False
            ids = [job_id for job_id in ids if job_id != parent_job.id]
        return all(job.get_status(refresh=False) in met for job in self._existing(ids))

    def delete_dependents(self, pipeline: Any = None) -> None:
        """Delete the jobs waiting for this one (each left in its queue's lists as
        ``delete(remove_from_queue=False)`` leaves it), on ``pipeline`` when given."""
        for dependent in self._existing(self.dependent_ids):
            dependent.delete(pipeline=pipeline, remove_from_queue=False)

    def _existing(self, job_ids: list[str]) -> list[Job]:
        found = type(self).fetch_many(job_ids, connection=self.broker, serializer=self.serializer)
        return [job for job in found if job is not None]

    # -- options that decide what happens after it runs: TTLs, retries, rate limit, webhooks -----

    def get_ttl(self, default_ttl: int | None = None) -> int | None:
        """The job's ``ttl``, or ``default_ttl`` when it has none."""
        return default_ttl if self.ttl is None else self.ttl

    def get_result_ttl(self, default_ttl: int) -> int:
        """The job's ``result_ttl``, or ``default_ttl`` when it has none."""
        return default_ttl if self.result_ttl is None else self.result_ttl

    @property
    def should_retry(self) -> bool:
        """Whether a failure now would be retried (retries are left)."""
        return bool(self.retries_left)

    def get_retry_interval(self) -> int:
        """Seconds the next retry waits (0 without intervals)."""
        if not self.retry_intervals:
            return 0
        left = self.retries_left or 0
        done = len(self.retry_intervals) - left if self.retry_max is None else self.retry_max - left
        return Retry.get_interval(max(done, 0), self.retry_intervals)

    def should_enqueue_at_front(self) -> bool:
        """Whether the job goes to the front of its queue: when it is retried after it ran and its
        ``Retry`` says ``enqueue_at_front``, else as its own ``enqueue_at_front`` says."""
        if self.enqueue_at_front_on_retry and self.ended_at is not None:
            return True
        return bool(self.enqueue_at_front)

    @property
    def has_rate_limit(self) -> bool:
        """Whether the job was enqueued with a ``RateLimit`` (a key and a concurrency)."""
        return bool(self.rate_limit_key and self.rate_limit_concurrency)

    def send_webhooks(self, status: str, *, exc_string: str | None = None) -> None:
        """Send every webhook of the job whose ``job_status`` is ``status`` (``'finished'`` or
        ``'failed'``), one after the other; ``exc_string`` goes in a ``failed`` POST's payload.
        Never raises: a webhook that cannot be sent is logged (``jq.webhook``)."""
        for webhook in self.webhooks:
            if webhook.job_status == status:
                self.log.debug("job %s: %s webhook to %s", self._id, status, webhook.url)
                webhook.send(self, exc_string=exc_string)

    # -- the record: written and read directly, never moving the job between places ------------
    # (the moves are in jq.lifecycle). RQ's ``pipeline=``: with a redis-py pipeline the write is
    # queued on it (see jq.broker.Broker.pipeline_writes) and made by ``pipeline.execute()``.

    def to_record(self) -> dict[str, bytes]:
        """Every field of the job's record, encoded (serializes the call and meta)."""
        return job_record.encode(self)

    def to_dict(self, include_meta: bool = True, include_result: bool = True) -> dict[str, bytes]:
        """The job's record as it would be saved, field by field (without ``meta`` unless
        ``include_meta``). Results are kept apart from the record in jq: ``include_result`` has
        nothing to add."""
        fields = self.to_record()
        if not include_meta:
            fields.pop("meta", None)
        return fields

    def save(self, pipeline: Any = None, include_meta: bool = True, include_result: bool = True) -> None:
        """Write the job's record (its place and results are left as they are).

        With ``include_meta`` the whole record is replaced. Without it, the stored ``meta`` is kept:
        the other fields are written onto the record (a job with no record yet gets one without
        meta). ``include_result`` is RQ's; jq keeps results apart, so it changes nothing.
        """
        fields = self.to_dict(include_meta=include_meta)
        if pipeline is not None:
            writes = self.broker.pipeline_writes(pipeline)
            if include_meta:
                writes.save_job(self._id, fields, self.ttl)
            else:
                writes.update_job(self._id, fields)
            return
        if include_meta or not self.broker.update_job(self._id, fields):
            self.broker.save_job(self._id, fields, self.ttl)

    def save_meta(self) -> None:
        """Store ``job.meta`` (call it from inside the job to report progress)."""
        try:
            encoded = self.serializer.dumps(self.meta)
        except Exception as exc:
            raise SerializationError(f"job.meta cannot be serialized: {type(exc).__name__}: {exc}") from exc
        if not self.broker.update_job(self._id, {"meta": encoded}):
            raise NoSuchJobError(f"No such job: {self._id}")

    def get_meta(self, refresh: bool = True) -> dict[str, Any]:
        """``job.meta``, reloaded from the broker unless ``refresh=False``; ``{}`` once the job's
        record is gone, as in RQ."""
        if refresh:
            values = self.broker.load_job_fields(self._id, ["meta"])
            self.meta = {} if values is None else job_record.decode_meta(self._id, values[0], self.serializer)
        return self.meta

    def restore(self, raw_data: Mapping[Any, Any]) -> None:
        """Set the job's attributes from a record as stored (field names and values as bytes or
        text, e.g. what ``HGETALL`` of :attr:`key` returns)."""
        record = job_record.record_from_raw(raw_data)
        if not record:
            raise NoSuchJobError(f"job {self._id!r} has no stored record to restore")
        self.apply_record(record)

    def cleanup(self, ttl: int | None = None, pipeline: Any = None, remove_from_queue: bool = True) -> None:
        """Let the job's record go, as RQ's ``cleanup``: ``ttl`` 0 deletes it now, a positive
        ``ttl`` makes it (and its results) expire in that many seconds, None or a negative one
        changes nothing."""
        if ttl == 0:
            self.delete(pipeline=pipeline, remove_from_queue=remove_from_queue)
            return
        if ttl is None or ttl < 0:
            return
        change = Transition(self._id, edit=RecordEdit(record_ttl=ttl))
        if pipeline is not None:
            self.broker.pipeline_writes(pipeline).transition(change)
        elif not self.broker.transition(change):
            raise NoSuchJobError(f"No such job: {self._id}")

    def heartbeat(
        self, timestamp: datetime.datetime, ttl: int, pipeline: Any = None, xx: bool = False
    ) -> None:
        """Record ``timestamp`` as the job's last heartbeat (on an existing record only).

        A running job's lease is kept by its worker, not by this: ``ttl`` and ``xx`` are RQ's and
        change nothing here.
        """
        self.last_heartbeat = timestamp
        fields = {"last_heartbeat": format_timestamp(timestamp).encode()}
        if pipeline is not None:
            self.broker.pipeline_writes(pipeline).update_job(self._id, fields)
        else:
            self.broker.update_job(self._id, fields)

    # -- key names, queue and registries, under RQ's names ----------------------------------------
    # Read on a job, key names come from its broker; read on the class, from layout_broker(). The
    # queue and registries are objects of jq.queueing, which plugs their classes in (queue_class,
    # execution_registry_class) when it is imported: the core does not import the layer above it.

    @property
    def key(self) -> str:
        """The key under which the job's record is stored."""
        return self.broker.job_key(self._id)

    @property
    def dependents_key(self) -> str:
        """The key of the ids of the jobs waiting for this one."""
        return self.broker.dependents_key(self._id)

    @property
    def dependencies_key(self) -> str:
        """The key of the ids of this job's unmet dependencies."""
        return self.broker.dependencies_key(self._id)

    @classmethod
    def key_for(cls, job_id: str) -> str:
        """The key of the record of job ``job_id`` (see :func:`layout_broker`)."""
        return layout_broker().job_key(job_id)

    @classmethod
    def dependents_key_for(cls, job_id: str) -> str:
        """The key of the ids of the jobs waiting for job ``job_id`` (see :func:`layout_broker`)."""
        return layout_broker().dependents_key(job_id)

    @property
    def queue(self) -> Queue:
        """The job's queue."""
        queue_class: type[Queue] = queueing_class(type(self), "queue_class")
        return queue_class(
            self.origin, connection=self.broker, serializer=self.serializer, job_class=type(self)
        )

    @property
    def started_job_registry(self) -> StartedJobRegistry:
        """The started registry of the job's queue."""
        return self.queue.started_job_registry

    @property
    def finished_job_registry(self) -> FinishedJobRegistry:
        """The finished registry of the job's queue."""
        return self.queue.finished_job_registry

    @property
    def failed_job_registry(self) -> FailedJobRegistry:
        """The failed registry of the job's queue."""
        return self.queue.failed_job_registry

    @property
    def execution_registry(self) -> ExecutionRegistry:
        """The job's executions (RQ's per-job registry): its running one, read from its record."""
        registry_class: type[ExecutionRegistry] = queueing_class(type(self), "execution_registry_class")
        return registry_class(self._id, connection=self.broker)

    def get_executions(self) -> list[Execution]:
        """The job's current executions: the one running it while its status is ``started``
        (a jq job has at most one), else none."""
        return self.execution_registry.get_executions()

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
