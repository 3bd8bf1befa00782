"""The main thread of a worker that runs several jobs at once.

It is the only thread that handles signals, and it starts every job. It waits on its
:class:`~jq.worker.concurrency.inbox.Inbox` for the claims its claiming thread makes for free
slots (several jobs in one call when the queues have them) and for the slots the jobs' threads
give back once they recorded their outcomes (grouped: see :mod:`jq.worker.concurrency.commits`),
each with the job claimed for it in the same write, if any, which it starts in that slot at once;
between messages it runs the worker's chores (maintenance,
suspension, deadlines). A warm shutdown stops the claims and lets the running jobs finish; a cold
one stops them (see :mod:`jq.worker.concurrency.engine`). A job claimed but not started (it came
back as the worker was told to stop) goes back to the front of its queue at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from jq.broker import Broker, Claimed, ClaimRequest, WorkerUpdate
from jq.core import giving_back
from jq.core.outage import Backoff, describe_outage
from jq.worker.concurrency.claimer import Claimer, ClaimOrder
from jq.worker.concurrency.engine import COLD_SHUTDOWN_WINDOW, JobEngine
from jq.worker.concurrency.inbox import Call, Claims, SlotEnded
from jq.worker.concurrency.slots import RUNNING_JOBS
from jq.worker.registration import WorkerStatus
from jq.worker.strategies import KillReason

if TYPE_CHECKING:
    from jq.core.job import Job
    from jq.worker.concurrency.inbox import Message
    from jq.worker.maintenance import Maintenance
    from jq.worker.pulse import LeasePulse

__all__ = ["ConcurrentLoop", "LoopHost"]

logger = logging.getLogger("jq.worker")

# How often the loop looks at the worker's flags at least, and whether workers are suspended.
_TICK = 1.0
# The pulse process (see jq.worker.pulse) is told the running leases at most this often.
_PULSE_EVERY = 1.0


class LoopHost(Protocol):
    """What the loop uses of its worker (its methods, so a subclass's overrides are called)."""

    name: str
    stop_requested: bool
    cold_shutdown: bool

    def claim_request(self) -> ClaimRequest: ...
    def job_from_claim(self, claimed: Claimed) -> Job | None: ...
    def procline(self, message: str) -> None: ...
    def queue_names(self) -> list[str]: ...
    def set_state(self, state: WorkerStatus) -> None: ...
    def note_running(self, jobs: list[Job]) -> None: ...


class ConcurrentLoop:
    """Runs a worker's jobs concurrently until a reason to stop (see the module); ``burst``,
    ``max_jobs`` and ``max_idle_time`` mean what they mean for a worker running one job at a time
    (``max_jobs``: at most that many jobs are started)."""

    def __init__(
        self,
        host: LoopHost,
        broker: Broker,
        engine: JobEngine,
        maintenance: Maintenance,
        pulse: Callable[[], LeasePulse | None],
        *,
        burst: bool,
        max_jobs: int | None,
        max_idle_time: float | None,
        wait_slice: float,
    ) -> None:
        self.host, self.broker, self.engine, self.maintenance = host, broker, engine, maintenance
        self.inbox = engine.inbox
        self.pulse = pulse
        self.burst, self.max_jobs, self.max_idle_time = burst, max_jobs, max_idle_time
        self.wait_slice = wait_slice
        self.claimer = Claimer(host.name, broker, self.inbox)
        #: How many jobs were started.
        self.started = 0
        self._backoff = Backoff()
        self._claim_after = 0.0  # no claim before this (time.monotonic()): the store was away
        self._want_claim = True  # burst: whether a claim may find something new
        self._last_claim_empty = False
        self._idle_since = time.monotonic()
        self._next_suspension_check = 0.0
        self._suspended = False
        self._cold_since: float | None = None
        self._pulse_sent: tuple[tuple[str, str, str], ...] = ()
        self._pulse_at = 0.0

    # -- the loop ---------------------------------------------------------------------------------

    def run(self) -> int:
        """Loop until told to stop and the running jobs have ended; how many jobs were started.
        An exception a job's run raised to end the worker (KeyboardInterrupt, SystemExit) is
        raised again then."""
        self.inbox.bind()
        self.engine.start()
        self.claimer.start()
        try:
            while self._turn():
                pass
        finally:
            self._finish()
        if self.engine.fatal is not None:
            raise self.engine.fatal
        return self.started

    def _turn(self) -> bool:
        """One wait for messages and the chores around it; False when the worker should stop."""
        now = time.monotonic()
        waits = [_TICK]
        if self._cold(now, waits):
            return False
        try:
            suspended = self._check_suspended(now)
            waits.append(self.maintenance.tick())
        except self.broker.transient_errors as error:
            self._outage(error)
            suspended = self._suspended
        if not len(self.engine.table) and not self.claimer.busy:
            if self._stopping(suspended):
                return False
            if self.burst and not self._want_claim:
                return False  # every queue was empty after the last job ended
        due = self.engine.check_deadlines()
        if due is not None:
            waits.append(due)
        if self._idle_too_long(now, waits):
            return False
        self._claim(now, suspended, waits)
        self._allow_ride(now, suspended)
        waits.append(self._tell_pulse(now))
        self._handle(self.inbox.get(max(min(waits), 0.0)))
        while (message := self.inbox.get(0)) is not None:
            self._handle(message)
        return True

    def _stopping(self, suspended: bool) -> bool:
        """Whether no new job may start: a stop was asked, a job ended the worker, the most jobs
        were started, or a suspended burst worker."""
        host = self.host
        return (
            host.stop_requested
            or self.engine.fatal is not None
            or (self.max_jobs is not None and self.started >= self.max_jobs)
            or (suspended and self.burst)
        )

    def _cold(self, now: float, waits: list[float]) -> bool:
        """A cold shutdown: stop the jobs, give them a moment to end by themselves, then record
        the rest as ended by it; True once the worker may exit."""
        if not self.host.cold_shutdown:
            return False
        if self._cold_since is None:
            self._cold_since = now
            self.engine.stop_all(KillReason.COLD_SHUTDOWN)
        left = self._cold_since + COLD_SHUTDOWN_WINDOW - now
        if len(self.engine.table) and left > 0:
            waits.append(left)
            return False
        self.engine.end_unreported(KillReason.COLD_SHUTDOWN)
        return not self.claimer.busy or left <= -self.wait_slice

    def _idle_too_long(self, now: float, waits: list[float]) -> bool:
        if self.max_idle_time is None or self.burst:
            return False
        if len(self.engine.table):
            self._idle_since = now
            return False
        left = self._idle_since + self.max_idle_time - now
        if left <= 0:
            logger.info("worker %s: idle for %ss, stopping", self.host.name, self.max_idle_time)
            return True
        waits.append(left)
        return False

    # -- claims -----------------------------------------------------------------------------------

    def _claim(self, now: float, suspended: bool, waits: list[float]) -> None:
        """Ask the claiming thread for jobs when slots are free and nothing forbids it."""
        if self.claimer.busy or self._stopping(suspended) or suspended or self.engine.free <= 0:
            return
        if now < self._claim_after:
            waits.append(self._claim_after - now)
            return
        if self.burst and not self._want_claim:
            return
        count = self.engine.free
        if self.max_jobs is not None:
            count = min(count, self.max_jobs - self.started)
        wait: float | None = None
        if not self.burst and self._last_claim_empty:
            wait = self.wait_slice
            if self.max_idle_time is not None and not len(self.engine.table):
                wait = min(wait, max(self.max_idle_time - (now - self._idle_since), 0.0))
        table = self.engine.table
        self.claimer.request(
            ClaimOrder(
                self.host.claim_request(),
                count,
                wait,
                running=lambda: [job.id for job in table.running_jobs()],
                running_field=RUNNING_JOBS,
            )
        )

    def _allow_ride(self, now: float, suspended: bool) -> None:
        """The claim that may ride on a job's outcome (see :mod:`jq.worker.concurrency.commits`),
        or None: not while no job may start, nor while the store is given a rest after an outage,
        nor under ``max_jobs`` (the claiming thread counts those). Made here, on the main thread
        (the worker's queue order is this thread's), and read by the threads writing outcomes;
        a ride already under way when this changes comes back as any claim does, and is given
        back if no job may start then."""
        allowed = not (
            self._stopping(suspended)
            or suspended
            or self.host.cold_shutdown
            or self.max_jobs is not None
            or now < self._claim_after
        )
        # Its fields and lease are functions, called at the claim: made now, it is not stale then.
        self.engine.ride = self.host.claim_request() if allowed else None

    def _claims(self, claims: Claims) -> None:
        if claims.last:
            self.claimer.settled()
        if claims.error is not None:
            if isinstance(claims.error, self.broker.transient_errors):
                self._outage(claims.error)
            else:
                self._claim_after = time.monotonic() + self._backoff.next_delay()
            return
        if self._backoff.failures:
            logger.warning("worker %s: the store answers again", self.host.name)
            self._backoff.reset()
        self._last_claim_empty = not claims.claimed
        if not claims.claimed:
            self._want_claim = False
            return
        self._start(claims.claimed)

    def _start(self, claimed_jobs: list[Claimed]) -> None:
        """Start jobs claimed for free slots (give them back when no job may start now)."""
        for claimed in claimed_jobs:
            if self.host.stop_requested or self.engine.fatal is not None or self.host.cold_shutdown:
                self.claimer.halt()
                self._give_back(claimed)
                continue
            job = self.host.job_from_claim(claimed)
            if job is None:
                continue  # unreadable: failed, recorded
            self.engine.run(job)
            self.started += 1
        self._changed()

    def _give_back(self, claimed: Claimed) -> None:
        """A job claimed but not started goes back to the front of its queue (see
        :func:`jq.core.giving_back.give_back_claim`)."""
        update = WorkerUpdate(self.host.name, self.engine.table.record_fields())
        try:
            if giving_back.give_back_claim(claimed, self.broker, update):
                logger.info(
                    "worker %s: job %s goes back to queue %s", self.host.name, claimed.job_id, claimed.queue
                )
        except self.broker.transient_errors:
            # Its lease runs out and maintenance requeues or ends it: it is not lost either way.
            logger.warning(
                "worker %s: could not give job %s back to its queue", self.host.name, claimed.job_id
            )

    # -- messages ---------------------------------------------------------------------------------

    def _handle(self, message: Message | None) -> None:
        if isinstance(message, Call):
            message.run()
        elif isinstance(message, Claims):
            self._claims(message)
        elif isinstance(message, SlotEnded):
            claimed = self.engine.ended(message)
            # A job that ended may have released others (its dependents): look again.
            self._want_claim = True
            if claimed is not None:
                self._start([claimed])  # claimed with the outcome: it takes the slot at once
            else:
                self._changed()

    def _changed(self) -> None:
        """What runs changed: say so in the process title and on the worker object."""
        jobs = self.engine.table.running_jobs()
        self.host.note_running(jobs)
        if not len(self.engine.table):
            self._idle_since = time.monotonic()
            self.host.procline(f"idle on {','.join(self.host.queue_names())}")
        else:
            self.host.procline(f"busy with {len(self.engine.table)} job(s) of {self.engine.limit}")

    @property
    def processed(self) -> int:
        """How many jobs were started (a loop running one job at a time says how many it ran)."""
        return self.started

    def _tell_pulse(self, now: float) -> float:
        """Tell the pulse process the leases to renew when they changed (at most every
        :data:`_PULSE_EVERY` seconds: a lease claimed since lasts far longer); seconds until the
        next look."""
        pulse = self.pulse()
        if pulse is None:
            return _TICK
        leases = tuple(
            (job.origin, job.id, job.execution_id or "") for job in self.engine.table.running_jobs()
        )
        if leases == self._pulse_sent:
            return _TICK
        left = self._pulse_at + _PULSE_EVERY - now
        if left > 0:
            return left
        pulse.running(leases)
        self._pulse_sent, self._pulse_at = leases, now
        return _TICK

    # -- suspension and outages --------------------------------------------------------------------

    def _check_suspended(self, now: float) -> bool:
        """Whether workers are suspended (asked at most once a second)."""
        if now < self._next_suspension_check:
            return self._suspended
        self._next_suspension_check = now + _TICK
        suspended = self.broker.is_suspended()
        if suspended != self._suspended:
            state = WorkerStatus.SUSPENDED if suspended else WorkerStatus.IDLE
            if not len(self.engine.table):
                self.host.set_state(state)
            logger.info("worker %s: %s", self.host.name, "suspended" if suspended else "resumed")
            if suspended and self.burst:
                logger.info("worker %s: workers are suspended; a burst worker stops", self.host.name)
            self._suspended = suspended
        return suspended

    def _outage(self, error: BaseException) -> None:
        """The store did not answer: say so once, and claim nothing for a while."""
        delay = self._backoff.next_delay()
        if self._backoff.failures == 1:
            logger.warning(
                "worker %s: %s; waiting for it (trying again every %.0f s at most)",
                self.host.name, describe_outage(self.broker, error), self._backoff.cap,
            )  # fmt: skip
        self._claim_after = time.monotonic() + delay
        self._next_suspension_check = self._claim_after

    # -- the end ----------------------------------------------------------------------------------

    def _finish(self) -> None:
        """The worker stops: claims in flight come back and go back to their queues, the pools end,
        the pulse renews nothing more."""
        self.engine.ride = None
        self.claimer.close(timeout=self.wait_slice + 5.0)
        while (message := self.inbox.get(0)) is not None:
            if isinstance(message, Claims):
                for claimed in message.claimed:
                    self._give_back(claimed)
            elif isinstance(message, Call):
                message.run()
            elif isinstance(message, SlotEnded):
                ride = self.engine.ended(message)
                if ride is not None:
                    self._give_back(ride)
        self.engine.close()
        # A job claimed with the outcome of a job whose thread had not returned (a cold
        # shutdown) was never started: it goes back too.
        for slot in self.engine.table.snapshot:
            ride, slot.next_claim = slot.next_claim, None
            if ride is not None:
                self._give_back(ride)
        pulse = self.pulse()
        if pulse is not None:
            pulse.running([])
        self.host.note_running([])
