"""Workers: :class:`Worker` (a work horse process per job) and :class:`SimpleWorker` (in process)."""

from jq.worker.base import BaseWorker, SimpleWorker, Worker
from jq.worker.registration import WorkerStatus

__all__ = ["BaseWorker", "SimpleWorker", "Worker", "WorkerStatus"]
