"""Workers as real processes on a real redis-server: signals, dead horses, crashes, exactly-once.

Rows S-24, S-25 and S-34, and issue 3's runtime guarantees, for a reused work horse and a horse
per job (and SimpleWorker where it applies). Every wait is a bounded wait for a condition; the
only fixed delay is the short gap between two signals, which is the scenario itself.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from jq import Queue, Retry, Worker
from jq.job import Job
from jq.testing.helpers import wait_for
from tests import fixtures
from tests.processes import (
    HORSE_MODES,
    WORKER_MODES,
    is_alive,
    read_pid,
    read_stderr_until,
    start_worker,
    stop,
)

#: Every test of this mark runs with a reused horse and with a horse per job.
each_horse = pytest.mark.parametrize("fork_per_job", [False, True], ids=HORSE_MODES)
#: Every test of this mark runs with each worker mode (a config for start_worker).
each_mode = pytest.mark.parametrize("mode", list(WORKER_MODES))
each_horse_mode = pytest.mark.parametrize("mode", HORSE_MODES)


@pytest.fixture
def queue(redis_client):
    """The default queue on the private redis-server."""
    return Queue(connection=redis_client)


def wait_until_started(marker) -> int:
    """Wait until a job wrote its runner's pid to ``marker``; that pid."""
    assert wait_for(lambda: read_pid(marker) is not None, timeout=30), "the job never started"
    pid = read_pid(marker)
    assert pid is not None
    return pid


@each_horse
class TestHorseDeaths:
    """A horse that dies any way fails its job, saying how; the worker takes the next job."""

    def test_segfault(self, queue, fork_per_job):
        crashed = queue.enqueue(fixtures.segfault)
        after = queue.enqueue(fixtures.add, 1, 1)
        Worker([queue], fork_per_job=fork_per_job).work(burst=True)
        assert crashed.is_failed
        assert "killed by signal 11 (SIGSEGV)" in crashed.exc_info
        assert after.result == 2

    def test_exit_with_a_code(self, queue, fork_per_job):
        job = queue.enqueue(fixtures.exit_process, 3)
        Worker([queue], fork_per_job=fork_per_job).work(burst=True)
        assert "exited with code 3 before recording an outcome" in job.exc_info

    def test_a_dead_horse_is_retried_under_its_retry_policy(self, queue, fork_per_job):
        job = queue.enqueue(fixtures.kill_own_horse, retry=Retry(max=1))
        Worker([queue], fork_per_job=fork_per_job).work(burst=True, max_jobs=1)
        assert job.get_status() == "queued"
        job.refresh()
        assert job.retries_left == 0
        assert "WorkHorseDiedError" in job.exc_info

    def test_a_timeout_kills_the_jobs_grandchildren(self, queue, tmp_path, fork_per_job):
        pid_file = tmp_path / "grandchild"
        job = queue.enqueue(fixtures.spawn_grandchild_and_sleep, str(pid_file), 30, job_timeout=1)
        Worker([queue], fork_per_job=fork_per_job).work(burst=True)
        assert "JobTimeoutException" in job.exc_info
        grandchild = read_pid(pid_file)
        assert grandchild is not None
        assert wait_for(lambda: not is_alive(grandchild), timeout=30)

    def test_a_job_ignoring_its_death_penalty_is_killed_with_its_grandchildren(
        self, queue, tmp_path, fork_per_job
    ):
        pid_file = tmp_path / "grandchild"
        job = queue.enqueue(fixtures.spawn_then_ignore_alarm, str(pid_file), 60, job_timeout=1)
        started = time.monotonic()
        Worker([queue], death_penalty_grace=0.5, fork_per_job=fork_per_job).work(burst=True)
        assert "ignored its death penalty" in job.exc_info
        # Stopped within the timeout plus the grace (and the time to fork and record).
        assert time.monotonic() - started < 1 + 0.5 + 5
        grandchild = read_pid(pid_file)
        assert grandchild is not None
        assert wait_for(lambda: not is_alive(grandchild), timeout=30)


