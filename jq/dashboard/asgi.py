"""The dashboard for ASGI applications (FastAPI, Starlette): the WSGI dashboard behind a2wsgi's
adapter, which runs it on a thread pool so that the event loop never waits for the store.

a2wsgi is the adapter Starlette itself points to (its own WSGIMiddleware is deprecated): small,
maintained, no dependencies. See docs/dashboard.md for mounting it with the host's auth.
"""

from __future__ import annotations

from typing import Any

from a2wsgi import WSGIMiddleware

from jq.dashboard import create_app

__all__ = ["create_asgi_app"]


def create_asgi_app(connection: Any = None, **options: Any) -> WSGIMiddleware:
    """:func:`jq.dashboard.create_app` with the same arguments, as an ASGI application: mount it
    with ``app.mount("/jq", create_asgi_app(url))``."""
    return WSGIMiddleware(create_app(connection, **options))  # type: ignore[arg-type]
