"""Clock skew: workers, producers, schedulers and cron runners whose machine's clock is off.

Each process under test runs through ``tests/skewed.py``, which moves its wall clock (time.time
and datetime.now) by some seconds before jq is imported. Every time compared across processes
must come from the store's clock, so the skewed process behaves exactly as a correct one: a
healthy job is neither abandoned nor run twice, a job due in 300 s is not queued early, and a
cron runner fires each tick on time without moving the tick marker past ticks still to come.

On Redis the store's clock is the server's ``TIME``. SQLite has no server: its store clock is
the machine's own, which every process of one machine shares; there the same scenarios run with
processes on that one clock (a process-level shift is no scenario SQLite can meet).
"""

from __future__ import annotations

import datetime
import itertools
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from jq import Queue
from jq.broker import Broker, Place, PlaceKind
from jq.job import Job
from jq.testing.helpers import wait_for
from tests import fixtures
from tests.processes import ROOT, stop
from tests.redis_server import RedisServer, env_without_jq_url

# Processes with shifted clocks, tens of seconds in all: slow (the CI runs them on the newest releases).
pytestmark = pytest.mark.slow

SKEW = 600.0
#: How far a process's reading of the store's clock may be off: half a round trip to the store
#: (jq reads the server's TIME once, then follows it with its monotonic clock).
READING = 0.05


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    """A private redis-server for the module (its database is flushed before each test)."""
    instance = RedisServer().start()
    try:
        yield instance
    finally:
        instance.cleanup()


@pytest.fixture(params=["redis", "sqlite"])
def store_url(request: pytest.FixtureRequest, server: RedisServer, tmp_path: Path) -> str:
    """The URL of an empty store of each kind."""
    if request.param == "redis":
        server.client().flushdb()  # our own server's database
        return server.url
    return f"sqlite:///{tmp_path / 'jq.db'}"


_CLIENTS: dict[str, redis.Redis] = {}


def store_clock(url: str) -> float:
    """The store's clock, read by the test itself (not through jq): Redis's TIME, else the
    machine's clock."""
    if url.startswith("redis"):
        if url not in _CLIENTS:
            _CLIENTS[url] = redis.Redis.from_url(url)
        seconds, micros = _CLIENTS[url].time()
        return int(seconds) + int(micros) / 1_000_000
    return time.time()


def skews_for(url: str, skew: float) -> float:
    """The shift of a process on this store: SQLite's processes share one machine's clock."""
    return skew if url.startswith("redis") else 0.0


def start_skewed(seconds: float, script: str, *args: str) -> subprocess.Popen[str]:
    """Run ``tests/SCRIPT ARGS`` in a process whose wall clock is ``seconds`` off."""
    env = env_without_jq_url()
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "skewed.py"),
            str(seconds),
            str(ROOT / "tests" / script),
            *args,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def end(*processes: subprocess.Popen[str]) -> str:
    """SIGTERM each process still running and wait for it; their stderr, for failure messages."""
    texts = []
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        texts.append(stop(process)[1])
    return "\n---\n".join(texts)


def maintenance_passes(broker: Broker, queue: str, passes: int, timeout: float = 30) -> bool:
    """Whether a worker's maintenance ran ``passes`` whole passes over ``queue``: each pass ends
    abandoned jobs first, then drops expired finished entries, so a planted entry that expired
    long ago disappearing means a pass looked at the started registry after it was planted."""
    finished = Place(PlaceKind.FINISHED, queue)
    for _ in range(passes):
        broker.registry_add(finished, "canary", 1.0)
        if not wait_for(lambda: broker.registry_score(finished, "canary") is None, timeout=timeout):
            return False
    return True


@pytest.mark.parametrize(
    ("runner_skew", "maintainer_skew"),
    [(0.0, SKEW), (-SKEW, 0.0)],
    ids=["maintainer-ahead", "runner-behind"],
)
def test_a_healthy_job_under_a_skewed_worker_is_neither_abandoned_nor_run_twice(
    store_url: str, tmp_path: Path, runner_skew: float, maintainer_skew: float
) -> None:
    queue = Queue("skew", connection=store_url)
    runs, release = tmp_path / "runs", tmp_path / "release"
    job = queue.enqueue(fixtures.record_run_until_released, str(runs), str(release), job_timeout=120)
    # A short lease, renewed by the runner's heartbeat: a lease written by a clock 600 s behind,
    # or read by one 600 s ahead, has long expired.
    config = {"url": store_url, "queues": ["skew"], "simple": True, "worker_ttl": 3}
    runner = start_skewed(
        skews_for(store_url, runner_skew), "worker_main.py", json.dumps({**config, "name": "runner"})
    )
    maintainer = None

    def report() -> str:
        """Let the job end, stop both workers, and give their stderr with the job's status."""
        release.touch()
        status = job.get_status()
        return f"job {status}; stderr:\n" + end(runner, *([maintainer] if maintainer is not None else []))

    try:
        assert wait_for(runs.exists, timeout=30), report()
        maintainer = start_skewed(
            skews_for(store_url, maintainer_skew),
            "worker_main.py",
            json.dumps({**config, "name": "maintainer", "maintenance_interval": 0.3}),
        )
        assert maintenance_passes(queue.broker, "skew", passes=3), report()
        assert job.get_status() == "started", report()
        assert queue.started_job_registry.get_job_ids() == [job.id]
        release.touch()
        assert wait_for(lambda: job.get_status() == "finished", timeout=30), report()
    finally:
        release.touch()
        end(runner, *([maintainer] if maintainer is not None else []))
    assert runs.read_text().split() == [job.id]
    assert queue.failed_job_registry.count == 0


