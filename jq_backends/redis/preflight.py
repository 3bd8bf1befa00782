"""What the Redis driver checks as a worker starts: the ACL user's permissions, the eviction policy.

Redis cannot tell a user which commands, keys and channels it may use (``ACL GETUSER`` and ``ACL
DRYRUN`` are admin commands themselves), so :meth:`RedisPreflight.preflight` tries one command of
each kind a worker sends, on keys and a channel of its own under the broker's prefix, and
collects every refusal into one :class:`StorePermissionError` that says what to grant. Without
the check, a missing permission surfaces later as a redis-py traceback: the first ``PUBLISH`` of
a command, the first blocking wait for a job, or a job that ran and whose outcome could not be
written.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import redis
from redis.client import PubSub
from redis.exceptions import ExecAbortError, NoPermissionError

from jq.exceptions import StorePermissionError
from jq_backends.redis import codec
from jq_backends.redis._base import RedisState
from jq_backends.redis.connection import connection_settings, is_fake
from jq_backends.redis.scripts import Arg

__all__ = [
    "CLUSTER_COMMAND_RULES",
    "WORKER_COMMAND_RULES",
    "Denial",
    "RedisPreflight",
    "denial_of",
    "worker_acl_rule",
]

logger = logging.getLogger("jq.broker.redis")

#: The ACL command rules of a jq user (worker, producer or jqueue): the data commands (``@read``,
#: ``@write``; the keys are limited separately), Lua scripts (EVALSHA, SCRIPT LOAD), pub/sub for
#: worker commands, MULTI/EXEC, TIME (the store's clock, which every process reads: see
#: jq.broker.clock), and the connection ones (AUTH, HELLO, PING, CLIENT SETINFO);
#: minus the dangerous ones (FLUSHALL, KEYS, CONFIG, INFO, CLIENT KILL...), and the commands of
#: those categories that reach beyond jq's keys: FUNCTION (every library on the server), SCRIPT
#: FLUSH and SCRIPT KILL (other clients' scripts). jq sends none of what is taken away.
WORKER_COMMAND_RULES: Final = (
    "-@all +@read +@write +@scripting +@pubsub +@transaction +@connection +time "
    "-@dangerous -function -script|flush -script|kill"
)
#: What a user needs besides on Redis Cluster: CLUSTER SLOTS, with which redis-py's cluster client
#: learns which node serves which slot (as it starts, and after a MOVED). It is in no category the
#: rule grants (@slow only); the other CLUSTER subcommands stay refused.
CLUSTER_COMMAND_RULES: Final = "+cluster|slots"
#: The only eviction policy under which Redis never deletes a key to make room.
NO_EVICTION: Final = "noeviction"

# Seconds: how long the probe's blocking read waits when it cannot run in a transaction (Redis
# rounds it up to its clock tick), and how long its probe lock may outlive a worker killed in the
# middle of the check.
_BLOCK: Final = 0.01
_PROBE_TTL: Final = 10.0
_SUBSCRIBE_TIMEOUT: Final = 5.0
_COMMAND: Final = re.compile(r"'([^']+)' command")


def worker_acl_rule(user: str, prefix: str, cluster: bool = False) -> str:
    """The ``ACL SETUSER`` line that gives ``user`` what a jq worker needs under ``prefix``, and
    nothing else: its keys and channels only, and no dangerous command (password left out). On a
    cluster, also ``CLUSTER SLOTS``: the cluster client reads the slot map with it."""
    rules = f"{WORKER_COMMAND_RULES} {CLUSTER_COMMAND_RULES}" if cluster else WORKER_COMMAND_RULES
    return f"ACL SETUSER {user} on resetkeys ~{prefix}* resetchannels &{prefix}* {rules}"


@dataclass(frozen=True, slots=True)
class Denial:
    """One thing the server refused: a command (``evalsha``, ``script|load``), the keys or the
    channels under the prefix, or something it worded otherwise (``what`` is then its message)."""

    kind: str  # "command", "keys", "channels" or "other"
    what: str = ""


def denial_of(error: redis.ResponseError) -> Denial:
    """What a ``NOPERM`` reply refused (Redis 7.0 and 7.2+ word it differently; both are read)."""
    text = str(error)
    command = _COMMAND.search(text)
    if command is not None:
        return Denial("command", command.group(1).lower())
    if "channel" in text:
        return Denial("channels")
    if "key" in text:
        return Denial("keys")
    return Denial("other", text)


def _refusal(command: Callable[[], object]) -> list[redis.ResponseError]:
    """The error the server replied to ``command``, if any."""
    try:
        command()
    except redis.ResponseError as error:
        return [error]
    return []


class RedisPreflight(RedisState):
    """:meth:`preflight` for a worker: permissions first, then the eviction policy."""

    def preflight(self) -> list[str]:
        """Raise :class:`StorePermissionError` naming every permission the server's ACL refuses a
        worker; return a warning when ``maxmemory-policy`` lets Redis evict jq's keys.

        A fakeredis server has neither users nor eviction: nothing is checked.
        """
        if is_fake(self._client):
            return []
        denials = self._probe_permissions()
        if denials:
            raise StorePermissionError(self._permission_message(denials))
        warning = self.eviction_warning()
        return [] if warning is None else [warning]

    def eviction_warning(self) -> str | None:
        """Why and how to change ``maxmemory-policy`` when it is not ``noeviction``; None when it
        is, or when the server does not say (CONFIG refused to an ACL user or renamed away)."""
        try:
            # On a cluster: the master that holds the broker's keys.
            reply = self._server_of(self._keys.queues).config_get("maxmemory-policy")
        except redis.ResponseError as error:  # NoPermissionError is one
            logger.debug("not checking maxmemory-policy: CONFIG GET was refused (%s)", error)
            return None
        # One pair for one parameter; redis-py's stubs say str keys and values, this client's are bytes.
        values: list[bytes | str | None] = list(reply.values())
        policy = codec.text(values[0]) if values and values[0] is not None else NO_EVICTION
        if policy == NO_EVICTION:
            return None
        return (
            f"Redis at {self._url} has maxmemory-policy {policy}: once it reaches maxmemory it "
            "deletes keys to make room, and queued jobs, job records, leases and worker records "
            "would vanish without a trace. Set maxmemory-policy noeviction (CONFIG SET "
            "maxmemory-policy noeviction, and in redis.conf) and give Redis the memory it needs"
        )

    # -- the probe ---------------------------------------------------------------------------------

    def _probe_permissions(self) -> list[Denial]:
        """Try each kind of command a worker sends; every refusal, in a stable order, once."""
        probe = f"preflight-{uuid.uuid4().hex}"
        token = uuid.uuid4().hex
        lock, wake, channel = self._keys.lock(probe), self._keys.wake(probe), self._keys.commands(probe)
        refusals = [
            # A plain write on a key of the prefix (and the key pattern).
            *_refusal(lambda: self._client.set(lock, token, nx=True, px=codec.milliseconds(_PROBE_TTL))),
            # EVALSHA (SCRIPT LOAD when the server lacks the script); the script deletes the lock.
            *_refusal(lambda: self._scripts("release_lock", [lock], [token])),
            *self._probe_transaction(lock, wake),
            # The store's clock, which leases, due times and cron ticks count by.
            *_refusal(self._client.time),
            # Sending worker commands, and receiving them.
            *_refusal(lambda: self._client.publish(channel, b"")),
            *_refusal(lambda: self._probe_subscribe(channel)),
        ]
        denials: list[Denial] = []
        for refusal in refusals:
            # A refused EXEC comes back as EXECABORT, whose text carries the NOPERM reply.
            if not (isinstance(refusal, NoPermissionError) or "NOPERM" in str(refusal)):
                raise refusal
            denial = denial_of(refusal)
            if denial not in denials:
                denials.append(denial)
        return denials

    def _probe_transaction(self, key: str, wake: str) -> list[redis.ResponseError]:
        """MULTI, EXISTS, the claim's blocking BLPOP (it does not block inside a transaction) and
        EXEC; the errors replied. On a connection of its own, closed after: a refused EXEC would
        leave a pooled connection inside a transaction, queueing every later command of its next
        user."""
        refusals: list[redis.ResponseError] = []
        pool = self._server_of(key).connection_pool
        connection: Any = pool.get_connection()  # Any: redis-py's Connection is untyped
        try:
            connection.send_command("MULTI")
            try:
                connection.read_response()
            except redis.ResponseError as error:
                refusals.append(error)
                # Outside a transaction BLPOP would block: a short wait, on this failing path only.
                commands: tuple[tuple[Arg, ...], ...] = (("BLPOP", wake, _BLOCK),)
            else:
                commands = (("EXISTS", key), ("BLPOP", wake, 0), ("EXEC",))
            for command in commands:
                connection.send_command(*command)
                try:
                    connection.read_response()
                except ExecAbortError as error:
                    if not refusals:  # else it only repeats that a queued command was refused
                        refusals.append(error)
                except redis.ResponseError as error:
                    refusals.append(error)
        finally:
            connection.disconnect()
            pool.release(connection)
        return refusals

    def _probe_subscribe(self, channel: str) -> None:
        """SUBSCRIBE to ``channel`` and wait for the server's answer (a refusal is raised)."""
        # Redis.pubsub had no annotations before redis-py 8.2: called through a typed name.
        make_pubsub: Callable[[], PubSub] = self._client.pubsub
        pubsub = make_pubsub()
        try:
            pubsub.subscribe(channel)
            deadline = time.monotonic() + _SUBSCRIBE_TIMEOUT
            while time.monotonic() < deadline:
                message = pubsub.get_message(timeout=0.1)
                if message is not None and message.get("type") == "subscribe":
                    return
        finally:
            with contextlib.suppress(redis.RedisError):
                pubsub.close()

    def _permission_message(self, denials: list[Denial]) -> str:
        user = str(connection_settings(self._connection).get("username") or "default")
        prefix = self._keys.prefix
        commands = [denial.what for denial in denials if denial.kind == "command"]
        refused: list[str] = []
        grants: list[str] = []
        if commands:
            refused.append("run " + ", ".join(name.upper() for name in commands))
            grants += [f"+{name}" for name in commands]
        if Denial("keys") in denials:
            refused.append(f"use keys matching {prefix}*")
            grants.append(f"~{prefix}*")
        if Denial("channels") in denials:
            refused.append(f"use channels matching {prefix}*")
            grants.append(f"&{prefix}*")
        refused += [f"({denial.what})" for denial in denials if denial.kind == "other"]
        grant = f"ACL SETUSER {user} {' '.join(grants)}; " if grants else ""
        return (
            f"the Redis user {user!r} at {self._url} may not {' or '.join(refused)}, which a jq "
            f"worker needs: grant it with {grant}jq's whole rule for a worker's user is "
            f"'{worker_acl_rule(user, prefix, self._cluster)}' (see docs/security.md)"
        )
