"""The broker conformance suite: every documented behaviour of :class:`jq.broker.Broker`.

A driver proves itself by running it against a ``broker`` fixture that yields a fresh, empty
broker of that driver::

    import pytest
    from jq.testing.broker_suite import BrokerContractTests

    @pytest.fixture
    def broker():
        instance = MyBroker(...)
        yield instance
        instance.close()

    class TestMyBroker(BrokerContractTests):
        pass

The suite measures real time only through record and worker TTLs of one second, waiting for them
with a bounded poll; a full run takes a few seconds per driver.
"""

from __future__ import annotations

from jq.testing.contract.batches import EnqueueBatchContract
from jq.testing.contract.cancellation import (
    CancellationContract,
    DependentsListContract,
    FailedParentContract,
)
from jq.testing.contract.claim_many import ClaimManyContract
from jq.testing.contract.concurrency import BlockingClaimContract, ConcurrencyContract
from jq.testing.contract.control import ControlContract, LockContract
from jq.testing.contract.enqueue_rules import (
    EndedDependencyContract,
    EnqueueRefusalContract,
    ReplacementContract,
)
from jq.testing.contract.groups import GroupContract
from jq.testing.contract.history import HistoryContract
from jq.testing.contract.queues import ClaimContract, EnqueueContract, QueueContract
from jq.testing.contract.rate_limits import RateLimitAdmissionContract, RateLimitReleaseContract
from jq.testing.contract.records import JobRecordContract, KeyLayoutContract
from jq.testing.contract.reservations import ReservationContract, TransitionManyContract
from jq.testing.contract.settling import (
    DeleteSettlesDependentsContract,
    OrphansContract,
    ScheduledReleaseContract,
)
from jq.testing.contract.transitions import (
    DependentsContract,
    RegistryContract,
    ResultsLifetimeContract,
    SchedulingContract,
    TransitionContract,
)
from jq.testing.contract.worker_updates import FinishAndClaimContract, WorkerUpdateContract
from jq.testing.contract.workers import WorkerContract

__all__ = [
    "BlockingClaimContract",
    "BrokerContractTests",
    "CancellationContract",
    "ClaimContract",
    "ClaimManyContract",
    "ConcurrencyContract",
    "ControlContract",
    "DeleteSettlesDependentsContract",
    "DependentsContract",
    "DependentsListContract",
    "EndedDependencyContract",
    "EnqueueBatchContract",
    "EnqueueContract",
    "EnqueueRefusalContract",
    "FailedParentContract",
    "FinishAndClaimContract",
    "GroupContract",
    "HistoryContract",
    "JobRecordContract",
    "KeyLayoutContract",
    "LockContract",
    "OrphansContract",
    "QueueContract",
    "RateLimitAdmissionContract",
    "RateLimitReleaseContract",
    "RegistryContract",
    "ReplacementContract",
    "ReservationContract",
    "ResultsLifetimeContract",
    "ScheduledReleaseContract",
    "SchedulingContract",
    "TransitionContract",
    "TransitionManyContract",
    "WorkerContract",
    "WorkerUpdateContract",
]


class BrokerContractTests(
    KeyLayoutContract,
    JobRecordContract,
    EnqueueContract,
    EnqueueRefusalContract,
    EnqueueBatchContract,
    ReplacementContract,
    EndedDependencyContract,
    ClaimContract,
    ClaimManyContract,
    QueueContract,
    RegistryContract,
    TransitionContract,
    ResultsLifetimeContract,
    DependentsContract,
    FailedParentContract,
    CancellationContract,
    DependentsListContract,
    ScheduledReleaseContract,
    DeleteSettlesDependentsContract,
    OrphansContract,
    SchedulingContract,
    WorkerContract,
    WorkerUpdateContract,
    FinishAndClaimContract,
    ReservationContract,
    TransitionManyContract,
    BlockingClaimContract,
    ConcurrencyContract,
    ControlContract,
    LockContract,
    GroupContract,
    RateLimitAdmissionContract,
    RateLimitReleaseContract,
    HistoryContract,
):
    """Every contract test of :mod:`jq.broker`; subclass it as ``Test...`` with a ``broker`` fixture."""
