"""The memory driver: a whole jq store in one process, under one lock.

Every method runs as one critical section of a single :class:`threading.Condition` (over an
``RLock``), so every method is atomic, and a blocked :meth:`MemoryBroker.claim` sleeps on that
same condition until something puts a job id on a queue. Record and worker expiry are deadlines
from the broker's clock, checked whenever a record is looked at.

Nothing is shared with other processes (``shares_across_processes`` is False): a forked work
horse or a second machine would see an empty store, so jq refuses those set-ups with a clear error.

The broker is put together from one mixin per concern of the contract, all over the shared state
of :class:`jq_backends.memory._base.MemoryState`: :mod:`.records`, :mod:`.queues`,
:mod:`.registries`, :mod:`.workers`, :mod:`.control`, :mod:`.groups` and :mod:`.rate_limits`
(whose slots :mod:`._slots` takes and frees within the other mixins' calls).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import ClassVar

from jq.broker import Broker, Claimed, ClaimRequest, Transition, claim_fields_now, claim_lease_now
from jq_backends.keys import KeyNames
from jq_backends.memory.control import MemoryControl
from jq_backends.memory.groups import MemoryGroups
from jq_backends.memory.queues import MemoryQueues
from jq_backends.memory.rate_limits import MemoryRateLimits
from jq_backends.memory.records import MemoryJobs
from jq_backends.memory.registries import MemoryRegistries
from jq_backends.memory.workers import MemoryWorkers

__all__ = ["MemoryBroker"]


class MemoryBroker(
    KeyNames,
    MemoryJobs,
    MemoryQueues,
    MemoryRegistries,
    MemoryWorkers,
    MemoryControl,
    MemoryGroups,
    MemoryRateLimits,
    Broker,
):
    """A :class:`~jq.broker.Broker` kept in this process's memory; thread-safe, no server.

    :param name: names the store in :attr:`url` (``memory://<name>``) and in :meth:`named`.
    :param clock: the time source for record and worker expiry (tests may drive it by hand).
        Blocking :meth:`claim` waits use real monotonic time whatever the clock.
    :param prefix: the key prefix for :meth:`job_key` and friends.

    ``MemoryBroker()`` is a fresh, empty store. To share one store between objects that only
    have a URL (``Queue(connection="memory://")`` and a worker in the same process), use
    :meth:`named`, which is what the ``memory://`` URL scheme resolves to.
    """

    shares_across_processes = False

    _named: ClassVar[dict[str, MemoryBroker]] = {}
    _named_lock: ClassVar[threading.Lock] = threading.Lock()

    # -- the process-wide named stores ------------------------------------------------------------

    @classmethod
    def named(cls, name: str = "default") -> MemoryBroker:
        """The process's store called ``name``, created on first use; the same object every time."""
        with cls._named_lock:
            broker = cls._named.get(name)
            if broker is None:
                broker = cls._named[name] = cls(name)
            return broker

    @classmethod
    def forget(cls, name: str) -> None:
        """Drop the named store (its data goes once nothing else holds it). For tests."""
        with cls._named_lock:
            cls._named.pop(name, None)

    @classmethod
    @contextlib.contextmanager
    def isolated_names(cls, stores: Mapping[str, MemoryBroker] | None = None) -> Iterator[None]:
        """Within the block, every name starts without a store: :meth:`named` (so every
        ``memory://`` URL) makes new ones, except for the ``stores`` given, which answer their
        names. On exit the stores of the block are forgotten and those of before come back.

        For tests: jq's pytest plugin gives each test its own ``memory://`` stores this way. The
        names are process-wide, so blocks must not overlap in different threads.
        """
        with cls._named_lock:
            before = dict(cls._named)
            cls._named.clear()
            cls._named.update(stores or {})
        try:
            yield
        finally:
            with cls._named_lock:
                cls._named.clear()
                cls._named.update(before)

    # -- identity -------------------------------------------------------------------------------

    @property
    def connection(self) -> MemoryBroker:
        """The broker itself: there is no client underneath."""
        return self

    @property
    def url(self) -> str:
        """``memory://<name>``."""
        return f"memory://{self._name}"

    def finish_and_claim(self, change: Transition, claim: ClaimRequest) -> tuple[bool, Claimed | None]:
        """:meth:`transition` then a :meth:`claim` that never waits, as one critical section.

        Both worker updates are checked before anything is written, as the Redis driver does.
        """
        with self._cond:
            self._workers.check_updates([change.worker, claim.worker])
            moved = self._transition(change)
            fields = claim_fields_now(claim.fields)
            lease = claim_lease_now(claim.lease_until)
            return moved, self._take(claim.queues, fields, lease, claim.worker)

    def ping(self) -> None:
        """Always answers: the store is this object."""

    def __repr__(self) -> str:
        return f"MemoryBroker({self._name!r})"
