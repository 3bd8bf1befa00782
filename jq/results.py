"""Results: one entry per execution of a job, newest first.

An entry is stored as a JSON header line (type, time, execution id, worker, traceback text)
followed by the return value encoded with the job's serializer. The header never needs the
serializer, so tools can list outcomes without unpickling anything.
"""

from __future__ import annotations

import datetime
import enum
import json
from typing import TYPE_CHECKING, Any

from jq.exceptions import DeserializationError
from jq.serializers import Serializer
from jq.signing import signed_without_keys
from jq.utils import format_timestamp, now, parse_timestamp

if TYPE_CHECKING:
    from jq.job import Job

__all__ = ["Result", "decode_result", "encode_result"]

_UNSET: Any = object()


class Result:
    """The outcome of one execution of a job.

    ``type`` says how it ended; ``return_value`` is set for :attr:`Type.SUCCESSFUL` (and holds
    the ``Retry`` a job returned for :attr:`Type.RETRIED` and :attr:`Type.MAX_RETRIES_EXCEEDED`),
    ``exc_string`` (the traceback text) for :attr:`Type.FAILED`.
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
        created_at: datetime.datetime | None = None,
        *,
        id: str | None = None,
        return_value: Any = None,
        exc_string: str | None = None,
        worker_name: str | None = None,
        serializer: Serializer | None = None,
        payload: bytes | None = None,
    ) -> None:
        self.job_id = job_id
        self.type = type
        self.created_at = created_at or now()
        self.id = id
        self.exc_string = exc_string
        self.worker_name = worker_name
        self._serializer = serializer
        self._payload = payload
        self._return_value = _UNSET if payload is not None else return_value

    @property
    def return_value(self) -> Any:
        """The job's return value (None unless the execution succeeded)."""
        if self._return_value is _UNSET:
            assert self._payload is not None and self._serializer is not None
            try:
                self._return_value = self._serializer.loads(self._payload)
            except Exception as exc:
                why = signed_without_keys(self._payload, self._serializer) or (
                    f"{type(exc).__name__}: {exc}; was it written with another one?"
                )
                raise DeserializationError(
                    f"the result of job {self.job_id!r} cannot be read with the configured serializer: {why}"
                ) from exc
        return self._return_value

    @classmethod
    def fetch_latest(cls, job: Job) -> Result | None:
        """The newest result of ``job``, or None."""
        return job.latest_result()

    @classmethod
    def all(cls, job: Job) -> list[Result]:
        """Every kept result of ``job``, newest first."""
        return job.results()

    def __repr__(self) -> str:
        return f"Result(job_id={self.job_id!r}, type={self.type.name}, id={self.id!r})"


# One encoder for every entry: json.dumps with separators builds a new encoder on every call.
_HEADER_ENCODER = json.JSONEncoder(separators=(",", ":"))


def encode_result(result: Result, payload: bytes | None) -> bytes:
    """The stored form of a result entry; ``payload`` is the serialized return value."""
    header = {
        "type": int(result.type),
        "created_at": format_timestamp(result.created_at),
        "id": result.id,
        "worker": result.worker_name,
    }
    if result.exc_string is not None:
        header["exc"] = result.exc_string
    return _HEADER_ENCODER.encode(header).encode("utf-8") + b"\n" + (payload or b"")


def decode_result(job_id: str, data: bytes, serializer: Serializer) -> Result:
    """A :class:`Result` from its stored form (the return value is decoded on first access)."""
    header_bytes, _, payload = data.partition(b"\n")
    try:
        header = json.loads(header_bytes)
        kind = Result.Type(int(header["type"]))
        created_at = parse_timestamp(header["created_at"])
    except (ValueError, KeyError, TypeError) as exc:
        raise DeserializationError(f"a result entry of job {job_id!r} is corrupt: {exc}") from exc
    return Result(
        job_id,
        kind,
        created_at,
        id=header.get("id"),
        exc_string=header.get("exc"),
        worker_name=header.get("worker"),
        serializer=serializer,
        # A failure stores no value; a returned Retry is stored when the serializer can store it.
        payload=payload if kind is Result.Type.SUCCESSFUL or payload else None,
    )
