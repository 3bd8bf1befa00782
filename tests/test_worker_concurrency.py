"""A worker running several jobs at once (``SimpleWorker(queues, concurrency=N, pool=...)``), in a
thread of this process, on every driver: jobs really overlap (shown by barriers that only jobs
running at the same time get through), never more than N at once, and every guarantee of a job
holds per job (timeouts, stop-job, callbacks, retries, one outcome).

tests/test_worker_concurrency_processes.py runs such workers as processes (signals, SIGKILL, the
command line).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace

import pytest

from jq import Callback, Queue, Retry, SimpleWorker, Worker
from jq.cli.info import take_snapshot
from jq.command import send_kill_horse_command, send_stop_job_command
from jq.exceptions import ConfigurationError, ShutDownImminentException
from jq.job import Job
from jq.results import Result
from jq.testing.helpers import wait_for
from jq.worker import SpawnWorker, WorkerStatus
from tests import fixtures

POOLS = ["asyncio", "threads"]


pytestmark = pytest.mark.usefixtures("fresh_gates")


def gate() -> str:
    """A name of its own for the gates of one test."""
    return uuid.uuid4().hex


class Running:
    """A concurrent SimpleWorker working in a background thread."""

    def __init__(self, queue: Queue, concurrency: int, pool: str, **options: object) -> None:
        work = {"logging_level": "WARNING", **options.pop("work", {})}  # type: ignore[dict-item]
        self.worker = SimpleWorker(
            [queue], concurrency=concurrency, pool=pool, job_monitoring_interval=0.2, worker_ttl=3, **options
        )
        self.queue = queue
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, kwargs=work)
        self.thread.start()

    def _work(self, **work: object) -> None:
        try:
            self.worker.work(**work)  # type: ignore[arg-type]
        except BaseException as error:  # handed to the test
            self.error = error

    def join(self, timeout: float = 30) -> None:
        """Wait for the worker to stop; fail the test if it does not, or if it raised."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the worker did not stop"
        assert self.error is None, repr(self.error)

    def stop(self) -> None:
        """Warm-stop the worker and wait for it."""
        self.worker.request_stop()
        self.join()


def burst(queue: Queue, concurrency: int, pool: str, **options: object) -> SimpleWorker:
    """Run the queue's jobs with a concurrent worker in burst mode (this thread); the worker."""
    worker = SimpleWorker([queue], concurrency=concurrency, pool=pool, **options)
    worker.work(burst=True, logging_level="WARNING")
    return worker


