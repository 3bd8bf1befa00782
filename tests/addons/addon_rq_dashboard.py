"""rq-dashboard on jq: every page and JSON endpoint answers with jq's data, and its actions
(requeue, requeue all, delete, empty, compact) change it.

Runs in a process where ``rq`` is jq (tests/addons/test_addons.py starts it through
``python -m jq.rq_shim``), with Flask's test client, against a redis-server of its own.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from jq import rq_shim

if not rq_shim.is_installed():
    pytest.skip("run through tests/addons/test_addons.py, where rq is jq", allow_module_level=True)

from rq import Queue, SimpleWorker
from rq.job import Job

from jq.testing.helpers import wait_for
from tests.addons import jobs
from tests.addons.conftest import ROOT, child_env, run_python

PREFIX = "/rq"
REGISTRIES = ("queued", "failed", "started", "deferred", "finished", "canceled", "scheduled")


@pytest.fixture
def app(redis_conn, addon_redis):
    """rq-dashboard's Flask app, made as its ``rq-dashboard`` command makes it, on the test
    server (emptied before each test)."""
    from rq_dashboard.cli import make_flask_app
    from rq_dashboard.web import setup_rq_connection

    flask_app = make_flask_app(None, None, None, PREFIX)
    flask_app.config["RQ_DASHBOARD_REDIS_URL"] = addon_redis.url
    setup_rq_connection(flask_app)
    return flask_app


@pytest.fixture
def client(app):
    """Flask's test client of the dashboard."""
    return app.test_client()


def seed(connection) -> dict[str, Any]:
    """Jobs in every place on the ``default`` queue (one of each, two failed), and one queued
    on ``high``."""
    queue = Queue("default", connection=connection)
    made = {
        "finished": queue.enqueue(jobs.add, 1, 2),
        "failed": queue.enqueue(jobs.fail, "first"),
        "failed2": queue.enqueue(jobs.fail, "second"),
    }
    SimpleWorker([queue], connection=connection).work(burst=True, logging_level="WARNING")
    made["queued"] = queue.enqueue(jobs.add, 3, 4, meta={"owner": "tests"})
    made["scheduled"] = queue.enqueue_in(timedelta(hours=1), jobs.add, 5, 6)
    made["deferred"] = queue.enqueue(jobs.add, 7, 8, depends_on=made["queued"])
    made["canceled"] = queue.enqueue(jobs.add, 9, 10)
    made["canceled"].cancel()
    made["high"] = Queue("high", connection=connection).enqueue(jobs.add, 11, 12)
    return made


def get_ok(client, url: str, *texts: str) -> Any:
    """GET ``url`` (following redirects): 200 and each of ``texts`` in the body; the JSON body if
    it is JSON."""
    response = client.get(url, follow_redirects=True)
    assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[-3000:])
    body = response.get_data(as_text=True)
    for text in texts:
        assert text in body, (url, text)
    return response.get_json(silent=True)


def post_ok(client, url: str) -> dict[str, Any]:
    """POST ``url``: 200 and ``{"status": "OK", ...}``."""
    response = client.post(url)
    assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[-3000:])
    body = response.get_json()
    assert body["status"] == "OK", body
    return body


def status_of(job) -> str:
    """The job's stored status, read afresh."""
    return Job.fetch(job.id, connection=job.connection).get_status().value


# ---- pages and JSON


def test_html_pages(client, redis_conn):
    made = seed(redis_conn)
    # The pages are shells that load the JSON endpoints below; they show RQ's version.
    for url in (f"{PREFIX}/", f"{PREFIX}/0/", f"{PREFIX}/0/view", f"{PREFIX}/0/view/queues"):
        get_ok(client, url, "<h1>Queues</h1>", "version: 3.0.0")
    get_ok(client, f"{PREFIX}/0/view/workers", "registered workers")
    # the jobs pages list the queues to choose from
    choices = ('<option value="default">', '<option value="high">')
    get_ok(client, f"{PREFIX}/0/view/jobs", *choices)
    for registry in REGISTRIES:
        get_ok(client, f"{PREFIX}/0/view/jobs/default/{registry}/8/asc/1", *choices)
    for name in ("finished", "failed", "queued", "scheduled", "deferred", "canceled"):
        get_ok(client, f"{PREFIX}/0/view/job/{made[name].id}", made[name].id)
    with client.get(f"{PREFIX}/favicon.ico") as icon:
        assert icon.status_code == 200


def test_queues_json_counts_every_registry(client, redis_conn):
    seed(redis_conn)
    queues = get_ok(client, f"{PREFIX}/0/data/queues.json")["queues"]
    assert [queue["name"] for queue in queues] == ["default", "high"]  # sorted, as RQ's queues sort
    default = queues[0]
    counts = {
        "count": 1,
        "failed_job_registry_count": 2,
        "started_job_registry_count": 0,
        "deferred_job_registry_count": 1,
        "finished_job_registry_count": 1,
        "canceled_job_registry_count": 1,
        "scheduled_job_registry_count": 1,
    }
    assert {name: default[name] for name in counts} == counts
    assert queues[1]["count"] == 1


