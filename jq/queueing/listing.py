"""Listing jobs: which jobs wait, run, failed... in which queues, read in batches.

:func:`list_jobs` walks the queues and registries asked for, newest or oldest end first, and
reads the jobs a batch of ids at a time (one round trip per batch, whatever the driver). A
record that cannot be read — corrupt, written with another serializer, unsigned where signing is
required — is listed with the reason instead of ending the listing: a listing is how one finds
such jobs.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jq.core.job import Job
from jq.exceptions import DeserializationError

if TYPE_CHECKING:
    from jq.queueing.queue import Queue
    from jq.queueing.registry import BaseRegistry

__all__ = ["LISTED_STATUSES", "JobListing", "ListedJob", "list_jobs", "place_job_ids", "read_jobs"]

#: The places a listing can look in, each named by the status of the jobs it holds (stopped jobs
#: are kept with the failed ones), in the order a job goes through them.
LISTED_STATUSES = (
    "queued", "started", "deferred", "scheduled", "rate_limited", "finished", "failed", "canceled",
)  # fmt: skip

#: Ids read per round trip while looking for jobs that match a filter.
DEFAULT_BATCH = 200

# The record field holding a failed job's traceback (written with its failure).
_FAILURE_FIELD = "exc_info"


@dataclass(frozen=True)
class ListedJob:
    """One job of a listing: the job, or why its record cannot be read.

    :param id: the job's id.
    :param queue: the queue it was listed under.
    :param place: the status its place stands for (``queued``, ``failed``...).
    :param job: the job, or None when its record cannot be read.
    :param problem: why the record, or the call in it, cannot be read (None: it can).
    :param failure: the traceback text stored with its failure, if any.
    """

    id: str
    queue: str
    place: str
    job: Job | None
    problem: str | None = None
    failure: str | None = None

    @property
    def status(self) -> str:
        """The job's own status, or its place's when the record cannot be read."""
        status = self.job.get_status(refresh=False) if self.job is not None else None
        return status.value if status is not None else self.place

    @property
    def function(self) -> str | None:
        """The dotted path of the job's function, or None when the call cannot be read."""
        if self.job is None or self.problem is not None:
            return None
        return self.job.func_name

    @property
    def since(self) -> datetime.datetime | None:
        """When the job was enqueued (else created); None when the record cannot be read."""
        if self.job is None:
            return None
        return self.job.enqueued_at or self.job.created_at

    @property
    def error(self) -> str | None:
        """The last line of the stored traceback (``ZeroDivisionError: division by zero``)."""
        if not self.failure:
            return None
        lines = [line.strip() for line in self.failure.strip().splitlines() if line.strip()]
        return lines[-1] if lines else None


@dataclass(frozen=True)
class JobListing:
    """What :func:`list_jobs` found.

    :param jobs: the jobs listed, newest or oldest first.
    :param total: how many ids the places looked in hold (matching or not).
    :param complete: whether every matching job is listed (False: the limit cut the listing).
    """

    jobs: list[ListedJob]
    total: int
    complete: bool


def place_job_ids(queue: Queue, status: str, start: int, end: int) -> list[str]:
    """Ids ``start`` to ``end`` inclusive of the place of ``queue`` that holds jobs of ``status``,
    in the order the store keeps them: a queue front first, a registry by ascending time.

    ``start`` and ``end`` both count from the front (0, 1...) or both from the back (-1 is the
    newest).
    """
    if status == "queued":
        return queue.get_job_ids(start, end - start + 1)
    return _registry(queue, status).get_job_ids(start, end, cleanup=_cleans(status))


def _cleans(status: str) -> bool:
    """Whether reading the registry of ``status`` may clean it first: not the started registry,
    whose cleanup ends abandoned jobs and runs their callbacks (workers' maintenance does that)."""
    return status != "started"


def _place_count(queue: Queue, status: str) -> int:
    if status == "queued":
        return queue.count
    return _registry(queue, status).get_job_count(cleanup=_cleans(status))


def _registry(queue: Queue, status: str) -> BaseRegistry:
    registries: dict[str, BaseRegistry] = {
        "started": queue.started_job_registry,
        "deferred": queue.deferred_job_registry,
        "scheduled": queue.scheduled_job_registry,
        "rate_limited": queue.rate_limited_job_registry,
        "finished": queue.finished_job_registry,
        "failed": queue.failed_job_registry,
        "canceled": queue.canceled_job_registry,
    }
    if status not in registries:
        raise ValueError(f"unknown status {status!r}: use one of {', '.join(LISTED_STATUSES)}")
    return registries[status]


