"""The dashboard's routes: pages (GET) and actions (POST).

Every action checks the CSRF token and the read-only setting first, then calls :mod:`jq.admin`
(the calls ``jqueue`` makes), then sends the browser back to the page it came from with a line
saying what was done (a script that sent ``Accept: application/json`` gets that line as JSON).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from werkzeug.exceptions import BadRequest, Forbidden, NotFound
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

from jq.admin import actions
from jq.admin.overview import COUNTS, take_snapshot
from jq.dashboard import extensions, pages, security
from jq.dashboard.listing import JobFilter, matching_ids, page_of_jobs
from jq.exceptions import NoSuchJobError

if TYPE_CHECKING:
    from jq.dashboard.app import Dashboard
    from jq.dashboard.extensions import WSGIApp

__all__ = ["Handlers"]

#: The longest history a chart asks for: 7 days, in minutes.
MAX_HISTORY_MINUTES = 7 * 24 * 60


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        number = int(value) if value else default
    except ValueError:
        raise BadRequest(f"{value!r} is not a whole number") from None
    return min(max(number, low), high)


def _filter_of(source: Any, search_args: bool) -> JobFilter:
    return JobFilter(
        function=(source.get("function") or "").strip(),
        text=(source.get("q") or "").strip(),
        search_args=search_args,
    )


class Handlers:
    """The routes of one :class:`~jq.dashboard.app.Dashboard`, by endpoint name."""

    def __init__(self, app: Dashboard) -> None:
        self.app = app

    def handle(self, endpoint: str, request: Request, arguments: dict[str, Any]) -> Response | WSGIApp:
        """Answer ``request`` with the handler of ``endpoint``."""
        if endpoint.startswith("act_"):
            self._check_action(request)
        handler = getattr(self, endpoint)
        result: Response | WSGIApp = handler(request, **arguments)
        return result

    # -- pages --------------------------------------------------------------------------------------

    def overview(self, request: Request) -> Response:
        """Queues with their counts and latency, workers busy and idle, the suspension."""
        data = pages.overview_of(take_snapshot(self.app.broker))
        return self.app.render(request, "overview.html", "parts/overview.html", data=data, page="overview")

    def api_overview(self, request: Request) -> Response:
        """The overview as JSON, for scripts."""
        data = pages.overview_of(take_snapshot(self.app.broker))
        data.pop("worker_rows")
        return self.app.json(data)

    def jobs(self, request: Request, queue: str, status: str) -> Response:
        """One page of a queue's jobs of one status, filtered and ordered as asked."""
        if status not in COUNTS:
            raise NotFound(f"unknown status {status!r}: use one of {', '.join(COUNTS)}")
        target = self.app.queue(queue)
        keep = _filter_of(request.args, not self.app.settings.hide_args)
        newest = request.args.get("order", "newest") != "oldest"
        page_number = _int(request.args.get("page"), 1, 1, 10**9)
        listed = page_of_jobs(
            target, status, page=page_number, per_page=self.app.settings.per_page, newest=newest, keep=keep
        )
        data = {
            "queue": queue,
            "status": status,
            "statuses": list(COUNTS),
            "order": "newest" if newest else "oldest",
            "function": keep.function,
            "q": keep.text,
            "page": listed.page,
            "pages": listed.pages,
            "total": listed.total,
            "matching": listed.matching,
            "counted_all": listed.counted_all,
            "filtered": keep.active,
            "jobs": [pages.job_row(entry, self.app.view) for entry in listed.jobs],
            "actions": _list_actions(status),
        }
        return self.app.render(request, "jobs.html", "parts/jobs.html", data=data, page="jobs")

    def job(self, request: Request, job_id: str) -> Response:
        """Everything about one job."""
        try:
            data = pages.job_detail(self.app.queue("default"), job_id, self.app.view)
        except NoSuchJobError:
            raise NotFound(f"no job {job_id!r} in this store (it may have expired)") from None
        return self.app.render(request, "job.html", "parts/job.html", data=data, page="job")

    def job_lookup(self, request: Request) -> Response:
        """The header's "job id" box without JavaScript: to that job's page."""
        job_id = (request.args.get("id") or "").strip()
        if not job_id:
            raise BadRequest("give a job id")
        return redirect(self.app.url(request, "/jobs/" + quote(job_id, safe="")), 303)

    def workers(self, request: Request) -> Response:
        """Every live worker: what it listens to, what it runs and for how long, its counts."""
        data = pages.overview_of(take_snapshot(self.app.broker))
        return self.app.render(request, "workers.html", "parts/workers.html", data=data, page="workers")

    def scheduled(self, request: Request) -> Response:
        """Scheduled jobs, soonest first, and the cron entries with their next run."""
        names = sorted(self.app.broker.queue_names())
        queues = [self.app.queue(name) for name in names]
        data = {
            "jobs": pages.scheduled_rows(queues, self.app.view, self.app.settings.per_page),
            "cron": pages.cron_rows(self.app.settings.cron),
        }
        return self.app.render(request, "scheduled.html", "parts/scheduled.html", data=data, page="scheduled")

    def api_history(self, request: Request) -> Response:
        """The history's series for the charts (404 while the history is not installed)."""
        history = self.app.history
        if history is None:
            return self.app.json({"error": extensions.HISTORY_MISSING}, 404)
        minutes = _int(request.args.get("minutes"), 60, 1, MAX_HISTORY_MINUTES)
        chart = history.chart(
            queue=request.args.get("queue") or None,
            function=request.args.get("function") or None,
            minutes=minutes,
        )
        return self.app.json(chart)

    def static(self, request: Request, name: str) -> Response:
        """The dashboard's CSS and scripts."""
        return self.app.static(name)

    def metrics(self, request: Request) -> Response | WSGIApp:
        """Prometheus's ``/metrics``, answered by the metrics application when it is installed."""
        if self.app.metrics_app is None:
            return Response(extensions.METRICS_MISSING + "\n", 404, mimetype="text/plain")
        return self.app.forwarded(request, self.app.metrics_app, "/metrics")

    # -- actions ------------------------------------------------------------------------------------

    def _check_action(self, request: Request) -> None:
        if self.app.settings.read_only:
            raise Forbidden("this dashboard is read-only: it changes nothing")
        if self._bearer(request):
            # A token in a header is no ambient credential: another site cannot make a browser
            # send it, so a script that holds it needs no CSRF token.
            return
        sent = request.form.get(security.CSRF_FIELD) or request.headers.get("X-CSRF-Token")
        problem = security.csrf_problem(request.environ, request.cookies.get(security.CSRF_COOKIE), sent)
        if problem is not None:
            raise Forbidden(problem)

    def _bearer(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        credentials = self.app.settings.credentials
        return (
            header.lower().startswith("bearer ")
            and credentials.token is not None
            and credentials.allows(header)
        )

    def _done(self, request: Request, message: str) -> Response:
        """Back to the page the action came from (only one of the dashboard's own), saying
        ``message``."""
        if "application/json" in request.headers.get("Accept", ""):
            return self.app.json({"message": message})
        back = request.form.get("next") or "/"
        # Only a path of the dashboard's own: browsers read "/\\host" as "//host", another site.
        if not back.startswith("/") or back.startswith("//") or "\\" in back:
            back = "/"
        path, _, query = back.partition("?")
        kept = "&".join(part for part in query.split("&") if part and not part.startswith("notice="))
        separator = "&" if kept else ""
        location = f"{request.script_root}{path}?{kept}{separator}notice={quote(message)}"
        return redirect(location, 303)

    def act_jobs(self, request: Request) -> Response:
        """A job action (requeue, cancel, delete, enqueue-now, stop) on the ids selected, or on
        every job of a queue's list that matches its filter (``scope=matching``)."""
        form = request.form
        action = form.get("action", "")
        if action not in actions.JOB_ACTIONS:
            raise BadRequest(f"unknown action {action!r}: use one of {', '.join(actions.JOB_ACTIONS)}")
        queue = self.app.queue(form.get("queue") or "default")
        if form.get("scope") == "matching":
            status = form.get("status", "")
            if status not in COUNTS:
                raise BadRequest(f"unknown status {status!r}")
            ids = matching_ids(queue, status, _filter_of(form, not self.app.settings.hide_args))
        else:
            ids = form.getlist("job_id")
        if not ids:
            return self._done(request, "no job was selected: nothing done")
        report = actions.JOB_ACTIONS[action](queue, ids, None)
        message = report.summary()
        if report.skipped:
            message += f" (first: {report.skipped[0][1]})"
        return self._done(request, message)

    def act_empty(self, request: Request, queue: str) -> Response:
        """Delete every job waiting in one queue (its registries stay)."""
        [(name, count)] = actions.empty_queues([self.app.queue(queue)])
        return self._done(request, f"emptied {name}: {count} job(s) deleted")

    def act_suspend(self, request: Request) -> Response:
        """Suspend every worker of the store."""
        actions.suspend(self.app.broker)
        return self._done(request, "suspended the workers: each finishes its job and takes no new one")

    def act_resume(self, request: Request) -> Response:
        """Let suspended workers take jobs again."""
        actions.resume(self.app.broker)
        return self._done(request, "resumed the workers")

    def act_shutdown(self, request: Request, worker: str) -> Response:
        """Ask one worker for a warm shutdown."""
        got = actions.shutdown_worker(self.app.broker, worker)
        if not got:
            return self._done(
                request, f"worker {worker} did not get the shutdown command (is it still running?)"
            )
        return self._done(request, f"asked worker {worker} to shut down after its current job")


def _list_actions(status: str) -> list[str]:
    """The actions that make sense on the jobs of a list of ``status``."""
    by_status = {
        "failed": ["requeue", "delete"],
        "scheduled": ["enqueue-now", "cancel", "delete"],
        "started": ["stop", "cancel"],
        "queued": ["cancel", "delete"],
        "deferred": ["cancel", "delete"],
        "rate_limited": ["cancel", "delete"],
        "finished": ["delete"],
        "canceled": ["delete"],
    }
    return by_status.get(status, ["delete"])