class TestOverlap:
    """Jobs really run at the same time, up to the limit and never past it."""

    def test_async_jobs_await_together_on_the_loop(self, queue):
        name, parties = gate(), 5
        jobs = [queue.enqueue(fixtures.async_gate, name, parties, 20) for _ in range(parties)]
        burst(queue, parties, "asyncio")
        assert [job.get_status() for job in jobs] == ["finished"] * parties, [job.exc_info for job in jobs]
        assert {job.return_value() for job in jobs} == {"through"}

    @pytest.mark.parametrize("pool", POOLS)
    def test_blocking_jobs_meet_at_a_barrier(self, queue, pool):
        """Plain functions run on threads in both pools."""
        name, parties = gate(), 4
        jobs = [queue.enqueue(fixtures.thread_barrier, name, parties, 20) for _ in range(parties)]
        worker = burst(queue, parties, pool)
        assert [job.get_status() for job in jobs] == ["finished"] * parties, [job.exc_info for job in jobs]
        assert sorted(job.return_value() for job in jobs) == list(range(parties))
        assert worker.successful_job_count == parties

    def test_the_limit_is_never_passed(self, queue):
        name, limit, total = gate(), 3, 8
        jobs = [queue.enqueue(fixtures.count_while_held, name) for _ in range(total)]
        running = Running(queue, limit, "threads", work={"burst": True})
        try:
            assert wait_for(lambda: fixtures.active_peak(name)[0] == limit, timeout=30)
            engine = running.worker._engine
            assert engine is not None
            # Every slot is taken: the worker claims nothing more until one is free.
            assert wait_for(lambda: not running.worker._engine or engine.free == 0, timeout=30)
            assert queue.count == total - limit
            assert queue.started_job_registry.count == limit
        finally:
            fixtures.release_event(name).set()
        running.join()
        assert fixtures.active_peak(name)[1] == limit
        assert [job.get_status() for job in jobs] == ["finished"] * total

    @pytest.mark.parametrize("pool", POOLS)
    def test_results_failures_and_counters(self, queue, pool):
        ok = [queue.enqueue(fixtures.add, n, 1) for n in range(3)]
        coroutine = queue.enqueue(fixtures.async_add, 2, 3)
        bad = queue.enqueue(fixtures.div_by_zero, 1)
        method = queue.enqueue(fixtures.AsyncNumber(4).times, 3)
        worker = burst(queue, 3, pool)
        assert [job.return_value() for job in ok] == [1, 2, 3]
        assert coroutine.return_value() == 5 and method.return_value() == 12
        assert bad.get_status() == "failed" and "ZeroDivisionError" in bad.exc_info
        assert set(queue.finished_job_registry.get_job_ids()) == {j.id for j in [*ok, coroutine, method]}
        assert queue.failed_job_registry.get_job_ids() == [bad.id]
        assert queue.started_job_registry.count == 0
        assert (worker.successful_job_count, worker.failed_job_count) == (5, 1)
        assert worker.total_working_time > 0

    def test_get_current_job_and_a_missing_function(self, queue):
        seen = queue.enqueue(fixtures.async_job_info)
        sync_seen = queue.enqueue(fixtures.current_job_id)
        missing = queue.enqueue("tests.fixtures.no_such_function")
        burst(queue, 2, "asyncio")
        assert seen.return_value()[0] == seen.id
        assert sync_seen.return_value() == sync_seen.id
        assert missing.get_status() == "failed" and "no_such_function" in missing.exc_info

    def test_a_burst_worker_runs_the_dependents_its_jobs_release(self, queue):
        first = queue.enqueue(fixtures.add, 1, 1)
        second = queue.enqueue(fixtures.add, 2, 2, depends_on=first)
        third = queue.enqueue(fixtures.async_add, 3, 3, depends_on=second)
        burst(queue, 4, "asyncio")
        assert [job.get_status() for job in (first, second, third)] == ["finished"] * 3

    def test_max_jobs_starts_no_more(self, queue):
        jobs = [queue.enqueue(fixtures.add, n, n) for n in range(5)]
        worker = SimpleWorker([queue], concurrency=4, pool="threads")
        assert worker.work(burst=True, max_jobs=3, logging_level="WARNING")
        assert sum(job.get_status() == "finished" for job in jobs) == 3
        assert queue.count == 2


