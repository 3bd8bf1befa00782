"""Jobs for the batching tests (tests/test_worker_batching.py): importable by worker processes."""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from jq import Queue, get_current_job
from jq.broker import Place, PlaceKind
from jq.worker import Worker


def _client() -> Any:
    job = get_current_job()
    assert job is not None
    return job.connection


#: A hash: how many jobs of its queue were reserved as each noted job ran, by tag.
RESERVED_AT = "reserved-at"


def note(key: str, tag: str) -> str:
    """Append ``tag`` to the list ``key`` (the order jobs ran in), and note how many jobs of its
    queue were reserved meanwhile (in :data:`RESERVED_AT`)."""
    job = get_current_job()
    assert job is not None
    reserved = job.broker.registry_count(Place(PlaceKind.RESERVED, job.origin))
    _client().rpush(key, tag)
    _client().hset(RESERVED_AT, tag, reserved)
    return tag


def observe(key: str) -> None:
    """Append to ``key`` what a reader sees while this job runs: the queue's started registry,
    the statuses of its reserved jobs, and every worker's current job."""
    job = get_current_job()
    assert job is not None
    broker = job.broker
    reserved = broker.registry_ids(Place(PlaceKind.RESERVED, job.origin))
    seen = {
        "me": job.id,
        "started": Queue(job.origin, connection=job.connection).started_job_registry.get_job_ids(),
        "reserved": reserved,
        "reserved_statuses": [
            job.fetch(job_id, connection=job.connection).get_status().value for job_id in reserved
        ],
        "current": [worker.get_current_job_id() for worker in Worker.all(connection=job.connection)],
    }
    _client().rpush(key, json.dumps(seen))


def push_to(key: str, tag: str, queue: str, pushed_tag: str) -> int:
    """Note ``tag``, then enqueue a job noting ``pushed_tag`` onto ``queue``; how many jobs of this
    job's queue were reserved as it ran."""
    note(key, tag)
    Queue(queue, connection=_client()).enqueue(note, key, pushed_tag)
    job = get_current_job()
    assert job is not None
    return job.broker.registry_count(Place(PlaceKind.RESERVED, job.origin))


def interrupt(key: str, tag: str) -> None:
    """Note ``tag``, then raise KeyboardInterrupt (as Ctrl-C in a worker's terminal would)."""
    note(key, tag)
    raise KeyboardInterrupt


def exit_in_callback(job: Any, connection: Any, result: Any) -> None:
    """A success callback that ends the process."""
    sys.exit(3)


def signal_own_process(key: str, tag: str, times: int = 1) -> str:
    """Note ``tag``, then send SIGTERM to this process ``times`` times (a warm, or cold, shutdown)."""
    note(key, tag)
    for _ in range(times):
        os.kill(os.getpid(), signal.SIGTERM)
    return tag


def suspend_workers(key: str, tag: str) -> str:
    """Note ``tag``, then suspend every worker of the store."""
    note(key, tag)
    job = get_current_job()
    assert job is not None
    job.broker.suspend()
    return tag


def block(key: str, tag: str, release_key: str) -> str:
    """Note ``tag``, then wait (up to a minute) for an item on ``release_key``."""
    note(key, tag)
    _client().blpop([release_key], timeout=60)
    return tag


def exit_now(key: str, tag: str) -> None:
    """Note ``tag``, then raise SystemExit (``sys.exit()`` in a job)."""
    note(key, tag)
    sys.exit(3)
