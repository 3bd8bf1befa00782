"""The production broker: :class:`jq.broker.Broker` on Redis (or a fakeredis client).

Every state change is one round trip: a Lua script from ``lua/`` (see :mod:`.scripts`) for each
method the contract marks ATOMIC and that reads before it writes, one ``MULTI`` for the others, one
pipeline for the methods that take many ids. A worker's step (record one job's outcome, claim
the next, update the worker's record: :meth:`RedisBroker.finish_and_claim`) is one script too.
Key names come from :class:`jq_backends.keys.KeySpace`.

The broker is put together from one mixin per concern of the contract, all over the client and
scripts of :class:`jq_backends.redis._base.RedisState`: :mod:`.records`, :mod:`.queues` (where
the blocking claim is explained), :mod:`.registries` and :mod:`.workers`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, cast

import redis

from jq.broker import Broker, Claimed, ClaimRequest, Transition, claim_fields_now, claim_lease_now
from jq.broker.rules.keys import KeyNames
from jq.exceptions import StoreFullError, UnsupportedByBrokerError
from jq_backends.keys import KeySpace
from jq_backends.redis import codec
from jq_backends.redis.cluster import CLUSTER_SCHEMES, CLUSTER_TRANSIENT_ERRORS, broker_prefix, cluster_client
from jq_backends.redis.connection import Client, redact_url, same_server
from jq_backends.redis.control import RedisControl
from jq_backends.redis.failover import take_durability
from jq_backends.redis.groups import RedisGroups
from jq_backends.redis.monitoring import RedisMonitoring
from jq_backends.redis.options import read_url_booleans
from jq_backends.redis.pipelines import RedisPipelineWrites, check_pipeline
from jq_backends.redis.preflight import RedisPreflight
from jq_backends.redis.queues import RedisQueues
from jq_backends.redis.rate_limits import RedisRateLimits
from jq_backends.redis.records import RedisJobs
from jq_backends.redis.registries import RedisRegistries
from jq_backends.redis.scripts import Arg
from jq_backends.redis.sentinel import SENTINEL_SCHEMES, sentinel_client
from jq_backends.redis.workers import RedisWorkers

__all__ = ["RedisBroker"]


# One broker per client object and key prefix for for_client(). Values are weak: a broker holds
# its client, so a strong value would keep every client ever seen (and its broker) alive forever.
_BROKERS: weakref.WeakKeyDictionary[Client, dict[str, weakref.ref[RedisBroker]]] = weakref.WeakKeyDictionary()
_BROKERS_LOCK = threading.Lock()


class RedisBroker(
    KeyNames,
    RedisJobs,
    RedisQueues,
    RedisRegistries,
    RedisWorkers,
    RedisControl,
    RedisGroups,
    RedisRateLimits,
    RedisMonitoring,
    RedisPreflight,
    Broker,
):
    """A :class:`jq.broker.Broker` storing everything in one Redis database under ``prefix``.

    :param client: a redis-py client (a fakeredis client works too). Job data is binary, so when
        the client decodes replies (``decode_responses=True``) the broker talks through a twin
        client with the same connection settings that does not decode (its own connection pool,
        closed by :meth:`close`); :attr:`connection` is still the client given.
    :param prefix: the start of every key name; None: ``JQ_KEY_PREFIX``, else ``jq:``. On Redis
        Cluster, give a hash tag (``"{jq}:"``): several scripts touch keys of many jobs and queues,
        which must then share one slot. Brokers under different prefixes share a database without
        seeing each other's jobs, queues or workers, as long as neither prefix starts with the other.
    """

    #: A lost or refused connection, a timeout, a server still loading its data, a server
    #: out of memory (it refused a write before writing anything: trying again is safe), or a
    #: master demoted by a failover (READONLY: it wrote nothing; the next connection finds the
    #: master, see :mod:`.failover`), or a Redis Cluster moving (see :mod:`.cluster`).
    transient_errors = (
        redis.ConnectionError,
        redis.TimeoutError,
        redis.OutOfMemoryError,
        StoreFullError,
        redis.ReadOnlyError,
        *CLUSTER_TRANSIENT_ERRORS,
    )
    #: Jobs are reserved (see :meth:`reserve`).
    supports_reservations = True
    #: Redis at ``maxmemory`` under ``noeviction``: a script's refusal is a StoreFullError that says
    #: what to do, a plain command's redis-py's OutOfMemoryError.
    full_errors = (redis.OutOfMemoryError, StoreFullError)

    # The scripts' templates and the prefix need the whole KeySpace, not only the key names.
    _keys: KeySpace

    @classmethod
    def from_url(cls, url: str, *, prefix: str | None = None, **options: Any) -> RedisBroker:
        """A broker on a new client for ``redis://``, ``rediss://`` or ``unix://`` ``url``, for
        the master that the sentinels of a ``redis+sentinel://`` URL name (see :mod:`.sentinel`),
        or for the Redis Cluster of a ``redis+cluster://`` URL (see :mod:`.cluster`).

        ``options`` go to :meth:`redis.Redis.from_url` (``socket_timeout=``, ``ssl_ca_certs=``...),
        as do the URL's query arguments: TLS ones such as ``rediss://user:pw@host:6380/0?
        ssl_ca_certs=/ca.crt&ssl_certfile=/c.crt&ssl_keyfile=/c.key&ssl_cert_reqs=required``. An
        argument no connection takes is a :class:`jq.exceptions.ConfigurationError`. The broker
        owns the client: :meth:`close` closes it. :attr:`url` hides the password.

        ``wait_replicas`` and ``wait_timeout``, in the query or as keywords, are the broker's (see
        :class:`~jq_backends.redis._base.RedisState`): ``redis://host/0?wait_replicas=1``.
        """
        scheme, separator, rest = url.partition("://")
        if separator:  # redis-py only knows lower-case schemes; URL schemes are case-insensitive
            url = f"{scheme.lower()}://{rest}"
        given = url  # shown by url, with the broker's own options
        url, durability = take_durability(url, options)
        client: Client
        if scheme.lower() in CLUSTER_SCHEMES:
            client = cluster_client(url, **options)  # reads the URL's booleans itself
        else:
            single = sentinel_client(url, **options) if scheme.lower() in SENTINEL_SCHEMES else None
            client = single if single is not None else redis.Redis.from_url(url, **options)
            read_url_booleans(client)
        try:
            if durability is None:
                broker = cls(client, prefix=prefix)
            else:
                broker = cls(
                    client, prefix=prefix, wait_replicas=durability.replicas, wait_timeout=durability.timeout
                )
        except BaseException:
            client.close()
            raise
        broker._url = redact_url(given)
        broker._owns_connection = True
        return broker

    @classmethod
    def for_client(cls, client: Client, prefix: str | None = None) -> RedisBroker:
        """The broker for ``client`` under ``prefix`` (None: ``JQ_KEY_PREFIX``, else ``jq:``, or
        ``{jq}:`` for a Redis Cluster client): the same object for the same client and prefix.

        Thread-safe. The broker is kept while something (a queue, a job) still refers to it, so
        every ``Queue(connection=client)`` alive at once shares one broker and its scripts.
        """
        prefix = broker_prefix(client, prefix)
        with _BROKERS_LOCK:
            by_prefix = _BROKERS.setdefault(client, {})
            reference = by_prefix.get(prefix)
            broker = reference() if reference is not None else None
            if broker is None:
                broker = cls(client, prefix=prefix)
                by_prefix[prefix] = weakref.ref(broker)
            return broker

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._url!r}, prefix={self._keys.prefix!r})"

    # -- identity ---------------------------------------------------------------------------------

    @property
    def connection(self) -> Client:
        """The redis-py client this broker was given (the decoding one, when it decodes): a client
        of one server, or a Redis Cluster client."""
        return self._connection

    @property
    def url(self) -> str:
        """The server and database, without password (``fakeredis:///0`` for a fake server)."""
        return self._url

    @property
    def keys(self) -> KeySpace:
        """The key names this broker stores under."""
        return self._keys

    def same_store_as(self, other: Broker) -> bool:
        """Whether ``other`` is a Redis driver broker under the same key prefix whose client
        reaches the same server (or cluster) and database (see
        :func:`jq_backends.redis.connection.same_server`): django-rq, say, makes a client for each
        queue."""
        return other is self or (
            isinstance(other, RedisBroker)
            and other.keys.prefix == self._keys.prefix
            and same_server(self._connection, other.connection)
        )

    def finish_and_claim(self, change: Transition, claim: ClaimRequest) -> tuple[bool, Claimed | None]:
        """:meth:`transition` then a :meth:`claim` that never waits, in one script (one round
        trip, see ``lua/finish_and_claim.lua``)."""
        if not claim.queues:
            return self.transition(change), None
        if claim.reserved or claim.reserve:
            # A claim with reservations is made by transition_many.lua alone (lua/lib_claim.lua).
            moved, claimed = self.transition_many([change], claim)
            return moved[0], claimed
        transition_keys, transition_args = self._transition_call(change, last=False)
        claim_keys, claim_args, read_claim = self._claim_parts(claim)

        def read(reply: Any) -> tuple[bool, Claimed | None]:
            return bool(reply[0]), read_claim(reply[1:])

        outcome: tuple[bool, Claimed | None] = self._scripts(
            "finish_and_claim", transition_keys + claim_keys, transition_args + claim_args, read
        )
        return outcome

    def transition_many(
        self, changes: Sequence[Transition], claim: ClaimRequest | None = None
    ) -> tuple[list[bool], Claimed | None]:
        """Each of ``changes``, then a :meth:`claim` that never waits, in one script (one round
        trip, see ``lua/transition_many.lua``)."""
        if claim is not None and not claim.queues:
            claim = None
        if not changes:
            return [], None if claim is None else self._claim_request(claim)
        keys: list[str] = []
        args: list[Arg] = [len(changes), codec.flag(claim is not None)]
        for change in changes:
            change_keys, change_args = self._transition_call(change, last=False)
            keys += change_keys
            args += change_args
        if claim is None:
            reply = self._scripts("transition_many", keys, args)
            return [bool(moved) for moved in reply[0]], None
        claim_keys, claim_args, read_claim = self._claim_parts(claim)

        def read(reply: Any) -> tuple[list[bool], Claimed | None]:
            return [bool(moved) for moved in reply[0]], read_claim(reply[1:])

        outcome: tuple[list[bool], Claimed | None] = self._scripts(
            "transition_many", keys + claim_keys, args + claim_args, read
        )
        return outcome

    def _claim_parts(
        self, claim: ClaimRequest
    ) -> tuple[list[str], list[Arg], Callable[[Sequence[Any]], Claimed | None]]:
        """A claim that rides on another call: its KEYS, its ARGV, and how to read its part of
        the reply (the items after the call's own; none when every queue was empty)."""
        lease = codec.score(claim_lease_now(claim.lease_until))
        fields = claim_fields_now(claim.fields)
        keys, args = self._claim_call(
            claim.queues, fields, lease, claim.worker, claim.reserved, claim.reserve
        )
        self._skipped_queues = set()
        # Read with this attempt's fields: a repeat after a transient error gets this reply. (Not
        # through self: a call in doubt keeps its reader, which must not keep the broker alive.)
        me = weakref.ref(self)
        queues, reserve = claim.queues, claim.reserve

        def read(items: Sequence[Any]) -> Claimed | None:
            broker = me()
            return None if broker is None or not items else broker._claimed(queues, fields, items, reserve)

        return keys, args, read

    def pipeline_writes(self, pipeline: Any) -> RedisPipelineWrites:
        """Writes queued on ``pipeline``, a redis-py pipeline to this broker's server and
        database (see :mod:`.pipelines`). Not on Redis Cluster, nor under ``wait_replicas``."""
        if self._waits:
            durability = self._scripts.durability
            assert durability is not None
            raise UnsupportedByBrokerError(
                f"pipeline= cannot be used by a broker that waits for replicas (wait_replicas="
                f"{durability.replicas}): the writes would be sent when your code executes the "
                "pipeline, on a connection jq does not hold, and a WAIT only counts the writes made "
                "before it on its own connection, so jq could not make them wait. Leave pipeline= "
                "out (each enqueue, save and move is then one call that waits), put many jobs in one "
                "step with enqueue_many(), or use a broker without wait_replicas for this code"
            )
        if self._cluster:
            raise UnsupportedByBrokerError(
                "pipeline= is not supported on Redis Cluster: leave it out (each enqueue, save, move "
                "and delete is one atomic step already), or use enqueue_many() to put many jobs in "
                "one step"
            )
        given = cast("redis.Redis", self._connection)  # not a cluster client (above)
        clients = [given] if self._twin is None else [given, self._client]
        return RedisPipelineWrites(self, check_pipeline(pipeline, clients))

    def ping(self) -> None:
        """Send PING; raises :class:`redis.ConnectionError` when the server does not answer."""
        self._client.ping()

    def now(self) -> float:
        """The server's clock (``TIME``), read once a minute and followed in between with this
        process's monotonic clock (see :class:`jq.broker.clock.StoreClock`): no round trip per
        call, and this machine's own clock plays no part."""
        return self._clock()

    def close(self) -> None:
        """Close the clients this broker created (from :meth:`from_url`, or the binary twin), and
        give back the connection its scripts hold."""
        self._scripts.close()
        if self._twin is not None:
            self._twin.close()
            # The twin was given its pool (a clone of the user's), which Redis.close() leaves
            # open: its sockets would stay open until the garbage collector finds them. (A
            # cluster client has a pool per node, which its close() disconnects.)
            pool = getattr(self._twin, "connection_pool", None)
            if pool is not None:
                pool.disconnect()
        if self._owns_connection:
            self._connection.close()