@pytest.mark.parametrize("order", ["asc", "dsc"])
def test_jobs_json_of_every_registry(client, redis_conn, order):
    made = seed(redis_conn)
    expected = {
        "queued": [made["queued"].id],
        "failed": [made["failed"].id, made["failed2"].id],
        "started": [],
        "deferred": [made["deferred"].id],
        "finished": [made["finished"].id],
        "canceled": [made["canceled"].id],
        "scheduled": [made["scheduled"].id],
    }
    for registry, ids in expected.items():
        body = get_ok(client, f"{PREFIX}/0/data/jobs/default/{registry}/8/{order}/1.json")
        listed = [job["id"] for job in body["jobs"]]
        assert listed == (ids if order == "asc" else ids[::-1]), registry
        assert body["pagination"]["current_page"] == 1
    failed = get_ok(client, f"{PREFIX}/0/data/jobs/default/failed/8/asc/1.json")["jobs"]
    assert "ValueError: first" in failed[0]["exc_info"]
    assert failed[0]["description"] == "tests.addons.jobs.fail('first')"


def test_jobs_json_pages(client, redis_conn):
    queue = Queue("default", connection=redis_conn)
    ids = [queue.enqueue(jobs.add, n, n).id for n in range(5)]
    body = get_ok(client, f"{PREFIX}/0/data/jobs/default/queued/2/asc/2.json")
    # rq-dashboard passes an end index where Queue.get_job_ids takes a length: on RQ too, a page
    # of the queued list runs on to the end of the queue (at most per_page * 2 jobs).
    assert [job["id"] for job in body["jobs"]] == ids[2:]
    assert body["pagination"]["num_pages"] == 3
    assert "next_page" in body["pagination"] and "prev_page" in body["pagination"]


def test_job_json(client, redis_conn):
    made = seed(redis_conn)
    finished = get_ok(client, f"{PREFIX}/0/data/job/{made['finished'].id}.json")
    assert (finished["status"], finished["result"], finished["origin"]) == ("finished", 3, "default")
    assert finished["created_at"] and finished["enqueued_at"] and finished["ended_at"]
    failed = get_ok(client, f"{PREFIX}/0/data/job/{made['failed'].id}.json")
    assert failed["status"] == "failed" and "ValueError: first" in failed["exc_info"]
    queued = get_ok(client, f"{PREFIX}/0/data/job/{made['queued'].id}.json")
    assert queued["status"] == "queued" and queued["metadata"] == '{"owner": "tests"}'
    for name in ("scheduled", "canceled"):
        assert get_ok(client, f"{PREFIX}/0/data/job/{made[name].id}.json")["status"] == name


def test_job_json_of_a_job_with_dependencies_fails_as_on_rq(client, redis_conn):
    """rq-dashboard decodes ``job.dependency_ids`` as bytes, but RQ 3.0 (and jq, as RQ) gives
    ``str``s: this endpoint fails on RQ 3.0 too (docs/moving-from-rq.md, "Add-ons")."""
    made = seed(redis_conn)
    assert client.get(f"{PREFIX}/0/data/job/{made['deferred'].id}.json").status_code == 500


def test_workers_json_and_page_without_workers(client, redis_conn):
    assert get_ok(client, f"{PREFIX}/0/data/workers.json") == {"workers": []}