PRODUCER = """
import datetime, sys
from jq import Queue
from tests import fixtures
job = Queue("later", connection=sys.argv[1]).enqueue_in(datetime.timedelta(seconds=300), fixtures.add, 1, 2)
print(job.id, flush=True)
"""


@pytest.mark.parametrize("skew", [SKEW, -SKEW], ids=["ahead", "behind"])
def test_a_job_due_in_300_s_from_skewed_processes_is_not_queued_early(
    store_url: str, tmp_path: Path, skew: float
) -> None:
    queue = Queue("later", connection=store_url)
    broker = queue.broker
    # A producer whose clock is off schedules from the store's clock.
    (tmp_path / "produce.py").write_text(PRODUCER)
    before = store_clock(store_url)
    producer = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "skewed.py"), str(skews_for(store_url, -skew)),
         str(tmp_path / "produce.py"), store_url],
        cwd=ROOT, env={**env_without_jq_url(), "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert producer.returncode == 0, producer.stderr
    later = Job.fetch(producer.stdout.strip(), connection=broker)
    due = queue.scheduled_job_registry.get_scheduled_time(later).timestamp()
    assert before + 300 - 1 <= due <= store_clock(store_url) + 300 + 1
    # A scheduler whose clock is off promotes by the store's clock: a job due now is queued (not
    # 600 s late), the job due in 300 s stays scheduled (not queued 600 s early).
    config = {"url": store_url, "queues": ["later"], "interval": 0.2, "lock_ttl": 2}
    scheduler = start_skewed(skews_for(store_url, skew), "scheduler_main.py", "scheduler", json.dumps(config))
    try:
        for _ in range(3):
            store_now = datetime.datetime.fromtimestamp(store_clock(store_url) - 1, datetime.timezone.utc)
            canary = queue.enqueue_at(store_now, fixtures.add, 2, 2)
            assert wait_for(lambda: canary.get_status() == "queued", timeout=30), end(scheduler)
        assert later.get_status() == "scheduled", end(scheduler)
        assert queue.scheduled_job_registry.get_job_ids() == [later.id]
    finally:
        end(scheduler)


def fired_ticks(queue: Queue) -> list[float]:
    """The ticks of the jobs the cron runners fired, oldest first, as store-clock timestamps."""
    ticks = [datetime.datetime.fromisoformat(job.meta["cron_tick"]).timestamp() for job in queue.jobs]
    return sorted(ticks)


@pytest.mark.parametrize("skew", [120.0, SKEW], ids=["120s-ahead", "600s-ahead"])
def test_a_skewed_cron_runner_fires_on_time_and_does_not_starve_the_correct_one(
    store_url: str, skew: float
) -> None:
    queue = Queue("cron-skew", connection=store_url)
    config = json.dumps({"url": store_url, "config": "tests.cron_skew_config"})
    skewed = start_skewed(skews_for(store_url, skew), "scheduler_main.py", "cron", config)
    correct = start_skewed(0.0, "scheduler_main.py", "cron", config)
    try:
        # Every tick fired, at each look, is one whose time has come by the store's clock.
        early: list[tuple[list[float], float]] = []

        def three_fired() -> bool:
            ticks, now = fired_ticks(queue), store_clock(store_url)
            if any(tick > now + READING for tick in ticks):
                early.append((ticks, now))
            return bool(early) or len(ticks) >= 3

        assert wait_for(three_fired, timeout=30, interval=0.1), end(skewed, correct)
        assert not early, f"ticks fired before their time (ticks, store clock): {early[0]}"
        ticks = fired_ticks(queue)
        # One job per tick, every 2 s, none skipped.
        assert [b - a for a, b in itertools.pairwise(ticks)] == [2.0] * (len(ticks) - 1)
        # With the skewed runner gone, the correct one fires the next tick when it comes: the
        # marker was not moved past it.
        end(skewed)
        count = len(fired_ticks(queue))
        assert wait_for(lambda: len(fired_ticks(queue)) > count, timeout=10), end(correct)
        ticks = fired_ticks(queue)
        assert ticks[-1] <= store_clock(store_url) + READING
        assert [b - a for a, b in itertools.pairwise(ticks)] == [2.0] * (len(ticks) - 1)
    finally:
        end(skewed, correct)