class TestTimeouts:
    def test_an_async_job_is_cancelled_at_its_deadline_and_the_others_go_on(self, queue):
        name = gate()
        late = queue.enqueue(fixtures.async_sleep_noting_cancel, 60, job_timeout=1)
        held = queue.enqueue(fixtures.async_hold, name, job_timeout=60)
        running = Running(queue, 2, "asyncio", work={"burst": True})
        try:
            assert wait_for(lambda: late.get_status() == "failed", timeout=30)
            assert "JobTimeoutException: Task exceeded maximum timeout value (1 seconds)" in late.exc_info
            assert late.get_meta()["cancelled"] is True
            assert held.get_status() == "started"
        finally:
            fixtures.release_event(name).set()
        running.join()
        assert held.get_status() == "finished"

    @pytest.mark.parametrize("pool", POOLS)
    def test_a_thread_job_in_python_code_is_stopped_by_its_death_penalty(self, queue, pool):
        job = queue.enqueue(fixtures.busy_loop, 60, job_timeout=1)
        other = queue.enqueue(fixtures.add, 1, 1)
        burst(queue, 2, pool)
        assert job.get_status() == "failed" and "JobTimeoutException" in job.exc_info
        assert other.get_status() == "finished"

    def test_a_blocked_thread_is_recorded_timed_out_and_keeps_its_slot(self, queue):
        """A thread blocked in one C call cannot be stopped: it is recorded as timed out after
        its deadline and the grace, its slot stays taken (concurrency 1: the next job waits), and
        what it returns late is discarded."""
        name = gate()
        blocked = queue.enqueue(fixtures.block_until_released, name, job_timeout=1, retry=Retry(max=1))
        after = queue.enqueue(fixtures.add, 2, 2)
        running = Running(queue, 1, "threads", death_penalty_grace=0.2, work={"burst": True})
        try:
            # Retried once (the Retry holds for a timeout taken over too), then failed for good:
            # the retry waits in the queue meanwhile, behind the job whose thread still blocks.
            assert wait_for(lambda: blocked.latest_result() is not None, timeout=30)
            assert blocked.get_status() == "queued"
            retried = blocked.latest_result()
            assert retried is not None and retried.type is Result.Type.RETRIED, retried
            assert "JobTimeoutException" in retried.exc_string and "did not stop" in retried.exc_string
            assert after.get_status() == "queued"
            assert running.worker._engine is not None and running.worker._engine.free == 0
        finally:
            fixtures.release_event(name).set()
        running.join()
        # The late return was discarded; the retry ran (released: it returned at once) and the
        # next job too.
        assert blocked.get_status() == "finished" and blocked.return_value() == "released"
        assert [r.type for r in blocked.results()][-1] is Result.Type.RETRIED
        assert after.get_status() == "finished"

    def test_an_async_job_blocking_the_loop_is_recorded_timed_out(self, queue):
        job = queue.enqueue(fixtures.async_block_the_loop, 1.5, job_timeout=1)
        burst(queue, 2, "asyncio", death_penalty_grace=0.2)
        job.refresh()
        assert job.get_status() == "failed" and "blocks the event loop" in job.exc_info
        assert [r.type for r in job.results()] == [Result.Type.FAILED]


