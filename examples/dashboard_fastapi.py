"""jq's dashboard inside a FastAPI (or Starlette) application, under /jq, behind the application's
own check.

    JQ_URL=redis://localhost:6379/0 uvicorn examples.dashboard_fastapi:app

The dashboard is a WSGI application behind a2wsgi's adapter (it runs on a thread pool: the event
loop never waits for the store). A mount runs no FastAPI dependency, so the application's check
is a middleware on the mount's path; here it asks for a staff token, in a real application it
reads the user from the session.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse

from jq.dashboard.asgi import create_asgi_app

app = FastAPI()
STAFF_TOKEN = os.environ.get("STAFF_TOKEN", "change me")


@app.middleware("http")
async def staff_only(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """The application's own check, for every path under /jq."""
    if request.url.path == "/jq" or request.url.path.startswith("/jq/"):
        sent = request.headers.get("X-Staff-Token", "")
        if not hmac.compare_digest(sent.encode(), STAFF_TOKEN.encode()):
            return PlainTextResponse("staff only", status_code=403)
    return await call_next(request)


app.mount("/jq", create_asgi_app(os.environ.get("JQ_URL", "redis://localhost:6379/0")))
