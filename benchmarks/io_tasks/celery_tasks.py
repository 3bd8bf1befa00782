"""The I/O job as a Celery task: Redis broker (db 0), Redis result backend (db 1); the worker runs as
``celery -A benchmarks.io_tasks.celery_tasks worker --pool=threads --concurrency N``.

Results have a database of their own so that its key count is the number of finished jobs.
"""

from __future__ import annotations

from celery import Celery

from benchmarks.io_tasks import fetch as blocking_fetch
from benchmarks.io_tasks import redis_url

_base = redis_url().rsplit("/", 1)[0]
#: Where tasks are queued and where their results go.
BROKER_URL, RESULTS_URL = f"{_base}/0", f"{_base}/1"
app = Celery("iobench", broker=BROKER_URL, backend=RESULTS_URL)
# Not a tuning knob: silences Celery 5's start-up deprecation warning and keeps today's behaviour.
app.conf.broker_connection_retry_on_startup = True


@app.task
def fetch(url: str) -> int:
    """The benchmark's blocking GET (urllib.request)."""
    return blocking_fetch(url)
