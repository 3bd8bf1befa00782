"""``jqueue jobs``: which jobs are queued, running, failed... as a table or JSON.

The jobs are found by :func:`jq.queueing.listing.list_jobs` (a batch of records per round trip); this
module checks what the user asked for and shows the answer.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Group, RenderableType
from rich.text import Text

from jq.base.utils import format_timestamp, now
from jq.broker import Status
from jq.cli.errors import UserError
from jq.cli.layout import BLANK, FittedColumn, FittedTable
from jq.cli.options import StoreOptions, connect, store_options
from jq.cli.output import print_out, stdout_console
from jq.queueing.listing import LISTED_STATUSES, JobListing, ListedJob, list_jobs

__all__ = ["DEFAULT_LIMIT", "age", "jobs", "parse_limit", "parse_statuses", "render_listing"]

#: How many jobs are listed unless ``--limit`` says otherwise: a screenful.
DEFAULT_LIMIT = 20


def parse_statuses(values: Sequence[str]) -> tuple[str, ...]:
    """The statuses of ``--status`` (repeated or comma-separated), every one when none is given;
    a :class:`UserError` for one that is not a place jobs are kept in."""
    statuses: list[str] = []
    for value in values:
        for part in value.split(","):
            status = part.strip().lower()
            if not status:
                continue
            if status == Status.STOPPED:
                raise UserError("stopped jobs are kept with the failed ones: use --status failed")
            if status not in LISTED_STATUSES:
                raise UserError(
                    f"unknown status {part.strip()!r}: use one or more of {', '.join(LISTED_STATUSES)}"
                )
            if status not in statuses:
                statuses.append(status)
    return tuple(statuses) or LISTED_STATUSES


#: The largest --limit passed on: a count Redis takes, above any queue's length.
_MOST_JOBS = 2**31 - 1


def parse_limit(value: str) -> int:
    """``--limit``: a whole number of jobs, at least 1; a :class:`UserError` otherwise."""
    try:
        limit = int(value.strip())
    except ValueError:
        limit = 0
    if limit < 1:
        raise UserError(f"--limit must be a whole number of jobs, 1 or more, not {value!r}")
    # More than any store holds means all of them; past 2**63 a Redis range would refuse it.
    return min(limit, _MOST_JOBS)


def age(moment: datetime.datetime | None, at: datetime.datetime) -> str:
    """How long ago ``moment`` was, in its largest unit: ``12s``, ``5m``, ``3h``, ``2d``."""
    if moment is None:
        return "?"
    seconds = int(max((at - moment).total_seconds(), 0))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


#: How narrow the error column is made before it moves under the function instead.
_ERROR_WIDTH = 30


def _note(entry: ListedJob) -> Text:
    if entry.problem is not None:
        # The id is in its own column: the message need not repeat it.
        problem = entry.problem.replace(f" of job {entry.id!r}", "").replace(f"job {entry.id!r} ", "")
        return Text(f"cannot be read: {problem}", style="yellow")
    if entry.error is not None:
        return Text(entry.error, style="red")
    return Text(BLANK)


def _summary(
    listing: JobListing, queues: Sequence[str], statuses: Sequence[str], newest: bool, function: str | None
) -> str:
    places = ", ".join(statuses) if tuple(statuses) != LISTED_STATUSES else "any status"
    order = "newest first" if newest else "oldest first"
    shown = len(listing.jobs)
    if not queues:
        return "no jobs: nothing was ever enqueued in this store"
    if function is None:
        line = f"{shown} of {listing.total} jobs of {', '.join(queues)} ({places}), {order}"
    else:
        line = f"{shown} jobs of {', '.join(queues)} ({places}) whose function contains {function!r}, {order}"
    return line if listing.complete else f"{line} (--limit for more)"


def render_listing(
    listing: JobListing,
    queues: Sequence[str],
    statuses: Sequence[str],
    newest: bool,
    function: str | None = None,
) -> RenderableType:
    """The listing as a line saying what was looked for, then a plain table that fits the width
    it is drawn in: the error column moves under the function when there is no room beside it."""
    summary = Text(_summary(listing, queues, statuses, newest, function))
    if not listing.jobs:
        # The line above says 0 jobs.
        return summary
    at = now()
    entries = listing.jobs
    # Narrower, the error moves under the function, the queue goes (it is in the line above),
    # then the function moves under the id: an id, a status or a function is never cut.
    columns = [
        FittedColumn("id", [Text(entry.id) for entry in entries]),
        FittedColumn("queue", [Text(entry.queue) for entry in entries], drop=2),
        FittedColumn("status", [Text(entry.status) for entry in entries]),
        FittedColumn("age", [Text(age(entry.since, at)) for entry in entries], justify="right"),
        FittedColumn(
            "function", [Text(entry.function or "?") for entry in entries], drop=3, stack_under="id", shrink=2
        ),
        FittedColumn(
            "error",
            [_note(entry) for entry in entries],
            drop=1,
            stack_under="function",
            shrink=1,
            min_width=_ERROR_WIDTH,
        ),
    ]
    if len({entry.queue for entry in entries}) == 1 and len(queues) == 1:
        # One queue, named in the line above: a column repeating it would only take room.
        columns = [column for column in columns if column.header != "queue"]
    return Group(summary, FittedTable(columns, boxed=False))


def _jsonable(entry: ListedJob, at: datetime.datetime) -> dict[str, Any]:
    job = entry.job
    since = entry.since
    return {
        "id": entry.id,
        "queue": entry.queue,
        "status": entry.status,
        "function": entry.function,
        "description": job.description if job is not None else None,
        "created_at": format_timestamp(job.created_at) if job is not None else None,
        "enqueued_at": format_timestamp(job.enqueued_at) if job is not None and job.enqueued_at else None,
        "age_seconds": round((at - since).total_seconds(), 3) if since is not None else None,
        "error": entry.error,
        "problem": entry.problem,
    }


@click.command("jobs")
@click.argument("queues", nargs=-1)
@click.option(
    "--status",
    "-s",
    "statuses",
    multiple=True,
    metavar="STATUS",
    help=f"Only jobs of this status: {', '.join(LISTED_STATUSES)} (repeatable, or comma-separated).",
)
@click.option(
    "--function",
    "-f",
    metavar="PATH_OR_SUBSTRING",
    help="Only jobs whose function's dotted path contains this (app.tasks.report, or report).",
)
@click.option(
    "--limit",
    "-n",
    default=str(DEFAULT_LIMIT),
    show_default=True,
    metavar="N",
    help="List at most N jobs.",
)
@click.option("--newest/--oldest", default=True, help="Newest jobs first (default), or oldest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@store_options()
def jobs(
    queues: tuple[str, ...],
    statuses: tuple[str, ...],
    function: str | None,
    limit: str,
    newest: bool,
    as_json: bool,
    store: StoreOptions,
) -> None:
    """List the jobs of QUEUES (default: every known queue): id, status, age, function, and the
    last line of the error of a failed job.

    \b
    Examples:
      jqueue jobs -u redis://localhost:6379/0 --status failed
      jqueue jobs -u redis://localhost:6379/0 default high --status queued,started --oldest
      jqueue jobs -u redis://localhost:6379/0 --function app.tasks.report --limit 100
      jqueue jobs -u redis://localhost:6379/0 --status failed --json | python -m json.tool
    """
    chosen = parse_statuses(statuses)
    count = parse_limit(limit)
    session = connect(store)
    known = session.broker.queue_names()
    missing = [name for name in queues if name not in known]
    if missing:
        listed = ", ".join(known) if known else "none yet"
        raise UserError(
            f"no queue named {', '.join(map(repr, missing))} in {session.broker.url}: "
            f"the known queues are {listed} (see 'jqueue info')"
        )
    names = list(queues) or list(known)
    targets = [session.queue(name) for name in names]
    listing = list_jobs(targets, chosen, function=function or None, limit=count, newest=newest)
    if as_json:
        at = now()
        payload = {
            "store": session.broker.url,
            "queues": names,
            "statuses": list(chosen),
            "function": function,
            "total": listing.total,
            "complete": listing.complete,
            "jobs": [_jsonable(entry, at) for entry in listing.jobs],
        }
        click.echo(json.dumps(payload, indent=2))
        return
    print_out(stdout_console(), render_listing(listing, names, chosen, newest, function or None))
