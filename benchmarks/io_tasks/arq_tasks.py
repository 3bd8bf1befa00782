"""The I/O job as an arq function; run as ``python -m benchmarks.io_tasks.arq_tasks`` (arq's
``run_worker`` on :class:`WorkerSettings`, logging warnings only, as the other workers here do).

``max_jobs`` comes from the harness (``CONCURRENCY_VARIABLE``); every other setting is arq's default.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from arq.connections import RedisSettings
from arq.worker import run_worker

from benchmarks.io_tasks import afetch, concurrency, redis_url


async def fetch(ctx: dict[str, Any], url: str) -> int:
    """The benchmark's async GET, as an arq job (arq passes its context first)."""
    return await afetch(url)


class WorkerSettings:
    """arq's worker settings: the one function, the private server, ``max_jobs`` as asked."""

    functions: ClassVar = [fetch]
    redis_settings = RedisSettings.from_dsn(redis_url())
    max_jobs = concurrency()


if __name__ == "__main__":
    # arq's own command line logs every job at INFO; the others here log warnings only
    logging.basicConfig(level=logging.WARNING)
    run_worker(WorkerSettings)  # type: ignore[arg-type]
