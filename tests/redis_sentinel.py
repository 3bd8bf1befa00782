"""A private Redis Sentinel set for tests: one master, one replica (or more) and three sentinels.

Every process listens on a free loopback port and keeps nothing on disk but the sentinels' own
config files (a sentinel rewrites its file as it learns the set); :meth:`SentinelSet.cleanup`
kills them all. The sentinels watch the master as ``mymaster`` with a quorum of two, and call it
down after :data:`DOWN_AFTER_MS` without an answer, so that a killed master is replaced within a
few seconds.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.sentinel import Sentinel

from tests.redis_server import RedisServer, _wait_until, free_port

#: The name the sentinels know the master by.
MASTER_NAME = "mymaster"
#: How long a master may not answer before a sentinel calls it down (subjectively).
DOWN_AFTER_MS = 1000
#: How long a sentinel waits before trying a failover that did not complete again.
FAILOVER_TIMEOUT_MS = 10_000


@dataclass
class SentinelProcess:
    """One ``redis-server --sentinel`` process on a loopback port."""

    master_port: int
    directory: Path
    port: int = field(default_factory=free_port)
    #: The sentinel's run id (set in its config, so that the others can be told of it).
    run_id: str = field(default_factory=lambda: secrets.token_hex(20))
    process: subprocess.Popen[bytes] | None = None

    def start(self, replica_ports: list[int], others: list[SentinelProcess]) -> SentinelProcess:
        """Write its config (watching the master, and told of its replicas and the other
        sentinels, which it would otherwise learn of in a few seconds) and start it."""
        conf = self.directory / f"sentinel-{self.port}.conf"
        known = "".join(f"sentinel known-replica {MASTER_NAME} 127.0.0.1 {port}\n" for port in replica_ports)
        known += "".join(
            f"sentinel known-sentinel {MASTER_NAME} 127.0.0.1 {other.port} {other.run_id}\n"
            for other in others
        )
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.directory}\nsentinel myid {self.run_id}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master_port} 2\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER_NAME} 1\n{known}"
        )
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; install it (apt install redis-server)")
        with open(self.directory / f"sentinel-{self.port}.log", "wb") as log:
            self.process = subprocess.Popen([binary, str(conf), "--sentinel"], stdout=log, stderr=log)
        return self

    def client(self) -> redis.Redis:
        """A client of this sentinel."""
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, decode_responses=True)

    def master_state(self) -> dict[str, object] | None:
        """What this sentinel says of the master (``SENTINEL MASTER``), or None if it does not answer."""
        try:
            with self.client() as client:
                return dict(client.sentinel_master(MASTER_NAME))
        except redis.RedisError:
            return None

    def stop(self) -> None:
        """Kill the sentinel."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@dataclass
