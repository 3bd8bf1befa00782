"""The I/O job as an arq function; run as ``python -m benchmarks.io_tasks.arq_tasks`` (arq's
``run_worker`` on :class:`WorkerSettings`, logging warnings only, as the other workers here do).

``max_jobs`` comes from the harness (``CONCURRENCY_VARIABLE``); every other setting but ``conn_timeout``
(below) is arq's default.
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
    # arq's default conn_timeout (1 s) is too short for a loaded 2-core machine: a job's result
    # write failed to connect under load and took the worker down. A longer one changes no speed.
    redis_settings = RedisSettings.from_dsn(redis_url())
    redis_settings.conn_timeout = 10
    max_jobs = concurrency()


if __name__ == "__main__":
    # arq's own command line logs every job at INFO; the others here log warnings only
    logging.basicConfig(level=logging.WARNING)
    run_worker(WorkerSettings)  # type: ignore[arg-type]
