"""The memory driver: a thread-safe, in-process :class:`~jq.broker.Broker` with no server.

For unit tests and ``is_async=False`` queues. ``memory://`` URLs name a process-wide store
(``memory://`` is the one called ``default``), so a queue and a worker built from the same URL in
one process share their data; nothing is shared between processes. It is jq's rules
(:class:`jq.broker.rules.StoreBroker`) over :class:`MemoryStore`.
"""

from jq_backends.memory.broker import MemoryBroker
from jq_backends.memory.store import MemoryStore

__all__ = ["MemoryBroker", "MemoryStore"]
