"""RQ's cron API on jq's cron engine: ``jq.cron.register`` in config modules,
``CronScheduler(connection, logging_level, name)`` with ``register``, ``load_config_from_file``,
``enqueue_jobs``, ``start``...; RQ's timing (an interval job fires when a scheduler starts, then
every interval; cron strings in local time), each tick still enqueued once across schedulers."""

from __future__ import annotations

import datetime
import logging
import signal
import threading
import zoneinfo

import pytest

from jq import Queue, SimpleWorker
from jq import cron as cron_module
from jq.cron import Cron, CronJob, CronScheduler, create_cron, get_cron_job_ids, load_cron, local_timezone
from jq.exceptions import ConfigurationError, UnsupportedByBrokerError
from jq.testing.helpers import wait_for
from tests import fixtures
from tests.test_cli import finish, start_jqueue

UTC = datetime.timezone.utc


def at(text: str) -> datetime.datetime:
    """An aware UTC datetime from 'YYYY-MM-DD HH:MM:SS'."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


def ticks(jobs) -> list[str]:
    """The ticks the jobs were fired for, as HH:MM:SS."""
    return [job.meta["cron_tick"][11:19] for job in jobs]


def rq_scheduler(broker, started: str = "2026-11-23 00:00:00") -> CronScheduler:
    """An RQ-style scheduler that started at ``started``."""
    scheduler = CronScheduler(broker, logging_level="WARNING", name="rq-style")
    scheduler.created_at = at(started)
    return scheduler


# -- the API ---------------------------------------------------------------------------------------------


def test_rqs_constructor_register_and_jobs(broker):
    scheduler = CronScheduler(connection=broker, logging_level="INFO", name="my-scheduler")
    assert (scheduler.name, scheduler.config_file, scheduler.get_jobs()) == ("my-scheduler", "", [])
    assert scheduler.connection is broker
    assert scheduler == CronScheduler(broker, name="my-scheduler") and hash(scheduler) == hash("my-scheduler")
    assert scheduler.pid > 0 and scheduler.hostname and scheduler.created_at.tzinfo is not None
    entry = scheduler.register(
        fixtures.add,
        queue_name="sums",
        args=(1, 2),
        interval=60,
        job_timeout=30,
        result_ttl=100,
        meta={"k": 1},
    )
    assert isinstance(entry, CronJob) and scheduler.get_jobs() == [entry]
    assert (entry.queue_name, entry.func_name, entry.func, entry.interval, entry.cron) == (
        "sums", "tests.fixtures.add", fixtures.add, 60, None,
    )  # fmt: skip
    assert entry.name == "tests.fixtures.add"  # RQ's name: the function's path
    assert entry.job_options == {"job_timeout": 30, "result_ttl": 100, "meta": {"k": 1}}
    assert entry.should_run()  # an interval job that never ran
    data = scheduler.to_dict()
    assert (data["name"], data["config_file"]) == ("my-scheduler", "")
    assert CronJob.from_dict(entry.to_dict()).to_dict() == entry.to_dict()


def test_jq_form_still_works(broker):
    cron = Cron()
    cron.register(fixtures.add, interval=60, args=(1, 1), name="sum")
    for scheduler in (CronScheduler(cron, broker), CronScheduler(broker, cron=cron)):
        assert [entry.name for entry in scheduler.get_jobs()] == ["sum"]


def test_register_needs_exactly_one_schedule(broker):
    scheduler = CronScheduler(broker)
    with pytest.raises(ConfigurationError, match="not both"):
        scheduler.register(fixtures.add, "default", interval=5, cron="* * * * *")
    with pytest.raises(ConfigurationError, match="exactly one of"):
        scheduler.register(fixtures.add, "default")


def test_webhooks_go_with_each_job_fired(broker):
    from jq.webhook import Webhook

    scheduler = CronScheduler(broker)
    scheduler.register(
        fixtures.add, "default", interval=5, webhooks=[Webhook("https://example.com/x", "finished")]
    )
    scheduler.enqueue_jobs()
    (job,) = Queue("default", connection=broker).jobs
    assert [(hook.url, hook.job_status) for hook in job.webhooks] == [("https://example.com/x", "finished")]
    with pytest.raises(TypeError, match="Webhook instances"):
        scheduler.register(fixtures.add, "other", interval=5, webhooks=["https://example.com/x"])


def test_what_jq_does_not_keep_is_refused(broker):
    scheduler = CronScheduler(broker)
    entry = scheduler.register(fixtures.add, "default", interval=5)
    for call in (
        lambda: CronScheduler.all(broker),
        lambda: CronScheduler.fetch("x", broker),
        scheduler.register_birth,
        scheduler.heartbeat,
        lambda: scheduler.last_heartbeat,
        lambda: entry.get_job_ids(broker),
        lambda: get_cron_job_ids("x", broker),
    ):
        with pytest.raises(UnsupportedByBrokerError):
            call()


# -- RQ's timing ------------------------------------------------------------------------------------------


def test_an_interval_job_fires_when_the_scheduler_starts_then_every_interval(broker):
    scheduler = rq_scheduler(broker)
    scheduler.register(fixtures.add, "default", args=(1, 1), interval=60)
    assert ticks(scheduler.tick(at("2026-11-23 00:00:07"))) == ["00:00:07"]  # at once
    assert scheduler.tick(at("2026-11-23 00:01:00")) == []  # 53 s later: not yet
    assert ticks(scheduler.tick(at("2026-11-23 00:01:07"))) == ["00:01:07"]  # 60 s after the first
    assert ticks(scheduler.tick(at("2026-11-23 00:02:30"))) == ["00:02:07"]  # late, within the grace


def test_schedulers_started_together_fire_an_interval_job_once(broker):
    jobs: list[int] = []
    lock = threading.Lock()
    schedulers = [rq_scheduler(broker) for _ in range(4)]
    for scheduler in schedulers:
        scheduler.register(fixtures.add, "default", args=(1, 1), interval=60)

    def run(scheduler: CronScheduler, second: int) -> None:
        fired = scheduler.tick(at(f"2026-11-23 00:00:{second:02d}"))
        with lock:
            jobs.append(len(fired))

    threads = [threading.Thread(target=run, args=(s, n)) for n, s in enumerate(schedulers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(jobs) == 1
    # Each scheduler then sees the same ticks: every minute from the first run, each fired once.
    later = [len(s.tick(at("2026-11-23 00:01:10"))) for s in schedulers]
    assert sum(later) == 1
    assert len(Queue(connection=broker)) == 2


def test_a_scheduler_started_within_the_interval_waits_for_the_next_tick(broker):
    first = rq_scheduler(broker)
    first.register(fixtures.add, "default", args=(1, 1), interval=3600)
    assert len(first.tick(at("2026-11-23 00:00:00"))) == 1
    second = rq_scheduler(broker, started="2026-11-23 00:30:00")
    second.register(fixtures.add, "default", args=(1, 1), interval=3600)
    # RQ would fire again at once: that would run the job twice within one interval.
    assert second.tick(at("2026-11-23 00:30:00")) == []
    assert ticks(second.tick(at("2026-11-23 01:00:00"))) == ["01:00:00"]


def test_after_every_scheduler_was_down_the_interval_starts_again(broker):
    first = rq_scheduler(broker)
    first.register(fixtures.add, "default", args=(1, 1), interval=600)
    assert len(first.tick(at("2026-11-23 00:00:00"))) == 1
    # Down from 00:00 to 00:35: the ticks of 00:10 to 00:30 are more than a minute late. The job
    # fires at once, and its interval counts from then, as a restarted RQ scheduler does.
    restarted = rq_scheduler(broker, started="2026-11-23 00:35:00")
    restarted.register(fixtures.add, "default", args=(1, 1), interval=600)
    assert ticks(restarted.tick(at("2026-11-23 00:35:00"))) == ["00:35:00"]
    assert restarted.tick(at("2026-11-23 00:44:59")) == []
    assert ticks(restarted.tick(at("2026-11-23 00:45:00"))) == ["00:45:00"]


def test_a_cron_string_is_in_local_time_and_starts_after_the_scheduler(broker, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Jakarta")  # UTC+7, no daylight saving
    scheduler = rq_scheduler(broker, started="2026-11-23 02:59:30")
    entry = scheduler.register(fixtures.add, "default", args=(1, 1), cron="0 10 * * *")
    assert entry.timezone == zoneinfo.ZoneInfo("Asia/Jakarta")
    # 10:00 in Jakarta is 03:00 UTC; 02:00 UTC (09:00 there) was no tick.
    assert scheduler.tick(at("2026-11-23 02:59:59")) == []
    assert ticks(scheduler.tick(at("2026-11-23 03:00:01"))) == ["10:00:00"]  # the tick's local time
    [job] = Queue(connection=broker).jobs
    assert datetime.datetime.fromisoformat(job.meta["cron_tick"]) == at("2026-11-23 03:00:00")


def test_a_cron_string_tick_before_the_scheduler_started_is_not_fired(broker, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    scheduler = rq_scheduler(broker, started="2026-11-23 10:00:30")
    scheduler.register(fixtures.add, "default", args=(1, 1), cron="0 10 * * *")
    assert scheduler.tick(at("2026-11-23 10:00:31")) == []  # RQ: the first run is the next tick


def test_local_timezone_follows_tz(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Riga")
    assert local_timezone() == zoneinfo.ZoneInfo("Europe/Riga")
    monkeypatch.setenv("TZ", ":America/New_York")
    assert local_timezone() == zoneinfo.ZoneInfo("America/New_York")


def test_enqueue_jobs_and_sleep_interval(broker):
    scheduler = CronScheduler(broker, logging_level="WARNING")
    entry = scheduler.register(fixtures.add, "default", args=(2, 2), interval=30)
    assert scheduler.enqueue_jobs() == [entry]
    assert scheduler.enqueue_jobs() == []
    assert entry.latest_enqueue_time is not None
    assert entry.next_enqueue_time == entry.latest_enqueue_time + datetime.timedelta(seconds=30)
    assert 25 < scheduler.calculate_sleep_interval() <= 30
    SimpleWorker([Queue(connection=broker)]).work(burst=True, logging_level="WARNING")
    assert [job.result for job in Queue(connection=broker).finished_job_registry.get_jobs()] == [4]


# -- config modules -----------------------------------------------------------------------------------------


RQ_CONFIG = """\
from jq import cron
from tests.fixtures import add, say_hello

