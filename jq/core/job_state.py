"""A job's status: the enum, and the place a job of each status is in."""

from __future__ import annotations

import enum

from jq.base.utils import public_module
from jq.broker import STATUS_PLACES, PlaceKind

__all__ = ["STATUS_PLACE", "UNSTORED_STATUSES", "JobStatus"]


class JobStatus(str, enum.Enum):
    """Where a job is in its life. Each status compares equal to its string (``'queued'``...).

    ``str()`` and ``format()`` of a status are Python's for a ``(str, Enum)``, as in RQ:
    ``'JobStatus.QUEUED'`` (``.value`` is ``'queued'``).
    """

    #: Made by :meth:`jq.job.Job.create` and not enqueued yet.
    CREATED = "created"
    QUEUED = "queued"
    FINISHED = "finished"
    FAILED = "failed"
    STARTED = "started"
    DEFERRED = "deferred"
    SCHEDULED = "scheduled"
    STOPPED = "stopped"
    CANCELED = "canceled"
    #: Waiting for a slot of its rate limit (``RateLimit``), on no queue until one is free.
    RATE_LIMITED = "rate_limited"
    #: RQ's status of a released dependent not yet queued; jq queues released dependents in the
    #: same step that releases them, so no job gets it.
    READY_TO_ENQUEUE = "ready_to_enqueue"


#: The place a job of each status is in (stopped jobs are kept in the failed registry).
STATUS_PLACE: dict[JobStatus, PlaceKind] = {JobStatus(status): kind for status, kind in STATUS_PLACES.items()}

#: Statuses that name no place: a record holds none of them. A job that was created (or saved)
#: and never enqueued has no status field, and reads back as ``created``.
UNSTORED_STATUSES = frozenset(status for status in JobStatus if status not in STATUS_PLACE)


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.job", JobStatus)
