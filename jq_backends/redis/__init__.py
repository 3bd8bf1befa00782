"""jq's production broker driver: Redis through redis-py (fakeredis clients work too).

``RedisBroker(client)`` wraps a client; ``RedisBroker.from_url("redis://...")`` makes one;
``RedisBroker.for_client(client)`` returns the one shared broker of a client. Each atomic broker
operation is one Lua script from this package's ``lua/`` directory, run in one round trip.
"""

from __future__ import annotations

from jq_backends.redis.broker import RedisBroker

__all__ = ["RedisBroker"]
