"""jq's pytest plugin (jq.testing.pytest_plugin), loaded in this session through its ``pytest11``
entry point like in any project's: its fixtures, run_until_idle, the clock, the isolation of
``memory://`` stores, and --jq-url runs of the tutorial's example in a subprocess."""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from jq import Queue, Retry
from jq.connections import get_current_connection, resolve_broker
from jq.core.execution import JobOutcome
from jq.exceptions import ConfigurationError
from jq.job import Job
from jq.testing import ManualClock, isolated_stores, run_until_idle
from jq.testing.stores import delete_prefixed_keys
from jq_backends.memory import MemoryBroker
from tests import fixtures

ROOT = Path(__file__).resolve().parent.parent


class TestStores:
    """jq_broker: a new store per test, the current connection, memory:// URLs the test's own."""

    def test_jq_broker_is_a_new_memory_store_and_the_current_connection(self, jq_broker, jq_queue):
        assert isinstance(jq_broker, MemoryBroker)
        assert jq_broker.queue_names() == []
        assert get_current_connection() is jq_broker
        assert os.environ["JQ_URL"] == "memory://"
        assert Queue().broker is jq_broker
        assert Queue(connection="memory://").broker is jq_broker
        assert jq_queue.broker is jq_broker and jq_queue.name == "default"

    def test_other_memory_names_are_the_tests_own_too(self, jq_broker):
        other = resolve_broker("memory://other")
        assert other is not jq_broker
        assert other is MemoryBroker.named("other")

    def test_isolated_stores_give_a_block_its_own_and_forget_them(self):
        outside = resolve_broker("memory://")
        Queue(connection=outside).enqueue(fixtures.add, 1, 1, job_id="outside")
        with isolated_stores() as store:
            assert resolve_broker("memory://") is store is not outside
            Queue(connection="memory://").enqueue(fixtures.add, 1, 1, job_id="inside")
            assert not Job.exists("outside", connection=store)
            inner_other = MemoryBroker.named("other")
        assert resolve_broker("memory://") is outside
        assert not Job.exists("inside", connection=outside)
        assert MemoryBroker.named("other") is not inner_other
        Job.fetch("outside", connection=outside).delete()

    def test_jq_fakeredis_runs_jobs(self, jq_fakeredis):
        queue = Queue(is_async=False, connection=jq_fakeredis)
        assert queue.enqueue(fixtures.add, 1, 2).result == 3

    def test_keys_under_a_prefix_are_deleted_and_no_other(self, redis_client):
        redis_client.set("mine", b"1")
        redis_client.set("jqtest-ab:job:x", b"1")
        redis_client.set("jqtest-abc:job:y", b"1")
        assert delete_prefixed_keys(redis_client, "jqtest-ab:") == 1
        assert sorted(redis_client.keys()) == [b"jqtest-abc:job:y", b"mine"]
        with pytest.raises(ConfigurationError, match="must be literal"):
            delete_prefixed_keys(redis_client, "jq*:")


class TestRunUntilIdle:
    """jq_worker.run_until_idle(): a SimpleWorker runs everything until nothing is left."""

    def test_runs_every_queue_and_reports(self, jq_broker, jq_worker):
        high, low = Queue("high", connection=jq_broker), Queue("low", connection=jq_broker)
        ok = low.enqueue(fixtures.add, 1, 2, job_id="ok")
        bad = high.enqueue(fixtures.div_by_zero, 1, job_id="bad")
        ran = jq_worker.run_until_idle()
        assert ran.job_ids == ["bad", "ok"]  # by queue name when none is given
        assert [outcome for _job, outcome in ran.runs] == [JobOutcome.FAILED, JobOutcome.SUCCEEDED]
        assert (ran.succeeded, ran.failed, ran.retried, len(ran)) == (1, 1, 0, 2)
        assert ok.result == 3 and bad.get_status() == "failed"
        assert jq_worker.run_until_idle().runs == ()

    def test_jobs_that_jobs_enqueue_or_release_run_too(self, jq_queue, jq_worker):
        job = jq_queue.enqueue(fixtures.enqueue_follow_up, True, job_id="job")
        ran = jq_worker.run_until_idle()
        assert ran.job_ids == ["job", "follow-up"]
        assert Job.fetch("follow-up", connection=jq_queue.broker).result == 3
        assert job.result == "deferred"

    def test_the_queues_given_in_their_order_and_no_other(self, jq_broker, jq_worker):
        for name in ("a", "b", "c"):
            Queue(name, connection=jq_broker).enqueue(fixtures.add, 1, 1, job_id=f"in-{name}")
        ran = jq_worker.run_until_idle("c", Queue("a", connection=jq_broker))
        assert ran.job_ids == ["in-c", "in-a"]
        assert Queue("b", connection=jq_broker).job_ids == ["in-b"]

    def test_max_jobs_stops_early(self, jq_queue, jq_worker):
        for number in range(5):
            jq_queue.enqueue(fixtures.add, number, 0)
        assert len(jq_worker.run_until_idle(max_jobs=2)) == 2
        assert jq_queue.count == 3
        with pytest.raises(ConfigurationError, match="max_jobs"):
            jq_worker.run_until_idle(max_jobs=0)

    def test_worker_options_reach_the_worker(self, jq_queue, jq_worker):
        fixtures.SEEN.clear()
        job = jq_queue.enqueue(fixtures.div_by_zero, 1)
        jq_worker.run_until_idle(exception_handlers=[fixtures.stop_handler])
        assert fixtures.SEEN == [("stop", job.id)]
        assert job.get_status() == "failed" and job.id in jq_queue.failed_job_registry
        fixtures.SEEN.clear()

    def test_without_pytest_on_the_current_connection(self):
        broker = MemoryBroker()
        job = Queue(connection=broker).enqueue(fixtures.add, 2, 2)
        assert run_until_idle(connection=broker).jobs == [job]
        with pytest.raises(ConfigurationError, match="no connection given"):
            run_until_idle()


