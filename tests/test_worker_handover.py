"""The moments between two jobs, and around them: two threads renewing one record.

Each of these was a gap found by an audit; every test here failed before its fix.
"""

from __future__ import annotations

import threading

from jq import Queue, SimpleWorker


def test_two_threads_renewing_an_expired_record_do_not_collide(broker):
    """The heartbeat thread and the loop both renew the worker's record; when it had expired,
    both used to register it again, and the second failed as a duplicate of its own worker."""
    worker = SimpleWorker([Queue(connection=broker)], name="racer", worker_ttl=5)
    worker.registration.register_birth()
    broker.unregister_worker("racer")  # expired during an outage
    real = broker.heartbeat_worker
    guard = threading.Lock()
    inside: list[int] = []  # threads in heartbeat_worker now
    most_inside = [0]
    other_came = threading.Event()

    def slow_heartbeat(*args, **kwargs):
        with guard:
            inside.append(1)
            most_inside[0] = max(most_inside[0], len(inside))
            first = len(inside) == 1
        if first:
            # Wait (a bounded while) for the other thread to come in too: it must not.
            other_came.wait(0.5)
        else:
            other_came.set()
        try:
            return real(*args, **kwargs)
        finally:
            with guard:
                inside.pop()

    broker.heartbeat_worker = slow_heartbeat
    errors: list[BaseException] = []

    def beat() -> None:
        try:
            worker.registration.heartbeat()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert most_inside == [1]
    assert broker.worker_names() == ["racer"]
