"""The base of every registry (:class:`BaseRegistry`): RQ's API over one place of a broker.

Import it from :mod:`jq.registry`, with the registries themselves.
"""

from __future__ import annotations

import datetime
import math
from typing import TYPE_CHECKING, Any, ClassVar

from jq.base.timeouts import BaseDeathPenalty, UnixSignalDeathPenalty
from jq.base.utils import backend_class, public_module, validate_queue_name
from jq.broker import Broker, Place, PlaceKind
from jq.core import lifecycle_requests
from jq.core.job import Job
from jq.exceptions import InvalidJobOperation, UnsupportedByBrokerError
from jq.io.connections import key_prefix, resolve_broker, same_store
from jq.io.serializers import resolve_serializer

if TYPE_CHECKING:
    from jq.queueing.queue import Queue

__all__ = ["BaseRegistry"]


class _KeyTemplate:
    """``key_template``: the registry's key with ``{0}`` for the queue name (RQ's attribute).

    On an instance it is built from the registry's broker (so it has the broker's key prefix); on
    the class, from the prefix in effect (``JQ_KEY_PREFIX``, else ``jq:``). Braces in the prefix
    (a Redis Cluster hash tag) are doubled, so that ``key_template.format(name)`` gives the key.
    """

    def __get__(self, registry: BaseRegistry | None, owner: type[BaseRegistry]) -> str | None:
        if owner.kind is None:
            return None
        marker = "\0"
        if registry is None:
            key = f"{key_prefix()}{owner.kind.value}:{marker}"
        else:
            key = registry.broker.place_key(Place(owner.kind, marker))
        return key.replace("{", "{{").replace("}", "}}").replace(marker, "{0}")


