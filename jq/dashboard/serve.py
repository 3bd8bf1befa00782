"""``jqueue dashboard``: the dashboard on werkzeug's threaded HTTP server, on 127.0.0.1 unless
told otherwise."""

from __future__ import annotations

import logging
import socket

from werkzeug.serving import make_server, select_address_family

from jq.dashboard.app import Dashboard

__all__ = ["LOOPBACK", "serve"]

logger = logging.getLogger("jq.dashboard")

#: Where the standalone server listens unless told otherwise: this machine only.
LOOPBACK = "127.0.0.1"


def serve(app: Dashboard, host: str = LOOPBACK, port: int = 9181) -> None:
    """Serve ``app`` on ``host``:``port`` until Ctrl+C or SIGTERM (one thread per request)."""
    listening = _listen(host, port)
    try:
        server = make_server(host, port, app, threaded=True, fd=listening.fileno())
    finally:
        listening.close()  # the server works on a duplicate of it
    logger.info("jq dashboard of %s on http://%s:%d/", app.broker.url, host, server.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port``. A port in use or a host this machine does not have
    raise :class:`OSError` here, for the command to report: werkzeug's own binding would print
    its message and exit with status 1."""
    family = select_address_family(host, port)
    address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)[0][4]
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(address)
        listening.listen(128)
    except OSError:
        listening.close()
        raise
    return listening
