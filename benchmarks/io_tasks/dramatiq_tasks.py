"""The I/O job as a dramatiq actor on a default ``RedisBroker``; the worker runs as
``dramatiq benchmarks.io_tasks.dramatiq_tasks --processes 1 --threads N``.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from benchmarks.io_tasks import fetch as blocking_fetch
from benchmarks.io_tasks import redis_url

broker = RedisBroker(url=redis_url())
dramatiq.set_broker(broker)


@dramatiq.actor
def fetch(url: str) -> None:
    """The benchmark's blocking GET (urllib.request)."""
    blocking_fetch(url)
