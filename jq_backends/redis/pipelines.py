"""The Redis driver's writes on a caller's pipeline: :class:`jq.broker.PipelineWrites`.

RQ lets a caller put jobs on queues inside its own transaction: ``queue.enqueue(f,
pipeline=pipe)`` writes nothing until ``pipe.execute()``. Here each write is the very script call
(or commands) the broker makes, queued on the caller's redis-py pipeline instead of sent: the
same keys and arguments, so a pipelined enqueue is exactly as atomic as a direct one, and its
refusals write nothing just the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import redis
from redis.client import Pipeline

from jq.broker import DependentsPolicy, EnqueueRequest, PipelineWrites, Place, Transition
from jq.defaults import DEFAULT_FAILURE_TTL
from jq.exceptions import ConfigurationError
from jq_backends.redis import codec

if TYPE_CHECKING:
    from jq_backends.redis.broker import RedisBroker

__all__ = ["RedisPipelineWrites", "check_pipeline"]

# What says which server and database a client talks to (fakeredis names its server by `host`).
_SERVER_KWARGS = ("host", "port", "db", "path")


def check_pipeline(pipeline: Any, clients: Sequence[redis.Redis]) -> Pipeline:
    """``pipeline`` when it is a redis-py pipeline to the server and database of ``clients``;
    a :class:`ConfigurationError` otherwise (writes sent elsewhere would be lost to this broker)."""
    if not isinstance(pipeline, Pipeline):
        raise ConfigurationError(
            f"pipeline= takes a redis-py pipeline (connection.pipeline()), not {type(pipeline).__name__}"
        )
    pool = pipeline.connection_pool
    for client in clients:
        if pool is client.connection_pool:
            return pipeline
        ours = client.connection_pool.connection_kwargs
        theirs = pool.connection_kwargs
        if all(ours.get(name) == theirs.get(name) for name in _SERVER_KWARGS):
            return pipeline
    raise ConfigurationError(
        "pipeline= must be a pipeline of a client to the queue's own Redis server and database "
        "(queue.connection.pipeline())"
    )


class RedisPipelineWrites(PipelineWrites):
    """The broker's writes, queued on one redis-py pipeline."""

    def __init__(self, broker: RedisBroker, pipeline: Pipeline) -> None:
        self._broker = broker
        self._pipeline = pipeline

    def _script(self, name: str, call: tuple[list[str], list[Any]]) -> None:
        self._broker._scripts.queue_on(self._pipeline, name, *call)

    def enqueue(self, request: EnqueueRequest) -> None:
        """``lua/enqueue.lua``, queued (never the fresh-job shortcut: it may need a second call)."""
        self._script("enqueue", self._broker._enqueue_call(request))

    def enqueue_many(self, requests: Sequence[EnqueueRequest]) -> None:
        """``lua/enqueue_many.lua``, queued."""
        if requests:
            self._script("enqueue_many", self._broker._enqueue_many_call(requests))

    def save_job(self, job_id: str, fields: Mapping[str, bytes], record_ttl: int | None = None) -> None:
        """The commands of ``save_job``, queued (atomic when the pipeline is a transaction, the
        redis-py default)."""
        self._broker._save_commands(self._pipeline, job_id, fields, record_ttl)

    def update_job(self, job_id: str, fields: Mapping[str, bytes]) -> None:
        """``lua/update_job.lua``, queued."""
        self._script("update_job", ([self._broker.job_key(job_id)], codec.pairs(fields)))

    def transition(self, change: Transition) -> None:
        """``lua/transition.lua``, queued."""
        self._script("transition", self._broker._transition_call(change))

    def registry_add(self, place: Place, job_id: str, score: float, *, only_existing: bool = False) -> None:
        """ZADD (XX with ``only_existing``), queued."""
        self._pipeline.zadd(self._broker.place_key(place), {job_id: codec.score(score)}, xx=only_existing)

    def registry_remove(self, place: Place, job_id: str) -> None:
        """ZREM, queued."""
        self._pipeline.zrem(self._broker.place_key(place), job_id)

    def registry_cleanup(self, place: Place, before: float) -> None:
        """ZREMRANGEBYSCORE -inf ``before``, queued."""
        self._pipeline.zremrangebyscore(self._broker.place_key(place), "-inf", codec.score(before))

    def delete_job(
        self,
        job_id: str,
        places: Sequence[Place] = (),
        *,
        dependents: DependentsPolicy = DependentsPolicy.NONE,
        released_fields: Mapping[str, bytes] | None = None,
        canceled_fields: Mapping[str, bytes] | None = None,
        default_failure_ttl: int = DEFAULT_FAILURE_TTL,
        now: float | None = None,
    ) -> None:
        """``lua/delete_job.lua``, queued."""
        call = self._broker._delete_call(
            job_id, places, dependents, released_fields, canceled_fields, default_failure_ttl, now
        )
        self._script("delete_job", call)
