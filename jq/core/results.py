"""Results: one entry per execution of a job, newest first.

An entry is stored as a JSON header line (type, time, execution id, worker, traceback text)
followed by the return value encoded with the job's serializer. The header never needs the
serializer, so tools can list outcomes without unpickling anything.

A job's results live and expire with its record (see :mod:`jq.broker`): they are written by the
state change that ends an execution, or by :meth:`Result.save`, and kept the record's time.
"""

from __future__ import annotations

import datetime
import enum
import json
import uuid
from typing import TYPE_CHECKING, Any

from jq.base.utils import format_timestamp, now, parse_timestamp, public_module
from jq.broker import ResultEntry, Transition
from jq.core.job_layout import layout_broker
from jq.exceptions import DeserializationError, NoSuchJobError, UnsupportedByBrokerError
from jq.io.connections import resolve_broker
from jq.io.serializers import Serializer, resolve_serializer
from jq.io.signing import signed_without_keys

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = ["Result", "decode_result", "encode_result"]

_UNSET: Any = object()


class Result:
    """The outcome of one execution of a job.

    ``type`` says how it ended; ``return_value`` is set for :attr:`Type.SUCCESSFUL` (and holds
    the ``Retry`` a job returned for :attr:`Type.RETRIED` and :attr:`Type.MAX_RETRIES_EXCEEDED`),
    ``exc_string`` (the traceback text) for :attr:`Type.FAILED`. ``id`` is the execution's id
    (also :attr:`execution_id`). Two results are equal when their ids are.
    """

    class Type(enum.IntEnum):
        """How an execution ended."""

        SUCCESSFUL = 1
        FAILED = 2
        STOPPED = 3
        RETRIED = 4
        #: The job returned a ``Retry`` once its ``max`` retries were used up: it failed.
        MAX_RETRIES_EXCEEDED = 5

    def __init__(
        self,
        job_id: str,
        type: Type,
        connection: Any = None,
        id: str | None = None,
        created_at: datetime.datetime | None = None,
        return_value: Any = None,
        exc_string: str | None = None,
        worker_name: str | None = "",
        serializer: Any = None,
        execution_id: str | None = None,
        execution_started_at: datetime.datetime | None = None,
        execution_ended_at: datetime.datetime | None = None,
        *,
        payload: bytes | None = None,
    ) -> None:
        self.job_id = job_id
        self.type = type
        #: The client of the job's store (what ``job.connection`` is).
        self.connection = connection
        self.created_at = created_at or now()
        self.id = id if id is not None else execution_id
        self.exc_string = exc_string
        self.worker_name = worker_name or ""
        # Resolved on first use: most results (every job's end) never need it.
        self._serializer: Any = serializer
        #: The execution that ended with this result: in jq, the result's own id.
        self.execution_id = execution_id if execution_id is not None else self.id
        self.execution_started_at = execution_started_at
        #: When the execution ended: when this result was made, unless told otherwise.
        self.execution_ended_at = execution_ended_at or self.created_at
        self._payload = payload
        self._return_value = _UNSET if payload is not None else return_value

    @property
    def serializer(self) -> Serializer:
        """The serializer of the return value (the job's)."""
        if not hasattr(self._serializer, "loads"):
            self._serializer = resolve_serializer(self._serializer)
        serializer: Serializer = self._serializer
        return serializer

    @serializer.setter
    def serializer(self, value: Any) -> None:
        self._serializer = value

    @property
    def return_value(self) -> Any:
        """The job's return value (None unless the execution succeeded)."""
        if self._return_value is _UNSET:
            assert self._payload is not None
            try:
                self._return_value = self.serializer.loads(self._payload)
            except Exception as exc:
                why = signed_without_keys(self._payload, self.serializer) or (
                    f"{type(exc).__name__}: {exc}; was it written with another one?"
                )
                raise DeserializationError(
                    f"the result of job {self.job_id!r} cannot be read with the configured serializer: {why}"
                ) from exc
        return self._return_value

    def __repr__(self) -> str:
        return f"Result(id={self.id}, type={self.Type(self.type).name})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Result) and self.id == other.id

    # As RQ: equal by id, so not hashable by identity either.
    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        return bool(self.id)

    # -- reading a job's results ------------------------------------------------------------------

    @classmethod
    def all(cls, job: Job, serializer: Any = None) -> list[Result]:
        """Every kept result of ``job``, newest first."""
        chosen = job.serializer if serializer is None else resolve_serializer(serializer)
        return [
            decode_result(job.id, data, chosen, connection=job.connection)
            for data in job.broker.load_results(job.id)
        ]

    @classmethod
    def count(cls, job: Job) -> int:
        """How many results of ``job`` are kept."""
        return len(job.broker.load_results(job.id))

    @classmethod
    def fetch(cls, job: Job, serializer: Any = None) -> Result | None:
        """The newest result of ``job``, or None."""
        return cls.fetch_latest(job, serializer)

    @classmethod
    def fetch_latest(cls, job: Job, serializer: Any = None, timeout: float = 0) -> Result | None:
        """The newest result of ``job``, or None; with ``timeout`` seconds, wait up to that long
        for one to appear."""
        result = job.latest_result(timeout=timeout)
        if result is not None and serializer is not None:
            result.serializer = resolve_serializer(serializer)
        return result

    @classmethod
    def restore(
        cls, job_id: str, result_id: str, payload: bytes, connection: Any, serializer: Any = None
    ) -> Result:
        """A :class:`Result` from its stored form (``payload``, as :meth:`serialize` gives it)."""
        result = decode_result(job_id, payload, resolve_serializer(serializer), connection=connection)
        result.id = result.execution_id = result_id
        return result

    @classmethod
    def get_key(cls, job_id: str) -> str:
        """The key of the result entries of job ``job_id`` (see :func:`jq.core.job_layout.layout_broker`)."""
        return layout_broker().results_key(job_id)

    @classmethod
    def delete_all(cls, job: Job) -> None:
        """Not in jq: a job's results live and die with its record (``job.delete()`` deletes them)."""
        raise UnsupportedByBrokerError(
            f"the results of job {job.id!r} are kept with its record, for its result_ttl or "
            "failure_ttl: delete the job (job.delete()) to delete them"
        )

    # -- writing a result -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        job: Job,
        type: Type,
        ttl: int | None,
        return_value: Any = None,
        exc_string: str | None = None,
        worker_name: str = "",
        pipeline: Any = None,
        execution_id: str | None = None,
        execution_started_at: datetime.datetime | None = None,
        execution_ended_at: datetime.datetime | None = None,
    ) -> Result:
        """Add a result to ``job``'s results (see :meth:`save`) and return it."""
        result = cls(
            job.id,
            type,
            job.connection,
            return_value=return_value,
            exc_string=exc_string,
            worker_name=worker_name,
            serializer=job.serializer,
            execution_id=execution_id,
            execution_started_at=execution_started_at,
            execution_ended_at=execution_ended_at,
        )
        result._job = job
        result.save(ttl, pipeline=pipeline)
        return result

    @classmethod
    def create_failure(
        cls,
        job: Job,
        ttl: int | None,
        exc_string: str,
        worker_name: str = "",
        pipeline: Any = None,
        execution_id: str | None = None,
        execution_started_at: datetime.datetime | None = None,
        execution_ended_at: datetime.datetime | None = None,
    ) -> Result:
        """:meth:`create` a FAILED result."""
        return cls.create(
            job, cls.Type.FAILED, ttl, None, exc_string, worker_name, pipeline,
            execution_id, execution_started_at, execution_ended_at,
        )  # fmt: skip

    @classmethod
    def create_retried(
        cls,
        job: Job,
        ttl: int | None,
        return_value: Any,
        worker_name: str,
        execution_id: str | None,
        execution_started_at: datetime.datetime | None,
        execution_ended_at: datetime.datetime | None,
        pipeline: Any = None,
    ) -> Result:
        """:meth:`create` a RETRIED result."""
        return cls.create(
            job, cls.Type.RETRIED, ttl, return_value, None, worker_name, pipeline,
            execution_id, execution_started_at, execution_ended_at,
        )  # fmt: skip

    @classmethod
    def create_max_retries_exceeded(
        cls,
        job: Job,
        ttl: int | None,
        return_value: Any,
        worker_name: str,
        execution_id: str | None,
        execution_started_at: datetime.datetime | None,
        execution_ended_at: datetime.datetime | None,
        pipeline: Any = None,
    ) -> Result:
        """:meth:`create` a MAX_RETRIES_EXCEEDED result."""
        return cls.create(
            job, cls.Type.MAX_RETRIES_EXCEEDED, ttl, return_value, None, worker_name, pipeline,
            execution_id, execution_started_at, execution_ended_at,
        )  # fmt: skip

    _job: Job | None = None

    def save(self, ttl: int | None, pipeline: Any = None) -> str:
        """Add this result to its job's results, newest first; returns its id.

        The job's record must exist (else :class:`NoSuchJobError`). Results live as long as the
        record, so ``ttl`` changes nothing: the job's ``result_ttl`` or ``failure_ttl`` decides.
        With a redis-py ``pipeline`` the write is queued on it.
        """
        if self.id is None:
            self.id = self.execution_id = uuid.uuid4().hex
        broker = self._job.broker if self._job is not None else resolve_broker(self.connection)
        payload = None if self.type is not self.Type.SUCCESSFUL else self.serializer.dumps(self.return_value)
        # The job stays where it is; the entry shares its record's expiry.
        change = Transition(self.job_id, result=ResultEntry(encode_result(self, payload)))
        if pipeline is not None:
            broker.pipeline_writes(pipeline).transition(change)
        elif not broker.transition(change):
            raise NoSuchJobError(f"No such job: {self.job_id}: a result needs its job's record")
        return self.id

    def serialize(self) -> bytes:
        """The stored form of this result (what :meth:`restore` reads back)."""
        payload = None if self.type is not self.Type.SUCCESSFUL else self.serializer.dumps(self.return_value)
        return encode_result(self, payload)


