"""jq's dashboard as a WSGI application: what its pages show against the store, what its actions
do, and what keeps it safe (auth, CSRF, read-only, hidden arguments, escaping)."""

from __future__ import annotations

import base64
import json
import re

import pytest
import redis

from jq import Queue, SimpleWorker
from jq.dashboard import Credentials, create_app
from jq.job import JobStatus
from jq_backends.memory import MemoryBroker
from tests import fixtures
from tests.dashboard_helpers import Browser, failed_jobs, scheduled_job

SCRIPT = "<script>document.title='owned'</script>"


@pytest.fixture
def memory() -> MemoryBroker:
    return MemoryBroker()


def test_the_overview_shows_each_queue_s_counts_as_the_store_holds_them(broker):
    high, low = Queue("high", connection=broker), Queue("low", connection=broker)
    for i in range(3):
        high.enqueue(fixtures.add, i, i)
    failed_jobs(low, 2)
    scheduled_job(low)
    browser = Browser(create_app(broker))
    data = json.loads(browser.get("/api/overview").get_data(as_text=True))
    counts = {queue["name"]: queue["counts"] for queue in data["queues"]}
    assert counts["high"]["queued"] == high.count == 3
    assert counts["low"]["failed"] == low.failed_job_registry.count == 2
    assert counts["low"]["scheduled"] == 1
    assert data["totals"]["queued"] == 3 and data["suspended"] is False
    assert data["queues"][0]["latency"] is not None  # high's front job has waited a little
    page = browser.text("/")
    assert re.search(r'data-queue="high".*?data-count="queued">3<', page, re.S)
    assert "Workers are suspended" not in page


def test_the_overview_says_when_workers_are_suspended_and_resume_lifts_it(memory):
    browser = Browser(create_app(memory))
    assert browser.post("/actions/suspend", {"next": "/"}).status_code == 303
    assert memory.is_suspended()
    assert "Workers are suspended until resumed" in browser.text("/")
    response = browser.post("/actions/resume", {"next": "/workers"})
    assert response.status_code == 303 and "/workers?notice=resumed" in response.headers["Location"]
    assert not memory.is_suspended()


def test_a_list_is_paginated_newest_first_or_oldest_first(memory):
    queue = Queue(connection=memory)
    ids = [queue.enqueue(fixtures.add, i, i).id for i in range(30)]
    browser = Browser(create_app(memory, per_page=25))
    first = browser.text("/queues/default/queued")
    listed = re.findall(r'<tr data-job="([^"]+)"', first)
    assert listed == ids[::-1][:25]
    assert "page 1 of 2" in first
    second = re.findall(r'<tr data-job="([^"]+)"', browser.text("/queues/default/queued?page=2"))
    assert second == ids[::-1][25:]
    oldest = re.findall(r'<tr data-job="([^"]+)"', browser.text("/queues/default/queued?order=oldest"))
    assert oldest == ids[:25]


def test_pages_read_only_the_records_they_show(memory, monkeypatch):
    queues = [Queue(f"q{i}", connection=memory) for i in range(3)]
    for queue in queues:
        queue.enqueue_many([Queue.prepare_data(fixtures.add, (i, i)) for i in range(200)])
    loaded: list[int] = []
    load_jobs = memory.load_jobs
    monkeypatch.setattr(memory, "load_jobs", lambda ids: loaded.append(len(ids)) or load_jobs(ids))
    browser = Browser(create_app(memory, per_page=25))
    browser.text("/")
    assert sum(loaded) == 3  # each queue's front job, for its latency
    loaded.clear()
    browser.text("/queues/q1/queued?page=3&order=oldest")
    assert sum(loaded) == 25


def test_a_list_filters_by_function_and_text_and_shows_the_error_s_last_line(memory):
    queue = Queue(connection=memory)
    zero = failed_jobs(queue, 2)
    other = failed_jobs(queue, 1, fixtures.raise_value_error)
    browser = Browser(create_app(memory))
    page = browser.text("/queues/default/failed?function=div_by_zero")
    assert set(re.findall(r'<tr data-job="([^"]+)"', page)) == set(zero)
    assert "ZeroDivisionError: division by zero" in page
    assert 'data-matching="2"' in page
    by_text = browser.text(f"/queues/default/failed?q={other[0][:8]}")
    assert re.findall(r'<tr data-job="([^"]+)"', by_text) == other
    assert "ValueError: 0" in by_text


