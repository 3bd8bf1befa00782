"""jq's dashboard inside a Flask application, under /jq, behind the application's own login.

    JQ_URL=redis://localhost:6379/0 flask --app examples/dashboard_flask.py run

A view of the application forwards /jq/... to the dashboard, so the view's own checks (here a
session flag set by /login; in a real application, Flask-Login's ``@login_required``) decide
who sees it. The dashboard checks its own CSRF token on every action.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, abort, request, session

from jq.dashboard import create_app
from jq.dashboard.mount import forward

app = Flask(__name__)
app.secret_key = os.environ.get("FLASK_SECRET_KEY", "change me")
dashboard = create_app(os.environ.get("JQ_URL", "redis://localhost:6379/0"))


def staff_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """The application's own check: only a logged-in member of staff passes."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if not session.get("staff"):
            abort(403)
        return view(*args, **kwargs)

    return checked


@app.route("/login", methods=["POST"])
def login() -> str:
    """Stands for the application's real login."""
    session["staff"] = request.form.get("password") == os.environ.get("STAFF_PASSWORD", "change me too")
    return "ok" if session["staff"] else "no"


@app.route("/jq/", defaults={"path": ""}, methods=["GET", "POST"])
@app.route("/jq/<path:path>", methods=["GET", "POST"])
@staff_only
def jq_dashboard(path: str) -> Response:
    """Every page, asset and action of the dashboard, under /jq/."""
    answer = forward(dashboard, request.environ, "/jq", path)
    return Response(answer.body, answer.status, answer.headers)
