"""The moments between two jobs: a job claimed ahead, a kill that comes while a job is being
handed to its work horse, two threads renewing one record, the working time of a dead horse.

Each of these was a gap found by an audit; every test here failed before its fix. Work horses
need a store shared across processes: the private redis-server (or, for the in-process worker,
every driver).
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from jq import Queue, SimpleWorker, Worker
from jq.worker import reused_horse as horse_module
from jq.worker.commands import CommandListener
from jq.worker.horse import ForkPerJobExecution
from jq.worker.reused_horse import ReusedHorseExecution
from tests import fixtures

each_horse = pytest.mark.parametrize("fork_per_job", [False, True], ids=["reused-horse", "fork-per-job"])


@pytest.fixture
def queue(redis_client):
    """The default queue on the private redis-server."""
    return Queue(connection=redis_client)


def lease_of(queue: Queue, job_id: str) -> float | None:
    """The lease deadline of a started job (its score in the started registry)."""
    return queue.broker.registry_score(queue.started_job_registry.place, job_id)


class TestJobsClaimedAhead:
    """A SimpleWorker claims its next job with the previous job's outcome (one round trip)."""

    def test_the_next_job_gets_a_lease_counted_from_its_claim(self, queue, redis_client):
        """The next claim is prepared before the current job runs; a lease computed then had
        run out when a job ran longer than worker_ttl, and maintenance ended the next job as
        abandoned before it ran."""
        slow = queue.enqueue(fixtures.sleep_for, 1.6)
        after = queue.enqueue(fixtures.record_run, "runs")
        worker = SimpleWorker([queue], worker_ttl=1, job_monitoring_interval=0.2, maintenance_interval=0.1)
        worker.work(burst=True, logging_level="WARNING")
        assert slow.get_status() == "finished"
        assert after.get_status() == "finished", after.exc_info
        assert redis_client.lrange("runs", 0, -1) == [after.id.encode()]

    def test_a_job_held_to_run_next_has_its_lease_renewed(self, queue):
        """Between its claim and its start (maintenance, a suspension check...) the heartbeat
        renews a held job's lease as it renews the running job's."""
        job = queue.enqueue(fixtures.add, 1, 2)
        worker = SimpleWorker([queue], name="holder", worker_ttl=10)
        worker.registration.register_birth()
        held = worker.dequeue(wait=None)
        assert held is not None and held.id == job.id
        claimed_lease = lease_of(queue, job.id)
        assert claimed_lease is not None
        worker.worker_ttl = 1000
        worker.renew()
        assert lease_of(queue, job.id) == claimed_lease, "a job neither running nor held is not renewed"
        worker.held_job = held
        worker.renew()
        renewed = lease_of(queue, job.id)
        assert renewed is not None and renewed > claimed_lease + 900
        worker.registration.register_death()