cron.register(add, queue_name="sums", args=(1, 2), interval=60)
cron.register(add, queue_name="sums", args=(3, 4), interval=60)  # same function and schedule
cron.register(say_hello, queue_name="greetings", kwargs={"name": "cron"}, cron="0 9 * * 1")
"""


def test_load_an_rq_style_config(tmp_path):
    path = tmp_path / "rq_cron.py"
    path.write_text(RQ_CONFIG)
    loaded = load_cron(str(path))
    entries = list(loaded)
    assert [(e.func_name, e.queue_name, e.args, e.kwargs) for e in entries] == [
        ("tests.fixtures.add", "sums", (1, 2), {}),
        ("tests.fixtures.add", "sums", (3, 4), {}),
        ("tests.fixtures.say_hello", "greetings", (), {"name": "cron"}),
    ]
    # Several jobs may share RQ's name; each keeps a marker of its own.
    assert [e.name for e in entries[:2]] == ["tests.fixtures.add", "tests.fixtures.add"]
    assert len({e.marker_name for e in entries}) == 3
    assert all(e.timing == "rq" for e in entries)
    assert load_cron(str(path)).__len__() == 3  # loaded again, registered again


def test_module_level_register_and_create_cron(broker):
    data = cron_module.register(fixtures.add, "default", args=(5, 5), interval=10)
    assert (data["func"], data["queue_name"], data["interval"], data["result_ttl"]) == (
        fixtures.add,
        "default",
        10,
        500,
    )
    scheduler = create_cron(broker)
    assert [entry.func_name for entry in scheduler.get_jobs()] == ["tests.fixtures.add"]
    assert create_cron(broker).get_jobs() == []  # the registrations were taken


def test_load_config_from_file(broker, tmp_path, caplog):
    path = tmp_path / "rq_cron_file.py"
    path.write_text(RQ_CONFIG)
    scheduler = CronScheduler(broker)
    with caplog.at_level(logging.INFO, logger="jq.cron"):
        scheduler.load_config_from_file(str(path))
    assert scheduler.config_file == str(path) and len(scheduler.get_jobs()) == 3
    assert "Registered 'tests.fixtures.add' to run on sums every 60 seconds" in caplog.text
    assert "Successfully registered 3 cron jobs" in caplog.text


def test_a_config_registers_through_the_schedulers_register(broker, tmp_path, monkeypatch):
    """As RQ: each register() call of a config goes through the scheduler's own register, so a
    subclass's override sees it. django-rq's DjangoCronScheduler is made with no connection and
    sets it there, at its first register."""
    monkeypatch.delenv("JQ_URL", raising=False)
    seen: list[str] = []

    class LateConnection(CronScheduler):
        def register(self, func, queue_name, *args, **kwargs):
            seen.append(queue_name)
            self.connection = broker
            return super().register(func, queue_name, *args, **kwargs)

    scheduler = LateConnection(logging_level="WARNING")
    assert scheduler.connection is None  # none known yet: no error until one is needed
    path = tmp_path / "rq_cron_late.py"
    path.write_text(RQ_CONFIG)
    scheduler.load_config_from_file(str(path))
    assert seen == ["sums", "sums", "greetings"]
    assert len(scheduler.get_jobs()) == 3
    assert len(scheduler.enqueue_jobs()) == 2  # the interval jobs fire at once, on that broker
    assert Queue("sums", connection=broker).count == 2


def test_a_bad_registration_names_the_config(tmp_path):
    path = tmp_path / "bad_cron.py"
    path.write_text("from jq.cron import register\nregister(len, 'default', cron='61 * * * *')\n")
    with pytest.raises(ConfigurationError, match=r"cron config .*bad_cron.py'.*'len'.*not valid"):
        load_cron(str(path))


def test_jqueue_cron_runs_an_rq_style_config(redis_server, redis_client, tmp_path):
    (tmp_path / "app_rq_cron.py").write_text(
        "from jq import cron\n"
        "from tests.fixtures import record_run\n"
        "cron.register(record_run, queue_name='rq-cron', args=('rq-cron-runs',), interval=1)\n"
    )
    queue = Queue("rq-cron", connection=redis_client)
    # Two schedulers on one config: each tick once (jq's rule), every second (RQ's timing).
    processes = [
        start_jqueue("cron", "-u", redis_server.url, "-P", str(tmp_path), "-l", "INFO", "app_rq_cron")
        for _ in range(2)
    ]
    try:
        assert wait_for(lambda: len(queue) >= 3, timeout=30)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        results = [finish(process) for process in processes]
    for done in results:
        assert done.returncode == 0, done.stderr
    assert "Registered 'tests.fixtures.record_run' to run on rq-cron every 1 seconds" in results[0].stderr
    fired = [job.meta["cron_tick"] for job in queue.jobs]
    assert len(fired) == len(set(fired))  # no tick twice
    SimpleWorker([queue]).work(burst=True, logging_level="WARNING")
    assert redis_client.llen("rq-cron-runs") == len(fired)
