"""The memory driver: jq's rules (:class:`jq.broker.rules.StoreBroker`) over a
:class:`~jq_backends.memory.store.MemoryStore`, a store kept in this process.

Every call is one block of the store's single lock, so every call is atomic, and a blocked
:meth:`MemoryBroker.claim` sleeps on that lock's condition until a block pushes a job id onto a
queue. Record and worker expiry are deadlines from the broker's clock, checked whenever a record
is looked at.

Nothing is shared with other processes (``shares_across_processes`` is False): a forked work
horse or a second machine would see an empty store, so jq refuses those set-ups with a clear error.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import ClassVar

from jq.broker.rules import StoreBroker
from jq.io.connections import key_prefix
from jq_backends.keys import DEFAULT_PREFIX, KeySpace
from jq_backends.memory.store import MemoryStore

__all__ = ["MemoryBroker"]


class MemoryBroker(StoreBroker):
    """A :class:`~jq.broker.Broker` kept in this process's memory; thread-safe, no server.

    :param name: names the store in :attr:`url` (``memory://<name>``) and in :meth:`named`.
    :param clock: the time source for record and worker expiry (tests may drive it by hand).
        Blocking :meth:`claim` waits use real monotonic time whatever the clock.
    :param prefix: the key prefix for :meth:`job_key` and friends; None: ``JQ_KEY_PREFIX``, else
        ``jq:``, as on the other drivers (a ``memory://`` store named in tests reports the keys the
        production store would have).

    ``MemoryBroker()`` is a fresh, empty store. To share one store between objects that only
    have a URL (``Queue(connection="memory://")`` and a worker in the same process), use
    :meth:`named`, which is what the ``memory://`` URL scheme resolves to.
    """

    shares_across_processes = False
    #: The store this broker's rules run on (:meth:`MemoryStore.snapshot` shows all of it).
    store: MemoryStore

    _named: ClassVar[dict[str, MemoryBroker]] = {}
    _named_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        name: str = "default",
        *,
        clock: Callable[[], float] = time.time,
        prefix: str | None = None,
    ) -> None:
        self._name = name
        super().__init__(MemoryStore(name, clock=clock), KeySpace(key_prefix(prefix, DEFAULT_PREFIX)))

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

    def __repr__(self) -> str:
        return f"MemoryBroker({self._name!r})"
