"""``Queue(is_async=False)`` ends every job exactly as a worker would.

Each scenario runs twice, on two empty brokers of the same driver: once on a synchronous queue
(everything happens inside ``enqueue``), once on an ordinary queue run by a SimpleWorker in burst
mode (moving jq's scheduling clock an hour on, and bursting again, while retries wait). Then
every job's final state is compared: status, result, error, registry, retries left, results
kept, meta, expiry and what its callbacks saw. Each scenario also states a few facts of that
final state, so the two cannot agree on being wrong.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import fakeredis
import pytest

from jq import Callback, Queue, Retry, SimpleWorker
from jq.broker import Broker, Place, PlaceKind
from jq.clock import use_scheduling_clock
from jq.dependency import Dependency
from jq.exceptions import NoSuchJobError
from jq.job import Job
from jq_backends.memory import MemoryBroker
from jq_backends.redis import RedisBroker
from tests import fixtures
from tests.conftest import DRIVERS

# Passes of "burst, then an hour later" before the worker side gives up on idling.
_MAX_PASSES = 10


@dataclass
class Scenario:
    """Jobs to enqueue on a queue (synchronous or not), the ids to compare, and facts to check."""

    name: str
    enqueue: Callable[[Queue], None]
    job_ids: tuple[str, ...]
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: list[Any] | None = None


def _chain(queue: Queue) -> None:
    first = queue.enqueue(fixtures.add, 1, 1, job_id="first")
    second = queue.enqueue(fixtures.add, 2, 2, job_id="second", depends_on=first)
    queue.enqueue(fixtures.add, 3, 3, job_id="third", depends_on=[first, second])


def _failed_parent(queue: Queue) -> None:
    parent = queue.enqueue(fixtures.div_by_zero, 1, job_id="parent")
    child = queue.enqueue(fixtures.add, 1, 1, job_id="child", depends_on=parent)
    queue.enqueue(fixtures.add, 2, 2, job_id="grandchild", depends_on=child)


def _allow_failure(queue: Queue) -> None:
    parent = queue.enqueue(fixtures.div_by_zero, 1, job_id="parent")
    queue.enqueue(
        fixtures.add, 1, 1, job_id="child", depends_on=Dependency(jobs=[parent], allow_failure=True)
    )


def _ttls(queue: Queue) -> None:
    queue.enqueue(fixtures.add, 1, 1, job_id="dropped", result_ttl=0)
    queue.enqueue(fixtures.add, 1, 2, job_id="kept", result_ttl=600)
    queue.enqueue(fixtures.add, 1, 3, job_id="forever", result_ttl=-1)
    queue.enqueue(fixtures.div_by_zero, 1, job_id="failed-dropped", failure_ttl=0)
    queue.enqueue(fixtures.div_by_zero, 1, job_id="failed-kept", failure_ttl=1200)


SCENARIOS = [
    Scenario(
        "success",
        lambda q: q.enqueue(fixtures.add, 2, 3, job_id="job"),
        ("job",),
        {"job": {"status": "finished", "result": 5, "places": ["finished"]}},
    ),
    Scenario(
        "failure",
        lambda q: q.enqueue(fixtures.div_by_zero, 1, job_id="job"),
        ("job",),
        {"job": {"status": "failed", "error": "ZeroDivisionError: division by zero", "places": ["failed"]}},
    ),
    Scenario(
        "retries used up, with intervals",
        lambda q: q.enqueue(
            fixtures.div_by_zero,
            1,
            job_id="job",
            retry=Retry(max=2, interval=[10, 30]),
            on_failure=fixtures.on_failure_record,
        ),
        ("job",),
        {"job": {"status": "failed", "retries_left": 0, "results": ["FAILED", "RETRIED", "RETRIED"]}},
        seen=[("failure", "job", ZeroDivisionError)],
    ),
    Scenario(
        "a retry succeeds",
        lambda q: q.enqueue(
            fixtures.fail_once_then_succeed, "k", job_id="job", retry=Retry(max=3, interval=60)
        ),
        ("job",),
        {"job": {"status": "finished", "retries_left": 2, "meta": {"attempts": 2}}},
    ),
    Scenario(
        "timeout",
        lambda q: q.enqueue(fixtures.sleep_for, 30, job_id="job", job_timeout=1),
        ("job",),
        {
            "job": {
                "status": "failed",
                "error": "jq.timeouts.JobTimeoutException: Task exceeded maximum timeout value (1 seconds)",
            }
        },
    ),
    Scenario(
        "on_success",
        lambda q: q.enqueue(
            fixtures.add, 1, 2, job_id="job", on_success=Callback(fixtures.on_success_record)
        ),
        ("job",),
        {"job": {"status": "finished"}},
        seen=[("success", "job", 3)],
    ),
    Scenario(
        "on_failure",
        lambda q: q.enqueue(fixtures.div_by_zero, 1, job_id="job", on_failure=fixtures.on_failure_record),
        ("job",),
        {"job": {"status": "failed"}},
        seen=[("failure", "job", ZeroDivisionError)],
    ),
    Scenario(
        "on_stopped",
        lambda q: q.enqueue(fixtures.stop_self, job_id="job", on_stopped=fixtures.on_stopped_record),
        ("job",),
        {"job": {"status": "stopped", "places": ["failed"]}},
        seen=[("stopped", "job")],
    ),
    Scenario(
        "a dependency chain",
        _chain,
        ("first", "second", "third"),
        {"third": {"status": "finished", "result": 6}},
    ),
    Scenario(
        "a failed parent with dependents",
        _failed_parent,
        ("parent", "child", "grandchild"),
        {
            "child": {"status": "deferred", "places": ["deferred"]},
            "grandchild": {"status": "deferred", "places": ["deferred"]},
        },
    ),
    Scenario(
        "a job that returns Retry until none is left",
        lambda q: q.enqueue(fixtures.return_retry, 2, [10, 30], job_id="job"),
        ("job",),
        {
            "job": {
                "status": "failed",
                "places": ["failed"],
                "results": ["MAX_RETRIES_EXCEEDED", "RETRIED", "RETRIED"],
            }
        },
        seen=[("asked-retry", "job")] * 3,
    ),
    Scenario(
        "a job that returns Retry once",
        lambda q: q.enqueue(fixtures.retry_once_then_succeed, "k", job_id="job"),
        ("job",),
        {
            "job": {
                "status": "finished",
                "result": "k done after 2 runs",
                "results": ["SUCCESSFUL", "RETRIED"],
            }
        },
    ),
    Scenario(
        "an on_success callback that raises",
        lambda q: q.enqueue(
            fixtures.add, 1, 2, job_id="job", on_success=fixtures.on_success_record_then_raise
        ),
        ("job",),
        {
            "job": {
                "status": "failed",
                "places": ["failed"],
                "error": "RuntimeError: success callback broke",
                "results": ["FAILED"],
            }
        },
        seen=[("success-raising", "job", 3)],
    ),
    Scenario(
        "a return value the serializer cannot store",
        lambda q: q.enqueue(fixtures.return_unserializable, job_id="job"),
        ("job",),
        {"job": {"status": "finished", "result": "Unserializable return value", "places": ["finished"]}},
    ),
    Scenario(
        "allow_dependency_failures",
        _allow_failure,
        ("parent", "child"),
        {"parent": {"status": "failed"}, "child": {"status": "finished", "result": 2}},
    ),
    Scenario(
        "result_ttl and failure_ttl",
        _ttls,
        ("dropped", "kept", "forever", "failed-dropped", "failed-kept"),
        {
            "dropped": {"status": "gone"},
            "kept": {"expiry": "10 min"},
            "forever": {"expiry": "never"},
            "failed-dropped": {"status": "gone"},
            "failed-kept": {"expiry": "20 min", "places": ["failed"]},
        },
    ),
    Scenario(
        "meta set by the job",
        lambda q: q.enqueue(fixtures.save_progress, 0.5, job_id="job"),
        ("job",),
        {"job": {"meta": {"progress": 0.5}, "result": "saved"}},
    ),
    Scenario(
        "get_current_job",
        lambda q: q.enqueue(fixtures.current_job_id, job_id="job"),
        ("job",),
        {"job": {"result": "job"}},
    ),
    Scenario(
        "a job enqueues its follow-up",
        lambda q: q.enqueue(fixtures.enqueue_follow_up, q.is_async, job_id="job"),
        ("job", "follow-up"),
        {"job": {"result": "deferred"}, "follow-up": {"status": "finished", "result": 3}},
    ),
]


@pytest.fixture(params=DRIVERS)
def two_brokers(request: pytest.FixtureRequest) -> Iterator[tuple[Broker, Broker]]:
    """Two empty brokers of one driver: one for the synchronous run, one for the worker's."""
    if request.param == "memory":
        pair: tuple[Broker, Broker] = (MemoryBroker(), MemoryBroker())
    elif request.param == "fakeredis":
        pair = tuple(RedisBroker(fakeredis.FakeRedis(server=fakeredis.FakeServer())) for _ in "ab")  # type: ignore[assignment]
    else:
        client = request.getfixturevalue("redis_client")
        pair = (RedisBroker(client, prefix="jqsync:"), RedisBroker(client, prefix="jqworker:"))
    yield pair
    for broker in pair:
        broker.close()