class SentinelSet:
    """One master, ``replica_count`` replicas of it and three sentinels, all on loopback ports.

    ``master`` and ``replicas`` are the servers as started: after a failover a replica is the
    master (see :meth:`master_port`). ``extra_args`` go to every data server.
    """

    extra_args: tuple[str, ...] = ()
    replica_count: int = 1
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="jq-sentinel-")))
    master: RedisServer | None = None
    replicas: list[RedisServer] = field(default_factory=list)
    sentinels: list[SentinelProcess] = field(default_factory=list)

    def start(self) -> SentinelSet:
        """Start every process, and wait until the replicas are in sync and each sentinel knows
        them and the two other sentinels (a failover needs the agreement of two)."""
        try:
            # A master starts a full sync at once, not after waiting 5 s for more replicas to join.
            server_args = ("--repl-diskless-sync-delay", "0", *self.extra_args)
            self.master = RedisServer(extra_args=server_args).start()
            replica_args = (*server_args, "--replicaof", "127.0.0.1", str(self.master.port))
            self.replicas = [RedisServer(extra_args=replica_args).start() for _ in range(self.replica_count)]
            _wait_until(self._replicas_in_sync, 30, "the replicas to sync with their master")
            self.sentinels = [SentinelProcess(self.master.port, self.directory) for _ in range(3)]
            replica_ports = [replica.port for replica in self.replicas]
            for sentinel in self.sentinels:
                sentinel.start(replica_ports, [other for other in self.sentinels if other is not sentinel])
            _wait_until(self._sentinels_ready, 60, "the sentinels to discover the replica and each other")
        except BaseException:
            self.cleanup()
            raise
        return self

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The sentinels' (host, port)."""
        return [("127.0.0.1", sentinel.port) for sentinel in self.sentinels]

    @property
    def url(self) -> str:
        """``redis+sentinel://`` URL of the master, database 0."""
        hosts = ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)
        return f"redis+sentinel://{hosts}/{MASTER_NAME}/0"

    def master_for(self, **kwargs: object) -> redis.Redis:
        """A client of the current master, found through the sentinels (again after a failover)."""
        return Sentinel(self.addresses, socket_timeout=1).master_for(MASTER_NAME, **kwargs)

    def master_port(self) -> int | None:
        """The port of the master the sentinels name now, or None if none answers."""
        for sentinel in self.sentinels:
            state = sentinel.master_state()
            if state is not None:
                return int(str(state["port"]))
        return None

    def _replicas_in_sync(self) -> bool:
        for replica in self.replicas:
            try:
                with replica.client() as client:
                    info = client.info("replication")
            except redis.RedisError:
                return False
            if info.get("master_link_status") != "up":
                return False
        assert self.master is not None
        try:
            with self.master.client(socket_timeout=2) as client:
                # The master counts a replica once it acknowledged what it was sent.
                return int(client.wait(len(self.replicas), 100)) >= len(self.replicas)
        except redis.RedisError:
            return False

    def _sentinels_ready(self) -> bool:
        for sentinel in self.sentinels:
            state = sentinel.master_state()
            if state is None or int(str(state["num-slaves"])) < self.replica_count:
                return False
            if int(str(state["num-other-sentinels"])) < 2:
                return False
        return True

    def failover(self) -> int:
        """Ask a sentinel for a failover (``SENTINEL FAILOVER``: a replica is promoted, the old
        master later made its replica); the port of the master before it."""
        old = self.master_port()
        assert old is not None, "no sentinel answers"
        with self.sentinels[0].client() as client:
            client.sentinel_failover(MASTER_NAME)
        return old

    def kill_master(self) -> int:
        """SIGKILL the current master (the sentinels then agree it is down and promote a replica);
        its port."""
        port = self.master_port()
        server = self.server_on(port)
        server.stop(kill=True)
        return server.port

    @property
    def servers(self) -> list[RedisServer]:
        """The data servers as started: the first master, then the replicas."""
        return ([] if self.master is None else [self.master]) + self.replicas

    def server_on(self, port: int | None) -> RedisServer:
        """The data server (master or replica) listening on ``port``."""
        for server in self.servers:
            if server.port == port:
                return server
        raise LookupError(f"no data server of this set listens on port {port}")

    def wait_for_new_master(self, old_port: int, timeout: float = 60) -> int:
        """Wait until the sentinels name another master than the one on ``old_port`` and it takes
        writes; its port."""
        found: list[int] = []

        def promoted() -> bool:
            port = self.master_port()
            if port is None or port == old_port:
                return False
            try:
                with self.server_on(port).client(socket_timeout=1) as client:
                    if client.info("replication").get("role") != "master":
                        return False
            except redis.RedisError:
                return False
            found.append(port)
            return True

        _wait_until(promoted, timeout, "the sentinels to promote a replica")
        return found[-1]

    def cleanup(self) -> None:
        """Kill every process and remove the files."""
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in self.servers:
            server.cleanup()
        shutil.rmtree(self.directory, ignore_errors=True)