class TestStopping:
    @pytest.mark.parametrize("pool", POOLS)
    def test_stop_job_stops_one_of_several(self, queue, pool):
        name = gate()
        function = fixtures.async_hold if pool == "asyncio" else fixtures.count_while_held
        jobs = [
            queue.enqueue(function, name, retry=Retry(max=2), on_stopped=fixtures.on_stopped_record)
            for _ in range(3)
        ]
        running = Running(queue, 3, pool, name=f"stopper-{pool}")
        try:
            assert wait_for(lambda: fixtures.active_peak(name)[0] == 3, timeout=30)
            target = jobs[1]
            assert send_stop_job_command(queue.connection, target.id) == 1
            assert wait_for(lambda: target.get_status() == "stopped", timeout=30)
            assert "JobStopped" in target.exc_info
            assert target.latest_result().type is Result.Type.STOPPED
            assert wait_for(lambda: ("stopped", target.id) in fixtures.SEEN, timeout=30)
            if pool == "asyncio":
                assert target.get_meta()["cancelled"] is True
            assert [jobs[0].get_status(), jobs[2].get_status()] == ["started", "started"]
        finally:
            fixtures.release_event(name).set()
        assert wait_for(lambda: jobs[0].get_status() == jobs[2].get_status() == "finished", timeout=30)
        running.stop()
        assert target.get_status() == "stopped"

    def test_kill_horse_ends_every_running_job(self, queue):
        name = gate()
        jobs = [queue.enqueue(fixtures.async_hold, name) for _ in range(2)]
        running = Running(queue, 2, "asyncio", name="killer")
        try:
            assert wait_for(lambda: fixtures.active_peak(name)[0] == 2, timeout=30)
            send_kill_horse_command(queue.connection, "killer")
            assert wait_for(lambda: all(job.get_status() == "failed" for job in jobs), timeout=30)
            assert all("kill-horse command" in job.exc_info for job in jobs)
        finally:
            running.stop()

    @pytest.mark.parametrize("pool", POOLS)
    def test_warm_shutdown_lets_running_jobs_finish(self, queue, pool):
        name = gate()
        function = fixtures.async_hold if pool == "asyncio" else fixtures.count_while_held
        running_jobs = [queue.enqueue(function, name) for _ in range(2)]
        waiting = queue.enqueue(fixtures.add, 1, 2)
        running = Running(queue, 2, pool)
        assert wait_for(lambda: fixtures.active_peak(name)[0] == 2, timeout=30)
        running.worker.request_stop()
        # It takes no new job, and still waits for those running.
        assert running.thread.is_alive()
        fixtures.release_event(name).set()
        running.join()
        assert [job.get_status() for job in running_jobs] == ["finished", "finished"]
        assert waiting.get_status() == "queued" and queue.job_ids == [waiting.id]
        assert SimpleWorker.count(connection=queue.broker) == 0

    def test_cold_shutdown_ends_every_job(self, queue):
        """Async jobs are cancelled, a thread in Python code is interrupted, a blocked thread is
        recorded as ended by the shutdown; a job with retries left is retried."""
        name = gate()
        task = queue.enqueue(fixtures.async_hold, name)
        napping = queue.enqueue(fixtures.count_while_held, name, retry=Retry(max=1))
        blocked = queue.enqueue(fixtures.block_until_released, name, on_failure=fixtures.on_failure_record)
        running = Running(queue, 3, "asyncio")
        try:
            assert wait_for(lambda: fixtures.active_peak(name)[0] == 2, timeout=30)
            assert wait_for(lambda: blocked.get_status() == "started", timeout=30)
            running.worker.request_stop()
            running.worker.request_force_stop()
            running.join()
        finally:
            fixtures.release_event(name).set()
        assert task.get_status() == "failed" and "cold shutdown" in task.exc_info
        assert task.get_meta()["cancelled"] is True
        assert napping.get_status() == "queued" and "cold shutdown" in napping.exc_info
        assert blocked.get_status() == "failed" and "cold shutdown" in blocked.exc_info
        assert ("failure", blocked.id, ShutDownImminentException) in fixtures.SEEN
        assert queue.started_job_registry.count == 0
        assert SimpleWorker.count(connection=queue.broker) == 0


class TestCallbacksAndRetries:
    @pytest.mark.parametrize("pool", POOLS)
    def test_callbacks_and_retries_per_job(self, queue, pool):
        ok = queue.enqueue(fixtures.add, 1, 2, on_success=fixtures.on_success_record)
        async_ok = queue.enqueue(fixtures.async_add, 1, 1, on_success=Callback(fixtures.async_on_success))
        bad = queue.enqueue(
            fixtures.async_raise, "no", on_failure=fixtures.on_failure_record, retry=Retry(max=1)
        )
        flaky = queue.enqueue(fixtures.fail_once_then_succeed, "flaky", retry=Retry(max=2))
        asking = queue.enqueue(fixtures.return_retry, 1)
        broken = queue.enqueue(fixtures.add, 1, 1, on_success=fixtures.on_success_raise)
        burst(queue, 3, pool, exception_handlers=[fixtures.record_handler])
        assert ("success", ok.id, 3) in fixtures.SEEN
        assert async_ok.get_meta()["async_callback"] == 2
        bad.refresh()
        assert bad.get_status() == "failed" and bad.retries_left == 0
        assert [entry for entry in fixtures.SEEN if entry[1] == bad.id] == [
            ("record", bad.id, ValueError),
            ("record", bad.id, ValueError),
            ("failure", bad.id, ValueError),
        ]
        assert flaky.return_value() == "flaky done after 2 attempts"
        assert asking.get_status() == "failed"
        assert asking.latest_result().type is Result.Type.MAX_RETRIES_EXCEEDED
        assert broken.get_status() == "failed" and "callback broke" in broken.exc_info


