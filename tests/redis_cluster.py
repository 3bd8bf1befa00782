"""A private Redis Cluster for tests: three masters and three replicas on loopback ports.

Each node is a :class:`tests.redis_server.RedisServer` started with ``--cluster-enabled yes``
(nothing on disk but its ``nodes.conf``, in its own working directory); ``redis-cli --cluster
create ... --cluster-replicas 1`` joins them, and :meth:`RedisCluster.start` waits until every node
says the cluster is ``ok``. :meth:`RedisCluster.cleanup` kills them all.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

import redis
from redis.cluster import ClusterNode
from redis.cluster import RedisCluster as ClusterClient

from tests.redis_server import RedisServer, _wait_until, free_port

#: Masters, and replicas of each.
MASTERS = 3
REPLICAS_PER_MASTER = 1
#: How long a node may not answer before the others call it failing: short, so that a killed
#: master is replaced in a few seconds (the failover tests' clusters).
NODE_TIMEOUT_MS = 1000
#: The same for the cluster that the test session shares, which no test fails over: long enough
#: that a node slowed down by a busy machine is not failed over under the tests.
SHARED_NODE_TIMEOUT_MS = 15000


@dataclass
class RedisCluster:
    """``MASTERS`` masters with ``REPLICAS_PER_MASTER`` replica(s) each, on loopback ports."""

    extra_args: tuple[str, ...] = ()
    node_timeout_ms: int = NODE_TIMEOUT_MS
    nodes: list[RedisServer] = field(default_factory=list)
    _shared: ClusterClient | None = None

    def start(self) -> RedisCluster:
        """Start the nodes, join them into a cluster and wait until it is ``ok`` everywhere."""
        args = (
            "--cluster-enabled", "yes",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            # A replica takes over whatever its link's age: the tests kill masters on purpose.
            "--cluster-replica-validity-factor", "0",
            "--repl-diskless-sync-delay", "0",
            *self.extra_args,
        )  # fmt: skip
        try:
            # Each node's cluster bus gets a free port of its own (by default it is the data port +
            # 10000, which may be taken, or past 65535).
            self.nodes = [
                RedisServer(extra_args=(*args, "--cluster-port", str(free_port()))).start()
                for _ in range(MASTERS * (1 + REPLICAS_PER_MASTER))
            ]
            binary = shutil.which("redis-cli")
            if binary is None:
                raise RuntimeError("redis-cli is not installed; install it (apt install redis-tools)")
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            subprocess.run(
                [binary, "--cluster", "create", *addresses, "--cluster-replicas", str(REPLICAS_PER_MASTER),
                 "--cluster-yes"],
                check=True, capture_output=True, timeout=60,
            )  # fmt: skip
            _wait_until(self._ready, 60, "the cluster to be ok on every node")
        except BaseException:
            self.cleanup()
            raise
        return self

    @property
    def url(self) -> str:
        """``redis+cluster://`` URL naming every node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)

    def client(self, **kwargs: object) -> ClusterClient:
        """A new redis-py cluster client."""
        startup = [ClusterNode("127.0.0.1", node.port) for node in self.nodes if node.process is not None]
        return ClusterClient(startup_nodes=startup, **kwargs)  # type: ignore[arg-type]

    def _ready(self) -> bool:
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                with node.client(socket_timeout=1) as client:
                    info = client.execute_command("CLUSTER", "INFO")
            except redis.RedisError:
                return False
            text = info.decode() if isinstance(info, bytes) else str(info)
            if "cluster_state:ok" not in text:
                return False
        return self._replicas_in_sync()

    def _replicas_in_sync(self) -> bool:
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                with node.client(socket_timeout=1) as client:
                    replication = client.info("replication")
            except redis.RedisError:
                return False
            if replication.get("role") == "slave" and replication.get("master_link_status") != "up":
                return False
        return True

    def master_of(self, key: str) -> RedisServer:
        """The node that is master of ``key``'s slot now."""
        with self.client() as client:
            node = client.get_node_from_key(key)
        for server in self.nodes:
            if server.port == node.port:
                return server
        raise LookupError(f"no node of this cluster is on port {node.port}")

    def kill_master_of(self, key: str) -> int:
        """SIGKILL the master of ``key``'s slot (its replica takes over); its port."""
        server = self.master_of(key)
        server.stop(kill=True)
        return server.port

    def wait_for_new_master(self, key: str, old_port: int, timeout: float = 60) -> int:
        """Wait until another node is master of ``key``'s slot and the cluster is ok; its port."""
        found: list[int] = []

        def promoted() -> bool:
            if not self._ready():
                return False
            for node in self.nodes:
                if node.process is None:
                    continue
                try:
                    with node.client(socket_timeout=1) as client:
                        slot = client.execute_command("CLUSTER", "KEYSLOT", key)
                        owners = client.execute_command("CLUSTER", "SLOTS")
                except redis.RedisError:
                    return False
                for start, end, master, *_ in owners:
                    if start <= slot <= end and int(master[1]) != old_port:
                        found.append(int(master[1]))
                        return True
                return False
            return False

        _wait_until(promoted, timeout, "a replica to take over the killed master's slots")
        return found[-1]

    def replica_of(self, master: RedisServer) -> RedisServer:
        """The (first) replica of ``master``."""
        with master.client() as client:
            ports = [int(entry["port"]) for name, entry in client.info("replication").items()
                     if name.startswith("slave")]  # fmt: skip
        return next(node for node in self.nodes if node.port in ports)

    def migrate_slot(
        self, key: str, batch: int = 10, before_handover: Callable[[], None] | None = None
    ) -> tuple[int, int]:
        """Move ``key``'s slot, with every key in it, from its master to another master, as
        ``redis-cli --cluster reshard`` does (IMPORTING and MIGRATING, MIGRATE in batches, then
        the new owner announced to every master); the (old, new) master's ports. Clients meet
        ``ASK`` and ``TRYAGAIN`` while it runs and ``MOVED`` after. ``before_handover()`` runs
        once every key is on the new master, before it is announced (its calls meet ``ASK``)."""
        source = self.master_of(key)
        with source.client() as client:
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
        target = next(node for node in self._masters() if node.port != source.port)
        with source.client() as from_client, target.client() as to_client:
            source_id = _text(from_client.execute_command("CLUSTER", "MYID"))
            target_id = _text(to_client.execute_command("CLUSTER", "MYID"))
            to_client.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
            from_client.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
            while True:
                keys = from_client.execute_command("CLUSTER", "GETKEYSINSLOT", slot, batch)
                if not keys:
                    break
                from_client.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
            if before_handover is not None:
                before_handover()
            for node in (target, source, *self._masters()):
                with node.client() as client:
                    client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        return source.port, target.port

    def _masters(self) -> list[RedisServer]:
        masters = []
        for node in self.nodes:
            if node.process is None:
                continue
            with node.client(socket_timeout=1) as client:
                if client.info("replication").get("role") == "master":
                    masters.append(node)
        return masters

    def shared_client(self) -> ClusterClient:
        """One client of this cluster for every test that shares it (a cluster client learns the
        cluster's layout as it is made: a few round trips per node); closed by :meth:`cleanup`."""
        if self._shared is None:
            self._shared = self.client()
        return self._shared

    def cleanup(self) -> None:
        """Kill every node and remove its files."""
        if self._shared is not None:
            self._shared.close()
        for node in self.nodes:
            node.cleanup()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