@pytest.fixture
def busy_worker(redis_conn, addon_redis, tmp_path) -> Iterator[dict[str, Any]]:
    """A worker (``jqueue worker``, its own process) running a job that lasts until the test
    ends."""
    started, release = tmp_path / "started", tmp_path / "release"
    job = Queue("default", connection=redis_conn).enqueue(jobs.run_until_released, str(started), str(release))
    worker = subprocess.Popen(
        [sys.executable, "-m", "jq", "worker", "--burst", "--name", "busy-worker", "--url", addon_redis.url,
         "default"],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert wait_for(started.exists, timeout=60), "the worker never started the job"
        yield {"job": job, "release": release}
    finally:
        release.write_text("go")
        try:
            worker.wait(timeout=60)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


def test_workers_json_and_page_show_a_busy_worker(client, busy_worker):
    job = busy_worker["job"]
    get_ok(client, f"{PREFIX}/0/view/workers")
    (worker,) = get_ok(client, f"{PREFIX}/0/data/workers.json")["workers"]
    assert worker["name"] == "busy-worker"
    assert worker["queues"] == ["default"]
    assert worker["state"] == "busy"
    assert worker["current_job"]["job_id"] == job.id
    assert worker["current_job"]["description"] == job.description
    assert worker["pid"] > 0 and worker["birth_date"] and worker["last_heartbeat"]
    started = get_ok(client, f"{PREFIX}/0/data/jobs/default/started/8/asc/1.json")
    assert [listed["id"] for listed in started["jobs"]] == [job.id]
    assert get_ok(client, f"{PREFIX}/0/data/queues.json")["queues"][0]["started_job_registry_count"] == 1


# ---- actions


def test_requeue_a_failed_job(client, redis_conn):
    made = seed(redis_conn)
    post_ok(client, f"{PREFIX}/job/{made['failed'].id}/requeue")
    queue = Queue("default", connection=redis_conn)
    assert status_of(made["failed"]) == "queued"
    assert made["failed"].id in queue.get_job_ids()
    assert made["failed"].id not in queue.failed_job_registry


@pytest.mark.parametrize("method", ["get", "post"])
def test_requeue_all_failed_jobs(client, redis_conn, method):
    made = seed(redis_conn)
    response = getattr(client, method)(f"{PREFIX}/requeue/default")
    assert response.status_code == 200
    assert response.get_json() == {"status": "OK", "count": 2}
    queue = Queue("default", connection=redis_conn)
    assert len(queue.failed_job_registry) == 0
    assert {made["failed"].id, made["failed2"].id} <= set(queue.get_job_ids())


def test_delete_a_job(client, redis_conn):
    made = seed(redis_conn)
    post_ok(client, f"{PREFIX}/job/{made['queued'].id}/delete")
    queue = Queue("default", connection=redis_conn)
    assert queue.fetch_job(made["queued"].id) is None
    assert queue.count == 0
    response = client.post(f"{PREFIX}/job/{made['queued'].id}/delete")
    assert response.get_json() == {"status": "ERROR"}  # gone already


@pytest.mark.parametrize("registry", REGISTRIES)
def test_empty_each_registry(client, redis_conn, registry):
    made = seed(redis_conn)
    queue = Queue("default", connection=redis_conn)
    holders = {
        "queued": queue,
        "failed": queue.failed_job_registry,
        "started": queue.started_job_registry,
        "deferred": queue.deferred_job_registry,
        "finished": queue.finished_job_registry,
        "canceled": queue.canceled_job_registry,
        "scheduled": queue.scheduled_job_registry,
    }
    post_ok(client, f"{PREFIX}/queue/default/{registry}/empty")
    assert holders[registry].count == 0
    emptied = {"queued": ["queued"], "failed": ["failed", "failed2"]}.get(registry, [registry])
    for name in emptied:
        if name in made:
            assert queue.fetch_job(made[name].id) is None, name
    # the other places keep their jobs
    others = [name for name in ("finished", "failed", "scheduled", "canceled") if name not in emptied]
    for name in others:
        assert status_of(made[name]) == name
    assert Queue("high", connection=redis_conn).count == 1


def test_empty_the_started_registry_with_a_running_job(client, busy_worker, redis_conn):
    job = busy_worker["job"]
    post_ok(client, f"{PREFIX}/queue/default/started/empty")
    assert Queue("default", connection=redis_conn).started_job_registry.count == 0
    assert Queue("default", connection=redis_conn).fetch_job(job.id) is None


def test_compact(client, redis_conn):
    made = seed(redis_conn)
    queue = Queue("default", connection=redis_conn)
    made["queued"].delete(remove_from_queue=False)  # leaves its id on the queue
    extra = queue.enqueue(jobs.add, 0, 0)
    post_ok(client, f"{PREFIX}/queue/default/compact")
    assert queue.get_job_ids() == [extra.id]


def test_delete_is_refused_when_disabled(app, client, redis_conn):
    made = seed(redis_conn)
    app.config["RQ_DASHBOARD_DISABLE_DELETE"] = True
    response = client.post(f"{PREFIX}/job/{made['queued'].id}/delete")
    assert response.get_json() == {"status": "DISABLED"}
    assert status_of(made["queued"]) == "queued"


# ---- the app factory and the command


def test_create_app_from_the_environment(monkeypatch, redis_conn, addon_redis):
    """``rq_dashboard.app:create_app``, for a WSGI server, configured by environment variables."""
    from rq_dashboard.app import create_app

    monkeypatch.setenv("RQ_DASHBOARD_REDIS_URL", addon_redis.url)
    monkeypatch.setenv("RQ_DASHBOARD_URL_PREFIX", "/dash")
    Queue("default", connection=redis_conn).enqueue(jobs.add, 1, 2)
    client = create_app().test_client()
    queues = get_ok(client, "/dash/0/data/queues.json")["queues"]
    assert [(queue["name"], queue["count"]) for queue in queues] == [("default", 1)]


def test_the_rq_dashboard_command_starts(addon_redis):
    """The console script, run through ``python -m jq.rq_shim`` (its --help: it serves forever)."""
    from pathlib import Path

    script = Path(sys.executable).parent / "rq-dashboard"
    done = run_python("-m", "jq.rq_shim", str(script), "--help")
    assert done.returncode == 0, done.stderr
    assert "--redis-url" in done.stdout
