"""django-rq on jq: its admin pages render jq's data, its actions change it, its management
commands run, and its commit modes hold.

Runs in a process where ``rq`` is jq (tests/addons/test_addons.py starts it through
``python -m jq.rq_shim``), against a redis-server of its own and the Django project in
tests/addons/django_site/.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jq import rq_shim

if not rq_shim.is_installed():
    pytest.skip("run through tests/addons/test_addons.py, where rq is jq", allow_module_level=True)

import django
import redis

from jq.testing.helpers import wait_for
from tests.addons import jobs
from tests.addons.conftest import ROOT, child_env, run_python

MANAGE = str(Path(__file__).resolve().parent / "django_site" / "manage.py")
DEFAULT = 0  # django-rq numbers queues by sorted name: default, high
HIGH = 1


@pytest.fixture(scope="session")
def django_site(addon_redis, tmp_path_factory) -> Iterator[Any]:
    """Django set up with the test project, its database migrated, an admin user created."""
    database = tmp_path_factory.mktemp("django") / "db.sqlite3"
    os.environ["JQ_ADDONS_DJANGO_DB"] = str(database)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.addons.django_site.settings"
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    yield User.objects.create_superuser("admin", "admin@example.com", "secret")


@pytest.fixture
def client(django_site, redis_conn):
    """A Django test client logged in as a staff user; the Redis server emptied."""
    from django.test import Client

    browser = Client()
    browser.force_login(django_site)
    return browser


def rq_url(name: str, *args: Any) -> str:
    """The URL of django-rq's page ``name`` (its own URLs, included under /django-rq/)."""
    from django.urls import reverse

    return reverse(f"django_rq:{name}", args=args)


def get_queue(name: str = "default"):
    """The queue as django-rq makes it, enqueueing at once (outside a transaction anyway)."""
    import django_rq

    return django_rq.get_queue(name, commit_mode="auto")


def run_burst(*queue_names: str) -> None:
    """Run the jobs queued on those queues, in this process."""
    from rq import SimpleWorker

    queues = [get_queue(name) for name in queue_names or ("default",)]
    SimpleWorker(queues, connection=queues[0].connection).work(burst=True, logging_level="WARNING")


def seed() -> dict[str, Any]:
    """One job of each kind on the default queue: finished, failed (two), queued (two),
    scheduled, deferred; and one queued on ``high``."""
    from datetime import timedelta

    queue = get_queue()
    done = {
        "finished": queue.enqueue(jobs.add, 1, 2),
        "failed": queue.enqueue(jobs.fail, "first"),
        "failed2": queue.enqueue(jobs.fail, "second"),
    }
    run_burst("default")
    done["queued"] = queue.enqueue(jobs.add, 3, 4)
    done["queued2"] = queue.enqueue(jobs.add, 5, 6)
    done["scheduled"] = queue.enqueue_in(timedelta(hours=1), jobs.add, 7, 8)
    done["deferred"] = queue.enqueue(jobs.add, 9, 10, depends_on=done["queued"])
    done["high"] = get_queue("high").enqueue(jobs.add, 11, 12)
    return done


def assert_page(client, url: str, *texts: str, method: str = "get", data: Any = None) -> str:
    """GET (or POST) ``url``: 200, and each of ``texts`` on the page."""
    response = getattr(client, method)(url, data or {})
    assert response.status_code == 200, (url, response.status_code, response.content[-3000:])
    page = response.content.decode()
    for text in texts:
        assert text in page, (url, text)
    return page


# ---- pages


def test_stats_pages_show_every_queue_with_its_counts(client):
    jobs_ = seed()
    page = assert_page(client, rq_url("home"), "default", "high")
    assert jobs_["queued"].id not in page  # a summary, not a job list
    stats = client.get(rq_url("home_json")).json()
    default = next(queue for queue in stats["queues"] if queue["name"] == "default")
    assert default["jobs"] == 2  # the two queued jobs (the deferred one waits elsewhere)
    assert default["finished_jobs"] == 1
    assert default["failed_jobs"] == 2
    assert default["scheduled_jobs"] == 1
    assert default["deferred_jobs"] == 1
    assert default["started_jobs"] == 0
    high = next(queue for queue in stats["queues"] if queue["name"] == "high")
    assert high["jobs"] == 1


def test_admin_index_and_admin_dashboard_render(client):
    jobs_ = seed()
    assert_page(client, "/admin/", "Django-RQ")
    assert_page(client, "/admin/django_rq/dashboard/", "default", "high")
    # django-rq's pages are also mounted inside the admin
    assert_page(client, f"/admin/django_rq/dashboard/queues/{DEFAULT}/", jobs_["queued"].id)