def test_the_job_page_shows_what_the_store_holds(memory):
    queue = Queue(connection=memory)
    parent = queue.enqueue(fixtures.div_by_zero, 7, job_id="parent", meta={"team": "ops"})
    child = queue.enqueue(fixtures.add, 1, 2, depends_on=parent, job_id="child")
    failed_jobs(queue, 0)
    from jq import SimpleWorker

    SimpleWorker([queue], connection=memory).work(burst=True)
    parent.refresh()
    page = Browser(create_app(memory)).text("/jobs/parent")
    assert 'status-failed">failed<' in page
    assert "tests.fixtures.div_by_zero(7)" in page
    assert "{&#39;team&#39;: &#39;ops&#39;}" in page
    assert parent.exc_info.strip().splitlines()[-1] in page
    assert 'data-result="failed"' in page
    assert re.search(r'data-dependents>.*?href="/jobs/child"', page, re.S)
    child_page = Browser(create_app(memory)).text("/jobs/child")
    assert re.search(r'data-depends-on>.*?href="/jobs/parent"', child_page, re.S)
    assert child.get_status() == JobStatus.DEFERRED
    assert Browser(create_app(memory)).get("/jobs/nope").status_code == 404


def test_requeue_all_matching_acts_on_the_filtered_jobs_only(memory):
    queue = Queue(connection=memory)
    zero = failed_jobs(queue, 3)
    other = failed_jobs(queue, 2, fixtures.raise_value_error)
    browser = Browser(create_app(memory))
    page = browser.text("/queues/default/failed?function=div_by_zero")
    assert "Requeue all 3 failed job(s) of function 'div_by_zero' in default?" in page
    form = {"scope": "matching", "queue": "default", "status": "failed", "function": "div_by_zero",
            "action": "requeue", "next": "/queues/default/failed?function=div_by_zero"}  # fmt: skip
    response = browser.post("/actions/jobs", form)
    assert response.status_code == 303
    assert "notice=requeued%203%20job%28s%29" in response.headers["Location"]
    assert sorted(queue.get_job_ids()) == sorted(zero)
    assert sorted(queue.failed_job_registry.get_job_ids()) == sorted(other)


def test_actions_on_a_selection_and_on_one_job(memory):
    queue = Queue(connection=memory)
    waiting = [queue.enqueue(fixtures.add, i, i).id for i in range(3)]
    later = scheduled_job(queue)
    browser = Browser(create_app(memory))
    browser.post("/actions/jobs", {"action": "cancel", "queue": "default", "job_id": waiting[:2]})
    assert queue.get_job_ids() == [waiting[2]]
    assert queue.canceled_job_registry.count == 2
    browser.post("/actions/jobs", {"action": "enqueue-now", "queue": "default", "job_id": later})
    assert queue.get_job_ids() == [waiting[2], later]
    response = browser.post("/actions/jobs", {"action": "delete", "job_id": waiting[0]},
                            Accept="application/json")  # fmt: skip
    assert json.loads(response.get_data(as_text=True)) == {"message": "deleted 1 job(s)"}
    assert not queue.job_class.exists(waiting[0], connection=memory)
    browser.post("/actions/queues/default/empty", {})
    assert queue.count == 0
    refused = browser.post(
        "/actions/jobs", {"action": "requeue", "job_id": waiting[2]}, Accept="application/json"
    )
    assert "1 skipped" in json.loads(refused.get_data(as_text=True))["message"]


def test_the_workers_page_lists_workers_and_shutdown_publishes_the_command(memory):
    from jq import SimpleWorker

    worker = SimpleWorker([Queue(connection=memory)], connection=memory, name="w-1")
    worker.register_birth()
    try:
        browser = Browser(create_app(memory))
        page = browser.text("/workers")
        assert 'data-worker="w-1"' in page and "1 worker(s): 0 busy, 1 idle" in page
        received = []
        subscription = memory.subscribe_commands("w-1", received.append)
        try:
            browser.post("/actions/workers/w-1/shutdown", {})
        finally:
            subscription.close()
        assert [json.loads(payload)["command"] for payload in received] == ["shutdown"]
    finally:
        worker.register_death()


def test_stop_asks_the_worker_named_in_the_job_s_record(memory):
    job = Queue(connection=memory).enqueue(fixtures.add, 1, 1)
    browser = Browser(create_app(memory))
    refused = browser.post("/actions/jobs", {"action": "stop", "job_id": job.id}, Accept="application/json")
    assert "no worker has taken it" in json.loads(refused.get_data(as_text=True))["message"]
    job.worker_name = "w-2"
    job.save()
    received = []
    subscription = memory.subscribe_commands("w-2", received.append)
    try:
        browser.post("/actions/jobs", {"action": "stop", "job_id": job.id})
    finally:
        subscription.close()
    assert [json.loads(payload) for payload in received] == [{"command": "stop-job", "job_id": job.id}]


