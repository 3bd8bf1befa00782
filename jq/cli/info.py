"""``jqueue info``: queues with their counts per registry, and the live workers.

A :class:`~jq.admin.overview.Snapshot` is read from the store (:mod:`jq.admin.overview`, which the
dashboard reads too), then shown as rich tables, as JSON, or redrawn in
place every ``--interval`` seconds (rich's Live display) until Ctrl+C.
"""

from __future__ import annotations

import datetime
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import click
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from jq.admin.overview import COUNTS, QueueRow, Snapshot, WorkerRow, take_snapshot
from jq.base.utils import format_timestamp
from jq.broker import Broker, Status
from jq.cli.helpers import refresh, show_both, show_queues, show_workers
from jq.cli.layout import BLANK, FittedColumn, FittedTable
from jq.cli.options import Seconds, Session, StoreOptions, connect, store_options
from jq.cli.output import print_out, stdout_console
from jq.worker import WorkerStatus

__all__ = [
    "COUNTS",
    "QueueRow",
    "Snapshot",
    "View",
    "WorkerRow",
    "info",
    "render",
    "show_raw",
    "take_snapshot",
    "to_json",
]


@dataclass(frozen=True)
class View:
    """What to show: queues, workers, and workers grouped by queue instead of listed."""

    queues: bool = True
    workers: bool = True
    by_queue: bool = False


# -- rendering --------------------------------------------------------------------------------------


def _ago(moment: datetime.datetime | None, at: datetime.datetime) -> str:
    if moment is None:
        return "-"
    seconds = max((at - moment).total_seconds(), 0.0)
    return f"{seconds:.0f}s ago" if seconds < 120 else f"{seconds / 60:.0f}m ago"


#: The order in which queue columns step aside when the terminal is narrow, first to last; the
#: queue's name and its queued and failed counts always stay.
QUEUE_DROP_ORDER = (
    Status.CANCELED.value, Status.RATE_LIMITED.value, Status.DEFERRED.value, Status.FINISHED.value,
    Status.SCHEDULED.value, "workers", Status.STARTED.value,
)  # fmt: skip

#: The order in which worker columns step aside when the terminal is narrow: ok and failed go
#: together, and the current job moves under the worker's name rather than out of sight. The
#: name, state and queues always stay: queues wrap between names, and no name is cut.
WORKER_DROP_ORDER = (("pid@host",), ("ok", "failed"), ("heartbeat",), ("current job",))


def _rank(order: Sequence[Sequence[str]], header: str) -> int | None:
    return next((rank for rank, headers in enumerate(order, 1) if header in headers), None)


def _queue_table(snapshot: Snapshot) -> FittedTable:
    rows = snapshot.queues
    columns = [FittedColumn("queue", [Text(row.name) for row in rows], shrink=1)]
    for name in (*COUNTS, "workers"):
        cells = [Text(str(row.workers if name == "workers" else row.counts[name])) for row in rows]
        rank = _rank([(header,) for header in QUEUE_DROP_ORDER], name)
        columns.append(FittedColumn(name, cells, drop=rank, justify="right"))
    return FittedTable(columns, title="Queues", caption=None if rows else "no queues")


def _worker_table(snapshot: Snapshot) -> FittedTable:
    workers = snapshot.workers
    states = [Text(w.state, style="bold" if w.state == WorkerStatus.BUSY else "") for w in workers]
    columns = [
        # Shrunk after the queues: its own words (names) are folded only when nothing else gives.
        FittedColumn("worker", [Text(w.name) for w in workers], shrink=2),
        FittedColumn("state", states),
        FittedColumn("queues", [Text(", ".join(w.queues)) for w in workers], shrink=1),
        FittedColumn("current job", [Text(w.jobs_shown or BLANK) for w in workers], stack_under="worker"),
        FittedColumn("ok", [Text(str(w.successful)) for w in workers], justify="right"),
        FittedColumn("failed", [Text(str(w.failed)) for w in workers], justify="right"),
        FittedColumn("pid@host", [Text(f"{w.pid}@{w.hostname or '?'}") for w in workers]),
        FittedColumn("heartbeat", [Text(_ago(w.last_heartbeat, snapshot.taken_at)) for w in workers]),
    ]
    columns = [replace(column, drop=_rank(WORKER_DROP_ORDER, column.header)) for column in columns]
    return FittedTable(columns, title="Workers", caption=None if workers else "no workers")