class TestRecord:
    def test_the_record_and_the_worker_say_what_runs(self, queue):
        name = gate()
        jobs = [queue.enqueue(fixtures.async_hold, name) for _ in range(3)]
        running = Running(queue, 4, "asyncio", name="lister")
        try:
            assert wait_for(lambda: fixtures.active_peak(name)[0] == 3, timeout=30)
            ids = {job.id for job in jobs}

            def listed() -> bool:
                view = Worker.find_by_key(queue.broker.worker_key("lister"), connection=queue.broker)
                return view is not None and set(view.get_running_job_ids()) == ids

            assert wait_for(listed, timeout=30)
            view = Worker.find_by_key(queue.broker.worker_key("lister"), connection=queue.broker)
            assert view.state == WorkerStatus.BUSY
            assert view.get_current_job_id() in ids
            assert {e.job_id for e in view.get_current_executions(refresh=True)} == ids
            assert view.current_execution_count == 3
            # jqueue info shows the current job and how many run beside it.
            row = take_snapshot(queue.broker, ["default"]).workers[0]
            assert set(row.running_jobs) == ids and row.jobs_shown == f"{row.current_job} +2"
            worker = running.worker
            assert worker.get_current_job_id() == jobs[0].id  # the oldest
            assert [job.id for job in worker.running_jobs] == [job.id for job in jobs]
            assert worker.concurrency == 4 and worker.pool == "asyncio"
        finally:
            fixtures.release_event(name).set()
        assert wait_for(lambda: all(job.get_status() == "finished" for job in jobs), timeout=30)

        def idle() -> bool:
            view = Worker.find_by_key(queue.broker.worker_key("lister"), connection=queue.broker)
            return view is not None and view.get_running_job_ids() == [] and view.state == WorkerStatus.IDLE

        assert wait_for(idle, timeout=30)
        running.stop()


class TestRefusals:
    @pytest.mark.parametrize("cls", [Worker, SpawnWorker])
    def test_a_worker_with_work_horses_refuses(self, fakeredis_client, cls):
        with pytest.raises(ConfigurationError, match=r"one at a time.*SimpleWorker"):
            cls(["default"], connection=fakeredis_client, concurrency=4)

    def test_bad_settings(self, queue):
        with pytest.raises(ConfigurationError, match="pool 'fibers' is not one jq has"):
            SimpleWorker([queue], concurrency=2, pool="fibers")
        with pytest.raises(ConfigurationError, match="at least 1"):
            SimpleWorker([queue], concurrency=0)
        # A typo's extra zeros would take the machine's memory before the first job.
        with pytest.raises(ConfigurationError, match="use at most 1,000,000, and more workers for more"):
            SimpleWorker([queue], concurrency=100_000_000)

    def test_a_class_that_runs_one_job_to_its_end_refuses(self, queue):
        class Custom(SimpleWorker):
            def perform_job(self, job, queue, execution=None):  # type: ignore[no-untyped-def]
                return super().perform_job(job, queue, execution)

        with pytest.raises(ConfigurationError, match="overrides perform_job"):
            Custom([queue], concurrency=2)
        assert Custom([queue]).concurrency == 1

    def test_defaults(self, queue):
        assert SimpleWorker([queue]).pool is None
        assert SimpleWorker([queue], concurrency=3).pool == "asyncio"
        assert SimpleWorker([queue], pool="threads").concurrency == 1


def test_a_job_of_a_concurrent_worker_is_a_job_like_any(queue):
    """Its record: started by this worker, ended with its execution's result."""
    job = queue.enqueue(fixtures.add, 2, 2)
    burst(queue, 2, "threads", name="plain")
    fetched = Job.fetch(job.id, connection=queue.broker)
    assert fetched.worker_name == "plain" and fetched.latest_result().type is Result.Type.SUCCESSFUL