def test_queue_and_registry_pages_list_their_jobs(client):
    jobs_ = seed()
    queued = assert_page(client, rq_url("jobs", DEFAULT), jobs_["queued"].id, jobs_["queued2"].id)
    assert jobs_["finished"].id not in queued
    assert_page(client, rq_url("queue_details", DEFAULT), "default")
    assert_page(client, rq_url("finished_jobs", DEFAULT), jobs_["finished"].id)
    for order in ("1", "0"):
        failed = client.get(rq_url("failed_jobs", DEFAULT), {"desc": order}).content.decode()
        first, second = failed.index(jobs_["failed"].id), failed.index(jobs_["failed2"].id)
        # newest first when descending
        assert (second < first) == (order == "1")
    assert_page(client, rq_url("scheduled_jobs", DEFAULT), jobs_["scheduled"].id)
    assert_page(client, rq_url("deferred_jobs", DEFAULT), jobs_["deferred"].id)
    assert_page(client, rq_url("started_jobs", DEFAULT))
    assert_page(client, rq_url("jobs", HIGH), jobs_["high"].id)
    assert_page(client, rq_url("workers", DEFAULT))
    # the confirmation pages of the queue-wide actions
    assert_page(client, rq_url("clear", DEFAULT))
    assert_page(client, rq_url("requeue_all", DEFAULT))
    assert_page(client, rq_url("delete_failed_jobs", DEFAULT))


def test_job_and_result_pages(client):
    jobs_ = seed()
    for name in ("finished", "failed", "queued", "scheduled", "deferred"):
        assert_page(client, rq_url("job_detail", DEFAULT, jobs_[name].id), jobs_[name].id)
    # a job's dependencies and dependents are linked both ways
    assert_page(client, rq_url("job_detail", DEFAULT, jobs_["queued"].id), jobs_["deferred"].id)
    assert_page(client, rq_url("job_detail", DEFAULT, jobs_["deferred"].id), jobs_["queued"].id)
    # each execution's result: its return value, or its traceback
    for name, text in (("finished", "3"), ("failed", "ValueError: first")):
        job = jobs_[name]
        (result,) = job.results()
        assert_page(client, rq_url("job_detail", DEFAULT, job.id), result.id)
        assert_page(client, rq_url("result_detail", DEFAULT, job.id, result.id), job.id, text)
    assert client.get(rq_url("job_detail", DEFAULT, "no-such-job")).status_code == 404
    # the confirmation pages of the job actions
    for name in ("delete_job", "requeue_job", "enqueue_job"):
        assert_page(client, rq_url(name, DEFAULT, jobs_["failed"].id), jobs_["failed"].id)


def test_confirm_action_page_lists_the_selected_jobs(client):
    jobs_ = seed()
    selected = [jobs_["queued"].id, jobs_["queued2"].id, "no-such-job"]
    assert_page(
        client,
        rq_url("confirm_action", DEFAULT),
        *selected[:2],
        method="post",
        data={"action": "delete", "_selected_action": selected},
    )


