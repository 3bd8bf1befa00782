"""Finding workers: ``Worker.all()``, ``Worker.all_keys()``, ``Worker.count()``,
``Worker.find_by_key()``, with RQ 3.0's arguments."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from jq.base.utils import validate_queue_name
from jq.broker import Broker
from jq.exceptions import ConfigurationError, StoreDataError
from jq.io.connections import resolve_broker
from jq.worker.registration import apply_record

if TYPE_CHECKING:
    from typing_extensions import Self

    from jq.core.job import Job
    from jq.queueing.queue import Queue

__all__ = ["WorkerLookup"]

logger = logging.getLogger("jq.worker")


def _broker(connection: Any, queue: Queue | None) -> Broker:
    return queue.broker if queue is not None and connection is None else resolve_broker(connection)


class WorkerLookup:
    """Class methods that read live workers' records into worker objects (views, not runners)."""

    name: str
    broker: Broker
    _executions: list[Any] | None

    if TYPE_CHECKING:
        # BaseWorker's constructor, as far as building a view needs it.
        def __init__(
            self,
            queues: Any,
            name: str | None = None,
            *,
            connection: Any = None,
            job_class: type[Job] | str | None = None,
            queue_class: type[Queue] | str | None = None,
            prepare_for_work: bool = True,
            serializer: Any = None,
        ) -> None: ...

    @classmethod
    def _views(
        cls,
        broker: Broker,
        names: list[str],
        job_class: type[Job] | None = None,
        queue_class: type[Queue] | None = None,
        serializer: Any = None,
    ) -> list[Self]:
        views = []
        for name, record in zip(names, broker.load_workers(names), strict=True):
            if record is None:
                continue
            try:
                queues = _recorded_queues(name, record)
                view = cls(queues, name, connection=broker, job_class=job_class, queue_class=queue_class,
                           prepare_for_work=False, serializer=serializer)  # fmt: skip
                apply_record(view, record)  # type: ignore[arg-type]
            except StoreDataError as exc:
                # One corrupt record must not hide the other workers (jqueue info, the dashboard).
                logger.warning("%s: that worker is left out", exc)
                continue
            views.append(view)
        return views

    @classmethod
    def all(
        cls,
        connection: Any = None,
        job_class: type[Job] | None = None,
        queue_class: type[Queue] | None = None,
        queue: Queue | None = None,
        serializer: Any = None,
    ) -> list[Self]:
        """Every live worker (of ``queue`` when given), read from the store; ``job_class``,
        ``queue_class`` and ``serializer`` are those the views use (``get_current_job()``...)."""
        broker = _broker(connection, queue)
        names = broker.worker_names(queue.name if queue is not None else None)
        return cls._views(broker, names, job_class, queue_class, serializer)

    @classmethod
    def all_keys(cls, connection: Any = None, queue: Queue | None = None) -> list[str]:
        """The keys of every live worker's record (of ``queue`` when given)."""
        broker = _broker(connection, queue)
        return [
            broker.worker_key(name) for name in broker.worker_names(queue.name if queue is not None else None)
        ]

    @classmethod
    def count(cls, connection: Any = None, queue: Queue | None = None) -> int:
        """How many live workers there are (of ``queue`` when given)."""
        broker = _broker(connection, queue)
        return len(broker.worker_names(queue.name if queue is not None else None))

    @classmethod
    def find_by_key(
        cls,
        worker_key: str,
        connection: Any = None,
        job_class: type[Job] | None = None,
        queue_class: type[Queue] | None = None,
        serializer: Any = None,
    ) -> Self | None:
        """The live worker whose record is at ``worker_key`` (``jq:worker:NAME``), or None when
        that worker is gone. Raises ValueError when ``worker_key`` is not a worker's key."""
        broker = resolve_broker(connection)
        name = broker.worker_name_from_key(worker_key)
        if name is None:
            raise ValueError(f"Not a valid jq worker key: {worker_key}")
        found = cls._views(broker, [name], job_class, queue_class, serializer)
        return found[0] if found else None

    def refresh(self) -> None:
        """Reload this worker's attributes from its record."""
        record = self.broker.load_workers([self.name])[0]
        if record is not None:
            apply_record(self, record)  # type: ignore[arg-type]
        # What get_current_executions() read last is stale now.
        self._executions = None


def _recorded_queues(name: str, record: dict[str, bytes]) -> list[str]:
    """The queues a worker's record lists (``default`` when none); :class:`StoreDataError` when
    one is not a queue name."""
    text = record.get("queues", b"").decode("utf-8", errors="replace")
    try:
        return [validate_queue_name(queue) for queue in text.split(",") if queue] or ["default"]
    except ConfigurationError as exc:
        raise StoreDataError(f"the record of worker {name!r} is corrupt: {exc}") from None