def _by_queue_table(snapshot: Snapshot) -> FittedTable:
    grouped = snapshot.workers_by_queue()
    listed = [", ".join(f"{w.name} ({w.state})" for w in workers) or BLANK for workers in grouped.values()]
    columns = [
        FittedColumn("queue", [Text(queue) for queue in grouped], shrink=2),
        FittedColumn("workers", [Text(text) for text in listed], shrink=1),
    ]
    return FittedTable(columns, title="Workers by queue")


def _suspension_line(snapshot: Snapshot) -> Text | None:
    if snapshot.suspension is None:
        return None
    until = snapshot.suspended_until
    if until is None:
        return Text("Workers are suspended until 'jqueue resume'.", style="bold yellow")
    local = until.astimezone().strftime("%H:%M:%S")
    return Text(
        f"Workers are suspended until {local} ({_left(snapshot.suspension)} left, or 'jqueue resume').",
        style="bold yellow",
    )


def _left(seconds: float) -> str:
    whole = max(math.ceil(seconds), 0)
    if whole < 120:
        return f"{whole}s"
    if whole < 7200:
        return f"{whole // 60}m {whole % 60}s"
    return f"{whole // 3600}h {whole % 3600 // 60}m"


def render(snapshot: Snapshot, view: View) -> RenderableType:
    """The snapshot as tables that fit the width they are drawn in, under a header naming the
    store and the time, and a line saying so when workers are suspended."""
    local = snapshot.taken_at.astimezone().strftime("%H:%M:%S")
    header = Text(
        f"{snapshot.store} · {len(snapshot.queues)} queue(s) · {len(snapshot.workers)} worker(s) · {local}"
    )
    parts: list[RenderableType] = [header]
    suspension = _suspension_line(snapshot)
    if suspension is not None:
        parts.append(suspension)
    if view.queues:
        parts.append(_queue_table(snapshot))
    if view.workers:
        parts.append(_by_queue_table(snapshot) if view.by_queue else _worker_table(snapshot))
    return Group(*parts)


def _when(moment: datetime.datetime | None) -> str | None:
    return format_timestamp(moment) if moment is not None else None


def to_json(snapshot: Snapshot, view: View) -> dict[str, Any]:
    """The snapshot as plain JSON values, for scripts."""
    payload: dict[str, Any] = {
        "store": snapshot.store,
        "time": format_timestamp(snapshot.taken_at),
        "suspended": snapshot.suspension is not None,
        "suspended_until": _when(snapshot.suspended_until),
    }
    if view.queues:
        payload["queues"] = [{"name": q.name, **q.counts, "workers": q.workers} for q in snapshot.queues]
    if view.workers:
        payload["workers"] = [
            {
                "name": w.name,
                "state": w.state,
                "queues": list(w.queues),
                "current_job": w.current_job,
                "running_jobs": list(w.running_jobs),
                "hostname": w.hostname,
                "pid": w.pid,
                "successful_job_count": w.successful,
                "failed_job_count": w.failed,
                "birth_date": _when(w.birth_date),
                "last_heartbeat": _when(w.last_heartbeat),
            }
            for w in snapshot.workers
        ]
        if view.by_queue:
            payload["by_queue"] = {
                queue: [w.name for w in workers] for queue, workers in snapshot.workers_by_queue().items()
            }
    return payload


