"""RQ 3.0's jobs as RQ stores them in Redis: the source side of :mod:`jq.migrate_rq`.

jq never imports RQ: this module reads RQ's keys and record format with redis-py, as RQ 3.0
writes them. ``<p>`` is RQ's key prefix (``rq`` unless RQ ran with ``RQ_KEY_PREFIX``):

================================== =============================================================
``<p>:queues``                      the keys of RQ's queues (a set of ``<p>:queue:<name>``)
``<p>:queue:<name>``                the queue's job ids, front first (a list)
``<p>:queue:<name>:intermediate``   ids an RQ worker took off the queue and has not started yet
``<p>:job:<id>``                    the job (a hash; see :class:`RQJob`)
``<p>:job:<id>:dependents``         ids of the jobs waiting for it (a set)
``<p>:job::<id>:dependencies``      its dependency ids (a set; RQ 3.0 names it with two colons)
``<p>:results:<id>``                its results, newest last (a stream)
``<p>:<kind>:<name>``               the queue's registries, sorted sets: ``wip`` (started),
                                    ``finished``, ``failed`` (scored by expiry), ``deferred``,
                                    ``scheduled`` (scored by due time), ``canceled``, ``ready``
                                    (released dependents not yet queued)
``<p>:rl-keys``, ``<p>:rl:<key>:rate_limited``   rate-limited jobs waiting for a slot
================================== =============================================================

A job's ``data`` is the zlib-compressed serialization of ``(function name, instance, args,
kwargs)``; ``meta`` and results are serialized with the same serializer (pickle unless RQ was
given another). Reading them runs the serializer's ``loads``: with pickle, the classes of the
arguments are imported, as an RQ worker would import them.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from jq.io.serializers import Serializer

__all__ = ["REGISTRY_KINDS", "RQJob", "RQLayout", "RQStore", "UnreadableJobError"]

#: RQ's registry key words, by what they hold.
REGISTRY_KINDS = {
    "started": "wip",
    "finished": "finished",
    "failed": "failed",
    "deferred": "deferred",
    "scheduled": "scheduled",
    "canceled": "canceled",
    "ready": "ready",
}

_TIME_FORMATS = ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ")


class UnreadableJobError(Exception):
    """An RQ job record that cannot be read (its reason is the message)."""


@dataclass(frozen=True)
class RQLayout:
    """The names of RQ's keys under one prefix."""

    prefix: str = "rq"

    @property
    def queues(self) -> str:
        """The set of queue keys."""
        return f"{self.prefix}:queues"

    def queue(self, name: str) -> str:
        """A queue's list of job ids."""
        return f"{self.prefix}:queue:{name}"

    def queue_name(self, key: str) -> str | None:
        """The name of the queue whose key is ``key`` (None for another key)."""
        start = f"{self.prefix}:queue:"
        return key[len(start) :] if key.startswith(start) else None

    def intermediate(self, name: str) -> str:
        """The ids an RQ worker took from a queue and has not started."""
        return f"{self.queue(name)}:intermediate"

    def registry(self, kind: str, name: str) -> str:
        """A registry of a queue (``kind`` a key of :data:`REGISTRY_KINDS`)."""
        return f"{self.prefix}:{REGISTRY_KINDS[kind]}:{name}"

    def job(self, job_id: str) -> str:
        """A job's hash."""
        return f"{self.prefix}:job:{job_id}"

    def dependents(self, job_id: str) -> str:
        """The ids of the jobs waiting for a job."""
        return f"{self.prefix}:job:{job_id}:dependents"

    def dependencies(self, job_id: str) -> tuple[str, str]:
        """A job's dependency set: the name RQ 3.0 writes, and the one-colon form."""
        return f"{self.prefix}:job::{job_id}:dependencies", f"{self.prefix}:job:{job_id}:dependencies"

    def results(self, job_id: str) -> str:
        """A job's result stream."""
        return f"{self.prefix}:results:{job_id}"

    @property
    def rate_limit_keys(self) -> str:
        """The set of rate-limit keys."""
        return f"{self.prefix}:rl-keys"

    def rate_limited(self, key: str) -> str:
        """The jobs waiting for a slot of a rate limit."""
        return f"{self.prefix}:rl:{key}:rate_limited"