class TestSignals:
    """S-24 and S-25: warm shutdown, then cold shutdown on a second signal."""

    @each_mode
    @pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
    def test_warm_shutdown_finishes_the_current_job(self, redis_server, queue, tmp_path, mode, signum):
        marker = tmp_path / "started"
        job = queue.enqueue(fixtures.mark_started_and_sleep, str(marker), 1.0)
        waiting = queue.enqueue(fixtures.add, 1, 2)
        process = start_worker(redis_server.url, name="warm", **WORKER_MODES[mode])
        wait_until_started(marker)
        process.send_signal(signum)
        code, stderr = stop(process)
        assert code == 0, stderr
        assert job.get_status() == "finished"
        assert job.result == "slept"
        assert waiting.get_status() == "queued"
        assert Worker.count(connection=queue.broker) == 0
        assert "warm shut down requested" in stderr

    @each_mode
    @pytest.mark.parametrize("delay", [0.05, 0.3], ids=["quickly", "0.3s-later"])
    def test_second_signal_kills_the_job_and_the_worker_still_deregisters(
        self, redis_server, queue, tmp_path, mode, delay
    ):
        """Two signals sent microseconds apart are one to the kernel (a pending signal is not
        queued twice), so the second comes after a short delay: the first was delivered by then.
        """
        marker = tmp_path / "started"
        job = queue.enqueue(fixtures.mark_started_and_sleep, str(marker), 60)
        process = start_worker(redis_server.url, name="cold", **WORKER_MODES[mode])
        runner = wait_until_started(marker)
        process.send_signal(signal.SIGINT)
        if delay:
            time.sleep(delay)  # a person pressing Ctrl+C twice
        process.send_signal(signal.SIGINT)
        code, stderr = stop(process)
        assert code == 0, stderr
        assert job.get_status() == "failed"
        assert "cold shutdown" in job.exc_info
        assert queue.started_job_registry.count == 0
        assert Worker.count(connection=queue.broker) == 0
        if mode != "simple":
            assert wait_for(lambda: not is_alive(runner), timeout=30)

    @each_horse_mode
    def test_a_cold_shutdown_retries_a_job_with_retries_left(self, redis_server, queue, tmp_path, mode):
        marker = tmp_path / "started"
        job = queue.enqueue(fixtures.mark_started_and_sleep, str(marker), 60, retry=Retry(max=1))
        process = start_worker(redis_server.url, **WORKER_MODES[mode])
        wait_until_started(marker)
        process.send_signal(signal.SIGTERM)
        time.sleep(0.05)  # a second signal, not merged into the first by the kernel
        process.send_signal(signal.SIGTERM)
        code, stderr = stop(process)
        assert code == 0, stderr
        assert job.get_status() == "queued"
        assert queue.job_ids == [job.id]

    @each_mode
    @pytest.mark.parametrize("signals", [1, 2], ids=["warm", "cold"])
    def test_a_signal_while_idle_takes_no_new_job(self, redis_server, queue, mode, signals):
        """The signal's handler runs while the worker waits for a job, and the wait goes on (a
        blocked read is resumed after a handler). A job that comes then is given back, untouched,
        to the front of its queue: the worker stops at once instead of running it."""
        # One wait for a job lasts up to 30 s here, so both signals and the job come during it.
        process = start_worker(redis_server.url, name="idle", idle_wait_slice=30, **WORKER_MODES[mode])
        seen = ""
        try:
            assert wait_for(lambda: Worker.count(connection=queue.broker) == 1, timeout=30)
            assert wait_for(lambda: Worker.all(connection=queue.broker)[0].state == "idle", timeout=30)
            if signals == 1:
                process.send_signal(signal.SIGTERM)
                seen += read_stderr_until(process, "warm shut down requested")
            else:
                # Two different signals back to back: the kernel cannot merge them, and no wake-up
                # of the wait (a heartbeat, a chore) can fall between them and end the worker
                # after the first, as it may when the second comes a moment later.
                process.send_signal(signal.SIGTERM)
                process.send_signal(signal.SIGINT)
                seen += read_stderr_until(process, "cold shut down")
            job = queue.enqueue(fixtures.sleep_for, 30)
            started = time.monotonic()
        finally:
            code, stderr = stop(process, timeout=40)
        assert code == 0, seen + stderr
        assert time.monotonic() - started < 10, "the worker ran the job"
        assert job.get_status() == "queued"
        assert queue.job_ids == [job.id]
        assert queue.started_job_registry.count == 0
        assert Job.fetch(job.id, connection=queue.broker).started_at is None


