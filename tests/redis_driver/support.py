"""What the Redis driver's tests share: names, requests, transitions and a store snapshot."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import redis

from jq.broker import EnqueueRequest, Move, Place, PlaceKind, RecordEdit, Target, ToRegistry, Transition
from jq_backends.keys import KeySpace
from jq_backends.redis import RedisBroker

Q = "default"
KEYS = KeySpace()


def started(queue: str = Q) -> Place:
    return Place(PlaceKind.STARTED, queue)


def registry(kind: PlaceKind, queue: str = Q) -> Place:
    return Place(kind, queue)


STARTED = started()


def request(job_id: str, queue: str = Q, **kwargs: Any) -> EnqueueRequest:
    """An enqueue request whose record names its origin, as the core's records do."""
    fields = {"data": b"call:" + job_id.encode(), "origin": queue.encode(), **kwargs.pop("fields", {})}
    return EnqueueRequest(job_id, queue, fields, **kwargs)


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def stored_keys(client: redis.Redis) -> list[bytes]:
    """Every key but the request keys (``jq:request:<session>``), which hold the reply to each
    caller's last script call, refusals included (see jq_backends.redis.requests)."""
    requests = KeySpace().request("").encode()
    return [key for key in client.keys("*") if not key.startswith(requests)]


def snapshot(client: redis.Redis) -> dict[Any, Any]:
    """Every key (but the request keys) with its type, content and whether it expires: to check
    that nothing was written."""
    state: dict[Any, Any] = {}
    for key in stored_keys(client):
        kind = client.type(key)
        if kind == b"hash":
            value: Any = client.hgetall(key)
        elif kind == b"list":
            value = client.lrange(key, 0, -1)
        elif kind == b"set":
            value = client.smembers(key)
        elif kind == b"zset":
            value = client.zrange(key, 0, -1, withscores=True)
        else:
            value = client.get(key)
        state[key] = (kind, value, client.pttl(key) > 0)
    return state


def start(rb: RedisBroker, job_id: str, execution: bytes = b"e1", queue: str = Q) -> None:
    rb.enqueue(request(job_id, queue=queue))
    assert rb.claim_job(job_id, queue, {"execution": execution}, 100.0) is not None


#: Where :func:`finish` puts a job unless told: the finished registry, kept forever.
FINISHED_FOREVER = ToRegistry(registry(PlaceKind.FINISHED), math.inf)


def finish(
    job_id: str,
    *,
    source: Place | None = STARTED,
    target: Target | None = FINISHED_FOREVER,
    edit: RecordEdit = RecordEdit({"status": b"finished"}),
    **parts: Any,
) -> Transition:
    """A job's move out of the started registry (by default into the finished one, with status
    finished), with the other ``parts`` of a Transition (result=, settlement=, worker=...)."""
    return Transition(job_id, Move(source, target), edit, **parts)


def data_keys(job_id: str) -> tuple[str, ...]:
    return (KEYS.job(job_id), KEYS.results(job_id), KEYS.dependents(job_id), KEYS.dependencies(job_id))


def expiring(client: redis.Redis, job_id: str) -> list[bool]:
    return [client.pttl(key) > 0 for key in data_keys(job_id)]
