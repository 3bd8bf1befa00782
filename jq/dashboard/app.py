"""The dashboard as a WSGI application: routes, authentication, CSRF, rendering.

Built on werkzeug (requests, responses, routing) and Jinja2 (templates, escaped everywhere), the
two libraries Flask is made of: small, well kept, and already there in most Python web stacks.
Every page is plain HTML that works without JavaScript; ``dashboard.js`` adds the live refresh
(each page asks its own URL for JSON every few seconds and swaps its live parts in place) and the
confirmations before actions.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jinja2
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.security import safe_join
from werkzeug.wrappers import Request, Response

from jq.broker import Broker
from jq.core.job import Job
from jq.dashboard import extensions, security
from jq.dashboard.extensions import History, WSGIApp
from jq.dashboard.handlers import Handlers
from jq.dashboard.pages import JobView
from jq.io.connections import resolve_broker
from jq.queueing.queue import Queue
from jq.scheduling.cron_entries import CronJob

__all__ = ["Dashboard", "Settings"]

_HERE = pathlib.Path(__file__).resolve().parent
_STATIC = _HERE / "static"
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".svg": "image/svg+xml", ".png": "image/png"}  # fmt: skip

#: The header the live refresh sends: the page answers with its live parts as JSON.
LIVE_HEADER = "X-JQ-Live"


@dataclass(frozen=True)
class Settings:
    """How the dashboard behaves.

    :param read_only: show everything, change nothing (no action buttons; every POST refused).
    :param hide_args: never show jobs' arguments, keyword arguments, descriptions, meta or
        return values (they may hold personal data or secrets).
    :param poll_seconds: how often pages refresh themselves (0: never).
    :param per_page: jobs per page of a list.
    :param credentials: for the standalone server: who may see it (None: anyone who reaches it).
    :param authorize: for a mounted dashboard: the host application's check, handed the WSGI
        environ, True to let the request in (else 403).
    :param cron: the cron entries to show on the scheduled page, with their next run.
    :param title: shown in the header.
    """

    read_only: bool = False
    hide_args: bool = False
    poll_seconds: float = 3.0
    per_page: int = 25
    credentials: security.Credentials = field(default_factory=security.Credentials)
    authorize: security.Authorize | None = None
    cron: Sequence[CronJob] = ()
    title: str = "jq"


def _url_map() -> Map:
    return Map(
        [
            Rule("/", endpoint="overview"),
            Rule("/queues/<queue>/<status>", endpoint="jobs"),
            Rule("/jobs/<job_id>", endpoint="job"),
            Rule("/jobs", endpoint="job_lookup"),
            Rule("/workers", endpoint="workers"),
            Rule("/scheduled", endpoint="scheduled"),
            Rule("/api/overview", endpoint="api_overview"),
            Rule("/api/history", endpoint="api_history"),
            Rule("/static/<path:name>", endpoint="static"),
            Rule("/metrics", endpoint="metrics"),
            Rule("/actions/jobs", endpoint="act_jobs", methods=["POST"]),
            Rule("/actions/queues/<queue>/empty", endpoint="act_empty", methods=["POST"]),
            Rule("/actions/suspend", endpoint="act_suspend", methods=["POST"]),
            Rule("/actions/resume", endpoint="act_resume", methods=["POST"]),
            Rule("/actions/workers/<worker>/shutdown", endpoint="act_shutdown", methods=["POST"]),
        ],
        strict_slashes=False,
    )


class Dashboard:
    """jq's dashboard for one store: a WSGI application (``app(environ, start_response)``).

    Mount it anywhere: it builds every link from the ``SCRIPT_NAME`` it is given, so under a
    prefix (``/jq``) its pages, assets and forms stay under that prefix. See
    :func:`jq.dashboard.create_app`.
    """

    def __init__(
        self,
        connection: Any,
        settings: Settings | None = None,
        *,
        metrics_app: WSGIApp | None = None,
        history: History | None = None,
        queue_class: type[Queue] = Queue,
        job_class: type[Job] | None = None,
        serializer: Any = None,
    ) -> None:
        self.broker: Broker = resolve_broker(connection)
        self.settings = settings or Settings()
        self.metrics_app = metrics_app
        self.history = history
        self.queue_class = queue_class
        self.job_class = job_class
        self.serializer = serializer
        self.view = JobView(hide_args=self.settings.hide_args)
        self.url_map = _url_map()
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.handlers = Handlers(self)

    # -- WSGI -------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.respond(request)
        if not isinstance(response, Response):
            return response(environ, start_response)  # a mounted app (/metrics) answered itself
        for name, value in security.SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response(environ, start_response)

    def respond(self, request: Request) -> Response | WSGIApp:
        """The response to one request: authentication first, then the route's handler."""
        refused = self._refuse(request)
        if refused is not None:
            return refused
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, arguments = adapter.match()
            return self.handlers.handle(str(endpoint), request, dict(arguments))
        except HTTPException as exc:
            return self.error(request, exc.code or 500, exc.description or exc.name)
        except self.broker.transient_errors as exc:
            # The store is down or restarting: said on the page (which keeps polling), no traceback.
            return self.error(request, 503, f"cannot reach the store at {self.broker.url}: {exc}")

    def _refuse(self, request: Request) -> Response | None:
        authorize = self.settings.authorize
        if authorize is not None and not authorize(request.environ):
            return Response("Forbidden: the application this dashboard is part of refused the request.\n",
                            403, mimetype="text/plain")  # fmt: skip
        if not self.settings.credentials.allows(request.headers.get("Authorization")):
            return Response(
                "Authentication required: give the dashboard's user and password (or token).\n",
                401,
                {"WWW-Authenticate": 'Basic realm="jq dashboard", charset="UTF-8"'},
                mimetype="text/plain",
            )
        return None

    # -- helpers the handlers share -----------------------------------------------------------------

    def queue(self, name: str) -> Queue:
        """The queue ``name`` (its name checked: a name no queue can have is a 404)."""
        try:
            return self.queue_class(
                name, connection=self.broker, job_class=self.job_class, serializer=self.serializer
            )
        except ValueError as exc:
            raise NotFound(str(exc)) from None

    def url(self, request: Request, path: str, **query: Any) -> str:
        """``path`` under the dashboard's mount point, with ``query`` (empty values left out)."""
        shown = {key: value for key, value in query.items() if value not in (None, "", False)}
        return request.script_root + path + (f"?{urlencode(shown)}" if shown else "")

    def render(self, request: Request, template: str, live: str, **context: Any) -> Response:
        """The page ``template``; with the live header, the JSON of its live part (``live``, a
        template of its own) and ``data`` for scripts instead."""
        csrf, fresh = self._csrf_token(request)
        context.update(
            settings=self.settings,
            store=self.broker.url,
            base=request.script_root,
            url=lambda path, **query: self.url(request, path, **query),
            csrf_field=security.CSRF_FIELD,
            csrf_token=csrf,
            notice=request.args.get("notice", ""),
            live_template=live,
            history_available=self.history is not None,
            history_missing=extensions.HISTORY_MISSING,
            metrics_available=self.metrics_app is not None,
        )
        if request.headers.get(LIVE_HEADER):
            part = self.templates.get_template(live).render(context)
            body = json.dumps({"live": part, "data": context.get("data")}, default=str)
            response = Response(body, mimetype="application/json")
        else:
            response = Response(self.templates.get_template(template).render(context), mimetype="text/html")
        if fresh:
            response.set_cookie(
                security.CSRF_COOKIE,
                csrf,
                path=request.script_root or "/",
                httponly=True,
                samesite="Strict",
                secure=request.scheme == "https",
            )
        return response

    def _csrf_token(self, request: Request) -> tuple[str, bool]:
        token = request.cookies.get(security.CSRF_COOKIE)
        if token and len(token) >= 32:
            return token, False
        return security.new_csrf_token(), True

    def json(self, data: Any, status: int = 200) -> Response:
        """``data`` as a JSON response."""
        return Response(json.dumps(data, default=str), status, mimetype="application/json")

    def error(self, request: Request, status: int, message: str) -> Response:
        """An error page (or JSON for scripts and the live refresh) saying what went wrong."""
        if request.headers.get(LIVE_HEADER) or request.path.startswith("/api/"):
            return self.json({"error": message}, status)
        body = self.templates.get_template("error.html").render(
            settings=self.settings,
            store=self.broker.url,
            base=request.script_root,
            url=lambda path, **query: self.url(request, path, **query),
            status=status,
            message=message,
            notice="",
        )
        return Response(body, status, mimetype="text/html")

    def static(self, name: str) -> Response:
        """A file of ``static/`` (the CSS and scripts ship in the package: no CDN)."""
        path = safe_join(str(_STATIC), name)
        if path is None or not pathlib.Path(path).is_file():
            raise NotFound(f"no such file: {name}")
        file = pathlib.Path(path)
        response = Response(
            file.read_bytes(), mimetype=_STATIC_TYPES.get(file.suffix, "application/octet-stream")
        )
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    def forwarded(self, request: Request, app: WSGIApp, prefix: str) -> WSGIApp:
        """``app`` answering the request as if mounted at ``prefix`` under the dashboard."""
        environ = dict(request.environ)
        environ["SCRIPT_NAME"] = request.script_root + prefix
        environ["PATH_INFO"] = request.path[len(prefix) :] if request.path.startswith(prefix) else ""

        def mounted(_environ: Mapping[str, Any], start_response: Any) -> Iterable[bytes]:
            return app(environ, start_response)

        return mounted