@dataclass
class RQJob:
    """One RQ job, read: its call decoded, its other fields as text."""

    id: str
    func_name: str
    instance: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    meta: dict[str, Any]
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """RQ's status (``queued``, ``failed``...), or ``''``."""
        return self.fields.get("status", "")

    @property
    def origin(self) -> str:
        """Its queue's name."""
        return self.fields.get("origin", "")

    def text(self, name: str) -> str | None:
        """A field, or None when absent or empty."""
        return self.fields.get(name) or None

    def number(self, name: str) -> int | None:
        """An integer field, or None."""
        value = self.text(name)
        return None if value is None else int(float(value))

    def moment(self, name: str) -> datetime.datetime | None:
        """A timestamp field (RQ writes UTC as ``2026-12-05T17:06:53.251083Z``), or None."""
        value = self.text(name)
        if value is None:
            return None
        for form in _TIME_FORMATS:
            try:
                return datetime.datetime.strptime(value, form).replace(tzinfo=datetime.timezone.utc)
            except ValueError:
                continue
        raise UnreadableJobError(f"its {name} {value!r} is not a time RQ writes")

    def flag(self, name: str) -> bool:
        """A 0/1 field."""
        return bool(self.number(name))

    def json(self, name: str) -> Any:
        """A JSON field, or None."""
        value = self.text(name)
        return None if value is None else json.loads(value)

    @property
    def dependency_ids(self) -> list[str]:
        """The ids of the jobs it depends on."""
        ids = self.json("dependency_ids")
        if ids is None:
            single = self.text("dependency_id")  # RQ before 1.x wrote one
            return [single] if single else []
        return [str(item) for item in ids]

    def callback(self, kind: str) -> tuple[str, int | None] | None:
        """``(function path, timeout)`` of its ``success``/``failure``/``stopped`` callback."""
        name = self.text(f"{kind}_callback_name")
        return None if name is None else (name, self.number(f"{kind}_callback_timeout"))


