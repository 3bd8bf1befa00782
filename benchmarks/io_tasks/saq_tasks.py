"""The I/O job as a SAQ function; the worker runs as ``saq benchmarks.io_tasks.saq_tasks.settings``
(one process; its default logging shows errors only).

``concurrency`` comes from the harness (``CONCURRENCY_VARIABLE``); every other setting is SAQ's default.
"""

from __future__ import annotations

from typing import Any

from saq import Queue

from benchmarks.io_tasks import afetch, concurrency, redis_url


async def fetch(ctx: dict[str, Any], *, url: str) -> int:
    """The benchmark's async GET, as a SAQ job (SAQ passes its context, then keyword arguments)."""
    return await afetch(url)


#: The queue the benchmark fills and the worker reads (SAQ's default name).
queue = Queue.from_url(redis_url())
#: What ``saq`` reads: the queue, the one function and the concurrency asked for.
settings = {"queue": queue, "functions": [fetch], "concurrency": concurrency()}
