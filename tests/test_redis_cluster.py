"""The Redis driver on a real Redis Cluster: the broker conformance suite, and what is particular
to a cluster (URLs, the key prefix's hash tag, where the keys live).

The session's cluster (``redis_cluster`` in conftest.py: 3 masters, 3 replicas) is shared, and
emptied before each test (``cluster_broker``).
"""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
import redis

from jq import Queue, RateLimit, SimpleWorker
from jq.broker import Place, PlaceKind
from jq.command import send_kill_horse_command
from jq.exceptions import (
    ConfigurationError,
    InvalidJobDependency,
    StorePermissionError,
    UnsupportedByBrokerError,
)
from jq.testing.broker_suite import BrokerContractTests
from jq.testing.helpers import wait_for
from jq.worker_pool import WorkerPool
from jq_backends.redis import RedisBroker, cluster_wait
from jq_backends.redis.cluster import check_cluster_client
from jq_backends.redis.connection import client_url, connection_settings
from jq_backends.redis.failover import ReplicaWaitError
from jq_backends.redis.preflight import worker_acl_rule
from tests import fixtures
from tests.processes import start_worker, stop
from tests.redis_server import free_port
from tests.test_worker_control import WorkerThread

pytestmark = [pytest.mark.cluster]


class TestBrokerContractOnCluster(BrokerContractTests):
    """The whole contract, on a cluster."""

    @pytest.fixture
    def broker(self, cluster_broker: RedisBroker) -> RedisBroker:
        return cluster_broker

    def test_broker_keys_follow_the_documented_layout(self, broker: RedisBroker) -> None:
        # The layout is the documented one, under the cluster's prefix: "jq:" in a hash tag.
        assert broker.keys.prefix == "{jq}:"
        assert broker.job_key("j1") == "{jq}:job:j1"
        assert broker.queue_key("default") == "{jq}:queue:default"
        assert broker.worker_key("w1") == "{jq}:worker:w1"
        assert broker.place_key(Place(PlaceKind.FAILED, "q")) == "{jq}:failed:q"


# -- what is particular to a cluster --------------------------------------------------------------------


def test_a_cluster_url_gives_a_cluster_client_and_names_it(redis_cluster):
    broker = RedisBroker.from_url(f"{redis_cluster.url}?socket_timeout=3&decode_responses=no")
    try:
        assert isinstance(broker.connection, redis.RedisCluster)
        assert connection_settings(broker.connection)["socket_timeout"] == 3.0
        assert connection_settings(broker.connection)["decode_responses"] is False
        assert broker.keys.prefix == "{jq}:"
        assert broker.url.startswith("redis+cluster://127.0.0.1:")
        # What a cluster client is shown as names the masters it found.
        masters = {f"127.0.0.1:{node.port}" for node in broker.connection.get_primaries()}
        assert set(client_url(broker.connection).removeprefix("redis+cluster://").split(",")) == masters
    finally:
        broker.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+cluster://", "names no node"),
        ("redis+cluster://127.0.0.1:1/1", "only database 0, and the URL asks for '1'"),
        ("redis+cluster://127.0.0.1:1?socket_timeut=1", "did you mean 'socket_timeout'"),
        ("redis+cluster://127.0.0.1:nope", "is not valid"),
    ],
)
def test_a_wrong_cluster_url_says_what_is_wrong(url, message):
    with pytest.raises(ConfigurationError, match=message):
        RedisBroker.from_url(url)


def test_a_cluster_no_node_of_which_answers_is_a_connection_error():
    with pytest.raises(redis.ConnectionError, match="no node of the Redis Cluster answered"):
        RedisBroker.from_url(f"redis+cluster://127.0.0.1:{free_port()}")


def test_on_a_cluster_the_prefix_must_hold_a_hash_tag(redis_cluster, monkeypatch):
    client = redis_cluster.client()
    try:
        with pytest.raises(ConfigurationError, match=r"must hold a hash tag, such as '\{app\}:'"):
            RedisBroker(client, prefix="app:")
        monkeypatch.setenv("JQ_KEY_PREFIX", "app:")
        with pytest.raises(ConfigurationError, match="the JQ_KEY_PREFIX must hold a hash tag"):
            Queue(connection=client)
        monkeypatch.setenv("JQ_KEY_PREFIX", "{app}:")
        assert Queue(connection=client).broker.keys.prefix == "{app}:"
    finally:
        client.close()


