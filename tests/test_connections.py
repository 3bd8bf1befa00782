"""Connections (S-26): clients, brokers, URLs, Connection contexts, push/pop, JQ_URL."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading

import pytest

from jq import Connection, Queue, SimpleWorker, pop_connection, push_connection, use_connection
from jq.broker import Broker
from jq.connections import get_current_connection, resolve_broker
from jq.exceptions import ConfigurationError, NoConnectionError, NoRedisConnectionException
from jq.job import Job
from tests import fixtures
from tests.redis_server import RedisServer, short_socket_dir


@pytest.fixture(autouse=True)
def _empty_connection_stack():
    """Each test starts and ends with no pushed connection."""
    while get_current_connection() is not None:
        pop_connection()
    yield
    while get_current_connection() is not None:
        pop_connection()


class TestConnectionArgument:
    """connection= takes a client, a broker or a URL."""

    def test_redis_client(self, redis_client):
        queue = Queue(connection=redis_client)
        assert queue.connection is redis_client
        job = queue.enqueue(fixtures.add, 1, 2)
        assert redis_client.hget(job.key, "status") == b"queued"
        # One broker per client: scripts are registered once.
        assert Queue("other", connection=redis_client).broker is queue.broker

    def test_fakeredis_client_with_is_async_false(self, fakeredis_client):
        """S-10: no server at all."""
        queue = Queue(is_async=False, connection=fakeredis_client)
        job = queue.enqueue(abs, -8)
        assert job.result == 8
        assert job.get_status() == "finished"

    def test_fakeredis_without_lua_is_refused_when_the_queue_is_made(self, tmp_path):
        """fakeredis installed without its [lua] extra (no lupa) runs no script: one error saying
        what to install when the queue is made, not "unknown command 'evalsha'" at enqueue."""
        code = textwrap.dedent(
            """
            import sys
            sys.modules["lupa"] = None  # unimportable, as when fakeredis[lua] was not installed
            import fakeredis, redis
            from jq import Queue
            from jq.exceptions import ConfigurationError
            client = fakeredis.FakeRedis()
            try:
                client.eval("return 1", 0)
            except redis.ResponseError as exc:
                print("no lua:", exc)
            try:
                Queue(connection=client)
            except ConfigurationError as exc:
                print("refused:", exc)
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        # fakeredis quotes the command with ' (newer) or ` (older)
        assert lines[0].startswith(("no lua: unknown command 'eval'", "no lua: unknown command `eval`"))
        assert lines[1].startswith("refused: this fakeredis client cannot run Lua scripts")
        assert "pip install 'fakeredis[lua]'" in lines[1]
        assert "pip install 'jq-queue[fakeredis]'" in lines[1]
        assert len(lines) == 2

    def test_broker_object(self, broker):
        assert Queue(connection=broker).broker is broker

    def test_redis_url(self, redis_server, redis_client):
        queue = Queue(connection=redis_server.url)
        job = queue.enqueue(fixtures.add, 1, 2)
        assert redis_client.exists(job.key)
        assert Queue(connection=redis_server.url).broker is queue.broker

    def test_unix_socket_url_runs_a_job(self):
        """A private redis-server listening on a unix socket too; the queue and worker use only
        the ``unix://`` URL."""
        server = RedisServer()
        socket_dir = short_socket_dir()
        socket_path = os.path.join(socket_dir, "redis.sock")
        server.extra_args = ["--unixsocket", socket_path, "--unixsocketperm", "700"]
        server.start()
        try:
            queue = Queue(connection=f"unix://{socket_path}?db=0")
            assert queue.broker.url.startswith("unix://")
            job = queue.enqueue(fixtures.add, 20, 22)
            SimpleWorker([queue], connection=queue.broker).work(burst=True)
            assert job.result == 42
            client = server.client()
            assert client.hget(job.key, "status") == b"finished"
            client.close()
            queue.broker.close()
        finally:
            server.cleanup()
            shutil.rmtree(socket_dir, ignore_errors=True)

    def test_memory_url_is_shared_by_name(self):
        first = Queue(connection="memory://shared-by-name")
        job = first.enqueue(fixtures.add, 1, 2)
        SimpleWorker([Queue(connection="memory://shared-by-name")]).work(burst=True)
        assert job.result == 3
        assert Queue(connection="memory://another").broker is not first.broker

    @pytest.mark.parametrize("url", ["memory://?wait_replicas=1", "memory://named?wait_timeout=2"])
    def test_a_memory_url_with_arguments_is_refused(self, url):
        """A memory store takes none: wait_replicas in particular would promise a durability
        (replicas confirming each write) that a store inside one process cannot give."""
        with pytest.raises(ConfigurationError) as raised:
            Queue(connection=url).enqueue(fixtures.add, 1, 2)
        assert "memory:// takes no arguments" in str(raised.value)

    @pytest.mark.parametrize(
        ("bad", "message"),
        [
            ("localhost:6379", "is not a URL"),
            ("postgres://localhost/db", "no jq backend handles postgres://"),
            (42, "not something jq can use"),
            ("redis://localhost:notaport", "not valid"),
        ],
    )
    def test_bad_connections(self, bad, message):
        with pytest.raises(ConfigurationError, match=message):
            Queue(connection=bad)


