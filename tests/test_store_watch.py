"""Maintenance ends abandoned jobs only once the store has answered the heartbeat steadily."""

from __future__ import annotations

import time

from jq import Queue
from jq.job import JobStatus
from jq.testing.helpers import wait_for
from jq.worker.maintenance import Maintenance
from jq.worker.store_watch import StoreWatch
from tests import fixtures


def test_expired_leases_wait_until_the_store_has_answered_for_the_grace() -> None:
    queue = Queue(connection="memory://")
    job = queue.enqueue(fixtures.add, 1, 1)
    # Claimed with a lease that has already run out, as after a pause of the whole store.
    assert queue.broker.claim([queue.name], {"execution": b"e"}, time.time() - 1) is not None
    watch = StoreWatch(slow=0.05)
    maintenance = Maintenance("w", queue.broker, [queue], 1.0, store_watch=watch, lease_grace=0.5)
    watch.calling()
    watch.failed()  # a heartbeat failed: the owner could not renew either
    maintenance.clean_registries()
    assert job.get_status(refresh=True) == JobStatus.STARTED
    watch.calling()
    watch.answered()  # the store answers again: the owners get a full grace to renew
    maintenance.clean_registries()
    assert job.get_status(refresh=True) == JobStatus.STARTED
    assert 0 < watch.quiet_for(0.5) <= 0.5
    assert wait_for(lambda: watch.quiet_for(0.5) == 0, timeout=5)
    maintenance.clean_registries()
    assert job.get_status(refresh=True) == JobStatus.FAILED, "no renewal came: abandoned"


def test_a_hanging_beat_counts_as_the_store_not_answering() -> None:
    watch = StoreWatch(slow=0.05)
    assert watch.quiet_for(1.0) == 0
    watch.calling()
    assert wait_for(lambda: watch.quiet_for(1.0) == 1.0, timeout=5)
