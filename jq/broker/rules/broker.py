"""The :class:`StoreBroker`: every method of :class:`jq.broker.Broker` on a
:class:`~jq.broker.store.Store`, one concern per mixin (see :mod:`jq.broker.rules`)."""

from __future__ import annotations

from collections.abc import Sequence

from jq.broker.base import Broker, check_plain_claim, with_listed
from jq.broker.rules.claims import StoreClaims, take
from jq.broker.rules.control import StoreControl
from jq.broker.rules.enqueue import StoreEnqueue
from jq.broker.rules.groups import StoreGroups
from jq.broker.rules.history import StoreHistory
from jq.broker.rules.keys import KeyNames, KeyNaming
from jq.broker.rules.rate_limits import StoreRateLimits
from jq.broker.rules.records import StoreJobs
from jq.broker.rules.transitions import StoreRegistries, transition_in
from jq.broker.rules.workers import StoreWorkers, apply_update, check_updates
from jq.broker.store import Store
from jq.broker.types import EXECUTION, Claimed, ClaimRequest, Transition, claim_fields_now, claim_lease_now

__all__ = ["StoreBroker"]


class StoreBroker(
    KeyNames,
    StoreJobs,
    StoreEnqueue,
    StoreClaims,
    StoreRegistries,
    StoreWorkers,
    StoreControl,
    StoreGroups,
    StoreRateLimits,
    StoreHistory,
    Broker,
):
    """A complete :class:`~jq.broker.Broker` over ``store``: jq's rules, written once.

    :param store: where everything is kept; each call that changes state is one
        :meth:`~jq.broker.store.Store.atomic` block of it.
    :param keys: names the keys this broker reports (``job.key``...) and its workers' command
        channels; jq's drivers pass a :class:`jq_backends.keys.KeySpace`.

    It stores groups, enforces rate limits and keeps the history of outcomes. ``shares_across_processes`` and
    ``transient_errors`` are the store's. A driver whose store can do a composite step faster in
    one call of its own overrides that method; the conformance suite holds both to one result.
    """

    #: Jobs are reserved (see :meth:`reserve`), on every store.
    supports_reservations = True

    def __init__(self, store: Store, keys: KeyNaming) -> None:
        super().__init__(store, keys)
        self.shares_across_processes = store.shares_across_processes
        self.transient_errors = store.transient_errors

    # -- identity ---------------------------------------------------------------------------------

    @property
    def connection(self) -> StoreBroker:
        """The broker itself: a store has no client that RQ code could use."""
        return self

    @property
    def url(self) -> str:
        """The store's URL."""
        return self.store.url

    def ping(self) -> None:
        """Check that the store answers."""
        self.store.ping()

    def now(self) -> float:
        """The store's clock (:meth:`jq.broker.store.Store.now`)."""
        return self.store.now()

    def close(self) -> None:
        """Release what the store opened."""
        self.store.close()

    # -- the worker's round trip ------------------------------------------------------------------

    def finish_and_claim(self, change: Transition, claim: ClaimRequest) -> tuple[bool, Claimed | None]:
        """:meth:`transition` then a :meth:`claim` that never waits, in one atomic block.

        Both worker updates are checked before anything is written, as the Redis driver does.
        """
        moved, claimed = self.transition_many([change], claim)
        return moved[0], claimed

    def claim_many(
        self, claim: ClaimRequest, execution_ids: Sequence[str], *, list_field: str = ""
    ) -> list[Claimed]:
        """Up to ``len(execution_ids)`` claims that never wait, in one atomic block; the worker
        update applied once, with the last job claimed."""
        check_plain_claim(claim)
        if not execution_ids:
            return []
        fields, lease = claim_fields_now(claim.fields), claim_lease_now(claim.lease_until)
        with self.store.atomic() as tx:
            check_updates(tx, [claim.worker])
            now = self.store.now()
            claimed: list[Claimed] = []
            for execution in execution_ids:
                one = take(tx, claim.queues, {**fields, EXECUTION: execution.encode()}, lease, now=now)
                if one is None:
                    break
                claimed.append(one)
            worker = claim.worker
            if worker is not None and claimed:
                if list_field:
                    worker = with_listed(worker, list_field, [item.job_id for item in claimed[:-1]])
                apply_update(tx, worker, current_job=claimed[-1].job_id)
            return claimed

    def transition_many(
        self, changes: Sequence[Transition], claim: ClaimRequest | None = None
    ) -> tuple[list[bool], Claimed | None]:
        """Each of ``changes`` as :meth:`transition` makes it, then a :meth:`claim` that never
        waits, in one atomic block; every worker update is checked before anything is written."""
        if claim is None:
            with self.store.atomic() as tx:
                check_updates(tx, [change.worker for change in changes])
                now = self.store.now()
                return [transition_in(tx, change, now) for change in changes], None
        fields, lease = claim_fields_now(claim.fields), claim_lease_now(claim.lease_until)
        with self.store.atomic() as tx:
            check_updates(tx, [*(change.worker for change in changes), claim.worker])
            now = self.store.now()
            moved = [transition_in(tx, change, now) for change in changes]
            claimed = take(
                tx, claim.queues, fields, lease, claim.worker, claim.reserved, claim.reserve, now=now
            )
            return moved, claimed