class BaseRegistry:
    """The job ids of one queue that are in one kind of place, ordered by score (a time).

    :param name: the queue's name (ignored when ``queue`` is given).
    :param connection: as for a :class:`~jq.queue.Queue`.
    :param job_class: the class jobs are fetched as.
    :param queue: a Queue whose name, connection, job class and serializer to use.
    :param serializer: the jobs' serializer.
    :param death_penalty_class: what stops a callback that runs too long when the registry ends
        jobs itself (abandoned jobs); a class or a dotted path.
    """

    #: The place kind this registry holds (None: a registry jq keeps no place for).
    kind: PlaceKind | None = PlaceKind.FINISHED
    #: Entries past their score are dropped by :meth:`cleanup` (their records expired with them).
    expires_entries = False
    #: The default class jobs are fetched as.
    job_class: type[Job] = Job
    #: The default death penalty for callbacks the registry runs.
    death_penalty_class: type[BaseDeathPenalty] = UnixSignalDeathPenalty
    key_template = _KeyTemplate()
    #: The class of :meth:`get_queue`: jq.queueing.queue's Queue, which imports this module; set
    #: by :mod:`jq.queueing` when it is imported (a subclass may name its own).
    queue_class: ClassVar[type[Queue]]

    def __init__(
        self,
        name: str = "default",
        connection: Any = None,
        job_class: type[Job] | None = None,
        queue: Queue | None = None,
        serializer: Any = None,
        death_penalty_class: type[BaseDeathPenalty] | str | None = None,
    ) -> None:
        if queue is not None:
            name, connection = queue.name, queue.broker
            job_class = job_class or queue.job_class
            serializer = serializer or queue.serializer
        self.name = validate_queue_name(name)
        self.broker: Broker = resolve_broker(connection)
        self.job_class = job_class or type(self).job_class
        self.serializer = resolve_serializer(serializer)
        self.death_penalty_class = backend_class(self, "death_penalty_class", override=death_penalty_class)

    @property
    def place(self) -> Place:
        """The broker place of this registry."""
        if self.kind is None:
            raise UnsupportedByBrokerError(f"{type(self).__name__} has no place in jq's stores")
        return Place(self.kind, self.name)

    @property
    def key(self) -> str | None:
        """The key this registry is stored under."""
        return self.broker.place_key(self.place)

    @property
    def connection(self) -> Any:
        """The client of the registry's broker."""
        return self.broker.connection

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def __eq__(self, other: object) -> bool:
        """The same kind of registry, of the same queue name, in the same store (RQ compares
        the name and the connection's settings: two clients of one server are one store)."""
        if not isinstance(other, BaseRegistry):
            return NotImplemented
        return other.kind == self.kind and other.name == self.name and same_store(self.broker, other.broker)

    def __hash__(self) -> int:
        return hash((self.kind, self.name))

    def _job_id(self, job_or_id: Job | str) -> str:
        return job_or_id if isinstance(job_or_id, str) else job_or_id.id

    def __contains__(self, item: object) -> bool:
        """Whether a job (or a job id) is in the registry."""
        if not isinstance(item, str) and not hasattr(item, "id"):
            return False
        return self.broker.registry_score(self.place, self._job_id(item)) is not None  # type: ignore[arg-type]

    def __len__(self) -> int:
        return self.count

    @property
    def count(self) -> int:
        """How many jobs are in the registry (after :meth:`cleanup`, see :meth:`get_job_count`)."""
        return self.get_job_count(cleanup=True)

    def get_job_count(self, cleanup: bool = True) -> int:
        """How many jobs are in the registry; with ``cleanup``, after :meth:`cleanup`."""
        if cleanup:
            self.cleanup()
        return self.broker.registry_count(self.place)

    def get_job_ids(
        self, start: int = 0, end: int = -1, desc: bool = False, cleanup: bool = True
    ) -> list[str]:
        """Job ids by ascending score (by descending score with ``desc``), from rank ``start``
        to rank ``end`` inclusive (negative ranks count from the last); with ``cleanup``, after
        :meth:`cleanup`."""
        if cleanup:
            self.cleanup()
        if not desc:
            return self.broker.registry_ids(self.place, start, end)
        # Ranks in descending order are ranks in ascending order counted from the other end.
        total = self.broker.registry_count(self.place)
        first = start if start >= 0 else total + start
        last = min(end if end >= 0 else total + end, total - 1)
        first = max(first, 0)
        if first > last:
            return []
        return self.broker.registry_ids(self.place, total - 1 - last, total - 1 - first)[::-1]

    def get_jobs(self, start: int = 0, end: int = -1) -> list[Job]:
        """The jobs, by ascending score (entries whose job is gone are skipped)."""
        jobs = self.job_class.fetch_many(
            self.get_job_ids(start, end), connection=self.broker, serializer=self.serializer
        )
        return [job for job in jobs if job is not None]

    def get_expired_job_ids(self, timestamp: float | None = None) -> list[str]:
        """Ids whose score is at or before ``timestamp`` (now when None): the entries past their
        time (expired, abandoned or due, by registry; now by the store's clock). Removes nothing."""
        return self.broker.registry_expired(self.place, self.broker.now() if timestamp is None else timestamp)

    def get_expiration_time(self, job: Job | str) -> datetime.datetime | None:
        """When the entry's score falls due (UTC), or None when it never does or is not here."""
        score = self.broker.registry_score(self.place, self._job_id(job))
        if score is None or math.isinf(score):
            return None
        return datetime.datetime.fromtimestamp(score, tz=datetime.timezone.utc)

    def _score(self, ttl: int | None) -> float:
        """The score of an entry due ``ttl`` seconds from now (the store's clock); -1 means never."""
        if ttl is None or ttl == -1:
            return math.inf
        return self.broker.now() + ttl

    def add(self, job: Job | str, ttl: int = 0, pipeline: Any = None, xx: bool = False) -> Any:
        """Add an entry due ``ttl`` seconds from now (-1: never), or with ``xx`` only give an entry
        that is there that new time. Changes nothing else (not the job's status).

        Returns 1 when an entry was added, else 0; with ``pipeline``, the pipeline (the entry is
        written when it is executed).
        """
        return self._add_entry(self._job_id(job), self._score(ttl), pipeline, xx)

    def _add_entry(self, job_id: str, score: float, pipeline: Any, xx: bool) -> Any:
        if pipeline is not None:
            self.broker.pipeline_writes(pipeline).registry_add(self.place, job_id, score, only_existing=xx)
            return pipeline
        if xx:
            self.broker.registry_update_score(self.place, job_id, score)
            return 0
        existed = self.broker.registry_score(self.place, job_id) is not None
        self.broker.registry_add(self.place, job_id, score)
        return 0 if existed else 1

    def remove(self, job: Job | str, pipeline: Any = None, delete_job: bool = False) -> Any:
        """Remove an entry; with ``delete_job``, delete the job too (as :meth:`Job.delete` does,
        at once even with a pipeline; :class:`NoSuchJobError` when it does not exist).

        Returns 1 when the entry was there, else 0; with ``pipeline``, the pipeline (the entry is
        removed when it is executed).
        """
        job_id = self._job_id(job)
        result: Any
        if pipeline is not None:
            self.broker.pipeline_writes(pipeline).registry_remove(self.place, job_id)
            result = pipeline
        else:
            result = int(self.broker.registry_remove(self.place, job_id))
        if delete_job:
            # As in RQ: a job id whose record is gone raises NoSuchJobError (the entry is removed).
            target = job if isinstance(job, Job) else self._fetch(job_id)
            lifecycle_requests.delete(target)
        return result

    def _fetch(self, job_id: str) -> Job:
        return self.job_class.fetch(job_id, connection=self.broker, serializer=self.serializer)

    def cleanup(
        self, timestamp: float | None = None, exception_handlers: list[Any] | None = None
    ) -> list[str]:
        """Drop the entries whose time passed, for registries whose entries expire with their
        job's record (finished, failed, canceled); their ids. A no-op for the others."""
        if not self.expires_entries:
            return []
        return self.broker.registry_cleanup(self.place, self.broker.now() if timestamp is None else timestamp)

    def get_queue(self) -> Queue:
        """The registry's queue."""
        return self.queue_class(
            self.name, connection=self.broker, job_class=self.job_class, serializer=self.serializer
        )

    def requeue(self, job_or_id: Job | str, at_front: bool = False) -> Job:
        """Put a job of this registry back on its queue; returns it.

        Raises :class:`NoSuchJobError` when the job does not exist, :class:`InvalidJobOperation`
        when it is not in this registry.
        """
        job_id = self._job_id(job_or_id)
        job = self.job_class.fetch(job_id, connection=self.broker, serializer=self.serializer)
        if job_id not in self:
            raise InvalidJobOperation(f"job {job_id!r} is not in {self!r}")
        return job.requeue(at_front=at_front)

    @staticmethod
    def parse_job_id(entry: str | bytes) -> str:
        """The job id of a registry entry as stored (an entry is a job id in every registry)."""
        text = entry.decode("utf-8") if isinstance(entry, bytes) else entry
        return text.split(":", 1)[0]


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.registry", BaseRegistry)
