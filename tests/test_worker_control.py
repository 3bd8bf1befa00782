"""Controlling workers: commands, suspension, worker records (S-23), stale executions.

Workers run in a thread here (so on every driver); tests/test_worker_runtime.py runs them as
processes on a real redis-server.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from jq import Queue, Retry, SimpleWorker, Worker, lifecycle
from jq.command import send_kill_horse_command, send_shutdown_command, send_stop_job_command
from jq.exceptions import InvalidJobOperation
from jq.job import Job
from jq.results import Result
from jq.testing.helpers import wait_for
from jq.worker import WorkerStatus
from tests import fixtures


class WorkerThread:
    """A SimpleWorker working in a background thread (signals are the main thread's business)."""

    def __init__(self, queue: Queue, name: str, **work: object) -> None:
        self.worker = SimpleWorker([queue], name=name, job_monitoring_interval=0.2, worker_ttl=3)
        self.thread = threading.Thread(target=self.worker.work, kwargs={"logging_level": "WARNING", **work})
        self.thread.start()
        assert wait_for(lambda: SimpleWorker.count(connection=queue.broker) == 1, timeout=30)

    def join(self, timeout: float = 20) -> None:
        """Wait for the worker to stop; fail the test if it does not."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the worker did not stop"

    def stop(self) -> None:
        """Warm-stop the worker and wait for it."""
        self.worker.request_stop()
        self.join()


class TestCommands:
    """shutdown, kill-horse and stop-job, sent to a working worker."""

    def test_shutdown_command(self, queue):
        worker = WorkerThread(queue, "shut")
        assert send_shutdown_command(queue.connection, "shut") == 1
        worker.join()
        assert SimpleWorker.count(connection=queue.broker) == 0

    def test_stop_job_command_ends_the_job_stopped_without_retry(self, queue):
        job = queue.enqueue(fixtures.busy_loop, 60, retry=Retry(max=3))
        after = queue.enqueue(fixtures.add, 1, 2)
        worker = WorkerThread(queue, "stopper")
        try:
            assert wait_for(lambda: job.get_status() == "started", timeout=30)
            assert send_stop_job_command(queue.connection, job.id) == 1
            assert wait_for(lambda: job.get_status() == "stopped", timeout=30)
            assert job.latest_result().type is Result.Type.STOPPED
            assert "JobStopped" in job.exc_info
            assert job.id in queue.failed_job_registry
            assert wait_for(lambda: after.get_status() == "finished", timeout=30)
        finally:
            worker.stop()

    def test_a_stopped_job_runs_on_stopped_only(self, queue):
        fixtures.SEEN.clear()
        job = queue.enqueue(
            fixtures.busy_loop,
            60,
            retry=Retry(max=3),
            on_stopped=fixtures.on_stopped_record,
            on_failure=fixtures.on_failure_record,
        )
        worker = WorkerThread(queue, "stopper-callbacks")
        try:
            assert wait_for(lambda: job.get_status() == "started", timeout=30)
            assert send_stop_job_command(queue.connection, job.id) == 1
            assert wait_for(lambda: ("stopped", job.id) in fixtures.SEEN, timeout=30)
            assert job.get_status() == "stopped"
            job.refresh()
            assert job.retries_left == 3
            assert [result.type for result in job.results()] == [Result.Type.STOPPED]
            assert [entry for entry in fixtures.SEEN if entry[1] == job.id] == [("stopped", job.id)]
        finally:
            worker.stop()
            fixtures.SEEN.clear()

    def test_stop_job_command_for_a_job_no_worker_took(self, queue):
        job = queue.enqueue(fixtures.add, 1, 2)
        with pytest.raises(InvalidJobOperation, match="no worker has taken it"):
            send_stop_job_command(queue.connection, job.id)

    def test_stop_job_command_for_a_finished_job_is_sent_and_ignored(self, queue):
        """B32: as RQ, only the job's worker_name is checked; the worker, not running the job,
        ignores the command (jq refused it unless the job was started)."""
        job = queue.enqueue(fixtures.add, 1, 2)
        SimpleWorker([queue], name="done").work(burst=True, logging_level="WARNING")
        assert job.get_status() == "finished"
        assert send_stop_job_command(queue.connection, job.id) == 0  # nobody listens any more
        assert job.get_status() == "finished"

    def test_send_command_publishes_any_name(self, queue, caplog):
        """B32: RQ publishes any command; a worker logs and ignores one it does not know."""
        from jq.command import send_command

        assert send_command(queue.connection, "nobody", "dance", speed=3) == 0
        worker = WorkerThread(queue, "dancer")
        try:
            assert send_command(queue.connection, "dancer", "dance") == 1
            assert wait_for(lambda: "does not understand: 'dance'" in caplog.text, timeout=30)
            assert worker.thread.is_alive()
        finally:
            worker.stop()

    def test_kill_horse_command_fails_the_current_job(self, queue):
        job = queue.enqueue(fixtures.busy_loop, 60)
        worker = WorkerThread(queue, "killer")
        try:
            assert wait_for(lambda: job.get_status() == "started", timeout=30)
            send_kill_horse_command(queue.connection, "killer")
            assert wait_for(lambda: job.get_status() == "failed", timeout=30)
            assert "kill-horse command" in job.exc_info
        finally:
            worker.stop()

    def test_unknown_payload_is_ignored(self, queue, caplog):
        worker = WorkerThread(queue, "listener")
        try:
            queue.broker.publish_command("listener", b"not json")
            assert wait_for(lambda: "does not understand" in caplog.text, timeout=30)
            assert worker.thread.is_alive()
        finally:
            worker.stop()


@pytest.mark.parametrize("fork_per_job", [False, True], ids=["reused-horse", "fork-per-job"])
class TestCommandsToWorkHorses:
    """stop-job and kill-horse reach a job in a work horse, reused or forked for it (a Worker in
    a thread, on the private redis-server)."""

    @pytest.fixture
    def queue(self, redis_client):
        """The default queue on the private redis-server."""
        return Queue(connection=redis_client)

    def start(self, queue: Queue, name: str, fork_per_job: bool) -> tuple[Worker, threading.Thread]:
        worker = Worker(
            [queue], name=name, fork_per_job=fork_per_job, job_monitoring_interval=0.2, worker_ttl=3
        )
        thread = threading.Thread(target=worker.work, kwargs={"logging_level": "WARNING"})
        thread.start()
        assert wait_for(lambda: Worker.count(connection=queue.broker) == 1, timeout=30)
        return worker, thread

    def stop(self, worker: Worker, thread: threading.Thread) -> None:
        worker.request_stop()
        thread.join(20)
        assert not thread.is_alive(), "the worker did not stop"

    def test_stop_job_ends_the_job_stopped_and_the_next_job_runs(self, queue, fork_per_job):
        job = queue.enqueue(fixtures.sleep_for, 60, retry=Retry(max=3))
        after = queue.enqueue(fixtures.add, 1, 2)
        worker, thread = self.start(queue, "stopper", fork_per_job)
        try:
            assert wait_for(lambda: job.get_status() == "started", timeout=30)
            assert send_stop_job_command(queue.connection, job.id) == 1
            assert wait_for(lambda: job.get_status() == "stopped", timeout=30)
            assert "stop-job command" in job.exc_info
            assert job.id in queue.failed_job_registry
            assert wait_for(lambda: after.get_status() == "finished", timeout=30)
        finally:
            self.stop(worker, thread)

    def test_kill_horse_fails_the_job_and_the_next_job_runs(self, queue, fork_per_job):
        job = queue.enqueue(fixtures.sleep_for, 60)
        after = queue.enqueue(fixtures.add, 1, 2)
        worker, thread = self.start(queue, "killer", fork_per_job)
        try:
            assert wait_for(lambda: job.get_status() == "started", timeout=30)
            assert send_kill_horse_command(queue.connection, "killer") == 1
            assert wait_for(lambda: job.get_status() == "failed", timeout=30)
            assert "kill-horse command" in job.exc_info
            assert wait_for(lambda: after.get_status() == "finished", timeout=30)
        finally:
            self.stop(worker, thread)

    @pytest.mark.parametrize("command", ["kill-horse", "stop-job"])
    def test_a_command_before_the_job_reaches_its_horse_is_carried_out(self, queue, fork_per_job, command):
        """From its claim the store names the job the worker's: a kill-horse or stop-job command
        that comes before the worker hands the job on (to execute_job, to its horse) is carried
        out as soon as the horse has it, not dropped as if no job ran."""
        job = queue.enqueue(fixtures.sleep_for, 5)
        after = queue.enqueue(fixtures.add, 1, 2)
        commanded = threading.Event()

        class CommandedOnTheWay(Worker):
            def execute_job(self, claimed: Job, claimed_queue: Queue) -> None:
                if claimed.id == job.id and not commanded.is_set():
                    commanded.set()
                    if command == "kill-horse":
                        assert send_kill_horse_command(self.connection, self.name) == 1
                    else:
                        assert send_stop_job_command(self.connection, claimed.id) == 1
                    # The command listener (another thread) has taken it.
                    assert wait_for(lambda: self.kill_reason_for(claimed) is not None, timeout=30)
                super().execute_job(claimed, claimed_queue)

        worker = CommandedOnTheWay(
            [queue], name="on-the-way", fork_per_job=fork_per_job, job_monitoring_interval=0.2, worker_ttl=3
        )
        thread = threading.Thread(target=worker.work, kwargs={"logging_level": "WARNING"})
        thread.start()
        try:
            expected = "failed" if command == "kill-horse" else "stopped"
            assert wait_for(lambda: job.get_status() == expected, timeout=30), job.get_status()
            assert f"{command} command" in job.exc_info
            assert wait_for(lambda: after.get_status() == "finished", timeout=30)
        finally:
            self.stop(worker, thread)


class TestSuspension:
    """Suspended workers take no job until resumed."""

    def test_a_burst_worker_stops_when_suspended(self, queue):
        job = queue.enqueue(fixtures.add, 1, 2)
        queue.broker.suspend()
        assert SimpleWorker([queue]).work(burst=True) is False
        assert job.get_status() == "queued"
        queue.broker.resume()
        assert SimpleWorker([queue]).work(burst=True) is True
        assert job.result == 3

    def test_a_worker_waits_while_suspended(self, queue):
        queue.broker.suspend()
        worker = WorkerThread(queue, "sleeper")
        try:
            [view] = SimpleWorker.all(connection=queue.broker)
            assert wait_for(
                lambda: SimpleWorker.all(connection=queue.broker)[0].state == "suspended", timeout=30
            )
            job = queue.enqueue(fixtures.add, 1, 2)
            # Still queued after the worker had several looks at the suspension flag.
            assert not wait_for(lambda: job.get_status() != "queued", timeout=2.5)
            queue.broker.resume()
            assert wait_for(lambda: job.get_status() == "finished", timeout=30)
            assert view.name == "sleeper"
        finally:
            worker.stop()


class TestSuspensionOfAJobClaimedAhead:
    """A SimpleWorker claims its next job with the previous one's outcome; a suspension it
    notices only then must not keep that job started (and unrenewed) until it is resumed."""

    def test_the_job_goes_back_to_the_front_of_its_queue(self, queue):
        first = queue.enqueue(fixtures.sleep_for, 1.0)
        second = queue.enqueue(fixtures.add, 2, 2)
        worker = WorkerThread(queue, "suspended")
        try:
            assert wait_for(lambda: first.get_status() == "started", timeout=30)
            queue.broker.suspend()
            assert wait_for(lambda: first.get_status() == "finished", timeout=30)
            # Claimed with the first job's outcome, then given back once the suspension was seen.
            assert wait_for(lambda: second.get_status() == "queued", timeout=30)
            assert queue.job_ids == [second.id]
            assert queue.started_job_registry.count == 0
            queue.broker.resume()
            assert wait_for(lambda: second.get_status() == "finished", timeout=30)
            assert second.result == 4
        finally:
            queue.broker.resume()
            worker.stop()


class TestWorkerRecords:
    """S-23: names, Worker.all/count/find_by_key and every attribute."""

    def test_attributes_while_busy_and_after(self, queue):
        job = queue.enqueue(fixtures.busy_loop, 60)
        worker = WorkerThread(queue, "recorded")
        try:
            assert wait_for(lambda: job.get_status() == "started", timeout=30)
            [view] = SimpleWorker.all(queue=queue)
            assert view.name == "recorded"
            assert view.hostname == socket.gethostname()
            assert view.pid == worker.worker.pid
            assert view.queue_names() == ["default"]
            assert view.state == WorkerStatus.BUSY
            assert view.current_job == job
            assert view.birth_date <= view.last_heartbeat
            assert SimpleWorker.find_by_key(view.key, connection=queue.broker).name == "recorded"
            send_stop_job_command(queue.connection, job.id)
            queue.enqueue(fixtures.add, 1, 2)
            assert wait_for(lambda: queue.finished_job_registry.count == 1, timeout=30)
            assert wait_for(lambda: _refreshed(view).successful_job_count == 1, timeout=30)
            assert view.failed_job_count == 1
            assert view.total_working_time > 0
            assert view.state == WorkerStatus.IDLE
            assert view.current_job is None
        finally:
            worker.stop()

    def test_default_names_are_unique(self, queue):
        names = {SimpleWorker([queue]).name for _ in range(50)}
        assert len(names) == 50

    def test_heartbeats_keep_an_idle_worker_alive(self, queue):
        worker = WorkerThread(queue, "alive")
        try:
            first = SimpleWorker.all(connection=queue.broker)[0].last_heartbeat
            # worker_ttl is 3 s: after 4 s it is still there, so it renewed its record meanwhile.
            assert not wait_for(lambda: SimpleWorker.count(connection=queue.broker) == 0, timeout=4)
            assert SimpleWorker.all(connection=queue.broker)[0].last_heartbeat > first
        finally:
            worker.stop()


def _refreshed(view: SimpleWorker) -> SimpleWorker:
    view.refresh()
    return view


def test_a_stale_execution_cannot_overwrite_a_newer_one(queue):
    """An execution that lost its lease (its job was retried elsewhere) records nothing."""
    job = queue.enqueue(fixtures.add, 1, 2, retry=Retry(max=1))
    stale = SimpleWorker([queue], name="stale")
    claimed = stale.dequeue(wait=None)
    assert claimed is not None
    # Its lease runs out; maintenance ends the job as abandoned and requeues it (Retry).
    assert queue.started_job_registry.cleanup(timestamp=time.time() + 10 * stale.worker_ttl) == [job.id]
    assert job.get_status() == "queued"
    SimpleWorker([queue], name="fresh").work(burst=True)
    assert job.get_status() == "finished"
    # The stale execution finally reports: refused, the fresh result stands.
    assert not lifecycle.finish(claimed, 999, execution_id=claimed.execution_id)
    assert lifecycle.fail(claimed, "late failure", execution_id=claimed.execution_id) is None
    fetched = Job.fetch(job.id, connection=queue.broker)
    assert fetched.result == 3
    assert fetched.worker_name == "fresh"


def test_a_job_claimed_after_a_wait_starts_after_it_was_enqueued(queue):
    """started_at is when the waiting worker claimed the job, not when it began to wait."""
    worker = WorkerThread(queue, "waiter")
    try:
        # The worker is waiting for work now; give it a moment of waiting before the job comes.
        assert not wait_for(lambda: len(queue) > 0, timeout=0.3)
        job = queue.enqueue(fixtures.add, 1, 2)
        assert wait_for(lambda: job.get_status() == "finished", timeout=30)
        job.refresh()
        assert job.enqueued_at <= job.started_at <= job.ended_at
    finally:
        worker.stop()