def read_jobs(ids: Sequence[str], queue: Queue, place: str) -> list[ListedJob]:
    """The jobs of ``ids`` (of ``place`` in ``queue``) in one round trip; an id whose record is
    gone (expired meanwhile) is left out, one whose record cannot be read is kept with why."""
    if not ids:
        return []
    listed: list[ListedJob] = []
    for job_id, record in zip(ids, queue.broker.load_jobs(list(ids)), strict=True):
        if record is None:
            continue
        failure_bytes = record.get(_FAILURE_FIELD)
        failure = failure_bytes.decode("utf-8", errors="replace") if failure_bytes else None
        job = queue.job_class(job_id, connection=queue.broker, serializer=queue.serializer)
        try:
            job.apply_record(record)
        except DeserializationError as exc:
            listed.append(ListedJob(job_id, queue.name, place, None, str(exc), failure))
            continue
        problem = None
        try:
            job.func_name  # noqa: B018 - decodes the call: a call that cannot be read is noted
        except DeserializationError as exc:
            problem = str(exc)
        listed.append(ListedJob(job_id, queue.name, place, job, problem, failure))
    return listed


def _matches(entry: ListedJob, function: str | None) -> bool:
    if function is None:
        return True
    name = entry.function
    # A job whose call cannot be read might be a match: listed, with its problem, rather than
    # hidden.
    return name is None or function in name


def _page(queue: Queue, status: str, offset: int, size: int, newest: bool) -> list[str]:
    if newest:
        return place_job_ids(queue, status, -(offset + size), -(offset + 1))[::-1]
    return place_job_ids(queue, status, offset, offset + size - 1)


def _from_place(
    queue: Queue, status: str, function: str | None, limit: int, newest: bool, batch: int
) -> tuple[list[ListedJob], bool]:
    """Up to ``limit`` matching jobs of one place, and whether the place was read to its end."""
    found: list[ListedJob] = []
    # Without a filter every job read is listed: read no more than will be shown.
    size = limit if function is None else max(limit, batch)
    offset = 0
    while len(found) < limit:
        # One id more than a batch: whether the place holds more, without another round trip.
        ids = _page(queue, status, offset, size + 1, newest)
        offset += size
        found.extend(entry for entry in read_jobs(ids[:size], queue, status) if _matches(entry, function))
        if len(ids) <= size:
            return found[:limit], len(found) <= limit
    return found[:limit], False


def list_jobs(
    queues: Sequence[Queue],
    statuses: Sequence[str] = LISTED_STATUSES,
    *,
    function: str | None = None,
    limit: int = 20,
    newest: bool = True,
    batch: int = DEFAULT_BATCH,
) -> JobListing:
    """Up to ``limit`` jobs of ``queues`` in the places of ``statuses``, newest (or oldest) first
    by the time they were enqueued (else created).

    Each place is read from its newer (or older) end: a queue's back (or front), a registry's
    latest (or earliest) times, so the order is that of the store's times (a finished job's is
    when its result expires). ``function`` keeps the jobs whose function's dotted path contains
    it. Records that cannot be read are listed last, with the reason.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    for status in statuses:
        if status not in LISTED_STATUSES:
            raise ValueError(f"unknown status {status!r}: use one of {', '.join(LISTED_STATUSES)}")
    found: dict[str, ListedJob] = {}
    total = 0
    complete = True
    for queue in queues:
        for status in statuses:
            total += _place_count(queue, status)
            entries, exhausted = _from_place(queue, status, function, limit, newest, batch)
            for entry in entries:
                # A job that moved on while the places were read (queued, then started) once.
                found.setdefault(entry.id, entry)
            complete = complete and exhausted
    readable = sorted(
        (entry for entry in found.values() if entry.since is not None),
        key=lambda entry: entry.since or datetime.datetime.min,
        reverse=newest,
    )
    ordered = readable + [entry for entry in found.values() if entry.since is None]
    return JobListing(ordered[:limit], total, complete and len(ordered) <= limit)