@each_horse_mode
class TestCrashRecovery:
    """A whole worker SIGKILLed: its job is ended by another worker within 2x worker_ttl, and
    nothing its job started lives on."""

    WORKER_TTL = 2

    def _kill_worker_mid_job(self, redis_server, queue, tmp_path, mode, job_function=None, **job_options):
        marker = tmp_path / "started"
        if job_function is None:
            job = queue.enqueue(
                fixtures.mark_started_and_sleep, str(marker), 60, job_timeout=300, **job_options
            )
        else:
            job = queue.enqueue(job_function, str(marker), 60, job_timeout=300, **job_options)
        victim = start_worker(
            redis_server.url,
            name="victim",
            worker_ttl=self.WORKER_TTL,
            job_monitoring_interval=0.5,
            **WORKER_MODES[mode],
        )
        runner = wait_until_started(marker)
        rescuer = start_worker(
            redis_server.url,
            name="rescuer",
            simple=True,
            worker_ttl=self.WORKER_TTL,
            maintenance_interval=0.25,
            job_monitoring_interval=0.5,
        )
        assert wait_for(lambda: Worker.count(connection=queue.broker) == 2, timeout=30)
        killed_at = time.monotonic()
        victim.kill()
        victim.wait(timeout=10)
        return job, runner, victim, rescuer, killed_at

    def test_abandoned_job_fails_within_twice_the_worker_ttl(
        self, redis_server, queue, tmp_path, record_property, mode
    ):
        job, horse, victim, rescuer, killed_at = self._kill_worker_mid_job(
            redis_server, queue, tmp_path, mode, on_failure=fixtures.on_failure_push
        )
        try:
            # Bounded from the moment of the SIGKILL, whatever the waits below took.
            limit = killed_at + 2 * self.WORKER_TTL
            assert wait_for(
                lambda: job.get_status() == "failed", timeout=max(limit - time.monotonic(), 0.0)
            ), f"the job was not ended within {2 * self.WORKER_TTL} s of the SIGKILL"
            recovered = time.monotonic() - killed_at
            record_property("recovery_seconds", round(recovered, 2))
            print(f"\nrecovery after worker SIGKILL: {recovered:.2f} s (worker_ttl={self.WORKER_TTL})")
            assert recovered <= 2 * self.WORKER_TTL
            # The horse died with its worker, so it cannot finish the job behind anyone's back.
            assert wait_for(lambda: not is_alive(horse), timeout=30)
            assert "AbandonedJobError" in job.exc_info
            assert "victim" in job.exc_info
            assert queue.started_job_registry.count == 0
            assert job.id in queue.failed_job_registry
            # The rescuer ran the job's failure callback.
            called = [f"{job.id} AbandonedJobError".encode()]
            assert wait_for(lambda: queue.connection.lrange("failure-callbacks", 0, -1) == called, timeout=30)
        finally:
            rescuer.send_signal(signal.SIGTERM)
            stop(rescuer)
            stop(victim)

    def test_abandoned_job_is_retried_under_its_retry_policy(self, redis_server, queue, tmp_path, mode):
        job, _horse, victim, rescuer, _killed_at = self._kill_worker_mid_job(
            redis_server, queue, tmp_path, mode, retry=Retry(max=1)
        )
        try:
            # Requeued, then run again by the rescuer (it sleeps there: the job is started again).
            assert wait_for(
                lambda: Job.fetch(job.id, connection=queue.broker).worker_name == "rescuer", timeout=30
            )
            job.refresh()
            assert job.retries_left == 0
            assert "AbandonedJobError" in job.exc_info
        finally:
            rescuer.send_signal(signal.SIGTERM)
            time.sleep(0.05)  # a second signal, not merged into the first by the kernel
            rescuer.send_signal(signal.SIGTERM)
            stop(rescuer)
            stop(victim)

    def test_the_jobs_grandchildren_die_with_the_worker(self, redis_server, queue, tmp_path, mode):
        """The horse dies with its worker (PR_SET_PDEATHSIG); the horse warden kills the rest of
        the horse's process group, so an orphaned grandchild cannot go on doing the job's work."""
        job, _horse, victim, rescuer, _killed_at = self._kill_worker_mid_job(
            redis_server, queue, tmp_path, mode, job_function=fixtures.spawn_grandchild_and_sleep
        )
        grandchild = read_pid(tmp_path / "started")
        assert grandchild is not None
        try:
            assert wait_for(lambda: not is_alive(grandchild), timeout=30), "the grandchild lives on"
            # It held the worker's stderr: that it ends shows nothing of the job holds it either.
            code, _stderr = stop(victim, timeout=10)
            assert code == -signal.SIGKILL
            assert wait_for(lambda: job.get_status() == "failed", timeout=2 * self.WORKER_TTL + 5)
        finally:
            if is_alive(grandchild):
                os.kill(grandchild, signal.SIGKILL)
            rescuer.send_signal(signal.SIGTERM)
            stop(rescuer)
            stop(victim)