class TestClock:
    """jq_clock: due times follow it; it moves only when told."""

    def test_retry_intervals_wait_for_the_clock(self, jq_queue, jq_worker, jq_clock):
        job = jq_queue.enqueue(fixtures.div_by_zero, 1, retry=Retry(max=2, interval=[10, 60]))
        assert jq_worker.run_until_idle().retried == 1
        assert job.get_status() == "scheduled"
        jq_clock.advance(seconds=9)
        assert jq_worker.run_until_idle().runs == ()
        jq_clock.advance(seconds=1)
        ran = jq_worker.run_until_idle()
        assert (ran.promoted, ran.retried) == (1, 1)
        jq_clock.advance(minutes=1)
        assert jq_worker.run_until_idle().failed == 1
        assert job.get_status() == "failed"

    def test_enqueue_in_and_enqueue_at_count_from_the_clock(self, jq_queue, jq_worker, jq_clock):
        jq_clock.advance(days=30)
        later = jq_queue.enqueue_in(datetime.timedelta(minutes=10), fixtures.add, 1, 1)
        at = jq_queue.enqueue_at(jq_clock.now() + datetime.timedelta(minutes=20), fixtures.add, 2, 2)
        assert jq_worker.run_until_idle().jobs == []
        jq_clock.advance(minutes=10)
        assert jq_worker.run_until_idle().jobs == [later]
        jq_clock.advance_to(jq_clock.now() + datetime.timedelta(minutes=10))
        assert jq_worker.run_until_idle().jobs == [at]

    def test_the_clock_stands_still_and_never_goes_back(self):
        clock = ManualClock(datetime.datetime(2030, 1, 1, 12, 0))
        assert (
            clock.time()
            == clock()
            == datetime.datetime(2030, 1, 1, 12, tzinfo=datetime.timezone.utc).timestamp()
        )
        assert clock.advance(90) == datetime.datetime(2030, 1, 1, 12, 1, 30, tzinfo=datetime.timezone.utc)
        assert clock.advance(datetime.timedelta(hours=1)).hour == 13
        with pytest.raises(ConfigurationError, match="only moves forward"):
            clock.advance(-1)
        with pytest.raises(ConfigurationError, match="only moves forward"):
            clock.advance_to(datetime.datetime(2029, 1, 1))
        with pytest.raises(ConfigurationError, match="not both"):
            clock.advance(1, minutes=1)
        with pytest.raises(ConfigurationError, match="timedelta or seconds"):
            clock.advance("1m")
        assert repr(clock) == "ManualClock(2030-01-01T13:01:30+00:00)"


def _pytest(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run pytest in a fresh interpreter, without the JQ_* settings of this session."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("JQ_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def tutorial_test_example() -> str:
    """The test file of docs/tutorial.md's "Testing your jobs" section."""
    text = (ROOT / "docs" / "tutorial.md").read_text()
    blocks = re.findall(r"```python\n(# test_tasks\.py.*?)```", text, re.S)
    assert len(blocks) == 1, "the tutorial has one test_tasks.py example"
    return str(blocks[0])


class TestTutorialExample:
    """The tutorial's test file is examples/test_tasks.py, and it passes on every store."""

    def test_the_tutorial_shows_examples_test_tasks(self):
        assert tutorial_test_example() == (ROOT / "examples" / "test_tasks.py").read_text()

    @pytest.mark.parametrize("store", ["memory", "fakeredis", "redis"])
    def test_it_passes(self, store, redis_server, redis_client):
        args = {
            "memory": [],
            "fakeredis": ["--jq-url", "fakeredis://"],
            "redis": ["--jq-url", redis_server.url],
        }
        redis_client.set("not-ours", b"kept")
        done = _pytest("examples/test_tasks.py", *args[store], cwd=ROOT)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "5 passed" in done.stdout
        if store == "redis":
            assert "under the key prefix {jqtest-" in done.stdout
        assert redis_client.keys() == [b"not-ours"]

    def test_jq_test_url_and_a_store_that_cannot_be(self, tmp_path):
        (tmp_path / "test_nothing.py").write_text("def test_nothing(jq_broker):\n    pass\n")
        done = _pytest(cwd=tmp_path, env={"JQ_TEST_URL": "postgres://db"})
        assert done.returncode == 4
        assert "(or JQ_TEST_URL): 'postgres://db' is not a store jq's tests can run on" in done.stderr
        unreachable = _pytest("--jq-url", "redis://127.0.0.1:1/0", cwd=tmp_path)
        assert unreachable.returncode == 1
        assert "jq_broker: jq's tests cannot reach the store redis://127.0.0.1:1/0" in unreachable.stdout


def test_a_session_that_uses_no_fixture_imports_nothing_of_jq(tmp_path):
    (tmp_path / "test_plain.py").write_text(
        "import sys\n\n\ndef test_plain():\n    assert 'jq.testing.pytest_plugin' in sys.modules\n"
        "    assert not [name for name in sys.modules if name.startswith(('jq.', 'jq_backends', 'redis'))"
        " and name not in ('jq.testing', 'jq.testing.pytest_plugin')]\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    done = _pytest(cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "jq:" not in done.stdout  # no report header line without --jq-url
