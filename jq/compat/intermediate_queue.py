"""RQ's intermediate queue (``rq.intermediate_queue``), which jq does not have.

RQ moves a job it dequeues onto an intermediate list before recording it as started, and cleans
up jobs left there when a worker dies between the two steps. jq claims a job in one atomic step
(off its queue, into the started registry, with its lease), so no job is ever between the two and
there is nothing to clean: this class answers that it is empty. It names no key (None): in jq's
layout ``<queue key>:intermediate`` would be the key of another queue.
"""

from __future__ import annotations

import datetime
from typing import Any

from jq.base.utils import public_module

__all__ = ["IntermediateQueue"]


class IntermediateQueue:
    """The (always empty) intermediate queue of the queue whose key is ``queue_key``."""

    def __init__(self, queue_key: str, connection: Any) -> None:
        self.queue_key = queue_key
        self.connection = connection
        self.key = self.get_intermediate_queue_key(queue_key)

    @classmethod
    def get_intermediate_queue_key(cls, queue_key: str) -> str | None:
        """None: jq stores no intermediate queue."""
        return None

    def get_first_seen_key(self, job_id: str) -> str | None:
        """None: jq stores no intermediate queue."""
        return None

    def set_first_seen(self, job_id: str) -> bool:
        """False: no job is ever seen here."""
        return False

    def get_first_seen(self, job_id: str) -> datetime.datetime | None:
        """None: no job is ever seen here."""
        return None

    def should_be_cleaned_up(self, job_id: str) -> bool:
        """False: no job is ever left here."""
        return False

    def get_job_ids(self) -> list[str]:
        """No ids."""
        return []

    def remove(self, job_id: str) -> None:
        """Nothing to remove."""

    def cleanup(self, worker: Any, queue: Any) -> None:
        """Nothing to clean up."""


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.intermediate_queue", IntermediateQueue)
