"""``jqueue dashboard``: jq's web dashboard on its own HTTP server (the ``jq-queue[dashboard]``
extra), on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import logging

import click

from jq.base.logutils import setup_logging
from jq.cli.errors import UserError
from jq.cli.options import StoreOptions, connect, store_options
from jq.exceptions import JQError
from jq.scheduling.cron import load_cron
from jq.scheduling.cron_entries import CronJob

__all__ = ["dashboard"]

logger = logging.getLogger("jq.dashboard")

#: Where ``--auth`` and ``--token`` are read from when not given (a password on the command line
#: shows in ``ps``).
AUTH_VARIABLE = "JQ_DASHBOARD_AUTH"
TOKEN_VARIABLE = "JQ_DASHBOARD_TOKEN"

_MISSING_EXTRA = (
    "jqueue dashboard needs the dashboard's libraries (werkzeug, Jinja2): pip install 'jq-queue[dashboard]'"
)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (127.0.0.1: this machine only; 0.0.0.0: all).")  # fmt: skip
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=9181, show_default=True,
              help="The port to listen on (0: any free port).")  # fmt: skip
@click.option("--read-only", is_flag=True, help="Show everything, change nothing (no action buttons).")
@click.option("--hide-args", is_flag=True,
              help="Never show jobs' arguments, descriptions, meta or return values.")  # fmt: skip
@click.option("--auth", metavar="USER:PASSWORD", envvar=AUTH_VARIABLE, show_envvar=True,
              help="Ask every request for this user and password (HTTP basic auth).")  # fmt: skip
@click.option("--token", metavar="TOKEN", envvar=TOKEN_VARIABLE, show_envvar=True,
              help="Accept this token (Authorization: Bearer TOKEN, or as basic-auth password).")  # fmt: skip
@click.option("--cron", "cron_config", metavar="CONFIG",
              help="A cron config (as for 'jqueue cron') whose entries and next runs to show.")  # fmt: skip
@click.option("--poll", type=click.FloatRange(min=0), default=3.0, show_default=True, metavar="SECONDS",
              help="How often pages refresh themselves in place (0: never).")  # fmt: skip
@store_options()
def dashboard(
    host: str,
    port: int,
    read_only: bool,
    hide_args: bool,
    auth: str | None,
    token: str | None,
    cron_config: str | None,
    poll: float,
    store: StoreOptions,
) -> None:
    """Serve jq's web dashboard of the store: queues, jobs, workers, scheduled jobs, and actions
    on them. Stops on Ctrl+C.

    \b
    Examples:
      jqueue dashboard -u redis://localhost:6379/0
      jqueue dashboard -u redis://localhost:6379/0 --read-only --port 8080
      JQ_DASHBOARD_AUTH=admin:s3cret jqueue dashboard -u redis://localhost:6379/0 --host 0.0.0.0
    """
    try:
        from jq import dashboard as web  # lazy: an optional extra (jq-queue[dashboard])
        from jq.dashboard.security import Credentials, parse_auth
        from jq.dashboard.serve import serve
    except ImportError as exc:
        raise UserError(f"{_MISSING_EXTRA} ({exc})") from None
    try:
        credentials = parse_auth(auth) if auth else Credentials()
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if token:
        credentials = Credentials(credentials.user, credentials.password, token)
    entries: tuple[CronJob, ...] = ()
    if cron_config:
        try:
            entries = tuple(load_cron(cron_config))
        except JQError as exc:
            raise UserError(str(exc)) from None
    session = connect(store)
    app = web.create_app(
        session.broker,
        read_only=read_only,
        hide_args=hide_args,
        poll_seconds=poll,
        credentials=credentials,
        cron=entries,
        queue_class=session.classes.queue,
        job_class=session.classes.job,
        serializer=session.serializer,
    )
    setup_logging(logger)
    if not credentials.required and host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning(
            "the dashboard listens on %s with no --auth or --token: anyone who reaches this port "
            "can see and change the jobs",
            host,
        )
    try:
        serve(app, host, port)
    except OSError as exc:
        raise UserError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}): pick another --port or --host"
        ) from None
