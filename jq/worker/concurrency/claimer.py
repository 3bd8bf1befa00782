"""Claiming jobs for a concurrent worker's free slots, on a thread of its own.

A claim that waits for a job blocks: on the main thread it would hold back the outcomes of the
jobs running meanwhile (or the main thread would have to poll the store). So the main thread
asks this thread for a claim (:meth:`Claimer.request`: how many jobs at most, how long to wait)
and goes on; the claimed jobs come back through its inbox as :class:`~jq.worker.concurrency.inbox.Claims`,
as they are claimed (the thread claims again at once while the request wants more and the queues
have them). One request is in flight at a time. Every claim goes through :func:`claim_batch`,
which claims as many jobs as there are free slots in one call when the queues have them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from jq.base.threads import start_background_thread
from jq.broker import Broker, Claimed, ClaimRequest, WorkerUpdate
from jq.worker.concurrency.inbox import Claims, Inbox

__all__ = ["ClaimOrder", "Claimer", "claim_batch"]

logger = logging.getLogger("jq.worker")


def claim_batch(
    broker: Broker, request: ClaimRequest, count: int, wait: float | None, list_field: str = ""
) -> list[Claimed]:
    """Claim up to ``count`` jobs with ``request``, waiting up to ``wait`` seconds for the first
    (None: not at all); those claimed, in queue order (none: every queue was empty).

    Several jobs are claimed in one call (:meth:`jq.broker.Broker.claim_many`), each started at
    once under an execution id of its own: the worker has a free slot for each and runs them all
    now. ``list_field``: the field of the worker's record that lists what it runs (the ids
    claimed are added to it). A claim that may wait takes one job: it waits because the queues
    were empty, and the caller claims the rest at once after it.
    """
    if count > 1 and not wait:
        executions = [os.urandom(16).hex() for _ in range(count)]
        return broker.claim_many(request, executions, list_field=list_field)
    claimed = broker.claim(
        request.queues, request.fields, request.lease_until, wait=wait, worker=request.worker
    )
    return [] if claimed is None else [claimed]


@dataclass(frozen=True)
class ClaimOrder:
    """One request: claim up to ``count`` jobs with ``request``, waiting up to ``wait`` seconds.
    ``running()`` gives the ids the worker runs, and ``running_field`` is the field of the
    worker's record each claim writes them to (with those claimed so far for this order)."""

    request: ClaimRequest
    count: int
    wait: float | None
    running: Callable[[], list[str]] | None = None
    running_field: str = ""

    def for_claim(self, claimed_so_far: list[str]) -> ClaimRequest:
        """The request of the next claim, its worker update saying what runs at that moment."""
        worker = self.request.worker
        if worker is None or self.running is None:
            return self.request
        ids = list(dict.fromkeys([*self.running(), *claimed_so_far]))
        fields = {**worker.fields, self.running_field: ",".join(ids).encode()}
        return replace(self.request, worker=WorkerUpdate(worker.name, fields, worker.increments))


class Claimer:
    """The claiming thread of worker ``name`` (see the module)."""

    def __init__(self, name: str, broker: Broker, inbox: Inbox) -> None:
        self.name, self.broker, self.inbox = name, broker, inbox
        self._order: ClaimOrder | None = None
        self._ready = threading.Condition()
        self._closed = False
        self._halted = False
        self._busy = False
        self._thread: threading.Thread | None = None

    @property
    def busy(self) -> bool:
        """Whether a request is in flight (its :class:`Claims` has not been handled yet)."""
        return self._busy

    def start(self) -> None:
        """Start the thread."""
        self._thread = start_background_thread(self._serve, f"jq-claim-{self.name}")

    def request(self, order: ClaimOrder) -> None:
        """Claim as ``order`` says; the result comes back as :class:`Claims` (main thread)."""
        assert not self._busy, "one claim at a time"
        self._busy, self._halted = True, False
        with self._ready:
            self._order = order
            self._ready.notify()

    def settled(self) -> None:
        """The main thread has handled the last result of the request in flight."""
        self._busy = False

    def halt(self) -> None:
        """Claim no more for the request in flight (its claim under way still comes back)."""
        self._halted = True

    def close(self, timeout: float) -> None:
        """End the thread once its claim in flight (if any) returned, waiting up to ``timeout``
        seconds for it; its result still comes back through the inbox."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the thread still runs (a claim in flight outlived :meth:`close`)."""
        return self._thread is not None and self._thread.is_alive()

    def _serve(self) -> None:
        while True:
            with self._ready:
                while self._order is None and not self._closed:
                    self._ready.wait()
                order, self._order = self._order, None
                if order is None:
                    return
            self._carry_out(order)

    def _carry_out(self, order: ClaimOrder) -> None:
        """Claim until the order has its jobs, the queues are empty, or the main thread halts it;
        each claim's jobs go to the main thread at once."""
        remaining, wait = order.count, order.wait
        so_far: list[str] = []
        while True:
            try:
                claimed = claim_batch(
                    self.broker, order.for_claim(so_far), remaining, wait, order.running_field
                )
            except self.broker.transient_errors as error:
                self.inbox.put(Claims([], error))
                return
            except Exception as error:
                # Not the store being away: a bug, or bad data. Said, and tried again later.
                logger.exception("worker %s: a claim failed", self.name)
                self.inbox.put(Claims([], error))
                return
            remaining, wait = remaining - len(claimed), None
            so_far.extend(item.job_id for item in claimed)
            last = not claimed or remaining <= 0 or self._halted or self._closed
            self.inbox.put(Claims(claimed, last=last))
            if last:
                return
