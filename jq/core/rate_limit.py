"""Concurrency limits by key (RQ 3.0's ``rq.rate_limit``).

:class:`RateLimit` is the option: ``enqueue(..., rate_limit=RateLimit('reports', concurrency=2))``
lets at most two jobs with the key ``reports`` be queued or running at once, over every queue and
worker of the store. The others wait with status ``rate_limited``, on no queue (a worker never
sees them), in the order they were enqueued, and each is queued as soon as a job of its key
finishes, fails, is canceled or deleted (its *slot* is freed). A job is admitted to its queue
(it takes a slot) in the same atomic step as the enqueue, promotion, release of dependents or
requeue that puts it there, and a slot is freed in the same step as the outcome that ends it:
the broker does both (see :class:`jq.broker.RateLimitStore` and docs/brokers.md).

:class:`RateLimitRegistry` reads a key's slots and line, under RQ's names. RQ's Lua sources are
None here (see :mod:`jq.scripts`): jq's Redis driver runs its own scripts.
"""

from __future__ import annotations

import functools
import uuid
from typing import TYPE_CHECKING, Any

from jq.base.utils import format_timestamp, now, now_timestamp, public_module
from jq.broker import Broker
from jq.defaults import RQ_KEY_PREFIX
from jq.exceptions import UnsupportedByBrokerError
from jq.io.connections import resolve_broker

if TYPE_CHECKING:
    import datetime

    from jq.core.job import Job

__all__ = [
    "ACQUIRE_AND_ENQUEUE_SCRIPT",
    "CLEANUP_REGISTRY_SCRIPT",
    "RELEASE_AND_ENQUEUE_SCRIPT",
    "RELEASE_STALE_AND_ENQUEUE_SCRIPT",
    "RateLimit",
    "RateLimitRegistry",
    "check_rate_limit",
    "release_slot",
]

#: RQ's Lua sources; None in jq.
ACQUIRE_AND_ENQUEUE_SCRIPT: str | None = None
RELEASE_AND_ENQUEUE_SCRIPT: str | None = None
RELEASE_STALE_AND_ENQUEUE_SCRIPT: str | None = None
CLEANUP_REGISTRY_SCRIPT: str | None = None

#: The lock that lets one worker at a time clean every rate limit (see :func:`clean_rate_limits`).
MAINTENANCE_LOCK = "maintenance:rate-limits"


class RateLimit:
    """At most ``concurrency`` (1 or more) jobs with ``key`` (not empty) queued or running at once.

    Every producer using a key should give it the same concurrency: a job is admitted while fewer
    jobs than its own ``concurrency`` hold a slot, so with different values the key admits as many
    jobs as the largest (as in RQ).
    """

    def __init__(self, key: str, concurrency: int) -> None:
        if not key or not isinstance(key, str):
            raise ValueError("key must not be empty")
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an integer of at least 1, not {concurrency!r}")
        self.key = key
        self.concurrency = concurrency

    def __repr__(self) -> str:
        return f"RateLimit({self.key!r}, concurrency={self.concurrency!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RateLimit):
            return NotImplemented
        return (self.key, self.concurrency) == (other.key, other.concurrency)

    def __hash__(self) -> int:
        return hash((self.key, self.concurrency))


def check_rate_limit(rate_limit: Any, broker: Broker) -> RateLimit:
    """``rate_limit`` when it is a :class:`RateLimit` the broker can enforce: TypeError for
    anything else, :class:`UnsupportedByBrokerError` for a broker without rate limits."""
    if not isinstance(rate_limit, RateLimit):
        raise TypeError(f"rate_limit must be a RateLimit(key, concurrency), not {rate_limit!r}")
    if not broker.supports_rate_limits:
        raise UnsupportedByBrokerError(
            f"{type(broker).__name__} does not enforce rate limits: enqueue without rate_limit= "
            "(jq's Redis and memory brokers enforce them)"
        )
    return rate_limit


def released_fields() -> dict[str, bytes]:
    """What a job admitted from a line gets written: when it was put on its queue."""
    return {"enqueued_at": now_timestamp().encode()}