class ExecutionHook:
    """Calls ``before`` once, with the worker and job, as the first thing of ``execute``."""

    def __init__(self, before, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.before = before

    def execute(self, worker, job, next_claim=None):
        """Run the hook (once), then the strategy."""
        before, self.before = self.before, None
        if before is not None:
            before(worker, job)
        return super().execute(worker, job, next_claim)


class HookedReused(ExecutionHook, ReusedHorseExecution):
    """A reused horse whose next job meets the hook first."""


class HookedFork(ExecutionHook, ForkPerJobExecution):
    """A horse per job, whose next job meets the hook first."""


def hooked_worker(queue: Queue, fork_per_job: bool, before) -> Worker:
    """A Worker whose first job meets ``before(worker, job)`` just before its horse gets it."""

    class HookedWorker(Worker):
        def make_strategy(self):
            strategy = HookedFork if fork_per_job else HookedReused
            return strategy(before, self.death_penalty_grace)

    return HookedWorker([queue], name="hooked")


def stop_job_command(worker: Worker, job_id: str) -> None:
    """Deliver a stop-job command as the worker's listener would, now, in this thread."""
    listener = CommandListener(worker.broker, worker.name, worker.handle_payload)
    listener.handle(json.dumps({"command": "stop-job", "job_id": job_id}).encode())


@each_horse
class TestKillsBeforeTheHorseHasTheJob:
    """A kill is never lost because the job had not reached its horse yet, and a killed job never
    runs again in another horse."""

    def test_a_stop_job_command_that_came_first_stops_the_job(self, queue, fork_per_job):
        job = queue.enqueue(fixtures.sleep_for, 30)
        after = queue.enqueue(fixtures.add, 1, 2)
        worker = hooked_worker(queue, fork_per_job, lambda worker, job: stop_job_command(worker, job.id))
        started = time.monotonic()
        worker.work(burst=True, logging_level="WARNING")
        assert time.monotonic() - started < 20, "the job ran to its end"
        assert job.get_status() == "stopped"
        assert "stop-job command" in job.exc_info
        assert after.result == 3

    def test_a_cold_shutdown_that_came_first_kills_the_job(self, queue, fork_per_job):
        job = queue.enqueue(fixtures.sleep_for, 30)
        after = queue.enqueue(fixtures.add, 1, 2)
        worker = hooked_worker(queue, fork_per_job, lambda worker, job: worker.request_force_stop())
        started = time.monotonic()
        worker.work(burst=True, logging_level="WARNING")
        assert time.monotonic() - started < 20, "the job ran to its end"
        assert job.get_status() == "failed"
        assert "cold shutdown" in job.exc_info
        assert after.get_status() == "queued"


def test_a_horse_killed_while_it_is_handed_a_job_does_not_run_it_elsewhere(queue, monkeypatch):
    """A stop-job that kills the reused horse just as the job is written to it: the write fails
    (the horse is gone); the job is recorded stopped, not handed to a fresh horse and run."""
    job = queue.enqueue(fixtures.sleep_for, 30)
    real_write = horse_module._write_frame
    calls = []

    def write_after_a_kill(fd: int, payload: bytes) -> None:
        if not calls:
            calls.append(fd)
            stop_job_command(worker, job.id)
            pid = worker.strategy.horse_pid
            assert pid is not None
            # Until the horse is gone, so that the write surely finds no reader.
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        real_write(fd, payload)

    monkeypatch.setattr(horse_module, "_write_frame", write_after_a_kill)
    worker = Worker([queue], name="handing", reuse_horse=True)
    started = time.monotonic()
    worker.work(burst=True, logging_level="WARNING")
    assert calls, "the hook did not run"
    assert time.monotonic() - started < 20, "the job ran in another horse"
    assert job.get_status() == "stopped"
    assert "stop-job command" in job.exc_info


def test_two_threads_renewing_an_expired_record_do_not_collide(broker):
    """The heartbeat thread and the loop both renew the worker's record; when it had expired,
    both used to register it again, and the second failed as a duplicate of its own worker."""
    worker = SimpleWorker([Queue(connection=broker)], name="racer", worker_ttl=5)
    worker.registration.register_birth()
    broker.unregister_worker("racer")  # expired during an outage
    real = broker.heartbeat_worker
    guard = threading.Lock()
    inside: list[int] = []  # threads in heartbeat_worker now
    most_inside = [0]
    other_came = threading.Event()

    def slow_heartbeat(*args, **kwargs):
        with guard:
            inside.append(1)
            most_inside[0] = max(most_inside[0], len(inside))
            first = len(inside) == 1
        if first:
            # Wait (a bounded while) for the other thread to come in too: it must not.
            other_came.wait(0.5)
        else:
            other_came.set()
        try:
            return real(*args, **kwargs)
        finally:
            with guard:
                inside.pop()

    broker.heartbeat_worker = slow_heartbeat
    errors: list[BaseException] = []

    def beat() -> None:
        try:
            worker.registration.heartbeat()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert most_inside == [1]
    assert broker.worker_names() == ["racer"]


@each_horse
def test_working_time_counts_a_job_whose_horse_died(queue, fork_per_job):
    """The worker records a dead horse's job itself: its time counts too."""
    queue.enqueue(fixtures.sleep_then_kill_own_horse, 0.5)
    # Runs after the first job's failure was recorded, and reads the worker's record.
    probe = queue.enqueue(fixtures.worker_record_field, "total_working_time")
    Worker([queue], fork_per_job=fork_per_job).work(burst=True, logging_level="WARNING")
    assert float(probe.result) >= 0.5
