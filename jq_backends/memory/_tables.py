"""The memory driver's data structures: job records, scored registries and workers.

None of these classes locks anything. :class:`jq_backends.memory.MemoryBroker` holds its one
condition around every call into them, which is what makes each broker method atomic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from jq.broker import RESULTS_KEPT, WORKER_CURRENT_JOB, Record, WorkerUpdate

__all__ = ["JobTable", "RateLimitState", "ScoredSet", "WorkerTable", "redis_range"]

Clock = Callable[[], float]


def redis_range(length: int, start: int, end: int) -> range:
    """The indexes ``start`` to ``end`` *inclusive* select, negative ones counting from the end.

    These are Redis's LRANGE/ZRANGE rules, so both drivers slice queues and registries alike.
    """
    if start < 0:
        start = max(length + start, 0)
    if end < 0:
        end = length + end
    end = min(end, length - 1)
    return range(start, end + 1) if start <= end else range(0)


class ScoredSet:
    """Ids with float scores, read in ascending (score, id) order.

    Ties break on the id so that the order is total and matches a Redis sorted set (which orders
    equal scores by member bytes; UTF-8 byte order is code point order).
    """

    __slots__ = ("_scores",)

    def __init__(self) -> None:
        self._scores: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._scores)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._scores

    def add(self, job_id: str, score: float) -> None:
        """Add the id or change its score."""
        self._scores[job_id] = score

    def discard(self, job_id: str) -> bool:
        """Remove the id; whether it was there."""
        return self._scores.pop(job_id, None) is not None

    def score(self, job_id: str) -> float | None:
        """The id's score, or None."""
        return self._scores.get(job_id)

    def ordered(self) -> list[str]:
        """Every id by ascending score."""
        # Sorting on read keeps writes O(1); registries are read far less often than written.
        return [job_id for job_id, _ in sorted(self._scores.items(), key=lambda item: (item[1], item[0]))]

    def at_or_below(self, bound: float) -> list[str]:
        """Ids whose score is at or below ``bound``, ascending."""
        due = [(score, job_id) for job_id, score in self._scores.items() if score <= bound]
        return [job_id for _, job_id in sorted(due)]


@dataclass(slots=True)
class RateLimitState:
    """One rate-limit key: the ids holding its slots (scored by when they took one, or by the
    lease deadline of a job canceled while it ran), the ids waiting in line (scored by their
    place in it), the concurrency last asked for, and the last place given in line."""

    concurrency: int
    slots: ScoredSet = field(default_factory=ScoredSet)
    waiting: ScoredSet = field(default_factory=ScoredSet)
    seq: int = 0


class JobTable:
    """Job records with their results, expiry deadlines and dependency sets.

    A record and its results share one deadline: whatever sets, keeps or removes the record's
    expiry does the same to its results. An expired record is purged the first time anything
    looks at it, together with its results and dependency sets, exactly as if it had been deleted.
    """

    __slots__ = ("_clock", "_dependencies", "_dependents", "_expires", "_records", "_results")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._records: dict[str, Record] = {}
        self._results: dict[str, list[bytes]] = {}
        self._expires: dict[str, float] = {}
        # Insertion-ordered (a dict used as a set) so released dependents queue in a stable order.
        self._dependents: dict[str, dict[str, None]] = {}
        self._dependencies: dict[str, set[str]] = {}

    # -- records ------------------------------------------------------------------------------

    def live(self, job_id: str) -> Record | None:
        """The stored record itself (callers may change it in place), or None if it is gone.

        A record left with no fields counts as gone, as a Redis hash does: only the record goes,
        its results and dependency sets stay (unreadable until a record exists again).
        """
        record = self._records.get(job_id)
        if not record:
            self._records.pop(job_id, None)
            return None
        deadline = self._expires.get(job_id)
        if deadline is not None and self._clock() >= deadline:
            self.purge(job_id)
            return None
        return record

    def put(self, job_id: str, fields: Mapping[str, bytes]) -> Record:
        """Replace the record (keeping results, which an expired predecessor does not leave)."""
        self.live(job_id)
        record = dict(fields)
        self._records[job_id] = record
        return record

    def purge(self, job_id: str) -> bool:
        """Delete the record, its results and its dependency sets; whether a record was there."""
        existed = self._records.pop(job_id, None) is not None
        self._results.pop(job_id, None)
        self._expires.pop(job_id, None)
        self._dependents.pop(job_id, None)
        self._dependencies.pop(job_id, None)
        return existed

    def expire_in(self, job_id: str, ttl: float | None) -> None:
        """Make the record and its results expire ``ttl`` seconds from now; None or <= 0: never."""
        if ttl is None or ttl <= 0:
            self._expires.pop(job_id, None)
        else:
            self._expires[job_id] = self._clock() + ttl

    def ttl(self, job_id: str) -> float | None:
        """Seconds until a live record expires, or None."""
        if self.live(job_id) is None:
            return None
        deadline = self._expires.get(job_id)
        return None if deadline is None else deadline - self._clock()

    # -- results ------------------------------------------------------------------------------

    def results(self, job_id: str) -> list[bytes]:
        """A copy of the live record's results, newest first."""
        if self.live(job_id) is None:
            return []
        return list(self._results.get(job_id, ()))

    def prepend_result(self, job_id: str, result: bytes, kept: int = RESULTS_KEPT) -> None:
        """Add a result entry in front, dropping the oldest beyond ``kept`` (at least one stays)."""
        entries = self._results.setdefault(job_id, [])
        entries.insert(0, result)
        del entries[max(kept, 1) :]

    # -- dependency sets ----------------------------------------------------------------------

    def set_unmet(self, job_id: str, unmet: Iterable[str]) -> None:
        """Record the job's unmet dependencies and add it to each one's dependents."""
        wanted = set(unmet)
        if not wanted:
            self._dependencies.pop(job_id, None)
            return
        self._dependencies[job_id] = wanted
        for parent in wanted:
            self._dependents.setdefault(parent, {})[job_id] = None

    def unmet(self, job_id: str) -> set[str] | None:
        """The job's unmet dependencies (the stored set itself), or None when none are recorded."""
        return self._dependencies.get(job_id)

    def forget_unmet(self, job_id: str) -> None:
        """Drop the job's set of unmet dependencies."""
        self._dependencies.pop(job_id, None)

    def dependents(self, job_id: str) -> list[str]:
        """The job's dependents, in the order they were added (nothing is changed)."""
        return list(self._dependents.get(job_id, {}))

    def add_dependent(self, parent: str, child: str) -> None:
        """List ``child`` among the parent's dependents (its own unmet set is left as it is)."""
        self._dependents.setdefault(parent, {})[child] = None

    def stop_waiting(self, child: str, parent: str) -> bool:
        """Take ``parent`` out of the child's unmet dependencies; whether any are left."""
        unmet = self._dependencies.get(child)
        if unmet is None:
            return False
        unmet.discard(parent)
        if unmet:
            return True
        # An empty set is no set, as in Redis.
        del self._dependencies[child]
        return False

    def drop_dependent(self, parent: str, child: str) -> None:
        """Take ``child`` out of the parent's dependents."""
        children = self._dependents.get(parent)
        if children is not None:
            children.pop(child, None)
            if not children:
                del self._dependents[parent]


