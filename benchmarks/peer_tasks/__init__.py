"""Task modules for the peer benchmarks (huey, dramatiq, Celery), importable by their workers.

Every library gets the same two jobs: ``noop`` (nothing, as ``benchmarks.jobs.noop``) and
``stamp(field)``, which writes the wall-clock time it started to the :data:`STAMPS` hash. The
drain measure stamps only its first and last job and the latency measure stamps every job, so the
drained jobs themselves do no extra work. The Redis URL comes from :data:`URL_VARIABLE`, which the
harness sets before a worker (or the measuring process) imports a task module.
"""

from __future__ import annotations

import os
import time

import redis

#: The environment variable that carries the private redis-server's URL to the workers.
URL_VARIABLE = "JQ_PEERS_REDIS_URL"
#: The hash ``stamp`` jobs write their start times to: field -> ``time.time()`` as text.
STAMPS = "peers:stamps"
#: The SQLite benchmark's (``benchmarks/sqlite.py``) database file for huey, an absolute path.
SQLITE_FILE_VARIABLE = "JQ_BENCH_SQLITE_FILE"
#: ``off`` for ``SqliteHuey(..., fsync=False)``; unset or anything else for huey's default.
HUEY_FSYNC_VARIABLE = "JQ_BENCH_HUEY_FSYNC"

_client: redis.Redis | None = None


def redis_url() -> str:
    """The benchmark's redis-server URL (``redis://host:port/0``)."""
    url = os.environ.get(URL_VARIABLE)
    if not url:
        raise RuntimeError(f"{URL_VARIABLE} is not set: the peer benchmark harness sets it")
    return url


def record(field: str) -> None:
    """Write the time this job started to :data:`STAMPS` under ``field``."""
    # Read the clock before any I/O: the stamp is the moment the job's code began.
    started = time.time()
    global _client  # noqa: PLW0603 - one client per process, made on first use (after a fork)
    if _client is None:
        _client = redis.Redis.from_url(redis_url())
    _client.hset(STAMPS, field, repr(started))