class RQStore:
    """An RQ 3.0 Redis: its queues, registries and jobs (read), and for ``--move`` the removal of
    a job from it.

    ``client`` is a redis-py client (bytes replies), ``serializer`` the one RQ used.
    """

    def __init__(self, client: Any, serializer: Serializer, prefix: str = "rq") -> None:
        self.client = client
        self.serializer = serializer
        self.keys = RQLayout(prefix)

    # -- listing --------------------------------------------------------------------------------

    def queue_names(self) -> list[str]:
        """Every queue RQ knows of, and every queue name a registry or queue key names."""
        names = {self.keys.queue_name(_text(key)) for key in self.client.smembers(self.keys.queues)}
        patterns = [self.keys.queue("*"), *(self.keys.registry(kind, "*") for kind in REGISTRY_KINDS)]
        for pattern in patterns:
            start = pattern[:-1]
            for key in self.client.scan_iter(match=pattern, count=1000):
                name = _text(key)[len(start) :]
                if not name.endswith(":intermediate") and not name.startswith("_compact:"):
                    names.add(name)
        return sorted(name for name in names if name)

    def queued_ids(self, name: str) -> list[str]:
        """The ids on a queue, front first."""
        return [_text(item) for item in self.client.lrange(self.keys.queue(name), 0, -1)]

    def taken_ids(self, name: str) -> list[str]:
        """The ids an RQ worker took from the queue and has not started yet."""
        return [_text(item) for item in self.client.lrange(self.keys.intermediate(name), 0, -1)]

    def registry(self, kind: str, name: str) -> list[tuple[str, float]]:
        """A registry's ``(id, score)`` entries, lowest score first (an entry RQ wrote as
        ``<job id>:<execution id>`` is given as its job id)."""
        entries = self.client.zrange(self.keys.registry(kind, name), 0, -1, withscores=True)
        return [(_text(entry).split(":", 1)[0], float(score)) for entry, score in entries]

    def count(self, kind: str, name: str) -> int:
        """How many entries a registry holds."""
        return int(self.client.zcard(self.keys.registry(kind, name)))

    def rate_limited_ids(self) -> list[str]:
        """The ids of every job waiting for a rate-limit slot."""
        found: list[str] = []
        for key in self.client.smembers(self.keys.rate_limit_keys):
            found += [_text(item) for item in self.client.zrange(self.keys.rate_limited(_text(key)), 0, -1)]
        return found

    # -- one job --------------------------------------------------------------------------------

    def status(self, job_id: str) -> str | None:
        """A job's status, or None when RQ has no such job."""
        value = self.client.hget(self.keys.job(job_id), "status")
        if value is None and not self.client.exists(self.keys.job(job_id)):
            return None
        return _text(value or b"")

    def load(self, job_id: str) -> RQJob:
        """A job, its call and meta decoded; :class:`UnreadableJobError` (saying why) when its
        record is gone or cannot be read with the serializer."""
        raw = self.client.hgetall(self.keys.job(job_id))
        if not raw:
            raise UnreadableJobError("its record is gone")
        record = {_text(name): value for name, value in raw.items()}
        data = record.get("data")
        if not data:
            raise UnreadableJobError("its record has no call (data)")
        with contextlib.suppress(zlib.error):  # RQ reads uncompressed data too
            data = zlib.decompress(data)
        try:
            func_name, instance, args, kwargs = self.serializer.loads(data)
        except Exception as exc:
            raise UnreadableJobError(
                f"its call cannot be read ({type(exc).__name__}: {exc}): run this where the "
                "application's code is importable, with the serializer RQ used (--serializer)"
            ) from exc
        meta: dict[str, Any] = {}
        if record.get("meta"):
            try:
                meta = self.serializer.loads(record["meta"])
            except Exception as exc:
                raise UnreadableJobError(f"its meta cannot be read ({type(exc).__name__}: {exc})") from exc
        fields = {
            name: _text(value)
            for name, value in record.items()
            if name not in ("data", "meta", "result", "exc_info")
        }
        return RQJob(job_id, str(func_name), instance, tuple(args), dict(kwargs), meta, fields)

    def remaining_ttl(self, job_id: str) -> int | None:
        """Seconds left before RQ's record of the job expires, or None when it does not."""
        left = int(self.client.ttl(self.keys.job(job_id)))
        return left if left > 0 else None

    def latest_failure(self, job_id: str) -> tuple[str, str] | None:
        """``(traceback text, worker name)`` of the job's latest failure, from its newest result,
        or from the ``exc_info`` field older RQ wrote."""
        for _result_id, entry in self.client.xrevrange(self.keys.results(job_id), count=10):
            payload = {_text(name): value for name, value in entry.items()}
            if payload.get("exc_string"):
                text = zlib.decompress(base64.b64decode(payload["exc_string"])).decode()
                return text, _text(payload.get("worker_name") or b"")
        legacy = self.client.hget(self.keys.job(job_id), "exc_info")
        if legacy:
            with contextlib.suppress(zlib.error):
                legacy = zlib.decompress(legacy)
            return _text(legacy), ""
        return None

    # -- moving out -----------------------------------------------------------------------------

    def take(self, job_id: str, place: tuple[str, str]) -> bool:
        """Take the job out of its place (``("queue", name)`` or ``(registry kind, name)``), as
        one Redis command; whether it was still there (RQ may have moved it meanwhile)."""
        kind, name = place
        if kind == "queue":
            return bool(self.client.lrem(self.keys.queue(name), 1, job_id))
        return bool(self.client.zrem(self.keys.registry(kind, name), job_id))

    def put_back(self, job_id: str, place: tuple[str, str], score: float) -> None:
        """Undo :meth:`take` (a queued job goes back at the end of its queue)."""
        kind, name = place
        if kind == "queue":
            self.client.rpush(self.keys.queue(name), job_id)
        else:
            self.client.zadd(self.keys.registry(kind, name), {job_id: score})

    def delete(self, job: RQJob) -> None:
        """Delete a job taken out of its place: its record, results and dependency sets, and
        its id from the dependents of the jobs it waited for."""
        with self.client.pipeline(transaction=True) as pipe:
            for parent in job.dependency_ids:
                pipe.srem(self.keys.dependents(parent), job.id)
            pipe.delete(
                self.keys.job(job.id),
                self.keys.results(job.id),
                self.keys.dependents(job.id),
                *self.keys.dependencies(job.id),
            )
            pipe.execute()

    def iter_jobs(self, ids: list[str]) -> Iterator[tuple[str, RQJob | UnreadableJobError]]:
        """Each id with its job, or with why it cannot be read."""
        for job_id in ids:
            try:
                yield job_id, self.load(job_id)
            except UnreadableJobError as exc:
                yield job_id, exc


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
