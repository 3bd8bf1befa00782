"""The methods RQ documents for custom worker classes: jq calls each at the moment RQ does, so a
subclass's override runs, and ``super()`` does what jq does there.

SimpleWorker's hooks run in the test's process (every driver); a Worker's horse hooks run in
the horse, so they write what they saw to the private redis-server.
"""

from __future__ import annotations

import os
import signal

import pytest

from jq import Queue, SimpleWorker, Worker
from jq.command import send_stop_execution_command
from jq.exceptions import InvalidJobOperation
from jq.testing.helpers import wait_for
from jq.worker.executions import Execution
from tests import fixtures


class Recording(SimpleWorker):
    """A SimpleWorker that records every hook call, then does what jq does (super())."""

    def __init__(self, *args, **kwargs):
        self.calls: list[tuple] = []
        super().__init__(*args, **kwargs)

    def bootstrap(self, *args):
        self.calls.append(("bootstrap",))
        super().bootstrap(*args)

    def register_birth(self):
        self.calls.append(("register_birth",))
        super().register_birth()

    def register_death(self):
        self.calls.append(("register_death",))
        super().register_death()

    def teardown(self):
        self.calls.append(("teardown",))
        super().teardown()

    def set_state(self, state, pipeline=None):
        self.calls.append(("set_state", str(state)))
        super().set_state(state, pipeline)

    def run_maintenance_tasks(self):
        self.calls.append(("run_maintenance_tasks",))
        super().run_maintenance_tasks()

    def clean_registries(self):
        self.calls.append(("clean_registries",))
        super().clean_registries()

    def execute_job(self, job, queue):
        self.calls.append(("execute_job", job.id, queue.name))
        super().execute_job(job, queue)

    def perform_job(self, job, queue, execution=None):
        self.calls.append(("perform_job", job.id, isinstance(execution, Execution)))
        return super().perform_job(job, queue, execution)

    def prepare_job_execution(self, job, remove_from_intermediate_queue=False):
        self.calls.append(("prepare_job_execution", job.id, job.get_status()))
        super().prepare_job_execution(job, remove_from_intermediate_queue)

    def handle_exception(self, job, *exc_info):
        self.calls.append(("handle_exception", job.id, exc_info[0].__name__))
        super().handle_exception(job, *exc_info)

    def handle_job_success(self, job, queue, started_job_registry, execution):
        self.calls.append(("handle_job_success", job.id, job.id in started_job_registry))
        super().handle_job_success(job, queue, started_job_registry, execution)
        self.calls.append(("after_success", job.get_status()))

    def handle_job_failure(self, job, queue, started_job_registry=None, exc_string="", execution=None):
        self.calls.append(("handle_job_failure", job.id, exc_string.splitlines()[-1]))
        super().handle_job_failure(job, queue, started_job_registry, exc_string, execution)
        self.calls.append(("after_failure", job.get_status()))

    def handle_job_retry(self, job, queue, retry, started_job_registry, execution):
        self.calls.append(("handle_job_retry", job.id, retry.max))
        super().handle_job_retry(job, queue, retry, started_job_registry, execution)

    def heartbeat(self, timeout=None, pipeline=None):
        self.calls.append(("heartbeat",))
        super().heartbeat(timeout, pipeline)

    def procline(self, message):
        self.calls.append(("procline", message))
        super().procline(message)

    def reorder_queues(self, reference_queue):
        self.calls.append(("reorder_queues", reference_queue.name))
        super().reorder_queues(reference_queue)


def names(worker: Recording) -> list[str]:
    return [call[0] for call in worker.calls]


