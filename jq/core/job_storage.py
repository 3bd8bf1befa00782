"""A job's record written and read directly, never moving the job between places (the moves are
in :mod:`jq.core.lifecycle`); a mixin of :class:`jq.job.Job`.

RQ's ``pipeline=``: with a redis-py pipeline the write is queued on it (see
:meth:`jq.broker.Broker.pipeline_writes`) and made by ``pipeline.execute()``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from jq.base.utils import format_timestamp
from jq.broker import Broker, Record, RecordEdit, Transition
from jq.core import job_record
from jq.exceptions import NoSuchJobError, SerializationError
from jq.io.serializers import Serializer

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = ["JobStorage"]


class JobStorage:
    """RQ's methods that write or read a job's record as it is."""

    # Set by Job.__init__ (see jq.core.job).
    _id: str
    broker: Broker
    serializer: Serializer
    ttl: int | None
    meta: dict[str, Any]
    last_heartbeat: datetime.datetime | None

    if TYPE_CHECKING:

        def apply_record(self, record: Record) -> None: ...

        def delete(
            self, pipeline: Any = None, remove_from_queue: bool = True, delete_dependents: bool = False
        ) -> None: ...

    def to_record(self) -> dict[str, bytes]:
        """Every field of the job's record, encoded (serializes the call and meta)."""
        return job_record.encode(cast("Job", self))

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