def show_raw(session: Session, names: Sequence[str], view: View, interval: float | None) -> None:
    """``--raw``: RQ's lines, for scripts written for ``rq info -r`` (see :mod:`jq.cli.helpers`),
    once or every ``interval`` seconds until Ctrl+C."""
    shown = show_queues if not view.workers else show_workers if not view.queues else show_both
    queues = [session.queue(name) for name in (names or sorted(session.broker.queue_names()))]
    try:
        refresh(interval or 0, shown, queues, True, view.by_queue, session.classes.queue,
                session.classes.worker, session.broker)  # fmt: skip
    except KeyboardInterrupt:
        return


# -- refreshing -------------------------------------------------------------------------------------


def _frame(broker: Broker, queues: Sequence[str], view: View) -> RenderableType:
    try:
        return render(take_snapshot(broker, queues), view)
    except broker.transient_errors as exc:
        # While watching, an outage is shown and waited out rather than ending the display.
        return Text(f"cannot connect to the store at {broker.url}: {exc} (retrying)", style="red")


def watch(console: Console, interval: float, frame: Callable[[], RenderableType]) -> None:
    """Redraw ``frame()`` every ``interval`` seconds until Ctrl+C: in place on a terminal, one
    frame after another otherwise (a log file keeps every frame)."""
    try:
        if console.is_terminal:
            with Live(frame(), console=console, auto_refresh=False) as live:
                while True:
                    time.sleep(interval)
                    live.update(frame(), refresh=True)
        else:
            while True:
                print_out(console, frame())
                console.print()
                time.sleep(interval)
    except KeyboardInterrupt:
        # Ctrl+C is how a watch ends: not an error, no traceback, exit status 0.
        return


@click.command()
@click.argument("queues", nargs=-1)
@click.option("--by-queue", "-R", is_flag=True, help="Group workers by queue instead of listing them.")
@click.option("--only-queues", "-Q", is_flag=True, help="Show queues only.")
@click.option("--only-workers", "-W", is_flag=True, help="Show workers only.")
@click.option(
    "--interval",
    "-i",
    # At most a day: a sleep past time.sleep's limit (inf) raises.
    type=Seconds(min=0.1, max=86400.0),
    metavar="SECONDS",
    help="Redraw every SECONDS until Ctrl+C.",
)
@click.option(
    "--raw", "-r", is_flag=True, help="Print RQ's raw lines ('queue NAME COUNT, ...', 'worker NAME ...')."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (once) for scripts.")
@store_options()
def info(
    queues: tuple[str, ...],
    by_queue: bool,
    only_queues: bool,
    only_workers: bool,
    interval: float | None,
    raw: bool,
    as_json: bool,
    store: StoreOptions,
) -> None:
    """Show QUEUES (default: every known queue) with their job counts, and the live workers.

    Counts per queue: queued, started, deferred, scheduled, finished, failed, canceled.

    \b
    Examples:
      jqueue info -u redis://localhost:6379/0
      jqueue info -u redis://localhost:6379/0 high default --by-queue
      jqueue info -u redis://localhost:6379/0 --interval 1
      jqueue info -u redis://localhost:6379/0 --json | python -m json.tool
      jqueue info -u redis://localhost:6379/0 --raw
    """
    if only_queues and only_workers:
        raise click.UsageError("give at most one of --only-queues and --only-workers")
    if as_json and interval is not None:
        raise click.UsageError("--json prints once: run it from a loop instead of giving --interval")
    if as_json and raw:
        raise click.UsageError("give at most one of --json and --raw")
    view = View(queues=not only_workers, workers=not only_queues, by_queue=by_queue)
    session = connect(store)
    if raw:
        show_raw(session, queues, view, interval)
        return
    if as_json:
        click.echo(json.dumps(to_json(take_snapshot(session.broker, queues), view), indent=2))
        return
    console = stdout_console()
    if interval is None:
        print_out(console, render(take_snapshot(session.broker, queues), view))
        return
    watch(console, interval, lambda: _frame(session.broker, queues, view))