def test_the_life_of_a_worker_goes_through_its_hooks(queue):
    ok = queue.enqueue(fixtures.add, 2, 3)
    bad = queue.enqueue(fixtures.div_by_zero, 1)
    worker = Recording([queue], name="recording")
    worker.work(burst=True, logging_level="WARNING")
    calls = worker.calls
    order = names(worker)
    assert order[:2] == ["bootstrap", "register_birth"]
    assert order.index("set_state") < order.index("execute_job")
    assert ("set_state", "idle") in calls
    assert order[-2:] == ["teardown", "register_death"]
    assert "run_maintenance_tasks" in order and "clean_registries" in order
    assert ("procline", f"busy with job {ok.id}") in calls
    # The successful job.
    assert ("reorder_queues", "default") in calls
    assert ("execute_job", ok.id, "default") in calls
    assert ("perform_job", ok.id, True) in calls
    assert ("prepare_job_execution", ok.id, "started") in calls
    assert ("handle_job_success", ok.id, True) in calls
    assert calls[calls.index(("handle_job_success", ok.id, True)) + 1] == ("after_success", "finished")
    # The failing one: handle_exception, then handle_job_failure, as RQ.
    failing = [call for call in calls if len(call) > 1 and call[1] == bad.id]
    assert [call[0] for call in failing] == [
        "execute_job",
        "perform_job",
        "prepare_job_execution",
        "handle_exception",
        "handle_job_failure",
    ]
    assert ("handle_exception", bad.id, "ZeroDivisionError") in calls
    assert ("handle_job_failure", bad.id, "ZeroDivisionError: division by zero") in calls
    assert ("after_failure", "failed") in calls


def test_a_returned_retry_goes_to_handle_job_retry(queue):
    job = queue.enqueue(fixtures.return_retry, 2)
    worker = Recording([queue])
    worker.work(burst=True, logging_level="WARNING")
    assert ("handle_job_retry", job.id, 2) in worker.calls
    assert "handle_job_success" not in names(worker)


def test_a_heartbeat_thread_calls_heartbeat(queue):
    queue.enqueue(fixtures.sleep_for, 0.5)
    worker = Recording([queue], job_monitoring_interval=0.1)
    worker.work(burst=True, logging_level="WARNING")
    assert names(worker).count("heartbeat") >= 2


class Overriding(SimpleWorker):
    """Overrides that replace what jq does."""

    def handle_exception(self, job, *exc_info):
        self.seen = exc_info[1]  # and does not run the chain

    def handle_job_failure(self, job, queue, started_job_registry=None, exc_string="", execution=None):
        super().handle_job_failure(job, queue, started_job_registry, "replaced: " + exc_string, execution)


def test_an_override_changes_what_is_recorded(queue):
    job = queue.enqueue(fixtures.div_by_zero, 1)
    chain = []
    worker = Overriding([queue], exception_handlers=[lambda job, *exc: chain.append(job.id)])
    worker.work(burst=True, logging_level="WARNING")
    assert isinstance(worker.seen, ZeroDivisionError)
    assert chain == []  # the override did not call super(): the chain did not run
    assert job.get_status() == "failed" and job.exc_info.startswith("replaced: ")


class SkippingSuccess(SimpleWorker):
    def handle_job_success(self, job, queue, started_job_registry, execution):
        """Records nothing."""


def test_a_success_hook_that_records_nothing_leaves_the_job_started_and_says_so(queue, caplog):
    job = queue.enqueue(fixtures.add, 1, 2)
    SkippingSuccess([queue]).work(burst=True, logging_level="WARNING")
    assert job.get_status() == "started"
    assert "did not record the outcome" in caplog.text


def test_perform_job_alone_runs_and_records_a_job(queue):
    """rq-win-style code calls perform_job() itself."""
    job = queue.enqueue(fixtures.add, 4, 5)
    worker = SimpleWorker([queue], name="manual")
    worker.register_birth()
    try:
        claimed = worker.dequeue(wait=None)
        assert worker.perform_job(claimed, queue, worker.prepare_execution(claimed)) is True
        assert job.get_status() == "finished" and job.result == 9
    finally:
        worker.register_death()


def test_handle_job_failure_called_directly_records_a_failure(queue):
    job = queue.enqueue(fixtures.add, 4, 5)
    worker = SimpleWorker([queue], name="direct")
    worker.register_birth()
    try:
        claimed = worker.dequeue(wait=None)
        worker.handle_job_failure(claimed, queue, exc_string="gave up")
        assert job.get_status() == "failed" and job.exc_info == "gave up"
        assert job.id in queue.failed_job_registry
    finally:
        worker.register_death()


