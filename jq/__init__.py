"""jq: a background job queue for Python with RQ's API.

>>> from jq import Queue, SimpleWorker
>>> queue = Queue(connection="memory://")
>>> job = queue.enqueue("builtins.abs", -3)
>>> SimpleWorker([queue]).work(burst=True)
True
>>> job.result
3
"""

from jq.callbacks import Callback
from jq.connections import Connection, get_current_connection, pop_connection, push_connection, use_connection
from jq.dependency import Dependency
from jq.job import Job, JobStatus, get_current_job
from jq.plugins import hookimpl
from jq.queue import Queue
from jq.retry import Retry
from jq.worker import SimpleWorker, Worker

__version__ = "0.1.0"

__all__ = [
    "Callback",
    "Connection",
    "Dependency",
    "Job",
    "JobStatus",
    "Queue",
    "Retry",
    "SimpleWorker",
    "Worker",
    "__version__",
    "get_current_connection",
    "get_current_job",
    "hookimpl",
    "pop_connection",
    "push_connection",
    "use_connection",
]
