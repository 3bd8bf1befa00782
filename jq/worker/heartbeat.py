"""Keeping a running job's lease and its worker's record alive."""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jq.job import Job
    from jq.worker.base import BaseWorker

__all__ = ["JobHeartbeat"]

logger = logging.getLogger("jq.worker")


class JobHeartbeat:
    """While a job runs, renew its lease and the worker's record every ``interval`` seconds.

    A background thread of the worker process, so the job itself (in-process or in a work horse)
    never has to cooperate. Use as a context manager around the job's execution.
    """

    def __init__(self, worker: BaseWorker, job: Job, interval: float) -> None:
        self.worker = worker
        self.job = job
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"jq-heartbeat-{job.id}", daemon=True)

    def __enter__(self) -> JobHeartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        # Joined before the worker forks again: forking while this thread holds a lock is unsafe.
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.worker.renew_lease(self.job)
            except Exception:
                # The store may be briefly unreachable; the next beat tries again.
                logger.warning("job %s: could not renew its lease", self.job.id, exc_info=True)
