"""RQ's module ``rq.maintenance``. jq's worker maintenance is :mod:`jq.worker.maintenance`."""

from __future__ import annotations

import warnings
from typing import Any

from jq.compat.intermediate_queue import IntermediateQueue

__all__ = ["clean_intermediate_queue"]


def clean_intermediate_queue(worker: Any, queue: Any) -> None:
    """Deprecated, as in RQ: :meth:`IntermediateQueue.cleanup`, which has nothing to do in jq (a
    claim is one atomic step)."""
    warnings.warn(
        "clean_intermediate_queue is deprecated: use IntermediateQueue.cleanup",
        DeprecationWarning,
        stacklevel=2,
    )
    IntermediateQueue(queue.key, connection=queue.connection).cleanup(worker, queue)