def _expiry(broker: Broker, job_id: str) -> str:
    ttl = broker.job_ttl(job_id)
    if ttl is None or math.isinf(ttl):
        return "never"
    return f"{round(ttl / 60)} min"


def final_state(broker: Broker, job_ids: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """What a user can see of each job once everything settled (not who ran it, nor when)."""
    state: dict[str, dict[str, Any]] = {}
    for job_id in job_ids:
        try:
            job = Job.fetch(job_id, connection=broker)
        except NoSuchJobError:
            state[job_id] = {"status": "gone"}
            continue
        places = [
            kind.value
            for kind in PlaceKind
            if kind is not PlaceKind.QUEUE
            and broker.registry_score(Place(kind, job.origin), job_id) is not None
        ]
        if job_id in broker.queue_job_ids(job.origin):
            places.append("queue")
        exc_info = job.exc_info
        state[job_id] = {
            "status": job.get_status(),
            "result": job.return_value(),
            "error": exc_info.strip().splitlines()[-1] if exc_info else None,
            "places": places,
            "retries_left": job.retries_left,
            "results": [result.type.name for result in job.results()],
            "meta": job.get_meta(),
            "expiry": _expiry(broker, job_id),
            "started": job.started_at is not None,
        }
    return state


def run_synchronously(broker: Broker, scenario: Scenario) -> None:
    scenario.enqueue(Queue(connection=broker, is_async=False))


def run_with_a_worker(broker: Broker, scenario: Scenario, moment: list[float]) -> None:
    queue = Queue(connection=broker)
    scenario.enqueue(queue)
    for _ in range(_MAX_PASSES):
        SimpleWorker([queue]).work(burst=True, with_scheduler=True)
        if queue.scheduled_job_registry.count == 0:
            return
        moment[0] += 3600  # the retries' intervals have passed
    pytest.fail(
        f"jobs still scheduled after {_MAX_PASSES} hours: {queue.scheduled_job_registry.get_job_ids()}"
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
def test_sync_mode_ends_jobs_as_a_worker_does(two_brokers, scenario: Scenario) -> None:
    sync_broker, worker_broker = two_brokers
    # Whole seconds: jq's scheduling clock, moved by hand on the worker's side.
    moment = [float(int(time.time()))]
    with use_scheduling_clock(lambda: moment[0]):
        fixtures.SEEN.clear()
        run_synchronously(sync_broker, scenario)
        sync_seen = list(fixtures.SEEN)
        fixtures.SEEN.clear()
        run_with_a_worker(worker_broker, scenario, moment)
        worker_seen = list(fixtures.SEEN)
        fixtures.SEEN.clear()
    sync_state = final_state(sync_broker, scenario.job_ids)
    worker_state = final_state(worker_broker, scenario.job_ids)
    assert sync_state == worker_state
    assert sync_seen == worker_seen
    for job_id, facts in scenario.facts.items():
        assert {name: sync_state[job_id][name] for name in facts} == facts
    if scenario.seen is not None:
        assert sync_seen == scenario.seen
