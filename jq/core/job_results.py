"""Reading a job's results from the broker (see :meth:`jq.job.Job.latest_result`)."""

from __future__ import annotations

import time

from jq.broker import Broker
from jq.core.results import Result, decode_result
from jq.io.serializers import Serializer

__all__ = ["load_results", "wait_for_latest_result"]


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