@pytest.fixture
def busy_worker(client, tmp_path) -> Iterator[dict[str, Any]]:
    """A worker (``manage.py rqworker``, a process of its own) running a job that lasts until the
    test ends."""
    started, release = tmp_path / "started", tmp_path / "release"
    job = get_queue().enqueue(jobs.run_until_released, str(started), str(release))
    worker = subprocess.Popen(
        [sys.executable, MANAGE, "rqworker", "--burst", "--name", "busy-worker", "default"],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(started.exists, timeout=60), "the worker never started the job"
        yield {"job": job, "release": release, "worker": worker}
    finally:
        release.write_text("go")
        try:
            worker.wait(timeout=60)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


def test_prometheus_metrics(client, busy_worker):
    page = assert_page(client, rq_url("metrics"))
    assert 'rq_jobs{queue="default",status="started"} 1.0' in page
    assert 'rq_jobs{queue="high",status="queued"} 0.0' in page
    assert 'rq_workers{name="busy-worker",queues="default",state="busy"} 1.0' in page


def test_started_jobs_and_worker_pages_show_a_running_job(client, busy_worker):
    from rq import Worker

    job = busy_worker["job"]
    assert_page(client, rq_url("started_jobs", DEFAULT), job.id)
    assert_page(client, rq_url("workers", DEFAULT), "busy-worker")
    (worker,) = Worker.all(connection=get_queue().connection)
    assert_page(client, rq_url("worker_details", DEFAULT, worker.key), "busy-worker", job.id)
    stats = client.get(rq_url("home_json")).json()
    default = next(queue for queue in stats["queues"] if queue["name"] == "default")
    assert default["started_jobs"] == 1
    assert default["workers"] == 1


def test_stop_action_stops_a_running_job(client, busy_worker):
    from rq.job import Job, JobStatus

    job = busy_worker["job"]
    response = client.post(rq_url("stop_job", DEFAULT, job.id))
    assert response.status_code == 302
    assert wait_for(lambda: Job.fetch(job.id, connection=job.connection).get_status() == JobStatus.STOPPED)


# ---- actions


def status_of(job) -> str:
    """The job's stored status, read afresh."""
    from rq.job import Job

    return Job.fetch(job.id, connection=job.connection).get_status().value


def test_requeue_a_failed_job(client):
    jobs_ = seed()
    failed = jobs_["failed"]
    response = client.post(rq_url("requeue_job", DEFAULT, failed.id))
    assert response.status_code == 302
    queue = get_queue()
    assert status_of(failed) == "queued"
    assert failed.id in queue.get_job_ids()
    assert failed.id not in queue.failed_job_registry.get_job_ids()


def test_requeue_all_failed_jobs(client):
    jobs_ = seed()
    assert client.post(rq_url("requeue_all", DEFAULT)).status_code == 302
    queue = get_queue()
    assert len(queue.failed_job_registry) == 0
    assert {jobs_["failed"].id, jobs_["failed2"].id} <= set(queue.get_job_ids())


def test_delete_a_job(client):
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    jobs_ = seed()
    queued = jobs_["queued2"]
    assert client.post(rq_url("delete_job", DEFAULT, queued.id)).status_code == 302
    assert queued.id not in get_queue().get_job_ids()
    with pytest.raises(NoSuchJobError):
        Job.fetch(queued.id, connection=queued.connection)


def test_empty_the_queue(client):
    jobs_ = seed()
    assert client.post(rq_url("clear", DEFAULT)).status_code == 302
    assert get_queue().count == 0
    assert get_queue("high").count == 1  # another queue is left alone
    assert status_of(jobs_["finished"]) == "finished"


def test_delete_all_failed_jobs(client):
    jobs_ = seed()
    assert client.post(rq_url("delete_failed_jobs", DEFAULT)).status_code == 302
    assert len(get_queue().failed_job_registry) == 0
    assert get_queue().fetch_job(jobs_["failed"].id) is None


def test_bulk_actions_requeue_and_delete(client):
    jobs_ = seed()
    requeue = [jobs_["failed"].id, jobs_["finished"].id]
    assert (
        client.post(rq_url("actions", DEFAULT), {"action": "requeue", "job_ids": requeue}).status_code == 302
    )
    queue = get_queue()
    assert set(requeue) <= set(queue.get_job_ids())
    assert len(queue.failed_job_registry) == 1
    assert len(queue.finished_job_registry) == 0
    delete = [jobs_["queued"].id, jobs_["queued2"].id]
    assert client.post(rq_url("actions", DEFAULT), {"action": "delete", "job_ids": delete}).status_code == 302
    assert not set(delete) & set(queue.get_job_ids())
    assert all(queue.fetch_job(job_id) is None for job_id in delete)


def test_enqueue_a_deferred_job(client):
    jobs_ = seed()
    deferred = jobs_["deferred"]
    assert client.post(rq_url("enqueue_job", DEFAULT, deferred.id)).status_code == 302
    queue = get_queue()
    assert status_of(deferred) == "queued"
    assert deferred.id in queue.get_job_ids()
    assert len(queue.deferred_job_registry) == 0


def test_enqueue_a_scheduled_job_now(client):
    jobs_ = seed()
    scheduled = jobs_["scheduled"]
    assert client.post(rq_url("enqueue_job", DEFAULT, scheduled.id)).status_code == 302
    queue = get_queue()
    assert status_of(scheduled) == "queued"
    assert scheduled.id in queue.get_job_ids()
    assert len(queue.scheduled_job_registry) == 0


# ---- management commands


def manage(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python manage.py ARGS`` of the test project (a process of its own)."""
    return run_python(MANAGE, *args, timeout=timeout)


def test_rqworker_burst_runs_the_queued_jobs(client):
    jobs_ = seed()
    done = manage("rqworker", "--burst", "default", "high")
    assert done.returncode == 0, done.stderr
    for name in ("queued", "queued2", "deferred", "high"):
        assert status_of(jobs_[name]) == "finished", name
    assert (
        jobs_["queued"].fetch(jobs_["queued"].id, connection=jobs_["queued"].connection).return_value() == 7
    )


def test_rqworker_pool_burst_runs_the_queued_jobs(client):
    jobs_ = seed()
    done = manage("rqworker-pool", "--burst", "--num-workers", "2", "default")
    assert done.returncode == 0, done.stderr
    for name in ("queued", "queued2", "deferred"):
        assert status_of(jobs_[name]) == "finished", name
    assert status_of(jobs_["high"]) == "queued"  # not one of its queues


def test_rqstats(client):
    seed()
    done = manage("rqstats")
    assert done.returncode == 0, done.stderr
    assert "default" in done.stdout and "high" in done.stdout
    done = manage("rqstats", "--json")
    assert done.returncode == 0, done.stderr
    stats = {queue["name"]: queue for queue in json.loads(done.stdout)["queues"]}
    assert (stats["default"]["jobs"], stats["default"]["failed_jobs"], stats["high"]["jobs"]) == (2, 2, 1)


def test_rqsuspend_and_rqresume(client):
    from rq.suspension import is_suspended

    jobs_ = seed()
    connection = get_queue().connection
    done = manage("rqsuspend")
    assert done.returncode == 0, done.stderr
    assert is_suspended(connection)
    # a suspended burst worker runs nothing
    done = manage("rqworker", "--burst", "default")
    assert done.returncode == 0, done.stderr
    assert status_of(jobs_["queued"]) == "queued"
    done = manage("rqresume")
    assert done.returncode == 0, done.stderr
    assert not is_suspended(connection)
    done = manage("rqsuspend", "--duration", "60")
    assert done.returncode == 0, done.stderr
    assert is_suspended(connection)
    assert 0 < connection.ttl(next(iter(connection.keys("*suspended*")))) <= 60


def test_rqcron_runs_an_rq_cron_config(client):
    """``manage.py rqcron`` with a config written for RQ: its interval job fires at start."""
    import signal

    from rq.job import Job

    queue = get_queue()
    cron = subprocess.Popen(
        [sys.executable, MANAGE, "rqcron", "tests.addons.django_site.cron_config", "-l", "WARNING"],
        cwd=ROOT,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: queue.count == 1 or cron.poll() is not None, timeout=60)
        assert cron.poll() is None, cron.communicate()[1]
        (job_id,) = queue.get_job_ids()
        job = Job.fetch(job_id, connection=queue.connection)
        assert (job.func_name, job.args) == ("tests.addons.jobs.add", (20, 22))
    finally:
        cron.send_signal(signal.SIGTERM)
        _out, errors = cron.communicate(timeout=60)
    assert cron.returncode == 0, errors


def test_rqenqueue(client):
    done = manage("rqenqueue", "--queue", "high", "tests.addons.jobs.add", "1", "2")
    assert done.returncode == 0, done.stderr
    assert get_queue("high").count == 1


# ---- commit modes


def test_on_db_commit_a_rolled_back_transaction_enqueues_nothing(client):
    import django_rq
    from django.db import transaction

    queue = django_rq.get_queue("default")  # COMMIT_MODE is on_db_commit in the settings

    with contextlib.suppress(RuntimeError), transaction.atomic():
        queue.enqueue(jobs.add, 1, 2)
        queue.enqueue_call(jobs.add, args=(3, 4))
        django_rq.enqueue(jobs.add, 5, 6)
        django_rq.job("default")(jobs.add).delay(7, 8)
        raise RuntimeError("roll back")
    assert queue.count == 0
    assert not queue.connection.keys("jq:job:*")


def test_on_db_commit_a_committed_transaction_enqueues_at_commit(client):
    import django_rq
    from django.db import transaction

    queue = django_rq.get_queue("default")
    with transaction.atomic():
        queue.enqueue(jobs.add, 1, 2)
        django_rq.job("default")(jobs.add).delay(3, 4)
        assert queue.count == 0  # not before the commit
    assert queue.count == 2


def test_auto_commit_mode_enqueues_at_once(client):
    import django_rq
    from django.db import transaction

    queue = django_rq.get_queue("default", commit_mode="auto")
    with contextlib.suppress(RuntimeError), transaction.atomic():
        queue.enqueue(jobs.add, 1, 2)
        raise RuntimeError("roll back")
    assert queue.count == 1


def test_the_connection_is_a_redis_client(client):
    import django_rq

    assert isinstance(django_rq.get_queue().connection, redis.Redis)
