"""Workers (see :mod:`jq.worker.worker_classes` for each class).

:class:`Worker` forks a work horse per job, :class:`SimpleWorker` runs jobs in its own process,
:class:`SpawnWorker` starts a fresh Python process per job; :class:`HerokuWorker`,
:class:`RoundRobinWorker` and :class:`RandomWorker` are Workers with another shutdown or queue
order. Names are RQ 3.0's (``rq.worker``).
"""

from jq.defaults import DEFAULT_RESULT_TTL
from jq.worker.base import SHUTDOWN_SIGNAL, BaseWorker, _signames, logger, signal_name
from jq.worker.control import DequeueStrategy
from jq.worker.registration import WorkerStatus
from jq.worker.worker_classes import (
    HerokuWorker,
    RandomWorker,
    RoundRobinWorker,
    SimpleWorker,
    SpawnWorker,
    Worker,
)

__all__ = [
    "DEFAULT_RESULT_TTL",
    "SHUTDOWN_SIGNAL",
    "BaseWorker",
    "DequeueStrategy",
    "HerokuWorker",
    "RandomWorker",
    "RoundRobinWorker",
    "SimpleWorker",
    "SpawnWorker",
    "Worker",
    "WorkerStatus",
    "_signames",
    "logger",
    "signal_name",
]