@dataclass(slots=True)
class _Worker:
    record: Record
    queues: tuple[str, ...]
    deadline: float


@dataclass(slots=True)
class WorkerTable:
    """Worker records with their queues and expiry deadlines; expired workers vanish on access."""

    clock: Clock
    _workers: dict[str, _Worker] = field(default_factory=dict)

    def _live(self, name: str) -> _Worker | None:
        worker = self._workers.get(name)
        if worker is not None and self.clock() >= worker.deadline:
            del self._workers[name]
            return None
        return worker

    def register(self, name: str, fields: Mapping[str, bytes], queues: Sequence[str], ttl: float) -> bool:
        """Add a worker unless a live one has the name."""
        if self._live(name) is not None:
            return False
        self._workers[name] = _Worker(dict(fields), tuple(queues), self.clock() + ttl)
        return True

    def heartbeat(
        self, name: str, fields: Mapping[str, bytes], ttl: float, increments: Mapping[str, float]
    ) -> bool:
        """Extend a live worker, write ``fields`` then add ``increments``; False if it is gone.

        Raises ValueError, writing nothing, when an incremented field is not a number.
        """
        worker = self._live(name)
        if worker is None:
            return False
        update = WorkerUpdate(name, fields, increments)
        self.check_updates([update])
        self.apply_update(update)
        worker.deadline = self.clock() + ttl
        return True

    def check_updates(self, updates: Sequence[WorkerUpdate | None]) -> None:
        """Raise ValueError when an increment of one of ``updates`` (applied in order, None
        skipped) would add to a field of a live worker that holds no number.

        Callers check every update of a call before writing anything, so that a bad increment
        leaves the whole call unwritten (as a Redis script must, which cannot roll back).
        """
        seen: dict[str, Record] = {}
        for update in updates:
            worker = None if update is None else self._live(update.name)
            if update is None or worker is None:
                continue
            record = seen.setdefault(update.name, dict(worker.record))
            record.update(update.fields)
            for key in update.increments:
                current = record.get(key)
                if current is not None:
                    try:
                        float(current)
                    except ValueError:
                        raise ValueError(f"worker field {key!r} is not a number: {current!r}") from None
                record[key] = b"0"

    def apply_update(self, update: WorkerUpdate, current_job: str | None = None) -> None:
        """Write the update's fields and :data:`WORKER_CURRENT_JOB` (``current_job``, when given:
        it wins over a field of that name), then add its increments; nothing when the worker is
        gone. Its expiry is left alone. The Redis driver writes in the same order.

        Expects :meth:`check_updates` to have passed.
        """
        worker = self._live(update.name)
        if worker is None:
            return
        record = {**worker.record, **update.fields}
        if current_job is not None:
            record[WORKER_CURRENT_JOB] = current_job.encode()
        for key, amount in update.increments.items():
            current = record.get(key)
            record[key] = format_number((float(current) if current is not None else 0.0) + amount)
        worker.record = record

    def unregister(self, name: str) -> None:
        """Forget the worker."""
        self._workers.pop(name, None)

    def names(self, queue: str | None) -> list[str]:
        """Live workers' names, of those listening to ``queue`` when given, sorted."""
        alive = [name for name in list(self._workers) if self._live(name) is not None]
        return sorted(name for name in alive if queue is None or queue in self._workers[name].queues)

    def load(self, name: str) -> Record | None:
        """A copy of a live worker's record, or None."""
        worker = self._live(name)
        return None if worker is None else dict(worker.record)


def format_number(value: float) -> bytes:
    """A number as Redis's HINCRBYFLOAT writes it: ``b"3"`` for whole values, else shortest repr."""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value)).encode()
    return repr(value).encode()
