"""Reading a job's results from the broker (see :meth:`jq.job.Job.latest_result`)."""

from __future__ import annotations

import time
from typing import Any

from jq.broker import Broker
from jq.core.job_record import UNSET
from jq.core.results import Result, decode_result
from jq.io.serializers import Serializer

__all__ = ["JobResults", "load_results", "wait_for_latest_result"]


def load_results(broker: Broker, job_id: str, serializer: Serializer) -> list[Result]:
    """One :class:`Result` per kept execution of job ``job_id``, newest first."""
    connection = broker.connection
    return [
        decode_result(job_id, data, serializer, connection=connection) for data in broker.load_results(job_id)
    ]


def wait_for_latest_result(
    broker: Broker, job_id: str, serializer: Serializer, timeout: float
) -> Result | None:
    """The newest result of job ``job_id``, waiting up to ``timeout`` seconds for one to appear."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        entries = broker.load_results(job_id)
        if entries:
            return decode_result(job_id, entries[0], serializer, connection=broker.connection)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.1)


class JobResults:
    """RQ's result methods of a job, a mixin of :class:`jq.job.Job`: one entry per execution,
    read from the broker; the newest kept on the job until its record is read again."""

    # Set by Job.__init__ (see jq.core.job).
    _id: str
    _latest_result: Result | None
    _return_value: Any
    broker: Broker
    serializer: Serializer

    # -- results: one entry per execution -------------------------------------------------------

    def results(self) -> list[Result]:
        """One :class:`Result` per kept execution, newest first."""
        return load_results(self.broker, self._id, self.serializer)

    def latest_result(self, timeout: float = 0) -> Result | None:
        """The newest result; with ``timeout`` seconds, wait up to that long for one to appear."""
        result = wait_for_latest_result(self.broker, self._id, self.serializer, timeout)
        if result is not None:
            self._latest_result = result
        return result

    def return_value(self, refresh: bool = False) -> Any:
        """The return value of the newest execution if it succeeded, else None."""
        if self._return_value is not UNSET and not refresh:
            return self._return_value
        result = self.latest_result()
        if result is None or result.type is not Result.Type.SUCCESSFUL:
            return None
        self._return_value = result.return_value
        return self._return_value

    @property
    def result(self) -> Any:
        """The return value once the job succeeded; None before that (RQ's ``job.result``)."""
        return self.return_value()

    @property
    def exc_info(self) -> str | None:
        """The traceback text of the newest failed execution, or None."""
        result = self._latest_result if self._latest_result is not None else self.latest_result()
        if result is None or result.type is Result.Type.SUCCESSFUL:
            return None
        return result.exc_string
