"""The I/O job as a SAQ function; the worker runs as ``saq benchmarks.io_tasks.saq_tasks.settings``
(one process; its default logging shows errors only).

``concurrency`` comes from the harness (``CONCURRENCY_VARIABLE``); every other setting is SAQ's default
(the Redis client's connection cap: see :data:`queue`).
"""

from __future__ import annotations

from typing import Any

import redis.asyncio
from saq.queue.redis import RedisQueue

from benchmarks.io_tasks import afetch, concurrency, redis_url


async def fetch(ctx: dict[str, Any], *, url: str) -> int:
    """The benchmark's async GET, as a SAQ job (SAQ passes its context, then keyword arguments)."""
    return await afetch(url)


#: The queue the benchmark fills and the worker reads (SAQ's default name). Its client has no cap
#: on connections, as redis-py had before 8 (SAQ's Redis support asks for redis-py < 8): redis-py
#: 8 caps an asyncio pool at 100, and SAQ at concurrency 100 needs a few more (its timers'), so
#: its worker failed "Too many connections" and left a job active forever.
queue = RedisQueue(redis.asyncio.from_url(redis_url(), max_connections=2**31))
#: What ``saq`` reads: the queue, the one function and the concurrency asked for.
settings = {"queue": queue, "functions": [fetch], "concurrency": concurrency()}
