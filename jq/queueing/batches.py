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

import contextlib
import dataclasses
import operator
from collections.abc import Mapping, Sequence
from types import FunctionType
from typing import TYPE_CHECKING

from jq.base.utils import format_timestamp, now
from jq.broker import EnqueueRequest
from jq.core import job_record
from jq.core.job import Job, JobStatus
from jq.core.payload import check_record_size
from jq.io.serializers import resolve_serializer
from jq.io.signing import is_signing
from jq.plugins import get_plugin_manager
from jq.queueing.enqueue_options import EnqueueArgs, EnqueueData
from jq.queueing.enqueue_outcomes import apply_outcomes

if TYPE_CHECKING:
    from jq.queueing.enqueueing import Enqueueing

__all__ = ["EnqueueModel", "batch_requests", "create_batch", "model_enqueue"]

#: ``Job.create`` as jq defines it (a job class overriding it gets every job of a batch made whole).
_JOB_CREATE = Job.create.__func__  # type: ignore[attr-defined]


def _copyable(job_class: type[Job]) -> bool:
    """Whether jobs of ``job_class`` may be made by copying one (:meth:`Job._sibling`): its
    ``create`` must see every job, and its ``__init__`` may set attributes a copy would share."""
    return getattr(job_class.create, "__func__", None) is _JOB_CREATE and job_class.__init__ is Job.__init__


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
    queue's :meth:`Queue.create_job` is overridden) or when its job class's ``create`` or
    ``__init__`` is overridden: an override must see every job, as in RQ.
    """
    whole = whole or not _copyable(queue.job_class)
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
    return sum(map(len, filter(None, map(fields.get, job_record.SIBLING_OWN))))


# -- one-by-one enqueue: the same copies, of a model kept by the queue ------------------------------

#: The options of :class:`EnqueueArgs` a job made from a queue's model must leave at their default
#: (its id, arguments, meta, description and ``at_front`` are its own).
_MODEL_DEFAULTS = tuple(
    index
    for index, name in enumerate(EnqueueArgs._fields)
    if name not in ("func", "job_id", "args", "kwargs", "meta", "description", "at_front", "unique")
)
_model_options = operator.itemgetter(*_MODEL_DEFAULTS)
#: How many functions' models a queue keeps.
_MODELS_PER_QUEUE = 32
#: Each of them, at its default.
_DEFAULTS = (None,) * len(_MODEL_DEFAULTS)


@dataclasses.dataclass(frozen=True)
class EnqueueModel:
    """A job of a queue made in full by ``create_job`` for one function with enqueue's default
    options, never enqueued nor given to anyone, and the fields of its record that every job made
    from it shares (all but its own: see :data:`jq.core.job_record.SIBLING_OWN`, and its
    timestamps). What it was made under is kept: a change of any makes a new model."""

    func: object
    job: Job
    shared: dict[str, bytes]
    queue: str
    default_timeout: int


def model_enqueue(queue: Enqueueing, parsed: EnqueueArgs) -> Job | None:
    """``queue.enqueue(...)`` of ``parsed`` through the queue's model of its function, when it can
    be: enqueue's options (but the job's own) at their defaults, the job class's ``create`` not
    overridden, no plugin scope around the enqueue. Otherwise None, having done nothing: the caller
    goes the whole way (``enqueue_call``).

    Made from the model (see :meth:`Job._sibling`), a job gets what ``create_job`` would give it
    (its own parts checked as it checks them) and its own ``created_at``; its record is the model's
    shared fields and its own, as :func:`jq.core.job_record.encode` writes them.
    """
    if _model_options(parsed) != _DEFAULTS or parsed.unique is not False:
        return None
    if not _copyable(queue.job_class):
        return None
    func = parsed.func
    if type(func) is not FunctionType and type(func) is not str:
        # A method or a callable object is the call's instance too: each is made whole.
        return None
    models = queue._enqueue_models
    if models is None:
        models = queue._enqueue_models = {}
    model = models.get(func)
    serializer = resolve_serializer(queue.serializer)  # as Job() does: JQ_SIGNING_KEYS may change
    if (
        model is None
        or model.job.serializer is not serializer
        or model.queue != queue.name
        or model.default_timeout != queue._default_timeout
    ):
        model = _new_model(queue, func)
        if model is None or model.job.serializer is not serializer:
            return None
        if len(models) >= _MODELS_PER_QUEUE:
            models.clear()  # a queue of many functions makes models again: it stays small
        models[func] = model
    job = model.job._sibling(parsed.job_id, parsed.args, parsed.kwargs, parsed.meta, parsed.description)
    job.created_at = now()
    scope = get_plugin_manager().enqueue_scope([job], queue.name)
    with scope:
        if isinstance(scope, contextlib.nullcontext):
            # As _request: queued at once (no dependencies, no rate limit); the broker writes the
            # status.
            job.enqueued_at = now()
            fields = job_record.encode_sibling(job, model.shared)
            fields["created_at"] = format_timestamp(job.created_at).encode()
            fields["enqueued_at"] = format_timestamp(job.enqueued_at).encode()
            check_record_size(job.id, fields, queue._max_payload_size)
            request = EnqueueRequest(
                job_id=job.id,
                queue=queue.name,
                fields=fields,
                record_ttl=job.ttl,
                at_front=bool(parsed.at_front),
            )
        else:
            # A plugin's scope may have changed anything in the job: its record is built whole.
            request = queue._request(job, at_front=parsed.at_front)
        apply_outcomes(queue.broker, (job,), (queue.broker.enqueue(request),))
    return job


def _new_model(queue: Enqueueing, func: object) -> EnqueueModel | None:
    """A queue's model for ``func`` (None when its records are signed: each is signed whole)."""
    job = queue.create_job(func, status=JobStatus.QUEUED)  # type: ignore[arg-type]
    if is_signing(job.serializer):
        return None
    job.note_status(None)  # the broker writes the status: it is in no request's fields
    fields = job.to_record()
    shared = {
        name: value
        for name, value in job_record.shared_fields(fields).items()
        if name not in ("created_at", "enqueued_at")
    }
    return EnqueueModel(func, job, shared, queue.name, queue._default_timeout)