def test_an_acl_user_needs_cluster_slots_and_jqs_rule_for_a_cluster_is_enough(redis_cluster, cluster_broker):
    # ACL users are each node's own: set on every node. Without CLUSTER SLOTS the cluster client
    # cannot start (redis-py says "Cluster mode is not enabled"): jq says what to grant.
    rule = worker_acl_rule("jqc", "{jq}:", cluster=True).split()[3:]  # after ACL SETUSER jqc
    for node in redis_cluster.nodes:
        with node.client() as client:
            client.execute_command("ACL", "SETUSER", "jqc", "reset", ">pw", *rule, "-cluster|slots")
    url = redis_cluster.url.replace("://", "://jqc:pw@")
    with pytest.raises(StorePermissionError, match=r"ACL SETUSER jqc \+cluster\|slots"):
        RedisBroker.from_url(url)
    for node in redis_cluster.nodes:
        with node.client() as client:
            client.execute_command("ACL", "SETUSER", "jqc", "+cluster|slots")
    broker = RedisBroker.from_url(url)
    try:
        job = Queue(connection=broker).enqueue(fixtures.add, 1, 2)
        assert SimpleWorker([Queue(connection=broker)]).work(burst=True)  # its preflight passes
        assert job.result == 3
    finally:
        broker.close()


def test_the_store_clock_is_the_clock_of_the_master_of_the_brokers_slot(redis_cluster, cluster_broker):
    # The scripts read TIME on the slot's master: a process must read the same clock, not that
    # of whichever node its cluster client calls its default (another machine, another clock).
    client = cluster_broker.connection
    default = client.get_default_node().port
    tag = next(f"t{n}" for n in range(100) if client.get_node_from_key(f"{{t{n}}}:").port != default)
    master = redis_cluster.master_of(f"{{{tag}}}:")

    def time_calls() -> int:
        with master.client() as node:
            return int(node.info("commandstats").get("cmdstat_time", {}).get("calls", 0))

    before = time_calls()
    RedisBroker(client, prefix=f"{{{tag}}}:").now()
    assert time_calls() > before


def test_an_old_redis_py_is_refused_with_what_to_install():
    with pytest.raises(ConfigurationError, match=r"needs redis-py 6.3 or later.*pip install 'redis>=6.3'"):
        check_cluster_client("6.2.0")
    check_cluster_client("6.3.0")
    check_cluster_client("10.0.0b1")


def test_pipeline_writes_are_refused_on_a_cluster(cluster_broker):
    queue = Queue(connection=cluster_broker)
    with pytest.raises(UnsupportedByBrokerError, match="not supported on Redis Cluster"):
        queue.enqueue(fixtures.add, 1, 2, pipeline=cluster_broker.connection.pipeline())
    # Every call that takes one says so, in words that fit it (not only enqueue's).
    job = queue.enqueue(fixtures.add, 1, 2)
    with pytest.raises(UnsupportedByBrokerError, match=r"leave it out \(each enqueue, save, move and delete"):
        job.delete(pipeline=cluster_broker.connection.pipeline())


def test_every_key_of_a_broker_is_in_the_slot_of_its_hash_tag(cluster_broker):
    """Scripts touch many keys at once: all of them must be in one slot (jobs, results,
    dependents, every registry, groups, rate limits, workers, locks, request replies)."""
    queue = Queue(connection=cluster_broker)
    other = Queue("other", connection=cluster_broker)
    parent = queue.enqueue(fixtures.add, 1, 2)
    other.enqueue(fixtures.add, 1, 2, depends_on=parent)
    queue.enqueue_in(timedelta(minutes=5), fixtures.add, 1, 2)
    queue.enqueue_many([Queue.prepare_data(fixtures.add, args=(3, 4))], group_id="batch")
    queue.enqueue(fixtures.div_by_zero, 1)
    SimpleWorker([queue, other], connection=cluster_broker).work(burst=True)
    Queue("waiting", connection=cluster_broker).enqueue(fixtures.add, 4, 5, rate_limit=RateLimit("api", 1))
    cluster_broker.acquire_lock("scheduler", "token", 30)
    client = cluster_broker.connection
    keys = [key.decode() for key in client.scan_iter(match="*", target_nodes=redis.RedisCluster.PRIMARIES)]
    kinds = {key.removeprefix("{jq}:").split(":")[0] for key in keys}
    # (The burst worker left no record behind.)
    expected = {
        "job",
        "results",
        "queue",
        "queues",
        "finished",
        "failed",
        "scheduled",
        "group",
        "rate-limit-slots",
    }
    assert expected | {"lock", "request"} <= kinds
    assert {client.keyslot(key) for key in keys} == {client.keyslot("{jq}:")}