class TestContexts:
    """with Connection(...), nested; push/pop; use_connection deprecated."""

    def test_nested_contexts(self, redis_client, fakeredis_client):
        with Connection(redis_client):
            q1 = Queue("foo")
            with Connection(fakeredis_client):
                q2 = Queue("bar")
            q3 = Queue("qux")
        assert q1.connection is redis_client
        assert q2.connection is fakeredis_client
        assert q3.connection is redis_client
        assert q1.connection != q2.connection
        assert get_current_connection() is None

    def test_worker_and_job_take_the_context(self, broker):
        with Connection(broker):
            queue = Queue()
            job = queue.enqueue(fixtures.add, 2, 2)
            SimpleWorker([queue]).work(burst=True)
            assert Job.fetch(job.id).result == 4

    def test_push_and_pop(self, broker):
        push_connection(broker)
        try:
            assert Queue().broker is broker
        finally:
            assert pop_connection() is broker
        with pytest.raises(NoConnectionError):
            Queue()

    def test_pop_with_nothing_pushed(self):
        with pytest.raises(NoConnectionError, match="no connection pushed"):
            pop_connection()

    def test_use_connection_is_deprecated(self, broker):
        with pytest.warns(DeprecationWarning, match="use_connection"):
            use_connection(broker)
        assert Queue().broker is broker

    def test_contexts_are_per_thread(self, broker):
        seen = {}
        with Connection(broker):
            thread = threading.Thread(target=lambda: seen.setdefault("inner", get_current_connection()))
            thread.start()
            thread.join()
        assert seen["inner"] is None

    def test_connection_without_argument_uses_jq_url(self, monkeypatch):
        monkeypatch.setenv("JQ_URL", "memory://from-env")
        with Connection() as connection:
            assert connection == "memory://from-env"
            assert Queue().broker.url == "memory://from-env"


class TestFallbacks:
    """With no connection given: the context, then JQ_URL, then a clear error."""

    def test_jq_url(self, monkeypatch):
        monkeypatch.setenv("JQ_URL", "memory://env")
        assert Queue().broker.url == "memory://env"

    def test_no_connection_anywhere(self):
        with pytest.raises(NoConnectionError) as caught:
            Queue()
        message = str(caught.value)
        assert "connection=" in message and "JQ_URL" in message and "with Connection" in message
        assert NoRedisConnectionException is NoConnectionError

    def test_resolve_broker_returns_a_broker(self, broker):
        assert isinstance(resolve_broker(broker), Broker)


class TestSameStore:
    """``same_store``: which brokers reach the same jobs (a worker's queues and a job's
    dependencies must): the same store under the same prefix, whatever the clients' options."""

    def test_fakeredis_clients_of_one_fake_server_are_one_store(self):
        import fakeredis

        from jq.connections import same_store
        from jq_backends.redis import RedisBroker

        server = fakeredis.FakeServer()
        first = RedisBroker(fakeredis.FakeRedis(server=server))
        assert same_store(first, RedisBroker(fakeredis.FakeRedis(server=server)))
        assert not same_store(first, RedisBroker(fakeredis.FakeRedis(server=fakeredis.FakeServer())))
        assert not same_store(first, RedisBroker(fakeredis.FakeRedis(server=server, db=1)))
        assert not same_store(first, RedisBroker(fakeredis.FakeRedis(server=server), prefix="other:"))

    def test_clients_of_one_server_are_one_store_whatever_their_options(self, redis_server):
        import redis

        from jq.connections import same_store
        from jq_backends.redis import RedisBroker

        first = RedisBroker(redis_server.client())
        port = redis_server.port
        for same in (
            redis_server.client(),
            redis.Redis(host="localhost", port=port, socket_timeout=5, decode_responses=True),
            redis.Redis.from_url(f"redis://127.0.0.1:{port}/0?health_check_interval=10"),
        ):
            assert same_store(first, RedisBroker(same)) and same_store(RedisBroker(same), first)
        assert not same_store(first, RedisBroker(redis_server.client(db=1)))
        assert not same_store(first, RedisBroker(redis_server.client(), prefix="other:"))
        assert not same_store(first, RedisBroker(redis.Redis(host="127.0.0.1", port=port + 1)))
        assert not same_store(first, RedisBroker(fakeredis_client_for_db0()))

    def test_memory_and_sqlite_stores(self, tmp_path):
        from jq.connections import same_store
        from jq_backends.memory import MemoryBroker
        from jq_backends.sqlite import SQLiteBroker

        memory = MemoryBroker()
        assert same_store(memory, memory) and not same_store(memory, MemoryBroker())
        (tmp_path / "sub").mkdir()
        first = SQLiteBroker(tmp_path / "jobs.db")
        assert same_store(first, SQLiteBroker(tmp_path / "sub" / ".." / "jobs.db"))
        assert not same_store(first, SQLiteBroker(tmp_path / "other.db"))
        assert not same_store(first, SQLiteBroker(tmp_path / "jobs.db", prefix="other:"))
        assert not same_store(first, memory) and not same_store(memory, first)


def fakeredis_client_for_db0():
    import fakeredis

    return fakeredis.FakeRedis(server=fakeredis.FakeServer())