def test_request_stop_calls_handle_warm_shutdown_request(queue):
    asked = []

    class Polite(SimpleWorker):
        def handle_warm_shutdown_request(self):
            asked.append(self.stop_requested)
            super().handle_warm_shutdown_request()

    worker = Polite([queue])
    worker.request_stop(signal.SIGTERM, None)
    assert asked == [True]
    assert worker.shutdown_requested_at is not None


def test_kill_horse_on_a_simple_worker_stops_its_job(queue):
    """jq's SimpleWorker stops the job in its own process (RQ's does nothing)."""
    job = queue.enqueue(fixtures.busy_loop, 60)

    class Killing(SimpleWorker):
        def prepare_job_execution(self, job, remove_from_intermediate_queue=False):
            self.kill_horse()

    Killing([queue]).work(burst=True, logging_level="WARNING")
    assert job.get_status() == "failed"
    assert "kill-horse" in job.exc_info
    assert SimpleWorker([queue]).wait_for_horse() == (None, None, None)


# -- work horses (the private redis-server) ---------------------------------------------------------


@pytest.fixture
def redis_queue(redis_client):
    return Queue(connection=redis_client)


class HorseRecording(Worker):
    """Records, in Redis, the hooks that run in the horse and the worker."""

    def fork_work_horse(self, job, queue):
        self.connection.rpush("hooks", f"fork_work_horse {os.getpid()}")
        super().fork_work_horse(job, queue)

    def main_work_horse(self, job, queue):
        self.connection.rpush("hooks", f"main_work_horse {os.getpid()}")
        super().main_work_horse(job, queue)

    def setup_work_horse_signals(self):
        self.connection.rpush("hooks", f"setup_work_horse_signals {os.getpid()}")
        super().setup_work_horse_signals()

    def perform_job(self, job, queue, execution=None):
        self.connection.rpush("hooks", f"perform_job {os.getpid()} {self.is_horse}")
        return super().perform_job(job, queue, execution)

    def monitor_work_horse(self, job, queue, execution):
        self.connection.rpush("hooks", f"monitor_work_horse {os.getpid()} {self.horse_pid != 0}")
        return super().monitor_work_horse(job, queue, execution)

    def wait_for_horse(self):
        pid, status, rusage = super().wait_for_horse()
        self.connection.rpush("hooks", f"wait_for_horse {os.getpid()} {pid is not None} {rusage is not None}")
        return pid, status, rusage


def hooks(redis_client) -> list[tuple[str, ...]]:
    return [tuple(entry.decode().split()) for entry in redis_client.lrange("hooks", 0, -1)]


def test_a_horse_per_job_goes_through_the_horse_hooks(redis_queue, redis_client):
    job = redis_queue.enqueue(fixtures.pid_of_runner)
    HorseRecording([redis_queue]).work(burst=True, logging_level="WARNING")
    horse = str(job.result)
    me = str(os.getpid())
    seen = hooks(redis_client)
    # Each process's hooks in order (the two processes' entries interleave as they may).
    assert [entry for entry in seen if entry[1] == horse] == [
        ("main_work_horse", horse),
        ("setup_work_horse_signals", horse),
        ("perform_job", horse, "True"),
    ]
    assert [entry for entry in seen if entry[1] == me] == [
        ("fork_work_horse", me),
        ("monitor_work_horse", me, "True"),
        ("wait_for_horse", me, "True", "True"),
    ]


def test_a_reused_horse_calls_perform_job_for_each_job(redis_queue, redis_client):
    jobs = [redis_queue.enqueue(fixtures.pid_of_runner) for _ in range(2)]
    HorseRecording([redis_queue], reuse_horse=True).work(burst=True, logging_level="WARNING")
    horse = str(jobs[0].result)
    assert hooks(redis_client) == [
        ("setup_work_horse_signals", horse),
        ("perform_job", horse, "True"),
        ("perform_job", horse, "True"),
    ]