def test_the_scheduled_page_shows_due_times_and_cron_entries_with_their_next_run(memory):
    from jq.cron import Cron

    queue = Queue(connection=memory)
    later = scheduled_job(queue)
    cron = Cron()
    cron.register(fixtures.add, cron="*/5 * * * *", queue="default", args=(1, 2))
    page = Browser(create_app(memory, cron=list(cron))).text("/scheduled")
    due = queue.scheduled_job_registry.get_scheduled_time(later)
    assert due.strftime("%Y-%m-%dT%H:%M:%S") in page
    assert "*/5 * * * *" in page
    assert re.search(r'data-cron="[^"]+">.*?<td class="when">\d{4}-\d\d-\d\dT\d\d:\d[05]:00', page, re.S)


def test_a_live_refresh_answers_json_with_the_page_s_live_part(memory):
    Queue("q", connection=memory).enqueue(fixtures.add, 1, 1)
    response = Browser(create_app(memory)).get("/", **{"X-JQ-Live": "1"})
    answer = json.loads(response.get_data(as_text=True))
    assert 'data-count="queued">1<' in answer["live"] and "<html" not in answer["live"]
    assert answer["data"]["totals"]["queued"] == 1


# -- safety ---------------------------------------------------------------------------------------


def test_every_action_needs_the_browser_s_csrf_token_and_the_same_origin(memory):
    queue = Queue(connection=memory)
    job = queue.enqueue(fixtures.add, 1, 1)
    browser = Browser(create_app(memory))
    browser.get("/")  # the browser has its token (cookie and pages)
    assert (
        browser.post("/actions/jobs", {"action": "cancel", "job_id": job.id}, token=False).status_code == 403
    )
    forged = browser.post("/actions/jobs", {"action": "cancel", "job_id": job.id, "csrf_token": "x" * 43},
                          token=False)  # fmt: skip
    assert forged.status_code == 403 and "does not match" in forged.get_data(as_text=True)
    other_site = browser.post(
        "/actions/jobs", {"action": "cancel", "job_id": job.id}, Origin="https://evil.example"
    )
    assert other_site.status_code == 403
    assert browser.post("/actions/suspend", {}, token=False).status_code == 403
    assert job.get_status() == JobStatus.QUEUED and not memory.is_suspended()
    assert browser.post("/actions/jobs", {"action": "cancel", "job_id": job.id}).status_code == 303
    assert job.get_status() == JobStatus.CANCELED
    assert "Set-Cookie" not in browser.get("/").headers  # one token per browser, kept
    headers = browser.get("/").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("back", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
def test_an_action_sends_the_browser_back_only_to_the_dashboard(memory, back):
    response = Browser(create_app(memory)).post("/actions/resume", {"next": back})
    assert response.status_code == 303 and response.headers["Location"].startswith("/?notice=")


def test_read_only_shows_no_action_and_refuses_every_post(memory):
    job = Queue(connection=memory).enqueue(fixtures.add, 1, 1)
    browser = Browser(create_app(memory, read_only=True))
    page = browser.text("/queues/default/queued")
    assert "read-only" in page and 'method="post"' not in page
    assert 'method="post"' not in browser.text("/jobs/" + job.id)
    response = browser.post("/actions/jobs", {"action": "cancel", "job_id": job.id, "csrf_token": "t" * 43},
                            token=False)  # fmt: skip
    assert response.status_code == 403 and "read-only" in response.get_data(as_text=True)
    assert job.get_status() == JobStatus.QUEUED


def test_hidden_arguments_are_shown_nowhere(memory):
    queue = Queue(connection=memory)
    job = queue.enqueue(fixtures.echo, "s3cret-arg", token="s3cret-kwarg", meta={"k": "s3cret-meta"})
    browser = Browser(create_app(memory, hide_args=True))
    pages = [browser.text(path) for path in ("/queues/default/queued", f"/jobs/{job.id}")]
    assert all("s3cret" not in page for page in pages)
    assert "tests.fixtures.echo(…)" in pages[1] and "(hidden)" in pages[1]
    # and the text filter does not search what it hides
    assert 'data-matching="0"' in browser.text("/queues/default/queued?q=s3cret")


def test_arguments_are_escaped_everywhere(memory):
    queue = Queue(connection=memory)
    job = queue.enqueue(fixtures.echo, SCRIPT, description=SCRIPT, meta={"x": SCRIPT}, job_id="xss")
    browser = Browser(create_app(memory))
    for path in ("/queues/default/queued", "/jobs/xss", f"/queues/default/queued?q={job.id}"):
        page = browser.text(path)
        assert "<script>document" not in page
        assert "&lt;script&gt;document.title=" in page
    # what a visitor types comes back escaped too, in the page and in the confirmations
    reflected = browser.text('/queues/default/queued?function="><script>x()</script>&q=\'"<b>')
    assert "<script>x()" not in reflected and "<b>" not in reflected
    assert "&#34;&gt;&lt;script&gt;x()" in reflected


def test_basic_auth_and_token_guard_the_standalone_dashboard(memory):
    app = create_app(memory, credentials=Credentials(user="admin", password="pw", token="tok"))
    assert Browser(app).get("/").status_code == 401
    assert Browser(app).get("/").headers["WWW-Authenticate"].startswith("Basic")

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert Browser(app, Authorization=basic("admin", "pw")).get("/").status_code == 200
    assert Browser(app, Authorization=basic("admin", "wrong")).get("/").status_code == 401
    assert Browser(app, Authorization=basic("other", "pw")).get("/").status_code == 401
    assert Browser(app, Authorization=basic("anyone", "tok")).get("/").status_code == 200
    assert Browser(app, Authorization="Bearer tok").get("/api/overview").status_code == 200
    assert Browser(app, Authorization="Bearer nope").get("/static/dashboard.css").status_code == 401
    # a script holding the token acts without a CSRF token; a browser with basic auth cannot
    scripted = Browser(app, Authorization="Bearer tok").post("/actions/suspend", {}, token=False)
    assert scripted.status_code == 303 and memory.is_suspended()
    assert (
        Browser(app, Authorization=basic("admin", "pw")).post("/actions/resume", {}, token=False).status_code
        == 403
    )


def test_a_host_application_s_check_decides_when_mounted(memory):
    app = create_app(memory, authorize=lambda environ: environ.get("HTTP_X_STAFF") == "yes")
    assert Browser(app).get("/").status_code == 403
    assert Browser(app, **{"X-Staff": "yes"}).get("/").status_code == 200


def test_the_store_s_password_is_never_shown():
    # Nothing listens on port 1: the page says the store cannot be reached, naming it without
    # its password.
    app = create_app(redis.Redis.from_url("redis://jq:hunter2@127.0.0.1:1/0", socket_connect_timeout=1))
    response = Browser(app).get("/")
    text = response.get_data(as_text=True)
    assert response.status_code == 503 and "cannot reach the store" in text
    assert "hunter2" not in text and "127.0.0.1:1" in text


def test_metrics_and_history_plug_in_and_say_when_missing(memory):
    missing = Browser(create_app(memory, metrics_app=None, history=None))
    assert missing.get("/metrics").status_code == 404
    assert "History charts need" in missing.text("/")
    assert missing.get("/api/history").status_code == 404

    def metrics(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"jq_up 1 # {environ['SCRIPT_NAME']}".encode()]

    class History:
        def chart(self, *, queue, function, minutes):
            return {"series": [{"name": "finished", "unit": "jobs/min", "points": [[0, minutes]]}],
                    "asked": [queue, function]}  # fmt: skip

    plugged = Browser(create_app(memory, metrics_app=metrics, history=History()))
    assert plugged.get("/metrics").get_data(as_text=True) == "jq_up 1 # /metrics"
    chart = json.loads(plugged.get("/api/history?queue=q&minutes=5").get_data(as_text=True))
    assert chart["series"][0]["points"] == [[0, 5]] and chart["asked"] == ["q", None]
    assert "data-chart=" in plugged.text("/")


def test_jq_metrics_and_history_are_there_by_default(memory):
    queue = Queue("mail", connection=memory)
    queue.enqueue(fixtures.add, 1, 1)
    queue.enqueue(fixtures.div_by_zero, 1)
    SimpleWorker([queue], connection=memory).work(burst=True)
    client = Browser(create_app(memory))
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'jq_jobs_finished_total{function="tests.fixtures.add",queue="mail"} 1.0' in metrics
    chart = json.loads(client.get("/api/history?queue=mail&minutes=10").get_data(as_text=True))
    series = {item["name"]: item for item in chart["series"]}
    assert sum(value for _, value in series["finished"]["points"]) == 1
    assert sum(value for _, value in series["failed"]["points"]) == 1
    assert series["p95"]["unit"] == "run time (s)" and series["p95"]["points"]
    assert chart["totals"]["finished"] == 1 and chart["step"] == 60
    assert "History charts need" not in client.text("/")


def test_links_stay_under_the_mount_point(memory):
    Queue(connection=memory).enqueue(fixtures.add, 1, 1)
    client = Browser(create_app(memory)).client
    page = client.get("/queues/default/queued", environ_overrides={"SCRIPT_NAME": "/ops/jq"}).get_data(
        as_text=True
    )
    links = re.findall(r'(?:href|action|src)="(?!data:)([^"]+)"', page)
    assert links and all(link.startswith("/ops/jq/") for link in links), links
