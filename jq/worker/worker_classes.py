"""RQ's module ``rq.worker.worker_classes``: the worker classes, by the names RQ gives them.

jq's classes live in :mod:`jq.worker.base`; this module names them where RQ's code imports them
from (``from rq.worker.worker_classes import Worker``).
"""

from jq.worker.base import BaseWorker, SimpleWorker, Worker
from jq.worker.registration import WorkerStatus

__all__ = ["BaseWorker", "SimpleWorker", "Worker", "WorkerStatus"]
