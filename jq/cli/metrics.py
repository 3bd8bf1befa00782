"""``jqueue metrics``: a Prometheus exporter of one store (see :mod:`jq.metrics.prometheus`).

It serves ``/metrics`` over HTTP, reading the store at every scrape, on 127.0.0.1 unless told
otherwise: the metrics name queues and functions, which are nobody else's business.
"""

from __future__ import annotations

import socketserver
import sys
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import click

from jq.base.utils import validate_queue_name
from jq.cli.errors import UserError
from jq.cli.options import StoreOptions, connect, store_options
from jq.exceptions import ConfigurationError
from jq.metrics import prometheus

__all__ = ["DEFAULT_PORT", "metrics"]

#: The port the exporter listens on unless told otherwise.
DEFAULT_PORT = 9121


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per scrape: a slow read of the store does not hold the next scrape up."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """No line on stderr per scrape (wsgiref writes one for every request)."""

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing."""


@click.command()
@click.argument("queues", nargs=-1)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="The address to listen on (0.0.0.0: every interface; only where the network is trusted).",
)
@click.option(
    "--port", "-p", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True, help="The port."
)
@click.option(
    "--max-functions",
    type=click.IntRange(min=0),
    default=prometheus.DEFAULT_MAX_FUNCTIONS,
    show_default=True,
    help="Per queue, how many functions keep their own label; the others are added up as 'other'.",
)
@click.option(
    "--once", is_flag=True, help="Print the metrics once on stdout and exit, instead of serving them."
)
@store_options()
def metrics(
    queues: tuple[str, ...], host: str, port: int, max_functions: int, once: bool, store: StoreOptions
) -> None:
    """Serve Prometheus metrics of QUEUES (default: every known queue) at /metrics: jobs per
    queue and status, queue latency, workers by state, and finished, failed and retried totals
    and run times by queue and function. Needs prometheus-client: pip install 'jq-queue[metrics]'.

    \b
    Examples:
      jqueue metrics -u redis://localhost:6379/0
      jqueue metrics -u redis://localhost:6379/0 --port 9121 --host 0.0.0.0
      jqueue metrics -u redis://localhost:6379/0 --once
    """
    session = connect(store)
    try:
        # Checked here: the exporter reports an error met while scraped in its log, not as ours.
        names = [validate_queue_name(name) for name in queues] or None
        if once:
            click.echo(
                prometheus.metrics_text(session.broker, queues=names, max_functions=max_functions), nl=False
            )
            return
        app = prometheus.make_wsgi_app(session.broker, queues=names, max_functions=max_functions)
    except ConfigurationError as error:
        raise UserError(str(error)) from None
    try:
        server = make_server(
            host, port, prometheus.exporter_app(app), server_class=_Server, handler_class=_QuietHandler
        )
    except OSError as error:
        raise UserError(
            f"cannot listen on {host}:{port} ({error.strerror or error}): pick another --port or --host"
        ) from None
    bound_host, bound_port = server.server_address[:2]
    click.echo(f"serving the metrics of {session.broker.url} at http://{bound_host!s}:{bound_port}/metrics")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()
