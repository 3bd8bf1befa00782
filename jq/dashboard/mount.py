"""Serving the dashboard from a view of a host application (Flask, Django), so that the view's
own decorators (``login_required``, ``staff_member_required``...) protect it.

:func:`forward` calls the dashboard with the host's request as if the dashboard were mounted at
``prefix``, and returns what it answered, for the view to wrap in the host's response class.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from jq.dashboard.extensions import WSGIApp

__all__ = ["Answer", "forward"]


class Answer:
    """What the dashboard answered: ``status`` (``"200 OK"``), ``status_code``, ``headers``
    (name, value pairs) and ``body`` (bytes)."""

    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.status_code = int(status.split(" ", 1)[0])
        self.headers = headers
        self.body = body


def forward(
    app: WSGIApp, environ: Mapping[str, Any], prefix: str, path: str, body: bytes | None = None
) -> Answer:
    """Call the dashboard ``app`` for the request whose WSGI ``environ`` the host's view got, as
    mounted at ``prefix`` (``"/jq"``, the view's own path) for the rest of the path ``path``.

    ``body``: the request's body when the host read it already (Django: ``request.body``).
    """
    forwarded = dict(environ)
    forwarded["SCRIPT_NAME"] = prefix.rstrip("/")
    forwarded["PATH_INFO"] = "/" + path.lstrip("/")
    if body is not None:
        forwarded["wsgi.input"] = io.BytesIO(body)
        forwarded["CONTENT_LENGTH"] = str(len(body))
    answered: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answered["status"], answered["headers"] = status, headers
        return lambda data: None

    chunks = app(forwarded, start_response)
    try:
        content = b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
    return Answer(answered["status"], answered["headers"], content)
