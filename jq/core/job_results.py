"""A job's results: one entry per execution, and the shortcuts RQ users rely on."""

from __future__ import annotations

import time
from typing import Any

from jq.broker import Broker
from jq.core import job_record
from jq.core.results import Result, decode_result
from jq.io.serializers import Serializer

__all__ = ["JobResults"]

_UNSET: Any = job_record.UNSET


class JobResults:
    """The result accessors of a :class:`jq.job.Job` (``result``, ``return_value()``...)."""

    _id: str
    broker: Broker
    serializer: Serializer
    _latest_result: Result | None
    _return_value: Any

    def results(self) -> list[Result]:
        """One :class:`Result` per kept execution, newest first."""
        connection = self.broker.connection
        return [
            decode_result(self._id, data, self.serializer, connection=connection)
            for data in self.broker.load_results(self._id)
        ]

    def latest_result(self, timeout: float = 0) -> Result | None:
        """The newest result; with ``timeout`` seconds, wait up to that long for one to appear."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            entries = self.broker.load_results(self._id)
            if entries:
                self._latest_result = decode_result(
                    self._id, entries[0], self.serializer, connection=self.broker.connection
                )
                return self._latest_result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.1)

    def return_value(self, refresh: bool = False) -> Any:
        """The return value of the newest execution if it succeeded, else None."""
        if self._return_value is not _UNSET and not refresh:
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