def test_worker_processes_run_each_job_once_on_a_cluster(redis_cluster, cluster_broker):
    """Two forking workers (a reused work horse each) drain a queue through a redis+cluster:// URL."""
    queue = Queue(connection=cluster_broker)
    jobs = queue.enqueue_many(
        [Queue.prepare_data(fixtures.record_run, args=("{jq}:test-runs",)) for _ in range(400)]
    )
    processes = [
        start_worker(
            redis_cluster.url,
            name=f"w{index}",
            reuse_horse=True,
            work={"burst": True, "logging_level": "WARNING"},
        )
        for index in range(2)
    ]
    for process in processes:
        code, stderr = stop(process, timeout=120)
        assert code == 0, stderr
    runs = [value.decode() for value in cluster_broker.connection.lrange("{jq}:test-runs", 0, -1)]
    assert sorted(runs) == sorted(job.id for job in jobs)
    assert queue.finished_job_registry.count == len(jobs)


def test_wait_replicas_waits_for_the_replica_of_the_slots_master(redis_cluster, cluster_broker):
    broker = RedisBroker.from_url(f"{redis_cluster.url}?wait_replicas=1&wait_timeout=2")
    try:
        job = Queue(connection=broker).enqueue(fixtures.add, 1, 2)
        # The writes that are no state change wait too (as scripts, on the slot's master).
        job.description = "saved"
        job.save()
        assert broker.acquire_lock("scheduler", "t1", 60)
        broker.suspend()
        # Confirmed by the one replica of the master of jq's slot: that replica has it already.
        master = redis_cluster.master_of(broker.job_key(job.id))
        with master.client() as client:
            replica_ports = [int(entry["port"]) for name, entry in client.info("replication").items()
                             if name.startswith("slave")]  # fmt: skip
        (replica,) = [node for node in redis_cluster.nodes if node.port in replica_ports]
        # One connection: READONLY lets it read the keys the replica holds.
        with replica.client(single_connection_client=True) as client:
            assert client.execute_command("READONLY") and client.exists(broker.job_key(job.id))
            assert client.hget(broker.job_key(job.id), "description") == b"saved"
            assert client.get(broker.keys.lock("scheduler")) == b"t1"
            assert client.exists(broker.keys.suspended)
    finally:
        broker.close()
    greedy = RedisBroker.from_url(f"{redis_cluster.url}?wait_replicas=2&wait_timeout=0.05")
    try:
        with pytest.raises(ReplicaWaitError, match="confirmed by 1 of the 2 replica"):
            Queue(connection=greedy).enqueue(fixtures.add, 1, 2)
    finally:
        greedy.close()


def test_a_write_and_its_wait_share_one_connection_whatever_other_threads_borrow(
    redis_cluster, cluster_broker, monkeypatch
):
    # WAIT counts the writes of its own connection only. Another thread of the process (a
    # worker's heartbeat, a web server's) borrowing the connection that wrote, the moment it is
    # back in the node's pool, must not leave the WAIT to another connection of the pool, idle
    # since before the write: that one would answer at once, every replica counted, for a write
    # no replica has.
    broker = RedisBroker.from_url(f"{redis_cluster.url}?wait_replicas=1&wait_timeout=0.2")
    borrowed: list[object] = []
    client = broker.connection
    key = broker.keys.lock("held")
    pool = client.get_redis_connection(client.get_node_from_key(key)).connection_pool
    release = pool.release
    try:
        assert broker.acquire_lock("warm", "t", 60)  # the script known to the slot's master
        # Two connections idle in the pool: the write takes the last one given back.
        idle, last = pool.get_connection(), pool.get_connection()
        release(idle)
        release(last)

        def release_and_lend(connection: object) -> None:
            release(connection)
            borrowed.append(pool.get_connection())

        monkeypatch.setattr(pool, "release", release_and_lend)
        replica = redis_cluster.replica_of(redis_cluster.master_of(key))
        # The replica stops acknowledging: the master still counts it as connected.
        os.kill(replica.process.pid, signal.SIGSTOP)
        try:
            with pytest.raises(ReplicaWaitError, match="confirmed by 0 of the 1 replica"):
                broker.acquire_lock("held", "t", 60)
        finally:
            os.kill(replica.process.pid, signal.SIGCONT)
    finally:
        monkeypatch.undo()
        for connection in borrowed:
            release(connection)
        broker.close()


