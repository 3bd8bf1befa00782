"""Periodic jobs: cron strings and intervals, time zones, exactly one fire per tick."""

from __future__ import annotations

import datetime
import threading

import pytest

from jq import Queue, SimpleWorker
from jq.cron import Cron, CronJob, CronScheduler, load_cron
from jq.exceptions import ConfigurationError
from tests import fixtures

UTC = datetime.timezone.utc


def at(text: str) -> datetime.datetime:
    """An aware UTC datetime from 'YYYY-MM-DD HH:MM:SS'."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


class TestSchedules:
    """Which tick is due, for cron strings and intervals."""

    def test_cron_string(self):
        entry = CronJob(fixtures.add, cron="*/5 * * * *")
        assert entry.latest_tick(at("2026-11-23 07:03:10")) == at("2026-11-23 07:00:00")
        assert entry.latest_tick(at("2026-11-23 07:05:00")) == at("2026-11-23 07:05:00")
        assert entry.next_tick(at("2026-11-23 07:05:00")) == at("2026-11-23 07:10:00")

    def test_interval(self):
        entry = CronJob(fixtures.add, interval=30)
        assert entry.latest_tick(at("2026-11-23 07:03:10")) == at("2026-11-23 07:03:00")
        assert entry.next_tick(at("2026-11-23 07:03:10")) == at("2026-11-23 07:03:30")

    def test_time_zone_and_daylight_saving(self):
        entry = CronJob(fixtures.add, cron="30 2 * * *", timezone="Europe/Riga")
        # 02:30 in Riga is 00:30 UTC in winter (UTC+2) and 23:30 UTC the day before in summer (UTC+3).
        assert entry.latest_tick(at("2026-01-15 12:00:00")) == at("2026-01-15 00:30:00")
        assert entry.latest_tick(at("2026-07-15 12:00:00")) == at("2026-07-14 23:30:00")

    @pytest.mark.parametrize(
        ("options", "message"),
        [
            ({}, "exactly one of"),
            ({"cron": "* * * * *", "interval": 5}, "exactly one of"),
            ({"cron": "61 * * * *"}, "not valid"),
            ({"interval": 0}, "positive"),
            ({"interval": 5, "timezone": "Mars/Olympus"}, "unknown time zone"),
            ({"interval": 5, "colour": "red"}, "unknown cron job options"),
            ({"cron": 5}, r"cron must be a five-field string such as '\*/5 \* \* \* \*', not 5"),
            ({"interval": "60"}, "interval must be a positive number of seconds, not '60'"),
            ({"interval": 5, "args": 5}, "args must be a list or a tuple, not int"),
            ({"interval": 5, "args": "ab"}, "args must be a list or a tuple, not str"),
            ({"interval": 5, "kwargs": [("a", 1)]}, "kwargs must be a dict with string keys"),
        ],
    )
    def test_bad_entries(self, options, message):
        with pytest.raises(ConfigurationError, match=message):
            CronJob(fixtures.add, **options)

    def test_a_function_a_worker_cannot_import_is_refused_when_registered(self):
        def nested(): ...

        for func in (lambda: None, nested):
            with pytest.raises(ConfigurationError, match="define it at module level"):
                CronJob(func, interval=5)
        with pytest.raises(ConfigurationError, match="define it at module level"):
            Cron().register(lambda: None, cron="* * * * *")

    def test_names_are_unique(self):
        cron = Cron()
        cron.register(fixtures.add, interval=5, args=(1, 2))
        with pytest.raises(ConfigurationError, match="already registered"):
            cron.register(fixtures.add, interval=5, args=(3, 4))
        cron.register(fixtures.add, interval=5, args=(3, 4), name="other")
        assert len(cron) == 2


class TestFiring:
    """Each tick is enqueued once, whoever fires it."""

    def test_fires_once_per_tick(self, broker):
        cron = Cron()
        cron.register(fixtures.add, interval=60, args=(1, 2), queue="periodic", name="sum")
        scheduler = CronScheduler(cron, broker)
        assert len(scheduler.tick(at("2026-11-23 07:00:05"))) == 1
        assert scheduler.tick(at("2026-11-23 07:00:30")) == []
        [job] = scheduler.tick(at("2026-11-23 07:01:00"))
        assert job.meta["cron"] == "sum"
        assert job.meta["cron_tick"] == "2026-11-23T07:01:00+00:00"
        queue = Queue("periodic", connection=broker)
        assert len(queue) == 2
        SimpleWorker([queue]).work(burst=True)
        assert [j.result for j in queue.finished_job_registry.get_jobs()] == [3, 3]

    def test_three_runners_ten_ticks_ten_fires(self, broker):
        cron = Cron()
        cron.register(fixtures.add, interval=60, args=(1, 1), name="tick")
        runners = [CronScheduler(cron, broker) for _ in range(3)]
        start = at("2026-11-23 07:00:00")
        fired: list[int] = []
        lock = threading.Lock()

        def run(runner: CronScheduler) -> None:
            for minute in range(10):
                count = len(runner.tick(start + datetime.timedelta(minutes=minute, seconds=1)))
                with lock:
                    fired.append(count)

        threads = [threading.Thread(target=run, args=(runner,)) for runner in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sum(fired) == 10
        assert len(Queue(connection=broker)) == 10

    def test_a_tick_found_too_late_is_skipped(self, broker):
        cron = Cron()
        cron.register(fixtures.add, interval=3600, args=(1, 1), misfire_grace=60, name="hourly")
        scheduler = CronScheduler(cron, broker)
        assert scheduler.tick(at("2026-11-23 07:30:00")) == []
        assert len(scheduler.tick(at("2026-11-23 08:00:20"))) == 1

    @staticmethod
    def _ticks(jobs) -> list[str]:
        return [job.meta["cron_tick"][11:19] for job in jobs]

    def test_missed_ticks_within_the_grace_fire_late_in_order(self, broker):
        cron = Cron()
        cron.register(fixtures.add, interval=10, args=(1, 1), name="ten")
        scheduler = CronScheduler(cron, broker)
        assert self._ticks(scheduler.tick(at("2026-11-23 00:00:05"))) == ["00:00:00"]
        # Nobody looked at 00:00:10 and 00:00:20: both fire now, oldest first.
        assert self._ticks(scheduler.tick(at("2026-11-23 00:00:25"))) == ["00:00:10", "00:00:20"]
        assert scheduler.tick(at("2026-11-23 00:00:29")) == []
        queue = Queue(connection=broker)
        assert [job.meta["cron_tick"][11:19] for job in queue.get_jobs()] == [
            "00:00:00",
            "00:00:10",
            "00:00:20",
        ]

    def test_missed_ticks_older_than_the_grace_are_skipped(self, broker):
        cron = Cron()
        cron.register(fixtures.add, interval=10, args=(1, 1), misfire_grace=15, name="ten")
        scheduler = CronScheduler(cron, broker)
        assert len(scheduler.tick(at("2026-11-23 00:00:05"))) == 1
        # 00:00:10 and 00:00:20 are more than 15 s late at 00:00:45; exactly 15 s late still fires.
        assert self._ticks(scheduler.tick(at("2026-11-23 00:00:45"))) == ["00:00:30", "00:00:40"]

    def test_a_job_that_never_fired_fires_its_latest_tick_only(self, broker):
        cron = Cron()
        cron.register(fixtures.add, interval=1, args=(1, 1), name="every-second")
        assert self._ticks(CronScheduler(cron, broker).tick(at("2026-11-23 00:00:30"))) == ["00:00:30"]

    def test_missed_cron_string_ticks_fire_late(self, broker):
        cron = Cron()
        cron.register(fixtures.add, cron="*/5 * * * *", args=(1, 1), misfire_grace=900, name="five")
        scheduler = CronScheduler(cron, broker)
        assert self._ticks(scheduler.tick(at("2026-11-23 07:00:10"))) == ["07:00:00"]
        assert self._ticks(scheduler.tick(at("2026-11-23 07:12:00"))) == ["07:05:00", "07:10:00"]

    def test_runners_catching_up_fire_each_missed_tick_once(self, broker):
        cron = Cron()
        cron.register(fixtures.add, interval=10, args=(1, 1), name="ten")
        first, second, third = (CronScheduler(cron, broker) for _ in range(3))
        assert len(first.tick(at("2026-11-23 00:00:01"))) == 1
        # The second catches up on two ticks, the first has nothing left; a third that starts now
        # (it read no marker before) fires nothing either.
        assert self._ticks(second.tick(at("2026-11-23 00:00:21"))) == ["00:00:10", "00:00:20"]
        assert first.tick(at("2026-11-23 00:00:22")) == []
        assert third.tick(at("2026-11-23 00:00:23")) == []
        assert self._ticks(third.tick(at("2026-11-23 00:00:31"))) == ["00:00:30"]
        assert second.tick(at("2026-11-23 00:00:32")) == []
        assert len(Queue(connection=broker)) == 4

    def test_a_worker_with_cron_fires_ticks(self, broker):
        cron = Cron()
        cron.register(fixtures.add, interval=1, args=(2, 3), name="every-second")
        queue = Queue(connection=broker)
        worker = SimpleWorker([queue], cron=cron, name="cronworker")
        thread = threading.Thread(target=worker.work, kwargs={"logging_level": "WARNING"})
        thread.start()
        try:
            from jq.testing.helpers import wait_for

            assert wait_for(lambda: queue.finished_job_registry.count >= 2, timeout=30)
        finally:
            worker.request_stop()
            thread.join(10)
        assert all(job.result == 5 for job in queue.finished_job_registry.get_jobs())


class TestConfig:
    """Loading a cron from a module or a file."""

    def test_module(self):
        cron = load_cron("tests.cron_config")
        assert [entry.name for entry in cron] == ["every-second"]

    def test_file(self, tmp_path):
        path = tmp_path / "my_cron.py"
        path.write_text(
            "from jq.cron import Cron\ncron = Cron()\ncron.register('tests.fixtures.add', cron='0 3 * * *')\n"
        )
        assert len(load_cron(str(path))) == 1

    def test_a_config_without_jobs_is_empty(self, tmp_path, caplog):
        # RQ's configs may register jobs only under some condition: no job is not an error.
        path = tmp_path / "empty.py"
        path.write_text("x = 1\n")
        assert len(load_cron(str(path))) == 0
        assert "describes no job" in caplog.text

    def test_bad_configs(self, tmp_path):
        with pytest.raises(ConfigurationError, match="cannot be loaded"):
            load_cron("no.such.module")
        path = tmp_path / "wrong.py"
        path.write_text("cron = 'every minute'\n")
        with pytest.raises(ConfigurationError, match=r"'cron' must be a jq\.cron\.Cron"):
            load_cron(str(path))
        with pytest.raises(ConfigurationError, match="does not exist"):
            load_cron(str(tmp_path / "missing.py"))
        # A location without .py is looked for with it, and the message names that file.
        with pytest.raises(ConfigurationError, match=r"missing\.py' \(from '.*missing'\) does not exist"):
            load_cron(str(tmp_path / "missing"))
        with pytest.raises(ConfigurationError, match=r"is a directory: give a Python file"):
            load_cron(str(tmp_path))
