"""The benchmark jobs as Celery tasks: Redis broker (db 0) and Redis result backend (db 1).

The worker runs as ``celery -A benchmarks.peer_tasks.celery_tasks worker``. Results go to their own
database so that its key count is exactly the number of jobs that finished.
"""

from __future__ import annotations

from celery import Celery

from benchmarks.peer_tasks import record, redis_url


def _database(url: str, number: int) -> str:
    """``url`` with its database number replaced by ``number``."""
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/{number}"


#: Where tasks are queued and where their results go.
BROKER_URL, RESULTS_URL = _database(redis_url(), 0), _database(redis_url(), 1)
app = Celery("bench", broker=BROKER_URL, backend=RESULTS_URL)
# Not a tuning knob: silences Celery 5's start-up deprecation warning and keeps today's behaviour.
app.conf.broker_connection_retry_on_startup = True


@app.task
def noop() -> None:
    """Do nothing: the benchmarks measure the queue, not the job."""


@app.task
def stamp(field: str) -> None:
    """Record this job's start time under ``field``."""
    record(field)
