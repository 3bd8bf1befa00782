"""A producer and a worker kept going through a disruption of the store (a failover), and what
became of every job: what the failover tests count and report.

The producer enqueues jobs with ids of its own (``job-00042``), paced, and after a transient
error sends the same enqueue again until it is acknowledged, as an application that must not
lose a job would: the driver's request identities make the repeat apply once. Each job appends
its id and the time to a file when it runs, so runs are counted outside the store, whatever the
store lost. At the end:

* **lost**: acknowledged to the producer, never ran, and not waiting anywhere;
* **ran twice**: a run counted more than once;
* **outcome lost**: ran, but the store does not say ``finished`` (its outcome was written to a
  master whose write the failover dropped: the job was then retried or failed as abandoned);
* **resume**: seconds from the disruption to the first run of a job acknowledged once the new
  master was in place (``disrupt()`` returns when that was), and the longest pause between two
  runs.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jq import Queue
from jq.job import Job
from jq.testing.helpers import wait_for
from tests import fixtures

#: How long the producer keeps sending one enqueue again before the run fails.
ENQUEUE_PATIENCE = 60.0


@dataclass
class FailoverReport:
    """What became of the jobs of one run."""

    acknowledged: int
    ran: int
    lost: list[str]
    ran_twice: list[str]
    outcome_lost: list[str]
    producer_retries: int
    promoted_seconds: float
    resume_seconds: float
    longest_pause: float
    #: When the disruption began and when the new master took writes (``time.time()``).
    disrupted_at: float
    promoted_at: float
    #: When each job was acknowledged, and when each run was.
    acknowledged_at: dict[str, float]
    runs: list[tuple[str, float]]

    def beyond(self, start: float, end: float) -> list[str]:
        """The jobs lost, run twice or whose outcome was lost that cannot be blamed on the writes
        made between ``start`` and ``end``: lost jobs acknowledged outside that window, and jobs
        whose first run (the claim that the failover dropped) was outside it."""
        first_run: dict[str, float] = {}
        for job_id, at in self.runs:
            first_run.setdefault(job_id, at)
        lost = [job_id for job_id in self.lost if not start <= self.acknowledged_at[job_id] <= end]
        again = [
            job_id
            for job_id in {*self.ran_twice, *self.outcome_lost}
            if not start <= first_run[job_id] <= end
        ]
        return sorted({*lost, *again})

    def summary(self) -> str:
        """One line for the test's output."""
        return (
            f"{self.acknowledged} jobs acknowledged, {self.ran} ran; lost {len(self.lost)}, "
            f"ran twice {len(self.ran_twice)}, outcome lost {len(self.outcome_lost)}; "
            f"{self.producer_retries} enqueue retries; new master in place {self.promoted_seconds:.2f} s "
            f"and work resumed on it {self.resume_seconds:.2f} s after the disruption; longest pause "
            f"between runs {self.longest_pause:.2f} s"
        )


@dataclass(eq=False)
class Producer(threading.Thread):
    """Enqueues ``count`` jobs at about ``rate`` a second, each until it is acknowledged."""

    queue: Queue
    runs: Path
    count: int
    rate: float
    transient: tuple[type[BaseException], ...]
    acknowledged: dict[str, float] = field(default_factory=dict)
    retries: int = 0
    failure: BaseException | None = None

    def __post_init__(self) -> None:
        threading.Thread.__init__(self, name="producer", daemon=True)

    def run(self) -> None:
        """Enqueue every job (the thread's body)."""
        try:
            start = time.monotonic()
            for index in range(self.count):
                job_id = f"job-{index:05d}"
                self._enqueue(job_id)
                self.acknowledged[job_id] = time.time()
                pause = start + (index + 1) / self.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
        except BaseException as error:  # reported by the test
            self.failure = error

    def _enqueue(self, job_id: str) -> None:
        deadline = time.monotonic() + ENQUEUE_PATIENCE
        while True:
            try:
                self.queue.enqueue(fixtures.note_run_at, str(self.runs), job_id, job_id=job_id)
                return
            except self.transient:
                if time.monotonic() > deadline:
                    raise
                self.retries += 1
                time.sleep(0.05)


