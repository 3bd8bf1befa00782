"""A page of one queue's jobs of one status, newest or oldest first, optionally filtered by
function and by text in the id or description.

Without a filter a page reads only its own ids and records (two round trips, whatever the size of
the registry). With one, the place is read a batch at a time from the chosen end until the page
is filled; the count of matches is taken on at most :data:`COUNT_LIMIT` ids, and says so when
the place holds more. Nothing is written: no registry is cleaned up on the way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from jq.admin.overview import place_of, queue_counts
from jq.queueing.listing import DEFAULT_BATCH, ListedJob, read_jobs
from jq.queueing.queue import Queue

__all__ = ["COUNT_LIMIT", "JobFilter", "JobPage", "matching_ids", "page_of_jobs"]

#: How many ids at most a filtered listing reads to count its matches.
COUNT_LIMIT = 20_000


@dataclass(frozen=True)
class JobFilter:
    """Which jobs of a place a listing keeps: ``function`` in the function's dotted path, ``text``
    in the id or the description (both case-insensitive; empty: no filter). With ``search_args``
    False the description is not searched (it shows the arguments, which are hidden then)."""

    function: str = ""
    text: str = ""
    search_args: bool = True

    @property
    def active(self) -> bool:
        """Whether the filter leaves any job out."""
        return bool(self.function or self.text)

    def keeps(self, entry: ListedJob) -> bool:
        """Whether ``entry`` matches. A job whose call cannot be read matches a function filter
        (it might be one): listed with its problem rather than hidden."""
        if self.function:
            name = entry.function
            if name is not None and self.function.lower() not in name.lower():
                return False
        if self.text:
            wanted = self.text.lower()
            description = entry.job.description if entry.job is not None and self.search_args else None
            if wanted not in entry.id.lower() and wanted not in (description or "").lower():
                return False
        return True


@dataclass(frozen=True)
class JobPage:
    """One page of a listing.

    :param jobs: the jobs of the page, in the order asked.
    :param page: its number, from 1.
    :param per_page: how many jobs a page holds.
    :param total: how many jobs the place holds.
    :param matching: how many of them match the filter (``total`` without one).
    :param counted_all: False when the place held more than :data:`COUNT_LIMIT` ids, so that
        ``matching`` counts the first ones only.
    """

    jobs: list[ListedJob]
    page: int
    per_page: int
    total: int
    matching: int
    counted_all: bool = True

    @property
    def pages(self) -> int:
        """How many pages the matching jobs fill (at least 1)."""
        return max((self.matching + self.per_page - 1) // self.per_page, 1)


def place_job_ids(queue: Queue, status: str, start: int, end: int) -> list[str]:
    """Ids ``start`` to ``end`` inclusive (both from the front, or both from the back) of the
    place of ``queue`` holding jobs of ``status``, as stored: read only, no registry cleanup (the
    dashboard writes nothing but its actions; entries whose record expired are skipped when the
    records are read)."""
    place = place_of(queue.name, status)
    if place.is_queue:
        return queue.broker.queue_job_ids(queue.name, start, end)
    return queue.broker.registry_ids(place, start, end)


def _ids_from(queue: Queue, status: str, newest: bool, limit: int | None) -> Iterator[list[str]]:
    """The place's ids a batch at a time from the chosen end, at most ``limit`` (None: all)."""
    offset = 0
    while limit is None or offset < limit:
        size = DEFAULT_BATCH if limit is None else min(DEFAULT_BATCH, limit - offset)
        if newest:
            ids = place_job_ids(queue, status, -(offset + size), -(offset + 1))[::-1]
        else:
            ids = place_job_ids(queue, status, offset, offset + size - 1)
        if not ids:
            return
        yield ids
        if len(ids) < size:
            return
        offset += size


def _matching(
    queue: Queue, status: str, keep: JobFilter, newest: bool, limit: int | None
) -> Iterator[ListedJob]:
    for ids in _ids_from(queue, status, newest, limit):
        yield from (entry for entry in read_jobs(ids, queue, status) if keep.keeps(entry))


def page_of_jobs(
    queue: Queue,
    status: str,
    *,
    page: int = 1,
    per_page: int = 25,
    newest: bool = True,
    keep: JobFilter | None = None,
) -> JobPage:
    """Page ``page`` of the jobs of ``queue`` with ``status`` (its queue or one registry)."""
    keep = keep or JobFilter()
    page = max(page, 1)
    total = queue_counts(queue.broker, [queue.name])[0][status]
    skip = (page - 1) * per_page
    if not keep.active:
        if newest:
            ids = place_job_ids(queue, status, -(skip + per_page), -(skip + 1))[::-1] if skip < total else []
        else:
            ids = place_job_ids(queue, status, skip, skip + per_page - 1)
        return JobPage(read_jobs(ids, queue, status), page, per_page, total, total)
    jobs: list[ListedJob] = []
    matching = 0
    for entry in _matching(queue, status, keep, newest, COUNT_LIMIT):
        if skip <= matching < skip + per_page:
            jobs.append(entry)
        matching += 1
    return JobPage(jobs, page, per_page, total, matching, counted_all=total <= COUNT_LIMIT)


def matching_ids(queue: Queue, status: str, keep: JobFilter) -> list[str]:
    """Every id of the place that ``keep`` matches, oldest first: what a bulk action on
    "everything that matches" acts on (read a batch at a time, the whole place)."""
    if not keep.active:
        return [job_id for ids in _ids_from(queue, status, False, None) for job_id in ids]
    return [entry.id for entry in _matching(queue, status, keep, False, None)]
