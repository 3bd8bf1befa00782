"""The SQLite driver: the broker contract on SQLiteBroker, its sqlite:// URLs, queues shared by a
producer and `jqueue worker` processes (a crashed worker's job recovered), and what only its store
promises beyond the store contract (tests/test_store_suite.py)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from jq import Queue, Retry, Worker
from jq.broker.store import Collection, RecordKind, SetKind
from jq.exceptions import ConfigurationError
from jq.io.connections import resolve_broker
from jq.job import Job
from jq.plugins import ENTRY_POINT_GROUP
from jq.testing.broker_suite import BrokerContractTests
from jq.testing.helpers import wait_for
from jq.testing.store_suite import DEFAULT_QUEUE, counter, increment, run_threads, wait_for_push
from jq_backends.sqlite import SQLiteBroker, SQLiteStore, plugin
from tests import fixtures
from tests.processes import read_pid, stop
from tests.test_cli import finish, start_jqueue


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path (tmp_path is too long for mailboxes beside the database)."""
    path = Path(tempfile.mkdtemp(prefix="jq-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_the_url_names_the_absolute_path_and_memory_databases_are_refused(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "jobs.db")
    store.close()
    assert store.url == f"sqlite:///{tmp_path}/jobs.db" and store.url.startswith("sqlite:////")
    assert sqlite3.OperationalError in SQLiteStore.transient_errors
    with pytest.raises(ValueError, match="database file"):
        SQLiteStore(":memory:")
    with pytest.raises(sqlite3.OperationalError, match=f"unable to open .*: {tmp_path}/missing/jobs.db"):
        SQLiteStore(tmp_path / "missing" / "jobs.db")


def test_records_past_their_deadline_are_gone_even_beyond_one_block_s_sweep(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "jobs.db")
    with store.atomic() as tx:
        for n in range(250):
            tx.write(RecordKind.WORKER, f"w{n}", {"n": b"1"})
            tx.expire(RecordKind.WORKER, f"w{n}", store.now() + 3600)
    with sqlite3.connect(tmp_path / "jobs.db") as db:  # as if an hour passed
        db.execute("UPDATE deadlines SET at = 1")
    with store.atomic() as tx:
        assert [tx.read(RecordKind.WORKER, f"w{n}") for n in range(0, 250, 10)] == [None] * 25
    with sqlite3.connect(tmp_path / "jobs.db") as db:
        # the sweep took 100 (the reads found some of theirs among them): the next blocks the rest
        assert 125 <= db.execute("SELECT count(*) FROM fields").fetchone()[0] < 150
    for _ in range(2):
        with store.atomic():
            pass
    with sqlite3.connect(tmp_path / "jobs.db") as db:
        assert db.execute("SELECT count(*) FROM fields").fetchone()[0] == 0
    store.close()


def test_mailboxes_sit_beside_a_short_database_and_under_tmp_for_a_long_one(
    tmp_path: Path, short_dir: Path, request: pytest.FixtureRequest
) -> None:
    short = SQLiteStore(short_dir / "jobs.db")
    long = SQLiteStore(tmp_path / ("x" * 80) / ".." / "jobs.db")
    request.addfinalizer(lambda: shutil.rmtree(long._mailboxes.directory, ignore_errors=True))
    try:
        watch = short.watch_queues()
        assert len(os.listdir(short_dir / "jobs.db.wake")) == 1
        with short.atomic() as tx:
            tx.add(DEFAULT_QUEUE, "j1", 1.0)
        wait_for_push(short, watch)
        watch.close()
        assert os.listdir(short_dir / "jobs.db.wake") == []
        subscription = long.subscribe("w1", lambda payload: None)
        directory = long._mailboxes.directory
        assert directory.startswith("/tmp/jq-") and len(os.listdir(directory)) == 1
        assert SQLiteStore(tmp_path / "jobs.db")._mailboxes.directory == directory  # one per file
        subscription.close()
    finally:
        short.close()
        long.close()


def test_the_mailboxes_of_dead_processes_are_deleted(short_dir: Path) -> None:
    store = SQLiteStore(short_dir / "jobs.db")
    directory = short_dir / "jobs.db.wake"
    directory.mkdir()
    for name in ("q-dead", "c-dead"):  # bound, then never read: as a killed process leaves them
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as dead:
            dead.bind(str(directory / name))
    with store.atomic() as tx:
        tx.add(DEFAULT_QUEUE, "j1", 1.0)
    assert sorted(os.listdir(directory)) == ["c-dead"]
    store.subscribe("w1", lambda payload: None).close()
    assert os.listdir(directory) == []
    store.close()


def test_a_fork_waits_for_a_block_in_progress_and_the_child_uses_the_store(tmp_path: Path) -> None:
    """SQLite's record of its locks does not survive a fork: no connection may cross one."""
    store = SQLiteStore(tmp_path / "jobs.db")
    increment(store, "count")
    inside, release = threading.Event(), threading.Event()

    def hold_a_block(_: int) -> None:
        with store.atomic() as tx:
            tx.write(RecordKind.MARKER, "held", {"value": b"1"})
            inside.set()
            release.wait(30)

    holder = threading.Thread(target=run_threads, args=(1, hold_a_block), daemon=True)
    holder.start()
    assert inside.wait(30)
    threading.Timer(0.2, release.set).start()  # the fork below waits for it
    with warnings.catch_warnings():  # Python 3.12 warns of fork() beside threads: this tests it
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            signal.alarm(20)  # a child that inherited a held lock would hang: it dies instead
            increment(store, "count")
            code = 0 if counter(store, "held") == 1 else 2
        finally:
            os._exit(code)
    waited = release.is_set()
    holder.join(30)
    _, status = os.waitpid(pid, 0)
    assert waited, "the fork did not wait for the block in progress"
    assert os.waitstatus_to_exitcode(status) == 0
    increment(store, "count")  # the parent's connection is opened again
    assert counter(store, "count") == 3
    store.close()


def test_two_stores_of_one_file_in_one_process_lose_no_update(tmp_path: Path) -> None:
    stores = [SQLiteStore(tmp_path / "jobs.db") for _ in range(2)]
    run_threads(4, lambda n: increment(stores[n % 2], "count", 25))
    assert counter(stores[0], "count") == 100
    for store in stores:
        store.close()


def test_a_database_locked_past_the_timeout_is_a_transient_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "jobs.db", timeout=0.2)
    blocker = sqlite3.connect(tmp_path / "jobs.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(SQLiteStore.transient_errors, match="locked"), store.atomic():
        pass
    assert time.monotonic() - started < 5
    blocker.execute("ROLLBACK")
    blocker.close()
    increment(store, "after")  # nothing was left half-open
    assert counter(store, "after") == 1
    store.close()


def test_a_wake_up_comes_from_the_push_counter_when_no_datagram_does(short_dir: Path) -> None:
    """A pusher killed between its commit and its datagrams: the watch sees the counter move."""
    store = SQLiteStore(short_dir / "jobs.db")
    watch = store.watch_queues()
    with store.atomic() as tx:
        tx.add(Collection(SetKind.QUEUE, "q"), "j1", 1.0)
    watch.wait(10)  # returns at once on the push's datagram: the next wait has none
    with sqlite3.connect(short_dir / "jobs.db") as db:
        db.execute("UPDATE pushes SET count = count + 1")
    started = time.monotonic()
    watch.wait(10)
    assert time.monotonic() - started < 2.5
    watch.close()
    store.close()


# -- the broker ---------------------------------------------------------------------------------


class TestSQLiteBrokerContract(BrokerContractTests):
    """SQLiteBroker passes the whole broker contract, on a database file of each test's own."""

    @pytest.fixture
    def broker(self, short_dir: Path) -> Iterator[SQLiteBroker]:
        instance = SQLiteBroker(short_dir / "jobs.db")
        try:
            yield instance
        finally:
            instance.close()


def test_the_broker_is_shared_across_processes_and_a_locked_database_is_transient(
    short_dir: Path,
) -> None:
    broker = SQLiteBroker(short_dir / "jobs.db", prefix="app:")
    try:
        assert broker.shares_across_processes is True
        assert sqlite3.OperationalError in broker.transient_errors
        assert broker.url == f"sqlite:///{short_dir}/jobs.db"
        assert broker.connection is broker and broker.job_key("j1") == "app:job:j1"
    finally:
        broker.close()


def test_sqlite_urls_name_a_relative_or_an_absolute_file(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(short_dir)
    relative = plugin.jq_broker_from_url("sqlite:///rel.db", {})
    absolute = plugin.jq_broker_from_url(f"sqlite:///{short_dir}/abs.db?timeout=2", {})
    try:
        assert relative is not None and relative.store.path == f"{short_dir}/rel.db"
        assert absolute is not None and absolute.store.path == f"{short_dir}/abs.db"
        assert absolute.url == f"sqlite:///{short_dir}/abs.db"
        assert plugin.jq_broker_from_url("memory://", {}) is None
    finally:
        for broker in (relative, absolute):
            if broker is not None:
                broker.close()


def _synchronous_pragma(broker: SQLiteBroker) -> int:
    with broker.store._connection() as db:
        return int(db.execute("PRAGMA synchronous").fetchone()[0])


def test_every_commit_is_synced_unless_the_url_asks_for_normal(short_dir: Path) -> None:
    # SQLite's codes: 1 NORMAL (no sync at each commit in WAL mode), 2 FULL.
    default = plugin.jq_broker_from_url(f"sqlite:///{short_dir}/full.db", {})
    normal = plugin.jq_broker_from_url(f"sqlite:///{short_dir}/normal.db?synchronous=NORMAL", {})
    try:
        assert default is not None and normal is not None
        assert (_synchronous_pragma(default), _synchronous_pragma(normal)) == (2, 1)
    finally:
        for broker in (default, normal):
            if broker is not None:
                broker.close()
    with pytest.raises(ValueError, match="synchronous must be one of full, normal"):
        SQLiteStore(short_dir / "off.db", synchronous="off")


def test_the_plugin_is_offered_under_the_jq_entry_point_group() -> None:
    offered = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert offered.get("sqlite") == "jq_backends.sqlite.plugin"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite://", "names no database file"),
        ("sqlite:///", "names no database file"),
        ("sqlite:///:memory:", "names no database file"),
        ("sqlite://host/jobs.db", "names a host"),
        ("sqlite:///jobs.db?journal=off", "unknown argument 'journal'"),
        ("sqlite:///jobs.db?timeout=soon", "timeout must be a number"),
        ("sqlite:///jobs.db?synchronous=off", "synchronous must be full or normal"),
    ],
)
def test_a_wrong_sqlite_url_says_what_to_write(url: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says) as caught:
        resolve_broker(url)
    if "argument" not in says and "timeout" not in says and "synchronous" not in says:
        assert "sqlite:///relative/jobs.db or sqlite:////absolute/path/jobs.db" in str(caught.value)


# -- processes sharing one file -----------------------------------------------------------------


def _worker(url: str, *options: str) -> subprocess.Popen[str]:
    return start_jqueue("worker", "--url", url, "--worker-ttl", "2", *options)


def _terminate(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    done = finish(process)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_a_producer_and_a_jqueue_worker_share_one_file(short_dir: Path) -> None:
    url = f"sqlite:///{short_dir}/jobs.db"
    queue = Queue(connection=url)
    first = queue.enqueue(fixtures.add, 1, 2)
    dependent = queue.enqueue(fixtures.add, 3, 4, depends_on=first)
    worker = _worker(url, "--with-scheduler", "--name", "sqlite-worker")
    try:
        assert wait_for(lambda: Worker.count(connection=queue.broker) == 1, timeout=60)
        # Enqueued while the worker waits: the wake-up reaches it from this process.
        scheduled = queue.enqueue_in(timedelta(seconds=1), fixtures.add, 5, 6)
        later = queue.enqueue(fixtures.say_hello, "sqlite")
        jobs = [first, dependent, scheduled, later]
        assert wait_for(lambda: all(job.get_status() == "finished" for job in jobs), timeout=60)
        assert [job.return_value() for job in jobs] == [3, 7, 11, "Hi there, sqlite!"]
        assert Job.fetch(dependent.id, connection=queue.broker).worker_name == "sqlite-worker"
        assert queue.count == 0 and queue.finished_job_registry.count == 4
    finally:
        _terminate(worker)
    assert Worker.count(connection=queue.broker) == 0


def test_the_job_of_a_sigkilled_worker_is_recovered_by_another(short_dir: Path) -> None:
    url, marker = f"sqlite:///{short_dir}/jobs.db", short_dir / "started"
    queue = Queue(connection=url)
    job = queue.enqueue(fixtures.mark_started_and_sleep_once, str(marker), 60, retry=Retry(max=1))
    # The lease of a running job is the worker's ttl (2 s): it runs out soon after the SIGKILL.
    victim = _worker(url, "--name", "victim", "--job-monitoring-interval", "0.5")
    rescuer = None
    try:
        assert wait_for(lambda: read_pid(marker) is not None, timeout=60), "the job never started"
        rescuer = _worker(url, "--name", "rescuer", "--maintenance-interval", "0.25")
        assert wait_for(lambda: Worker.count(connection=queue.broker) == 2, timeout=60)
        victim.kill()
        victim.wait(timeout=30)
        assert wait_for(lambda: job.get_status() == "finished", timeout=60)
        job = Job.fetch(job.id, connection=queue.broker)
        assert job.worker_name == "rescuer" and job.return_value() == "ran again"
        assert job.retries_left == 0  # the abandoned run counted as a failure, then it was retried
        assert queue.started_job_registry.count == 0
    finally:
        if rescuer is not None:
            _terminate(rescuer)
        stop(victim)
