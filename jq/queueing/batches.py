"""The jobs and requests of :meth:`Queue.enqueue_many <jq.queue.Queue.enqueue_many>`, made in bulk.

A batch's jobs nearly always share their function and options. Made one by one, each would have
every option checked and converted and its whole record encoded; here the first job of each run
of jobs sharing their options is made in full, and the others are copies of it
(:meth:`Job._sibling <jq.core.job.Job._sibling>`) with their own id, arguments, meta and
description, whose records are its record with their own fields
(:func:`jq.core.job_record.encode_sibling`). Their requests carry the fields they share
(:attr:`jq.broker.EnqueueRequest.shared`), which a driver may send once for the batch.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from jq.broker import EnqueueRequest
from jq.core import job_record
from jq.core.job import Job
from jq.core.payload import check_record_size
from jq.queueing.enqueue_options import EnqueueData

if TYPE_CHECKING:
    from jq.queueing.enqueueing import Enqueueing

__all__ = ["batch_requests", "create_batch"]

#: ``Job.create`` as jq defines it (a job class overriding it gets every job of a batch made whole).
_JOB_CREATE = Job.create.__func__  # type: ignore[attr-defined]

#: The options of :class:`EnqueueData` that siblings share (see :func:`create_batch`):
#: every one but the id, the call's arguments, meta, description, ``at_front`` (per request) and
#: ``depends_on`` (a job with dependencies is made whole).
_SHARED_OPTIONS = tuple(
    index
    for index, name in enumerate(EnqueueData._fields)
    if name not in ("job_id", "args", "kwargs", "meta", "description", "at_front", "depends_on")
)


#: The shared options of an :class:`EnqueueData`, as a tuple.
_shared_options = operator.itemgetter(*_SHARED_OPTIONS)


def _same_options(options: tuple[object, ...], other: tuple[object, ...]) -> bool:
    """Whether two jobs of a batch have the very same shared options (the same objects: equal
    ones that are not the same make a new model, which is only slower)."""
    return all(map(operator.is_, options, other))


def create_batch(
    queue: Enqueueing, datas: Sequence[EnqueueData], group_id: str | None, *, whole: bool
) -> tuple[list[Job], list[Job | None]]:
    """The jobs of a batch, and for each the job it is a sibling of (None for one made whole).

    Jobs of a batch nearly always share their function and options: only the first job of a
    run sharing them goes through :meth:`Queue.create_job` (every option checked and converted);
    the next are :meth:`Job._sibling` copies of it with their own id, arguments, meta and
    description. A job with dependencies is made whole, and so is every job with ``whole`` (the
    queue's :meth:`Queue.create_job` is overridden) or when its job class's ``create`` is
    overridden: an override must see every job, as in RQ.
    """
    whole = whole or getattr(queue.job_class.create, "__func__", None) is not _JOB_CREATE
    jobs: list[Job] = []
    models: list[Job | None] = []
    model: Job | None = None
    shared: tuple[object, ...] = ()
    for data in datas:
        if whole or data.depends_on is not None:
            jobs.append(queue._create_from_data(data, group_id))
            models.append(None)
            continue
        options = _shared_options(data)
        if model is not None and _same_options(options, shared):
            jobs.append(model._sibling(data.job_id, data.args, data.kwargs, data.meta, data.description))
            models.append(model)
            continue
        model, shared = queue._create_from_data(data, group_id), options
        jobs.append(model)
        models.append(None)
    return jobs, models


def batch_requests(
    queue: Enqueueing, jobs: Sequence[Job], datas: Sequence[EnqueueData], models: Sequence[Job | None]
) -> list[EnqueueRequest]:
    """The broker requests of a batch made by :func:`create_batch`: a sibling's record is its
    model's with its own fields (see :func:`jq.core.job_record.encode_sibling`), and it shares
    its model's ``enqueued_at``, as the batch is enqueued in one step."""
    requests: list[EnqueueRequest] = []
    made: dict[int, EnqueueRequest] = {}  # id(model) -> its request
    modelled = {id(model) for model in models if model is not None}
    limit = queue._max_payload_size
    shared_size = 0
    for job, data, model in zip(jobs, datas, models, strict=True):
        if model is None:
            request = queue._request(job, at_front=data.at_front)
            if id(job) in modelled:
                # What its siblings' records share with its own (see encode_sibling).
                shared = job_record.shared_fields(request.fields)
                request = dataclasses.replace(request, shared=shared)
                shared_size = sum(map(len, shared.values()))
            made[id(job)] = request
            requests.append(request)
            continue
        first = made[id(model)]
        job.enqueued_at = model.enqueued_at
        job.note_status(None)
        fields = job_record.encode_sibling(job, first.fields)
        if limit is not None and shared_size + _own_size(fields) > limit:
            check_record_size(job.id, fields, limit)  # raises, saying which fields are big
        requests.append(
            EnqueueRequest(
                job_id=job.id,
                queue=first.queue,
                fields=fields,
                record_ttl=first.record_ttl,
                at_front=bool(data.at_front),
                allow_failure=first.allow_failure,
                group=first.group,
                shared=first.shared,
            )
        )
    return requests


def _own_size(fields: Mapping[str, bytes]) -> int:
    """The size of a sibling's own fields (the others are its model's, counted once)."""
    return sum(len(fields[name]) for name in job_record.SIBLING_OWN if name in fields)
