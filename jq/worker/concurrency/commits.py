"""Group commit: the outcomes of a concurrent worker's jobs that are ready at the same moment are
written in one call (:meth:`jq.broker.Broker.transition_many`).

Each job records its outcome on the thread that concluded it (its callbacks run after it, there).
The store write of the outcome, one :class:`~jq.broker.Transition`, is handed to the worker's
:class:`GroupCommit`: when no write is in flight, the thread makes it at once, alone; while one
is, the transitions that arrive wait, and the next of them to have arrived writes all that have
queued up meanwhile in one call. Nothing ever waits on a timer to collect more: a write goes out
as soon as the one before it returned, with whatever is there. Each transition is made or refused
on its own (a refused one, a stale execution, does not stop the others), and each thread gets
its own answer. A batch that the store refuses as a whole for a reason other than an outage (a
key of the wrong type for one of its jobs) is written again one transition per call, so that one
job's problem is that job's alone.

The job a slot runs next rides on the write of its outcome: a write that carries the outcome of a
job's own run (not one recorded on its behalf) also claims one job, when the worker allows
(``ride``), in the same round trip (:meth:`jq.broker.Broker.transition_many`'s ``claim``). The job
claimed is left on the slot (:attr:`~jq.worker.concurrency.slots.Slot.next_claim`), and the main
thread starts it in that slot the moment it frees it. Without this, a slot would wait, after its
job's outcome, for the main thread to hear of it, ask the claiming thread for a job and hear back:
two more thread hand-offs and one more round trip per job, the largest part of a slot's turnaround
beside a short I/O-bound job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jq.broker import Broker, Claimed, ClaimRequest, Transition
from jq.core.outage import retry_transient

if TYPE_CHECKING:
    from jq.worker.concurrency.slots import Slot

__all__ = ["GroupCommit"]

logger = logging.getLogger("jq.worker")


@dataclass(eq=False)
class _Write:
    """One transition waiting to be written, and its answer."""

    change: Transition
    #: The slot whose job's own run made this write (None: recorded on its behalf): the job
    #: claimed with the write, if any, runs in it next.
    slot: Slot | None = None
    done: threading.Event = field(default_factory=threading.Event)
    #: This thread writes the next batch (it was first to wait when the last write returned).
    leads: bool = False
    moved: bool = False
    error: BaseException | None = None


class GroupCommit:
    """Writes the outcomes of one worker's jobs (see the module). ``adjust`` is given each batch
    before it is written, and returns the transitions to write (the worker brings the record's
    fields saying what still runs up to date); ``patience`` is how long a batch is tried again
    while the store is away (the worker's ``outage_patience``); ``ride`` gives the claim to make
    with a batch that holds a job's own outcome, or None when no job may be claimed now (see the
    module)."""

    def __init__(
        self,
        broker: Broker,
        adjust: Callable[[list[Transition]], list[Transition]] | None = None,
        patience: float = 0.0,
        ride: Callable[[], ClaimRequest | None] | None = None,
    ) -> None:
        self.broker, self.adjust, self.patience, self.ride = broker, adjust, patience, ride
        self._lock = threading.Lock()
        self._queued: list[_Write] = []
        self._writing = False
        #: How many calls wrote outcomes, and how many outcomes they wrote (for tests and logs).
        self.calls = 0
        self.written = 0
        #: How many jobs were claimed riding on outcomes.
        self.rode = 0

    def write(self, change: Transition, slot: Slot | None = None) -> bool:
        """Write ``change`` (alone, or with the others ready now); whether it was made. Raises
        what its write raised. ``slot``: the slot whose job's own run made ``change`` (a job
        may be claimed for it with the write, see the module)."""
        (answer,) = self.write_many([(change, slot)])
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def write_many(self, changes: Sequence[tuple[Transition, Slot | None]]) -> list[bool | BaseException]:
        """Write each ``(change, slot)`` as :meth:`write` does, all in the same call (with the
        others ready now): whether each was made, or what its write raised."""
        items = [_Write(change, slot) for change, slot in changes]
        if not items:
            return []
        with self._lock:
            self._queued.extend(items)
            leads = not self._writing
            self._writing = True
        # Queued together, the items go in the same batch: the first one hears first.
        first = items[0]
        if not leads:
            first.done.wait()
            if first.leads:
                self._lead()
        else:
            self._lead()
        for item in items:
            item.done.wait()
        return [item.error if item.error is not None else item.moved for item in items]

    def _lead(self) -> None:
        """Write every transition queued now, then hand the lead to the first that came since
        (or give it up)."""
        with self._lock:
            batch, self._queued = self._queued, []
        try:
            self._commit(batch)
        except BaseException as error:  # a KeyboardInterrupt in the call: every writer hears of it
            for item in batch:
                item.error = item.error or error
            raise
        finally:
            with self._lock:
                if self._queued:
                    following = self._queued[0]
                    following.leads = True
                    following.done.set()
                else:
                    self._writing = False
            for item in batch:
                item.done.set()

    def _commit(self, batch: list[_Write]) -> None:
        changes = [item.change for item in batch]
        if self.adjust is not None:
            changes = self.adjust(changes)
        # One claim per call at most: the first slot of the batch that has none yet gets it (a
        # job's outcome may take more than one write: a refused move is tried again).
        rider = next((i.slot for i in batch if i.slot is not None and i.slot.next_claim is None), None)
        claim = self.ride() if rider is not None and self.ride is not None else None
        try:
            moved, claimed = self._call(changes, claim)
        except self.broker.transient_errors as error:
            for item in batch:
                item.error = error
            return
        except Exception as error:
            if len(batch) == 1:
                batch[0].error = error
                return
            logger.warning(
                "%d outcomes written in one call failed (%s): writing each alone", len(batch), error
            )
            for item, change in zip(batch, changes, strict=True):
                try:
                    item.moved = self._call([change])[0][0]
                except Exception as alone:
                    item.error = alone
            return
        if claimed is not None and rider is not None:
            rider.next_claim = claimed
            self.rode += 1
        for item, made in zip(batch, moved, strict=True):
            item.moved = made

    def _call(
        self, changes: Sequence[Transition], claim: ClaimRequest | None = None
    ) -> tuple[list[bool], Claimed | None]:
        """One call for ``changes`` (and ``claim``), tried again while the store is away (on this
        thread: a call left in doubt is answered by its repeat, not made twice). The claim goes
        with the first attempt only: a repeat must not claim a second job (one claimed by a call
        left in doubt is requeued when its lease runs out, as after any claim lost that way)."""
        broker = self.broker
        pending = [claim]

        def call() -> tuple[list[bool], Claimed | None]:
            ride, pending[0] = pending[0], None
            if ride is not None:
                return broker.transition_many(changes, ride)
            if len(changes) == 1:
                return [broker.transition(changes[0])], None
            return broker.transition_many(changes)[0], None

        moved = retry_transient(
            broker, call, patience=self.patience, what=f"record {len(changes)} outcome(s)"
        )
        self.calls += 1
        self.written += len(changes)
        return moved