@pytest.mark.parametrize("reuse_horse", [False, True], ids=["fork-per-job", "reused-horse"])
def test_work_horse_killed_handler(redis_queue, reuse_horse):
    """RQ's work_horse_killed_handler(job, retpid, ret_val, rusage), after the worker's
    handle_work_horse_killed()."""
    job = redis_queue.enqueue(fixtures.kill_own_horse)
    seen = []

    class Watching(Worker):
        def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
            seen.append("hook")
            super().handle_work_horse_killed(job, retpid, ret_val, rusage)

    def handler(killed, retpid, ret_val, rusage):
        seen.append((killed.id, retpid > 0, os.WTERMSIG(ret_val), rusage.ru_maxrss > 0))

    Watching([redis_queue], work_horse_killed_handler=handler, reuse_horse=reuse_horse).work(
        burst=True, logging_level="WARNING"
    )
    assert seen == ["hook", (job.id, True, signal.SIGKILL, True)]
    assert job.get_status() == "failed"


def test_a_main_work_horse_that_ends_the_horse_itself(redis_queue):
    """RQ's main_work_horse ends with os._exit(0): the outcome is then read from the job's record."""
    job = redis_queue.enqueue(fixtures.add, 1, 2)

    class Exiting(Worker):
        def main_work_horse(self, job, queue):
            super().main_work_horse(job, queue)
            os._exit(0)

    worker = Exiting([redis_queue])
    worker.work(burst=True, logging_level="WARNING")
    assert job.get_status() == "finished" and job.result == 3
    assert worker.successful_job_count == 1


def test_stop_execution_command(redis_queue):
    job = redis_queue.enqueue(fixtures.sleep_for, 60)
    sent = []

    class Stopping(Worker):
        def monitor_work_horse(self, job, queue, execution):
            sent.append(send_stop_execution_command(self.connection, job.id, execution.id))
            return super().monitor_work_horse(job, queue, execution)

    Stopping([redis_queue], name="stopper").work(burst=True, logging_level="WARNING")
    assert sent == [1]
    assert wait_for(lambda: job.get_status() == "stopped")
    with pytest.raises(InvalidJobOperation, match="is not running"):
        send_stop_execution_command(redis_queue.connection, job.id, "another")


def test_handle_payload_is_what_receives_commands(redis_queue):
    received = []

    class Listening(Worker):
        def handle_payload(self, message):
            received.append(message["data"])
            super().handle_payload(message)

    job = redis_queue.enqueue(fixtures.sleep_for, 60)

    class Sending(Listening):
        def monitor_work_horse(self, job, queue, execution):
            from jq.command import send_kill_horse_command

            send_kill_horse_command(self.connection, self.name)
            return super().monitor_work_horse(job, queue, execution)

    Sending([redis_queue]).work(burst=True, logging_level="WARNING")
    assert wait_for(lambda: job.get_status() == "failed")
    assert received and b"kill-horse" in received[0]


def test_kill_horse_with_another_signal(redis_queue, tmp_path):
    started = tmp_path / "started"
    job = redis_queue.enqueue(fixtures.mark_started_and_sleep, str(started), 60)

    class Terminating(Worker):
        def monitor_work_horse(self, job, queue, execution):
            # Once the job runs (the horse has its own signal handlers by then).
            assert wait_for(started.exists)
            self.kill_horse(signal.SIGTERM)
            return super().monitor_work_horse(job, queue, execution)

    Terminating([redis_queue]).work(burst=True, logging_level="WARNING")
    assert job.get_status() == "failed"
    assert "killed by signal 15 (SIGTERM)" in job.exc_info


def test_fork_work_horse_override_must_start_a_horse(redis_queue):
    redis_queue.enqueue(fixtures.add, 1, 2)

    class Broken(Worker):
        def fork_work_horse(self, job, queue):
            pass

    with pytest.raises(RuntimeError, match="started no work horse"):
        Broken([redis_queue]).work(burst=True, logging_level="WARNING")