@pytest.mark.parametrize(
    ("mode", "count"),
    # A work horse costs a pipe round trip per job and the horses share two cores with the
    # workers: fewer jobs keep that variant to a few seconds.
    [("simple", 8000), ("reused-horse", 4000)],
)
def test_many_processes_run_each_job_exactly_once(redis_server, redis_client, queue, mode, count):
    """Four worker processes drain the queue (8,000 jobs, 2,000 each on average, for
    SimpleWorker): each job ran exactly once."""
    jobs = queue.enqueue_many([Queue.prepare_data(fixtures.record_run, args=("runs",)) for _ in range(count)])
    processes = [
        start_worker(
            redis_server.url,
            name=f"w{index}",
            work={"burst": True, "logging_level": "WARNING"},
            **WORKER_MODES[mode],
        )
        for index in range(4)
    ]
    for process in processes:
        code, stderr = stop(process, timeout=300)
        assert code == 0, stderr
    runs = [value.decode() for value in redis_client.lrange("runs", 0, -1)]
    assert len(runs) == count
    assert sorted(runs) == sorted(job.id for job in jobs)
    assert queue.finished_job_registry.count == count
    assert queue.started_job_registry.count == 0


class TestControlOfWorkerProcesses:
    """Commands to a forking worker, and what ps shows."""

    @each_horse_mode
    def test_stop_job_kills_the_horse_and_the_job_ends_stopped(self, redis_server, queue, tmp_path, mode):
        from jq.command import send_stop_job_command

        marker = tmp_path / "started"
        job = queue.enqueue(fixtures.mark_started_and_sleep, str(marker), 60, retry=Retry(max=2))
        after = queue.enqueue(fixtures.add, 1, 1)
        process = start_worker(redis_server.url, name="commanded", **WORKER_MODES[mode])
        try:
            horse = wait_until_started(marker)
            assert send_stop_job_command(queue.connection, job.id) == 1
            assert wait_for(lambda: job.get_status() == "stopped", timeout=30)
            assert wait_for(lambda: not is_alive(horse), timeout=30)
            assert "stop-job command" in job.exc_info
            assert wait_for(lambda: after.get_status() == "finished", timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            stop(process)

    def test_process_titles(self, redis_server, queue, tmp_path):
        pytest.importorskip("setproctitle")
        marker = tmp_path / "started"
        queue.enqueue(fixtures.mark_started_and_sleep, str(marker), 60)
        process = start_worker(redis_server.url, name="titled")
        try:
            horse = wait_until_started(marker)

            def title(pid: int) -> str:
                with open(f"/proc/{pid}/cmdline", "rb") as handle:
                    return handle.read().replace(b"\0", b" ").decode().strip()

            assert wait_for(
                lambda: title(process.pid).startswith("jq: worker titled: busy with job"), timeout=30
            )
            assert title(horse).startswith("jq: horse of titled: job")
        finally:
            process.send_signal(signal.SIGTERM)
            time.sleep(0.05)  # a second signal, not merged into the first by the kernel
            process.send_signal(signal.SIGTERM)
            stop(process)