# Encodes one string of a header as JSON (``json.dumps`` with its defaults would give the same text).
_json_text = json.JSONEncoder(separators=(",", ":")).encode


def encode_result(result: Result, payload: bytes | None, created_at: str | None = None) -> bytes:
    """The stored form of a result entry: a JSON header line, then ``payload`` (the serialized
    return value). ``created_at``: ``result.created_at`` as :func:`format_timestamp` writes it,
    when the caller formatted it already (a worker writes the same stamp in the job's record).

    The header is put together here rather than by ``json.dumps`` of a dict: a worker writes one
    per job, and the encoder's set-up for a whole object cost more than encoding its few strings.
    The text is the same (``tests/test_fast_paths.py`` compares them): keys in this order, no
    spaces, every string escaped as ``json.dumps`` escapes it."""
    stamp = format_timestamp(result.created_at) if created_at is None else created_at
    worker = result.worker_name
    # A timestamp is digits, '-', ':', '.', 'T' and 'Z': nothing to escape.
    header = '{"type":%d,"created_at":"%s","id":%s,"worker":%s' % (  # noqa: UP031 - see above
        int(result.type),
        stamp,
        "null" if result.id is None else _json_text(result.id),
        _json_text(worker) if worker else "null",
    )
    if result.exc_string is not None:
        header += ',"exc":' + _json_text(result.exc_string)
    if result.execution_started_at is not None:
        header += ',"started_at":"%s"' % format_timestamp(result.execution_started_at)  # noqa: UP031
    return (header + "}\n").encode("utf-8") + (payload or b"")


def decode_result(job_id: str, data: bytes, serializer: Serializer, *, connection: Any = None) -> Result:
    """A :class:`Result` from its stored form (the return value is decoded on first access)."""
    header_bytes, _, payload = data.partition(b"\n")
    try:
        header = json.loads(header_bytes)
        kind = Result.Type(int(header["type"]))
        created_at = parse_timestamp(header["created_at"])
        started = header.get("started_at")
        started_at = parse_timestamp(started) if started else None
    except (ValueError, KeyError, TypeError) as exc:
        raise DeserializationError(f"a result entry of job {job_id!r} is corrupt: {exc}") from exc
    return Result(
        job_id,
        kind,
        connection,
        id=header.get("id"),
        created_at=created_at,
        exc_string=header.get("exc"),
        worker_name=header.get("worker"),
        serializer=serializer,
        execution_started_at=started_at,
        # A failure stores no value; a returned Retry is stored when the serializer can store it.
        payload=payload if kind is Result.Type.SUCCESSFUL or payload else None,
    )


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.results", Result)