class TestBatching:
    """Free slots are filled by one claim, and outcomes ready together are written in one call;
    every job still gets its own outcome, in queue order and the priority order of the queues."""

    def test_free_slots_are_claimed_in_one_call_in_priority_order(self, queue, monkeypatch):
        broker = queue.broker
        high = Queue("high", connection=broker)
        highs = [high.enqueue(fixtures.add, n, 1) for n in range(2)]
        lows = [queue.enqueue(fixtures.add, n, 2) for n in range(3)]
        calls: list[tuple[int, list[str]]] = []
        claim_many = broker.claim_many

        def spy(request, executions, **options):
            claimed = claim_many(request, executions, **options)
            calls.append((len(executions), [item.job_id for item in claimed]))
            return claimed

        monkeypatch.setattr(broker, "claim_many", spy)
        worker = SimpleWorker([high, queue], concurrency=5, pool="threads")
        worker.work(burst=True, logging_level="WARNING")
        assert calls[0] == (5, [job.id for job in highs + lows]), calls
        for job in highs + lows:
            assert job.get_status() == "finished" and len(job.results()) == 1
        assert worker.successful_job_count == 5

    @pytest.mark.parametrize("pool", POOLS)
    def test_outcomes_ready_together_are_written_in_one_call(self, queue, pool, monkeypatch):
        """One write in flight; the three outcomes that come meanwhile go in the next call, each
        made or refused on its own: a failure and a refused (stale) outcome touch no other job."""
        broker, name = queue.broker, gate()
        good = [queue.enqueue(fixtures.thread_barrier, name, 5) for _ in range(2)]
        bad = queue.enqueue(fixtures.thread_barrier_then_fail, name, 5)
        refused = queue.enqueue(fixtures.thread_barrier, name, 5)
        writes: list[list[str]] = []
        transition, transition_many = broker.transition, broker.transition_many
        running = Running(queue, 4, pool, work={"burst": True})

        def tamper(change):
            if change.job_id == refused.id:  # as if another execution had taken it over
                return replace(change, execution_id="stale")
            return change

        def hold_first(changes):
            if (
                any(change.job_id in {job.id for job in (*good, bad, refused)} for change in changes)
                and not writes
            ):
                # The first outcome's write waits until the three others are queued behind it.
                commits = running.worker._engine.commits
                assert wait_for(lambda: len(commits._queued) == 3, timeout=30)
            writes.append([change.job_id for change in changes])

        def spy_one(change):
            hold_first([change])
            return transition(tamper(change))

        def spy_many(changes, claim=None):
            # (A write that claims the next job with it, see commits.py, comes here even alone.)
            hold_first(changes)
            return transition_many([tamper(change) for change in changes], claim)

        monkeypatch.setattr(broker, "transition", spy_one)
        monkeypatch.setattr(broker, "transition_many", spy_many)
        fixtures.thread_barrier(name, 5)  # the four jobs run at once: they end together
        running.join()
        assert sorted(len(ids) for ids in writes) == [1, 3], writes
        assert sorted(id_ for ids in writes for id_ in ids) == sorted(j.id for j in (*good, bad, refused))
        for job in good:
            assert job.get_status() == "finished" and len(job.results()) == 1
        assert bad.get_status() == "failed" and len(bad.results()) == 1
        assert "failed at the barrier" in bad.latest_result().exc_string
        assert refused.get_status() == "started" and refused.results() == [], "refused: nothing written"

    def test_a_batch_refused_whole_is_written_one_by_one(self, queue, monkeypatch):
        from jq.worker.concurrency.commits import GroupCommit, _Write

        broker = queue.broker
        jobs = [queue.enqueue(fixtures.add, n, 0) for n in range(2)]
        worker = SimpleWorker([queue])
        changes = []
        for job in jobs:
            claimed = worker.claim_next(None)
            assert claimed is not None and claimed.job_id == job.id
            changes.append(finish_change(job.id, claimed.record["execution"].decode()))

        def broken(changes, claim=None):
            raise RuntimeError("a key of the wrong type")

        monkeypatch.setattr(broker, "transition_many", broken)
        commits = GroupCommit(broker)
        batch = [_Write(change) for change in changes]
        commits._commit(batch)
        assert [(item.moved, item.error) for item in batch] == [(True, None), (True, None)]
        assert [job.get_status() for job in jobs] == ["finished", "finished"]
        assert (commits.calls, commits.written) == (2, 2)


