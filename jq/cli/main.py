"""``jqueue``: the command line of jq.

Every command is in a module by concern (:mod:`.worker_commands`, :mod:`.info`, :mod:`.jobs`,
:mod:`.control`); this module puts them in one group whose errors are translated by
:func:`jq.cli.errors.translate_errors`: one line on stderr, exit status 2 for a usage or
configuration mistake, 1 for a request that could not be carried out, and never a traceback.
"""

from __future__ import annotations

from typing import Any

import click

from jq.cli.control import empty, resume, suspend
from jq.cli.dashboard import dashboard
from jq.cli.enqueue import enqueue
from jq.cli.errors import translate_errors
from jq.cli.info import info
from jq.cli.job_listing import jobs
from jq.cli.jobs import cancel, job, requeue
from jq.cli.scheduling import cron, scheduler
from jq.cli.worker_commands import worker, worker_pool
from jq.compat import migrate_rq as migration
from jq.version import __version__

__all__ = ["cli", "main"]


class JQGroup(click.Group):
    """A group whose commands' errors become one-line messages with a meaningful exit status.

    Its commands are also its attributes (``cli.empty``, ``cli.worker``): RQ's ``rq.cli.cli`` is a
    module with one attribute per command, and code written for RQ (Flask-RQ2) reaches them as
    ``from rq.cli import cli; ctx.invoke(cli.empty, ...)``.
    """

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, translating jq's and redis-py's errors."""
        with translate_errors():
            return super().invoke(ctx)

    def __getattr__(self, name: str) -> click.Command:
        commands: dict[str, click.Command] = self.__dict__.get("commands") or {}
        command = commands.get(name) or commands.get(name.replace("_", "-"))
        if command is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return command


@click.group(cls=JQGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jqueue")
def cli() -> None:
    """jq: background jobs for Python.

    Exit status: 0 done; 1 the request could not be carried out (store unreachable, no such
    job...); 2 a usage or configuration mistake.

    \b
    Examples:
      jqueue worker -u redis://localhost:6379/0 high default low
      jqueue info -u redis://localhost:6379/0 --interval 1
      jqueue enqueue -u redis://localhost:6379/0 app.tasks.send_report ops@example.com
      jqueue jobs -u redis://localhost:6379/0 --status failed
      jqueue requeue -u redis://localhost:6379/0 --queue default --all
    """


for _command in (
    worker,
    worker_pool,
    scheduler,
    cron,
    info,
    enqueue,
    job,
    jobs,
    cancel,
    requeue,
    empty,
    suspend,
    resume,
    dashboard,
):
    cli.add_command(_command)


@click.command(
    "migrate-rq",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def migrate_rq(args: tuple[str, ...]) -> None:
    """Copy the queued, scheduled, deferred and failed jobs of an RQ Redis into jq
    (``jqueue migrate-rq --help``; the same as ``python -m jq.migrate_rq``)."""
    raise SystemExit(migration.main(list(args), prog="jqueue migrate-rq"))


cli.add_command(migrate_rq)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``jqueue`` console script."""
    cli.main(args=argv, prog_name="jqueue")