def test_a_waiting_write_follows_its_slot_to_another_master(redis_cluster, cluster_broker, monkeypatch):
    # A prefix of its own: its slot moves, the other tests' stays.
    broker = RedisBroker.from_url(f"{redis_cluster.url}?wait_replicas=1&wait_timeout=5", prefix="{moving}:")
    refreshes: list[object] = []
    refresh = cluster_wait.refresh_slot_map
    monkeypatch.setattr(cluster_wait, "refresh_slot_map", lambda client: refreshes.append(refresh(client)))
    try:
        key = broker.keys.lock("scheduler")
        assert broker.acquire_lock("scheduler", "t1", 60)
        before, after = redis_cluster.migrate_slot(key)
        # The broker's client still maps the slot to the old master, which answers MOVED: the
        # map is read again (redis-py's private nodes_manager.initialize(), see cluster_wait.py)
        # and the write and its WAIT go to the new master (which loads the script first).
        assert broker.connection.get_node_from_key(key).port == before
        assert broker.acquire_lock("other", "t2", 60)
        assert refreshes, "no MOVED met: the test did not reach the redirection"
        assert broker.connection.get_node_from_key(key).port == after
        replica = redis_cluster.replica_of(redis_cluster.master_of(key))
        assert redis_cluster.master_of(key).port == after
        with replica.client(single_connection_client=True) as on_replica:
            assert on_replica.execute_command("READONLY")
            assert on_replica.get(broker.keys.lock("other")) == b"t2"
    finally:
        broker.close()


def test_a_waiting_write_follows_ask_while_its_slot_migrates(redis_cluster, cluster_broker, monkeypatch):
    broker = RedisBroker.from_url(f"{redis_cluster.url}?wait_replicas=1&wait_timeout=5", prefix="{asking}:")
    sent: list[bool] = []
    send_pair = cluster_wait._send_pair

    def spy(*args: object, asking: bool) -> object:
        sent.append(asking)
        return send_pair(*args, asking=asking)

    monkeypatch.setattr(cluster_wait, "_send_pair", spy)
    try:
        broker.suspend()
        # Every key of the slot (the suspension, this thread's request key) is on the new master,
        # which does not own the slot yet: the old one answers ASK, the new one takes the script
        # after ASKING on the connection the WAIT follows on.
        redis_cluster.migrate_slot(broker.keys.suspended, before_handover=broker.resume)
        assert True in sent, "no ASK met: the test did not reach the redirection"
        assert not broker.is_suspended()
    finally:
        broker.close()


def test_a_waiting_write_that_lost_its_connection_reads_the_map_again_and_is_sent_again(
    redis_cluster, cluster_broker, monkeypatch
):
    broker = RedisBroker.from_url(f"{redis_cluster.url}?wait_replicas=1&wait_timeout=5")
    refreshes: list[object] = []
    refresh, send_pair = cluster_wait.refresh_slot_map, cluster_wait._send_pair
    # The first send fails as on a killed master's connection.
    lost = [redis.ConnectionError("the node went away")]

    def losing(*args: object, asking: bool) -> object:
        if lost:
            raise lost.pop()
        return send_pair(*args, asking=asking)

    monkeypatch.setattr(cluster_wait, "_send_pair", losing)
    monkeypatch.setattr(cluster_wait, "refresh_slot_map", lambda client: refreshes.append(refresh(client)))
    try:
        with pytest.raises(redis.ConnectionError) as raised:
            broker.acquire_lock("scheduler", "t1", 60)
        assert isinstance(raised.value, broker.transient_errors)
        assert len(refreshes) == 1, "the next call must ask the cluster where the slot is"
        # The caller's repeat: the same request, sent again, applies (once).
        assert broker.acquire_lock("scheduler", "t1", 60) is True
        assert broker.lock_owner("scheduler") == "t1"
    finally:
        broker.close()