class RateLimitRegistry:
    """The jobs holding the slots of one rate-limit key (RQ's *allowed* jobs) and those waiting
    for one (its *rate limited* jobs), in order."""

    #: RQ's key of the set of keys in use: jq's, under the key prefix in effect at import.
    rl_keys_key = f"{RQ_KEY_PREFIX}:rate-limits"

    def __init__(self, key: str, connection: Any) -> None:
        self.key = key
        self.connection = connection
        self.broker: Broker = resolve_broker(connection)
        if not self.broker.supports_rate_limits:
            raise UnsupportedByBrokerError(f"{type(self.broker).__name__} does not enforce rate limits")

    def __repr__(self) -> str:
        return f"RateLimitRegistry({self.key!r})"

    @classmethod
    def all(cls, connection: Any) -> list[RateLimitRegistry]:
        """A registry per key with slots held or jobs waiting, by key."""
        broker = resolve_broker(connection)
        return [cls(key, broker) for key in broker.rate_limit_keys()]

    @classmethod
    def from_job(cls, job: Job) -> RateLimitRegistry:
        """The registry of ``job``'s key (the job must have a rate limit)."""
        if not job.rate_limit_key:
            raise ValueError(f"job {job.id} has no rate limit")
        return cls(job.rate_limit_key, job.broker)

    @functools.cached_property
    def concurrency(self) -> int:
        """The concurrency last asked for with this key (0 when the key is not in use)."""
        return self.broker.rate_limit_concurrency(self.key) or 0

    @property
    def config_key(self) -> str:
        """The key of this rate limit's settings."""
        return self._key_name(f"rate-limit:{self.key}")

    @property
    def allowed_key(self) -> str:
        """The key of the ids holding a slot."""
        return self._key_name(f"rate-limit-slots:{self.key}")

    @property
    def rate_limited_key(self) -> str:
        """The key of the ids waiting for a slot."""
        return self._key_name(f"rate-limit-waiting:{self.key}")

    def _key_name(self, rest: str) -> str:
        # Every key of a store shares its prefix: the job key of "" is the prefix plus "job:".
        return self.broker.job_key("").removesuffix("job:") + rest

    def get_allowed_job_ids(self) -> list[str]:
        """The ids holding a slot, in the order they took it."""
        return self.broker.rate_limit_job_ids(self.key)

    def get_rate_limited_job_ids(self) -> list[str]:
        """The ids waiting for a slot, in line order."""
        return self.broker.rate_limit_job_ids(self.key, waiting=True)

    def get_allowed_job_count(self) -> int:
        """How many jobs hold a slot."""
        return len(self.get_allowed_job_ids())

    def get_rate_limited_job_count(self) -> int:
        """How many jobs wait for a slot."""
        return len(self.get_rate_limited_job_ids())

    def register(self, concurrency: int, pipeline: Any) -> None:
        """Refused: a key is registered by the enqueue of its first job, in the same step."""
        raise _refused("RateLimitRegistry.register()")

    def add_to_rate_limited(self, job_id: str, pipeline: Any, timestamp: float | None = None) -> None:
        """Refused: a job joins its key's line in the step that enqueues it."""
        raise _refused("RateLimitRegistry.add_to_rate_limited()")

    def acquire_and_enqueue(
        self, concurrency: int, enqueued_at: datetime.datetime | None = None, pipeline: Any = None
    ) -> list[str]:
        """Admit waiting jobs while slots are free; the ids admitted. (jq admits them as soon
        as a slot is freed, so this finds something to do only after a slot was left behind;
        ``concurrency`` is each waiting job's own.) ``pipeline`` is refused."""
        _refuse_pipeline(pipeline, "acquire_and_enqueue")
        fields = {"enqueued_at": format_timestamp(now() if enqueued_at is None else enqueued_at).encode()}
        return self.broker.release_rate_limit_slots(self.key, [], released_fields=fields)

    def release_and_enqueue(self, job_id: str) -> list[str]:
        """Free ``job_id``'s slot if it no longer needs one (it is neither queued nor running),
        then admit waiting jobs; the ids admitted."""
        return self.broker.release_rate_limit_slots(self.key, [job_id], released_fields=released_fields())

    def release_stale_and_enqueue(self, job_id: str) -> list[str]:
        """:meth:`release_and_enqueue` (jq checks the job's state in both)."""
        return self.release_and_enqueue(job_id)

    def cancel(self, job_id: str, pipeline: Any = None) -> list[str]:
        """:meth:`release_and_enqueue` after ``job_id`` was canceled or deleted (jq frees its
        slot in that very step already). ``pipeline`` is refused."""
        _refuse_pipeline(pipeline, "cancel")
        return self.release_and_enqueue(job_id)

    def cleanup(self) -> list[str]:
        """Free every slot held by no job any more (a job whose record expired while it was
        queued, one canceled while it ran whose lease has passed), then admit waiting jobs; the
        ids admitted. A worker's maintenance does this for every key."""
        return self.broker.release_rate_limit_slots(self.key, released_fields=released_fields())


def _refused(what: str) -> UnsupportedByBrokerError:
    return UnsupportedByBrokerError(
        f"{what}: jq takes and frees rate-limit slots in the same atomic step as the job's "
        "enqueue, outcome or cancellation"
    )


def _refuse_pipeline(pipeline: Any, what: str) -> None:
    if pipeline is not None:
        raise UnsupportedByBrokerError(
            f"RateLimitRegistry.{what}(pipeline=...) is not supported: it is one atomic call of its own"
        )


def release_slot(job: Job) -> list[str]:
    """Free the slot ``job`` holds if it no longer needs one (it is neither queued nor running)
    and admit waiting jobs; the ids admitted (none for a job without a rate limit). A worker
    does this when the outcome of its execution of a rate-limited job was refused (the job was
    canceled or deleted while it ran): its slot was kept until then."""
    if job is None or not job.has_rate_limit or not job.broker.supports_rate_limits:
        return []
    assert job.rate_limit_key is not None
    return job.broker.release_rate_limit_slots(
        job.rate_limit_key, [job.id], released_fields=released_fields()
    )


def clean_rate_limits(connection: Any, timeout: int) -> list[str]:
    """A worker's maintenance: :meth:`RateLimitRegistry.cleanup` for every key, by one worker of
    the store at a time, at most once per ``timeout`` seconds; the ids admitted."""
    broker = resolve_broker(connection)
    if not broker.supports_rate_limits or not broker.acquire_lock(
        MAINTENANCE_LOCK, uuid.uuid4().hex, timeout
    ):
        return []
    admitted: list[str] = []
    for key in broker.rate_limit_keys():
        admitted += broker.release_rate_limit_slots(key, released_fields=released_fields())
    return admitted


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.rate_limit", RateLimit, RateLimitRegistry)
