"""Workers on a real Redis Cluster: the in-process worker tests of ``tests/test_worker.py`` and
``tests/test_worker_control.py``, and the scheduling, retry, dependency and cron tests of
``tests/test_scheduling.py`` and ``tests/test_cron.py``, run again with their ``broker`` on the
session's cluster. (Worker processes on a cluster: ``tests/test_redis_cluster.py``.)
"""

from __future__ import annotations

import pytest

from jq_backends.redis import RedisBroker
from tests.test_cron import TestFiring  # noqa: F401 - collected here again, on the cluster
from tests.test_scheduling import (  # noqa: F401 - collected here again, on the cluster
    TestCallbacks,
    TestDelayedJobs,
    TestDependencies,
    TestRetries,
    TestUniqueJobs,
    TestWorkerScheduling,
    failed_hook,
)
from tests.test_worker import (  # noqa: F401 - collected here again, on the cluster
    TestCallbacksAndRetry,
    TestCustomClasses,
    TestDecorator,
    TestExceptionHandlers,
    TestRunning,
    TestTimeouts,
    TestWorkerRecords,
    _clear_seen,
)
from tests.test_worker_control import (  # noqa: F401 - collected here again, on the cluster
    TestCommands,
    TestCommandsToWorkHorses,
    TestSuspension,
    TestSuspensionOfAJobClaimedAhead,
    test_a_job_claimed_after_a_wait_starts_after_it_was_enqueued,
    test_a_stale_execution_cannot_overwrite_a_newer_one,
)
from tests.test_worker_control import TestWorkerRecords as TestWorkerRecordsOfCommands  # noqa: F401

pytestmark = [pytest.mark.cluster]


@pytest.fixture
def broker(cluster_broker: RedisBroker) -> RedisBroker:
    """The tests' broker of every driver, here on the session's cluster."""
    return cluster_broker