def test_a_waiting_write_to_a_slot_the_map_has_no_master_for_reads_the_map_again(
    redis_cluster, cluster_broker, monkeypatch
):
    broker = RedisBroker.from_url(f"{redis_cluster.url}?wait_replicas=1&wait_timeout=5")
    refreshes: list[object] = []
    refresh = cluster_wait.refresh_slot_map
    monkeypatch.setattr(cluster_wait, "refresh_slot_map", lambda client: refreshes.append(refresh(client)))
    client = broker.connection
    node_of = client.get_node_from_key
    uncovered = [redis.exceptions.SlotNotCoveredError("slot not covered")]  # as in a map read mid-failover

    def stale(key: str) -> object:
        if uncovered:
            raise uncovered.pop()
        return node_of(key)

    monkeypatch.setattr(client, "get_node_from_key", stale)
    try:
        with pytest.raises(redis.exceptions.SlotNotCoveredError) as raised:
            broker.acquire_lock("scheduler", "t1", 60)
        assert isinstance(raised.value, broker.transient_errors)
        assert len(refreshes) == 1
        assert broker.acquire_lock("scheduler", "t1", 60) is True
    finally:
        broker.close()


def test_the_slot_map_is_read_again_after_a_migration(redis_cluster, cluster_broker):
    # What cluster_wait.refresh_slot_map relies on (redis-py's private nodes_manager.initialize()).
    client = redis_cluster.client()
    try:
        key = "{remapped}:key"
        before, after = redis_cluster.migrate_slot(key)
        assert client.get_node_from_key(key).port == before
        cluster_wait.refresh_slot_map(client)
        assert client.get_node_from_key(key).port == after
    finally:
        client.close()


def test_a_worker_pool_runs_on_a_cluster_url(redis_cluster, cluster_broker):
    queue = Queue(connection=cluster_broker)
    jobs = [queue.enqueue(fixtures.add, index, 1) for index in range(20)]
    pool = WorkerPool(["default"], connection=redis_cluster.url, num_workers=2)
    pool.start(burst=True, logging_level="WARNING")
    assert [job.result for job in jobs] == [index + 1 for index in range(20)]
    assert pool.deaths == 0


def test_a_decoding_cluster_client_works_through_a_binary_twin(redis_cluster, cluster_broker):
    client = redis_cluster.client(decode_responses=True)
    try:
        queue = Queue(connection=client)
        job = queue.enqueue(fixtures.add, 1, 2)
        SimpleWorker([queue]).work(burst=True)
        assert job.result == 3
        assert queue.broker.connection is client
        assert client.hget(job.key, "status") == "finished"
    finally:
        queue.broker.close()
        client.close()


def test_brokers_of_two_clients_of_the_cluster_are_one_store(redis_cluster, cluster_broker):
    """A job fetched through another cluster client is a dependency like any other (the store is
    the cluster, not the client); another prefix is another store."""
    other_client = redis_cluster.client()
    try:
        other = RedisBroker(other_client)
        queue = Queue("deps", connection=cluster_broker)
        parent = Queue("deps", connection=other).enqueue(fixtures.add, 1, 1)
        assert queue.enqueue(fixtures.add, 2, 2, depends_on=parent).get_status() == "deferred"
        elsewhere = Queue("deps", connection=RedisBroker(other_client, prefix="{other}:"))
        with pytest.raises(InvalidJobDependency, match="same store"):
            elsewhere.enqueue(fixtures.add, 3, 3, depends_on=parent)
    finally:
        other_client.close()


def test_jqueue_worker_runs_a_spawn_worker_on_a_cluster_url(redis_cluster, cluster_broker):
    # The command gives the worker the URL (not only the broker it opened): a spawned horse must
    # connect again, and a cluster client alone does not say how.
    from click.testing import CliRunner

    from jq.cli import cli
    from jq.io.connections import fresh_url_brokers

    job = Queue(connection=cluster_broker).enqueue(fixtures.add, 1, 2)
    with fresh_url_brokers():
        done = CliRunner().invoke(
            cli, ["worker", "-b", "-q", "-w", "jq.SpawnWorker", "-u", redis_cluster.url]
        )
    assert done.exit_code == 0, done.output
    assert job.result == 3


def test_a_worker_subscribes_again_where_its_commands_go_after_its_slot_migrates(
    redis_cluster, cluster_broker
):
    # A node counts only its own subscribers: left on the old master, the worker would still get
    # commands (the cluster bus carries them) but be counted as not listening: 'is it running?'.
    broker = RedisBroker.from_url(redis_cluster.url, prefix="{cmdmove}:")
    worker = WorkerThread(Queue(connection=broker), "mover")
    try:
        redis_cluster.migrate_slot("{cmdmove}:x")
        sender = RedisBroker.from_url(redis_cluster.url, prefix="{cmdmove}:")  # knows the new map
        try:
            assert wait_for(lambda: send_kill_horse_command(sender, "mover") == 1, timeout=10)
        finally:
            sender.close()
    finally:
        worker.stop()
        broker.close()
