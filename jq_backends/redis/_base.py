"""The Redis driver's shared state: the client, its scripts, the key names and the URL.

:class:`RedisState` is what every concern's mixin (:mod:`.records`, :mod:`.queues`,
:mod:`.registries`, :mod:`.workers`) works through; it holds no data itself, Redis does.
"""

from __future__ import annotations

import redis

from jq.broker import PlaceKind
from jq_backends.fields import PENDING_STATUSES, PLACE_OF_STATUS
from jq_backends.keys import DEFAULT_PREFIX, KeySpace
from jq_backends.redis.connection import (
    binary_twin,
    client_url,
    decodes_responses,
    is_fake,
    socket_timeout,
)
from jq_backends.redis.scripts import Arg, ScriptRunner

__all__ = ["RedisState"]


class RedisState:
    """A binary client on one Redis database, the scripts loaded on it, and the key names.

    :param client: a redis-py client (a fakeredis client works too); see
        :class:`jq_backends.redis.RedisBroker`.
    :param prefix: the start of every key name (:class:`jq_backends.keys.KeySpace`).
    """

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._connection = client
        self._keys = KeySpace(prefix)
        self._twin = binary_twin(client) if decodes_responses(client) else None
        self._client: redis.Redis = self._twin if self._twin is not None else client
        self._owns_connection = False
        self._scripts = ScriptRunner(self._client)
        self._url = client_url(client)
        self._socket_timeout = socket_timeout(self._client)
        # A fakeredis server lives in this process: a forked work horse would see a copy.
        self.shares_across_processes = not is_fake(client)
        keys = self._keys
        self._job_template = keys.template("job")
        self._job_data_templates: list[Arg] = [
            keys.template("job"),
            keys.template("results"),
            keys.template("dependents"),
            keys.template("dependencies"),
        ]
        # transition.lua: a dependent's data keys, then its origin's queue, wake key, deferred and
        # canceled registries.
        self._dependent_templates: list[Arg] = [
            *self._job_data_templates,
            keys.template("queue"),
            keys.template("wake"),
            keys.template(PlaceKind.DEFERRED.value),
            keys.template(PlaceKind.CANCELED.value),
        ]
        # enqueue.lua: what it needs to take a replaced job out of its old place and old
        # dependencies, to walk sets of unmet dependencies, and which statuses are pending.
        places: list[Arg] = [len(PLACE_OF_STATUS)]
        for status, kind in PLACE_OF_STATUS.items():
            if kind is PlaceKind.QUEUE:
                places += [status, "queue", keys.template("queue")]
            else:
                places += [status, "registry", keys.template(kind.value)]
        self._enqueue_templates: list[Arg] = [
            keys.template("dependencies"),
            keys.template("dependents"),
            keys.template("queue"),
            keys.template("wake"),
            *places,
            len(PENDING_STATUSES),
            *sorted(PENDING_STATUSES),
        ]

    def _hgetall_many(self, keys: list[str]) -> list[dict[bytes, bytes]]:
        """HGETALL of each key in one pipeline (not a transaction), in the order given."""
        if not keys:
            return []
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            pipe.hgetall(key)
        return list(pipe.execute())
