"""RQ 3.0's ``Repeat`` (docs/docs/scheduling.md, "Repeating Jobs"), on every driver: a job that
succeeds runs again ``times`` more times, after its intervals; a failure is not repeated."""

from __future__ import annotations

import datetime
import re
import time

import pytest

from jq import Queue, Repeat, SimpleWorker
from jq.job import Job
from jq.results import Result
from jq.scheduler import Scheduler
from tests import fixtures
from tests.processes import HORSE_MODES, WORKER_MODES, start_worker, stop

SUCCESSFUL = Result.Type.SUCCESSFUL


def run_burst(queue: Queue) -> None:
    SimpleWorker([queue]).work(burst=True)


def result_types(job: Job) -> list[Result.Type]:
    return [result.type for result in job.results()]


def test_a_job_is_repeated_after_it_succeeds(queue):
    job = queue.enqueue(fixtures.add, 1, 2, repeat=Repeat(times=2))
    assert (job.repeats_left, job.repeat_intervals) == (2, [0])
    stored = Job.fetch(job.id, connection=queue.broker)
    assert (stored.repeats_left, stored.repeat_intervals) == (2, [0])
    run_burst(queue)
    job.refresh()
    assert job.get_status() == "finished" and job.repeats_left == 0
    assert result_types(job) == [SUCCESSFUL] * 3, "the first run and two repeats"
    assert job.return_value() == 3
    assert job.id in queue.finished_job_registry


def test_intervals_schedule_each_repeat(queue):
    job = queue.enqueue(fixtures.add, 1, 2, repeat=Repeat(times=3, interval=[10, 30]))
    started = time.time()
    run_burst(queue)
    job.refresh()
    assert job.get_status() == "scheduled"
    assert (job.repeats_left, job.repeat_intervals) == (2, [30]), "the first interval is used up"
    due = queue.scheduled_job_registry.get_scheduled_time(job).timestamp()
    assert started + 10 - 2 <= due <= time.time() + 10 + 2
    assert job.id not in queue.finished_job_registry, "a job is in one place: its next run's"
    assert Scheduler([queue]).tick(now=due + 1) == 1
    second = time.time()
    run_burst(queue)
    job.refresh()
    assert (job.repeats_left, job.repeat_intervals) == (1, [30]), "the last interval is kept"
    due = queue.scheduled_job_registry.get_scheduled_time(job).timestamp()
    assert second + 30 - 2 <= due <= time.time() + 30 + 2
    assert result_types(job) == [SUCCESSFUL, SUCCESSFUL]


def test_a_failure_is_not_repeated(queue):
    job = queue.enqueue(fixtures.div_by_zero, 1, repeat=Repeat(times=3))
    run_burst(queue)
    job.refresh()
    assert job.get_status() == "failed" and job.repeats_left == 3
    assert [result.type for result in job.results()] == [Result.Type.FAILED]


def test_dependents_are_released_by_the_first_success(queue):
    parent = queue.enqueue(fixtures.add, 1, 2, repeat=Repeat(times=1, interval=60))
    child = queue.enqueue(fixtures.add, 3, 4, depends_on=parent)
    assert child.get_status() == "deferred"
    run_burst(queue)
    assert parent.get_status() == "scheduled"
    assert child.get_status() == "finished"


def test_result_ttl_zero_keeps_the_job_until_its_last_run(queue):
    job = queue.enqueue(fixtures.add, 1, 2, result_ttl=0, repeat=Repeat(times=1))
    run_burst(queue)
    assert not Job.exists(job.id, queue.broker), "deleted after its last run, as result_ttl=0 says"


def test_repeat_goes_with_enqueue_at_and_enqueue_many(queue):
    scheduled = queue.enqueue_in(datetime.timedelta(seconds=60), fixtures.add, 1, 2, repeat=Repeat(2, 5))
    batch = queue.enqueue_many([Queue.prepare_data(fixtures.add, (1, 2), repeat=Repeat(1))])
    for job in (scheduled, batch[0]):
        stored = Job.fetch(job.id, connection=queue.broker)
        assert stored.repeats_left == job.repeats_left and stored.repeat_intervals == job.repeat_intervals
    run_burst(queue)
    assert batch[0].get_status() == "finished" and len(batch[0].results()) == 2


def test_is_async_false_runs_the_repeats_at_once(broker):
    queue = Queue(connection=broker, is_async=False)
    job = queue.enqueue(fixtures.add, 1, 2, repeat=Repeat(times=2, interval=[3600]))
    assert job.get_status() == "finished" and job.repeats_left == 0
    assert result_types(job) == [SUCCESSFUL] * 3


def test_schedule_puts_a_job_back_as_rq_documents(queue):
    job = queue.enqueue(fixtures.add, 1, 2, repeat=Repeat(times=2, interval=[0, 60]))
    run_burst(queue)  # runs now, then once more at once, then waits 60 s
    job.refresh()
    assert (job.get_status(), job.repeats_left) == ("scheduled", 0)
    with pytest.raises(ValueError, match="no repeats left"):
        Repeat.schedule(job, queue)


@pytest.mark.parametrize("mode", HORSE_MODES)
def test_repeats_in_a_work_horse(redis_server, redis_client, mode):
    """The same with a forking Worker, on a real server."""
    queue = Queue(connection=redis_client)
    job = queue.enqueue(fixtures.add, 1, 2, repeat=Repeat(times=2))
    worker = start_worker(
        redis_server.url, name=f"repeating-{mode}", work={"burst": True}, **WORKER_MODES[mode]
    )
    code, stderr = stop(worker)
    assert code == 0, stderr
    assert job.get_status() == "finished"
    assert result_types(job) == [SUCCESSFUL] * 3


@pytest.mark.parametrize(
    ("times", "interval", "says"),
    [
        ("2", 0, "times must be a whole number of repeats (1 or more), not '2'"),
        (2.5, 0, "times must be a whole number of repeats"),
        (2, "60", "interval must be a number of seconds or a list of them, not '60'"),
        (2, [60, None], "not [60, None]"),
    ],
)
def test_a_repeat_of_the_wrong_type_says_what_it_takes(times, interval, says):
    with pytest.raises(TypeError, match=re.escape(says)):
        Repeat(times=times, interval=interval)


def test_a_nan_interval_is_refused():
    with pytest.raises(ValueError, match="intervals cannot be negative"):
        Repeat(times=2, interval=[float("nan")])
