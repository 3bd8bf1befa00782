"""``jqueue dashboard``: the dashboard on werkzeug's threaded HTTP server, on 127.0.0.1 unless
told otherwise."""

from __future__ import annotations

import logging

from werkzeug.serving import make_server

from jq.dashboard.app import Dashboard

__all__ = ["LOOPBACK", "serve"]

logger = logging.getLogger("jq.dashboard")

#: Where the standalone server listens unless told otherwise: this machine only.
LOOPBACK = "127.0.0.1"


def serve(app: Dashboard, host: str = LOOPBACK, port: int = 9181) -> None:
    """Serve ``app`` on ``host``:``port`` until Ctrl+C or SIGTERM (one thread per request)."""
    server = make_server(host, port, app, threaded=True)
    logger.info("jq dashboard of %s on http://%s:%d/", app.broker.url, host, server.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
