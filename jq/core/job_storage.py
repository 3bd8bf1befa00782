"""Writing and reading a job's record directly: ``save``, ``meta``, ``to_dict``, ``restore``...

These write fields of the record and never move a job between places; the moves are in
:mod:`jq.lifecycle`. Each takes RQ's ``pipeline=``: with a redis-py pipeline the write is queued
on it (see :meth:`jq.broker.Broker.pipeline_writes`) and made by ``pipeline.execute()``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from jq.base.utils import format_timestamp
from jq.broker import Broker, Record, Transition
from jq.core import job_record
from jq.exceptions import NoSuchJobError, SerializationError

if TYPE_CHECKING:
    from jq.core.job import Job
    from jq.io.serializers import Serializer

__all__ = ["JobStorage"]


class JobStorage:
    """The record accessors of a :class:`jq.job.Job`."""

    _id: str
    broker: Broker
    serializer: Serializer
    meta: dict[str, Any]
    ttl: int | None
    last_heartbeat: datetime.datetime | None

    def _job(self) -> Job:
        return cast("Job", self)  # a JobStorage is always a Job (its record part)

    def to_record(self) -> dict[str, bytes]:
        """Every field of the job's record, encoded (serializes the call and meta)."""
        return job_record.encode(self)  # type: ignore[arg-type]  # a JobStorage is a Job

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
        record: Record = {
            (name.decode() if isinstance(name, bytes) else str(name)): (
                value if isinstance(value, bytes) else str(value).encode()
            )
            for name, value in raw_data.items()
        }
        if not record:
            raise NoSuchJobError(f"job {self._id!r} has no stored record to restore")
        job = self._job()
        job_record.apply(job, record)
        job._latest_result = None
        job._return_value = job_record.UNSET

    def cleanup(self, ttl: int | None = None, pipeline: Any = None, remove_from_queue: bool = True) -> None:
        """Let the job's record go, as RQ's ``cleanup``: ``ttl`` 0 deletes it now, a positive
        ``ttl`` makes it (and its results) expire in that many seconds, None or a negative one
        changes nothing."""
        if ttl == 0:
            self._job().delete(pipeline=pipeline, remove_from_queue=remove_from_queue)
            return
        if ttl is None or ttl < 0:
            return
        change = Transition(self._id, source=None, target=None, record_ttl=ttl)
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
