"""Concurrency limits by key (RQ 3.0's ``rq.rate_limit``).

:class:`RateLimit` is the option (``enqueue(..., rate_limit=RateLimit('api', concurrency=2))``): at
most ``concurrency`` jobs with the same ``key`` queued or running at once, the others waiting
their turn. jq does not store rate-limit registries (yet): :class:`RateLimitRegistry` refuses
with :class:`jq.exceptions.UnsupportedByBrokerError`, and with no job ever holding a slot,
:func:`release_slot` has nothing to release. RQ's Lua sources are None here (see
:mod:`jq.scripts`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jq.exceptions import UnsupportedByBrokerError

if TYPE_CHECKING:
    from jq.job import Job

__all__ = [
    "ACQUIRE_AND_ENQUEUE_SCRIPT",
    "CLEANUP_REGISTRY_SCRIPT",
    "RELEASE_AND_ENQUEUE_SCRIPT",
    "RELEASE_STALE_AND_ENQUEUE_SCRIPT",
    "RateLimit",
    "RateLimitRegistry",
    "release_slot",
]

#: RQ's Lua sources; None in jq.
ACQUIRE_AND_ENQUEUE_SCRIPT: str | None = None
RELEASE_AND_ENQUEUE_SCRIPT: str | None = None
RELEASE_STALE_AND_ENQUEUE_SCRIPT: str | None = None
CLEANUP_REGISTRY_SCRIPT: str | None = None


class RateLimit:
    """At most ``concurrency`` (1 or more) jobs with ``key`` (not empty) queued or running at once."""

    def __init__(self, key: str, concurrency: int) -> None:
        if not key:
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


def _not_stored() -> UnsupportedByBrokerError:
    return UnsupportedByBrokerError("jq stores no rate-limit registries: rate limits are not enforced yet")


class RateLimitRegistry:
    """RQ's record of the jobs holding and waiting for the slots of one rate-limit key; refused
    in jq (nothing is stored), see the module's docstring."""

    def __init__(self, key: str, connection: Any) -> None:
        raise _not_stored()

    @classmethod
    def all(cls, connection: Any) -> list[RateLimitRegistry]:
        """No registries: jq stores none."""
        return []

    @classmethod
    def from_job(cls, job: Job) -> RateLimitRegistry:
        """Refused: jq stores no rate-limit registries."""
        raise _not_stored()


def release_slot(job: Job) -> list[str]:
    """Give back the slot ``job`` held and queue the jobs waiting for it: none in jq (no job ever
    holds a slot). Returns the ids queued (none)."""
    return []
