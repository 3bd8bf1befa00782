"""jq's public path of :mod:`jq.core.lifecycle` (a job's state changes) and
:mod:`jq.core.lifecycle_requests` (the ones a user asks for: cancel, requeue, enqueue now, delete): the same
objects, re-exported."""

from __future__ import annotations

from jq.core.giving_back import unclaim
from jq.core.lifecycle import (
    FAILED_SETTLEMENT,
    FINISHED_SETTLEMENT,
    UNSERIALIZABLE_RETURN_VALUE,
    NextClaim,
    claim_fields,
    dependents_cancellation,
    fail,
    finish,
    now_text,
    released_fields,
    results_kept,
    retry_returned,
    with_admission,
)
from jq.core.lifecycle_requests import cancel, delete, enqueue_now, places_of, refuse_pipeline, requeue

__all__ = [
    "FAILED_SETTLEMENT",
    "FINISHED_SETTLEMENT",
    "UNSERIALIZABLE_RETURN_VALUE",
    "NextClaim",
    "cancel",
    "claim_fields",
    "delete",
    "dependents_cancellation",
    "enqueue_now",
    "fail",
    "finish",
    "now_text",
    "places_of",
    "refuse_pipeline",
    "released_fields",
    "requeue",
    "results_kept",
    "retry_returned",
    "unclaim",
    "with_admission",
]