class TestRides:
    """A slot's next job is claimed with the outcome of its job (one round trip, see
    jq/worker/concurrency/commits.py), and goes back to its queue if it may not start."""

    @staticmethod
    def spy_rides(broker, monkeypatch, before=None):
        """Record the job claimed by each write that carried a claim (None: the queues were
        empty); ``before()`` runs before such a write."""
        rides: list[str | None] = []
        transition_many = broker.transition_many

        def spy(changes, claim=None):
            if claim is not None and before is not None:
                before()
            moved, claimed = transition_many(changes, claim)
            if claim is not None:
                rides.append(None if claimed is None else claimed.job_id)
            return moved, claimed

        monkeypatch.setattr(broker, "transition_many", spy)
        return rides

    @pytest.mark.parametrize("pool", POOLS)
    def test_each_next_job_rides_on_the_outcome_before_it(self, queue, pool, monkeypatch):
        jobs = [queue.enqueue(fixtures.add, n, 1) for n in range(4)]
        rides = self.spy_rides(queue.broker, monkeypatch)
        worker = SimpleWorker([queue], concurrency=1, pool=pool)
        worker.work(burst=True, logging_level="WARNING")
        # The first job is claimed for the free slot; each next one with the outcome before it.
        assert rides == [job.id for job in jobs[1:]] + [None]
        for n, job in enumerate(jobs):
            assert job.get_status() == "finished" and job.latest_result().return_value == n + 1
        assert worker.successful_job_count == 4

    def test_a_job_that_rides_in_as_the_worker_stops_goes_back(self, queue, monkeypatch):
        first = queue.enqueue(fixtures.add, 1, 1)
        second = queue.enqueue(fixtures.add, 2, 2)
        worker = SimpleWorker([queue], concurrency=1, pool="threads")
        # The stop comes as the outcome's write (with its claim) is under way.
        rides = self.spy_rides(queue.broker, monkeypatch, before=worker.request_stop)
        worker.work(burst=True, logging_level="WARNING")
        assert rides == [second.id]
        assert first.get_status() == "finished"
        assert second.get_status() == "queued" and second.results() == []
        assert queue.job_ids == [second.id]
        assert worker.successful_job_count == 1

    def test_no_ride_when_user_code_follows_the_outcome(self, queue, monkeypatch):
        """An on_failure callback runs after the failure is written: the next job is not claimed
        with that write (it would wait claimed, shown running, while the callback runs)."""
        failing = queue.enqueue(fixtures.div_by_zero, 1, on_failure=Callback(fixtures.on_failure_record))
        after = queue.enqueue(fixtures.add, 1, 1)
        rides = self.spy_rides(queue.broker, monkeypatch)
        worker = SimpleWorker([queue], concurrency=1, pool="threads")
        worker.work(burst=True, logging_level="WARNING")
        assert rides == [None]  # the last job's write claimed (nothing was left), not the first's
        assert failing.get_status() == "failed" and after.get_status() == "finished"

    def test_no_ride_under_max_jobs(self, queue, monkeypatch):
        jobs = [queue.enqueue(fixtures.add, n, 1) for n in range(3)]
        rides = self.spy_rides(queue.broker, monkeypatch)
        worker = SimpleWorker([queue], concurrency=1, pool="threads")
        worker.work(burst=True, max_jobs=2, logging_level="WARNING")
        assert rides == []
        assert [job.get_status() for job in jobs] == ["finished", "finished", "queued"]


def finish_change(job_id: str, execution: str):
    """A transition that finishes a started job of the default queue (its execution's)."""
    from jq.broker import STATUS, Move, Place, PlaceKind, RecordEdit, ToRegistry, Transition

    started, finished = Place(PlaceKind.STARTED, "default"), Place(PlaceKind.FINISHED, "default")
    return Transition(
        job_id, Move(started, ToRegistry(finished, 4_000_000_000.0)), RecordEdit({STATUS: b"finished"}),
        execution_id=execution,
    )  # fmt: skip
