"""What a worker does differently when it runs several jobs at once (mixed into
:class:`jq.worker.BaseWorker`): it checks it can, builds its loop, and says what it runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jq.broker import Broker
from jq.exceptions import ConfigurationError
from jq.worker import loop as sequential
from jq.worker.batching import Batch
from jq.worker.concurrency.engine import JobEngine
from jq.worker.concurrency.inbox import Inbox, Wake
from jq.worker.concurrency.loop import ConcurrentLoop
from jq.worker.concurrency.settings import ConcurrencyPool, ConcurrencySettings
from jq.worker.hooks import WorkerHooks
from jq.worker.loop import LoopCalls, WorkLoop
from jq.worker.registration import WorkerStatus
from jq.worker.strategies import InProcessExecution

if TYPE_CHECKING:
    from jq.core.job import Job
    from jq.worker.maintenance import Maintenance
    from jq.worker.pulse import LeasePulse
    from jq.worker.strategies import ExecutionStrategy

__all__ = ["WorkerConcurrency"]

# RQ's hooks that run one job to its end: a worker running several at once does not call them.
_ONE_AT_A_TIME_HOOKS = ("execute_job", "perform_job", "main_work_horse")


class WorkerConcurrency:
    """A worker's ``concurrency`` and ``pool`` (see :mod:`jq.worker.concurrency`)."""

    name: str
    broker: Broker
    strategy: ExecutionStrategy[Any]
    running_job: Job | None
    held_job: Job | None
    state: WorkerStatus
    current_job_id: str | None
    #: How many jobs at once, and on what (``concurrency=``, ``pool=``).
    concurrency_settings: ConcurrencySettings = ConcurrencySettings()
    # The engine running the jobs while a concurrent worker works, else None.
    _engine: JobEngine | None = None
    _running: tuple[Job, ...] = ()
    _pulse: LeasePulse | None

    if TYPE_CHECKING:

        def loop_calls(self) -> LoopCalls: ...
        @property
        def heartbeat_interval(self) -> float: ...
        def work_batch(self) -> Batch: ...

    @property
    def concurrency(self) -> int:
        """How many jobs this worker runs at once."""
        return self.concurrency_settings.concurrency

    @property
    def pool(self) -> ConcurrencyPool | None:
        """Where it runs them: ``asyncio`` or ``threads``; None: one at a time, the classic way."""
        return self.concurrency_settings.pool

    def _check_concurrency(self, settings: ConcurrencySettings) -> ConcurrencySettings:
        """``settings``, unless this worker class cannot run jobs that way (ConfigurationError,
        saying what would do)."""
        if not settings.concurrent:
            return settings
        cls = type(self).__name__
        asked = f"concurrency={settings.concurrency}, pool={str(settings.pool)!r}"
        if not isinstance(self.strategy, InProcessExecution):
            raise ConfigurationError(
                f"{cls} runs each job in a work horse process, one at a time: it cannot run jobs "
                f"concurrently ({asked}). Use SimpleWorker(queues, {asked}), whose jobs run on "
                "threads or an event loop of the worker's own process"
            )
        for hook in _ONE_AT_A_TIME_HOOKS:
            if getattr(type(self), hook, None) is not getattr(WorkerHooks, hook):
                raise ConfigurationError(
                    f"{cls} overrides {hook}(), which runs one job to its end: a worker running jobs "
                    f"concurrently ({asked}) does not call it. Override prepare_job_execution() or "
                    "handle_job_success()/handle_job_failure() instead, or run one job at a time"
                )
        return settings

    def make_work_loop(
        self,
        maintenance: Maintenance,
        *,
        burst: bool,
        max_jobs: int | None,
        max_idle_time: float | None,
    ) -> WorkLoop | ConcurrentLoop:
        """The loop ``work()`` runs: one job at a time, or several (:attr:`concurrency`)."""
        settings = self.concurrency_settings
        if not settings.concurrent:
            return WorkLoop(
                self.name,
                self.broker,
                self.heartbeat_interval,
                self.loop_calls(),
                maintenance,
                burst=burst,
                max_jobs=max_jobs,
                max_idle_time=max_idle_time,
                batch=self.work_batch(),
            )
        engine = self._engine = JobEngine(self, settings, Inbox())  # type: ignore[arg-type]
        return ConcurrentLoop(
            self,  # type: ignore[arg-type]
            self.broker,
            engine,
            maintenance,
            lambda: self._pulse,
            burst=burst,
            max_jobs=max_jobs,
            max_idle_time=max_idle_time,
            wait_slice=sequential.IDLE_WAIT_SLICE,
        )

    def _end_engine(self) -> None:
        self._engine = None

    def note_running(self, jobs: list[Job]) -> None:
        """What the worker runs now (its main thread says so at each change): its ``state`` and
        ``current_job_id`` (the oldest running job)."""
        self._running = tuple(jobs)
        self.current_job_id = jobs[0].id if jobs else None
        self.state = WorkerStatus.BUSY if jobs else WorkerStatus.IDLE

    def _nudge(self) -> None:
        """Wake a concurrent worker's main thread to look at its flags (safe in a signal handler)."""
        engine = self._engine
        if engine is not None:
            engine.inbox.put(Wake())

    def _running_fields(self) -> dict[str, bytes]:
        """The record's fields saying what a concurrent worker runs now (none for another)."""
        engine = self._engine
        return engine.table.record_fields() if engine is not None else {}

    def _leased_jobs(self) -> list[Job]:
        """The jobs whose leases the heartbeat renews: those running, and one held to run next."""
        engine = self._engine
        jobs = engine.table.running_jobs() if engine is not None else []
        jobs.extend(job for job in (self.running_job, self.held_job) if job is not None)
        return list({id(job): job for job in jobs}.values())
