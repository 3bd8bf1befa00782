"""Commands about queues and workers as a whole: ``empty``, ``suspend`` and ``resume``."""

from __future__ import annotations

import click

from jq.admin import actions
from jq.cli.options import StoreOptions, connect, parse_duration, store_options
from jq.cli.output import progress

__all__ = ["empty", "resume", "suspend"]


@click.command()
@click.argument("queues", nargs=-1)
@click.option("--all", "-a", "all", is_flag=True, help="Empty every known queue.")
@store_options()
def empty(queues: tuple[str, ...], all: bool, store: StoreOptions) -> None:
    """Delete every job waiting in QUEUES (or --all queues). Registries are left as they are.
    With neither, there is nothing to do (exit status 0).

    \b
    Examples:
      jqueue empty -u redis://localhost:6379/0 default low
      jqueue empty -u redis://localhost:6379/0 --all
    """
    if all and queues:
        raise click.UsageError("give either queue names or --all, not both")
    session = connect(store)
    names = sorted(session.broker.queue_names()) if all else list(queues)
    if not names:
        click.echo("Nothing to do")
        return
    targets = [session.queue(name) for name in names]
    total = sum(queue.count for queue in targets)
    with progress("Emptying", total) as advance:
        # One atomic call per queue; the bar moves by the jobs each call deleted.
        emptied = actions.empty_queues(targets, advance)
    for name, count in emptied:
        click.echo(f"emptied {name}: {count} job(s) deleted")


@click.command()
@click.option(
    "--duration",
    callback=parse_duration,
    metavar="DURATION",
    help="Resume by themselves after this long: 300, 5m, 1h (default: until 'jqueue resume').",
)
@store_options()
def suspend(duration: int | None, store: StoreOptions) -> None:
    """Suspend every worker of the store: each finishes its current job and takes no new one
    (a burst worker stops).

    \b
    Examples:
      jqueue suspend -u redis://localhost:6379/0
      jqueue suspend -u redis://localhost:6379/0 --duration 10m
    """
    session = connect(store)
    actions.suspend(session.broker, duration)
    until = f"for {duration} s" if duration is not None else "until 'jqueue resume'"
    click.echo(f"suspended the workers of {session.broker.url} {until}")


@click.command()
@store_options()
def resume(store: StoreOptions) -> None:
    """Let suspended workers take jobs again.

    \b
    Examples:
      jqueue resume -u redis://localhost:6379/0
    """
    session = connect(store)
    actions.resume(session.broker)
    click.echo(f"resumed the workers of {session.broker.url}")