def read_runs(path: Path) -> list[tuple[str, float]]:
    """The runs a job file holds: (job id, when it ran)."""
    if not path.exists():
        return []
    runs = []
    for line in path.read_text().splitlines():
        job_id, _, at = line.partition(" ")
        runs.append((job_id, float(at)))
    return runs


def run_through(
    queue: Queue,
    runs: Path,
    disrupt: Callable[[], float],
    *,
    count: int = 120,
    rate: float = 15.0,
    disrupt_after: int = 40,
    settle: float = 45.0,
) -> FailoverReport:
    """Produce ``count`` jobs on ``queue`` (a worker is running on it, and keeps up with ``rate``:
    a backlog would hide when work resumed), call ``disrupt()`` once
    ``disrupt_after`` are acknowledged (it returns the ``time.time()`` from which the new master
    took writes), and count what became of them; ``settle`` bounds the wait for the last jobs to
    run (a lost job never does)."""
    producer = Producer(queue, runs, count, rate, queue.broker.transient_errors)
    producer.start()
    assert wait_for(lambda: len(producer.acknowledged) >= disrupt_after or not producer.is_alive(), 60)
    disrupted_at = time.time()
    promoted_at = disrupt()
    producer.join(timeout=count / rate + ENQUEUE_PATIENCE + 30)
    assert not producer.is_alive(), "the producer never finished"
    if producer.failure is not None:
        raise AssertionError(f"the producer gave up: {producer.failure!r}") from producer.failure
    acknowledged = producer.acknowledged

    def all_ran() -> bool:
        if set(acknowledged) <= {job_id for job_id, _ in read_runs(runs)}:
            return True
        # Some never ran: over once nothing waits or runs any more (the producer is done).
        return queue.count == 0 and queue.started_job_registry.count == 0

    wait_for(all_ran, settle, interval=0.2)
    # Outcomes: jobs whose finish was dropped are ended by maintenance once their lease ran out.
    ran_ids = {job_id for job_id, _ in read_runs(runs)}

    def outcomes_settled() -> bool:
        return all(_status(queue, job_id) in ("finished", "failed", None) for job_id in ran_ids)

    wait_for(outcomes_settled, settle, interval=0.2)
    return _report(queue, producer, runs, disrupted_at, promoted_at)


def _status(queue: Queue, job_id: str) -> str | None:
    try:
        job = Job.fetch(job_id, connection=queue.broker)
    except Exception:
        return None
    status = job.get_status(refresh=False)
    return None if status is None else str(status.value)


def _report(
    queue: Queue, producer: Producer, runs_path: Path, disrupted_at: float, promoted_at: float
) -> FailoverReport:
    acknowledged = producer.acknowledged
    runs = read_runs(runs_path)
    counts = collections.Counter(job_id for job_id, _ in runs)
    lost = sorted(set(acknowledged) - set(counts))
    ran_twice = sorted(job_id for job_id, number in counts.items() if number > 1)
    outcome_lost = sorted(job_id for job_id in counts if _status(queue, job_id) != "finished")
    after = [at for job_id, at in runs if acknowledged.get(job_id, 0) > promoted_at]
    resume = (min(after) - disrupted_at) if after else float("inf")
    times = sorted(at for _, at in runs)
    pauses = [later - earlier for earlier, later in itertools.pairwise(times)]
    return FailoverReport(
        acknowledged=len(acknowledged),
        ran=len(counts),
        lost=lost,
        ran_twice=ran_twice,
        outcome_lost=outcome_lost,
        producer_retries=producer.retries,
        promoted_seconds=promoted_at - disrupted_at,
        resume_seconds=resume,
        longest_pause=max(pauses, default=0.0),
        disrupted_at=disrupted_at,
        promoted_at=promoted_at,
        acknowledged_at=dict(acknowledged),
        runs=runs,
    )
