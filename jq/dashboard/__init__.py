"""jq's web dashboard (the ``jq-queue[dashboard]`` extra): see docs/dashboard.md.

``create_app(connection)`` is a WSGI application; ``create_asgi_app(connection)`` the same behind
an ASGI adapter. Run it alone with ``jqueue dashboard --url ...``, or mount it under a prefix of a
Flask, Django or FastAPI/Starlette application (:func:`jq.dashboard.mount.forward` for a view of
the host's, so that the host's own login protects it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jq.core.job import Job
from jq.dashboard import extensions
from jq.dashboard.app import Dashboard, Settings
from jq.dashboard.extensions import History, WSGIApp
from jq.dashboard.security import Authorize, Credentials
from jq.queueing.queue import Queue
from jq.scheduling.cron_entries import CronJob

__all__ = ["Credentials", "Dashboard", "History", "Settings", "create_app"]

#: Passed for ``metrics_app`` or ``history`` to take jq's own when it is installed.
DEFAULT: Any = object()


def create_app(
    connection: Any = None,
    *,
    read_only: bool = False,
    hide_args: bool = False,
    poll_seconds: float = 3.0,
    per_page: int = 25,
    credentials: Credentials | None = None,
    authorize: Authorize | None = None,
    cron: Sequence[CronJob] = (),
    metrics_app: WSGIApp | None = DEFAULT,
    history: History | None = DEFAULT,
    queue_class: type[Queue] = Queue,
    job_class: type[Job] | None = None,
    serializer: Any = None,
) -> Dashboard:
    """The dashboard of the store ``connection`` (a URL, a redis-py client or a broker; None:
    ``JQ_URL`` or the current ``Connection``), as a WSGI application.

    :param read_only: show everything, change nothing.
    :param hide_args: never show jobs' arguments, descriptions, meta or return values.
    :param poll_seconds: how often pages refresh themselves in place (0: never).
    :param per_page: jobs per page of a list.
    :param credentials: basic-auth user and password and/or a token every request must carry.
    :param authorize: the host application's check when mounted: handed the WSGI environ, True
        lets the request in (else 403).
    :param cron: cron entries to show with their next run (``jq.cron.load_cron(path)``).
    :param metrics_app: the WSGI application answering ``/metrics`` (default: jq's Prometheus
        collector when installed; None: none).
    :param history: what the overview's charts draw (default: jq's history when installed).
    :param queue_class: the queue class (and ``job_class``, ``serializer``) jobs are read with.
    """
    if per_page < 1:
        raise ValueError(f"per_page must be at least 1, not {per_page}")
    if poll_seconds < 0:
        raise ValueError(f"poll_seconds cannot be negative, not {poll_seconds}")
    settings = Settings(
        read_only=read_only,
        hide_args=hide_args,
        poll_seconds=poll_seconds,
        per_page=per_page,
        credentials=credentials or Credentials(),
        authorize=authorize,
        cron=tuple(cron),
    )
    dashboard = Dashboard(
        connection, settings, queue_class=queue_class, job_class=job_class, serializer=serializer
    )
    dashboard.metrics_app = (
        extensions.default_metrics_app(dashboard.broker) if metrics_app is DEFAULT else metrics_app
    )
    dashboard.history = extensions.default_history(dashboard.broker) if history is DEFAULT else history
    return dashboard
