"""Batched claims: the jobs a worker reserved to run next, and when it reserves more.

When a worker's queue is deep and its jobs are short, the claim that rides on a job's outcome
(see :class:`jq.lifecycle.NextClaim`) also reserves the next ``batch_size - 1`` jobs of that queue
(:meth:`jq.broker.Broker.claim`'s ``reserve``). A reserved job is not started: it keeps status
``queued``, is in no started registry and is no worker's current job (see
:class:`jq.broker.Reservation`). Each later claim starts the first reservation still held, riding
on the outcome of the job before it: one round trip per job, as without batching. A job pushed
onto a queue listed before the reservations' queue is claimed first, and the reservations go back
to the front of their queue in the same step, so the priority order of the worker's queues holds
at every job. Whatever ends the loop gives the reservations back at once (see
:meth:`Batch.give_back`); a worker that dies leaves them to its lease, and a worker's maintenance
puts them back (:func:`jq.core.giving_back.return_abandoned_reservations`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import replace

from jq.broker import Broker, Claimed, ClaimRequest, Reservation, WorkerUpdate
from jq.core import giving_back
from jq.exceptions import ConfigurationError

__all__ = ["SHORT_JOB_SECONDS", "Batch", "checked_batch_size"]

logger = logging.getLogger("jq.worker")

#: A worker reserves jobs only after a job that ran shorter than this: reserved jobs wait while
#: the job before them runs, and a queue of long jobs gains nothing from batches (a round trip is
#: well under a millisecond) while other workers could have run them meanwhile.
SHORT_JOB_SECONDS = 0.05


def checked_batch_size(batch_size: object) -> int:
    """``batch_size`` when it is a whole number of jobs, at least 1; else a ConfigurationError
    saying what is wrong."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigurationError(
            f"batch_size must be a whole number of jobs, at least 1 (1: one job per claim), "
            f"not {batch_size!r}"
        )
    return batch_size


class Batch:
    """The reservations of one worker, in the order it runs them, and the rule for taking more:
    up to ``size - 1`` at a time (``size`` 1: never), after a short job, never more than the jobs
    the worker may still run (``room``)."""

    def __init__(self, size: int) -> None:
        self.size = size
        #: The reservations held, in the order the worker runs them.
        self.held: list[Reservation] = []

    @property
    def enabled(self) -> bool:
        """Whether this worker reserves jobs at all."""
        return self.size > 1

    def request(self, request: ClaimRequest, *, room: int | None, last_run: float | None) -> ClaimRequest:
        """``request`` with the reservations to start (those held), or, holding none, with more
        to reserve when the last job was short and the worker may run that many more: ``room`` is
        how many jobs it may still claim after this one (None: no limit)."""
        if self.held:
            return replace(request, reserved=tuple(self.held))
        if not self.enabled or last_run is None or last_run >= SHORT_JOB_SECONDS:
            return request
        count = self.size - 1 if room is None else min(self.size - 1, room)
        if count < 1:
            return request
        return replace(request, reserve=[os.urandom(16).hex() for _ in range(count)])

    def answered(self, request: ClaimRequest, claimed: Claimed | None) -> None:
        """Take in the answer to a claim made with ``request``: the reservations started or given
        back are no longer held, and those the claim made are."""
        if not (request.reserved or request.reserve):
            return
        if claimed is None:
            self.held = []  # nothing to claim: none was held any more
        elif claimed.from_reserved:
            self.held = list(request.reserved[claimed.from_reserved :])
        else:
            self.held = list(claimed.reservations)

    def give_back(
        self, broker: Broker, name: str, claimed: Claimed | None, update: WorkerUpdate | None
    ) -> None:
        """Put ``claimed`` (a job claimed and not started, or None) and every reservation held back
        at the front of their queues, in order, in one call (see :func:`jq.core.giving_back.give_back_all`);
        a store that cannot be reached leaves them to their leases."""
        held, self.held = self.held, []
        if claimed is None and not held:
            return
        try:
            returned = giving_back.give_back_all(broker, claimed, held, update)
        except broker.transient_errors:
            logger.warning(
                "worker %s: could not give %d job(s) back to their queues: they go back when their lease "
                "runs out", name, len(held) + (claimed is not None),
            )  # fmt: skip
            return
        if returned:
            logger.info("worker %s: job(s) %s go back to their queues", name, ", ".join(returned))

    def reservations(self) -> Sequence[Reservation]:
        """The reservations held, in order (a copy)."""
        return tuple(self.held)
