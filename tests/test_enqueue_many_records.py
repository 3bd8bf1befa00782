"""enqueue_many makes the jobs of a batch that share their options as copies of the first one
(``Job._sibling``) and sends what their records share once: what is stored and what is returned
must be what one-by-one ``enqueue`` gives, option by option, on every driver.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from jq import Queue
from jq.broker import Broker
from jq.core.job import SIBLING_COPIED, Job
from jq.exceptions import ConfigurationError, SerializationError
from jq.plugins import get_plugin_manager, hookimpl
from jq.repeat import Repeat
from jq.retry import Retry
from jq.serializers import DefaultSerializer
from jq.signing import SignedSerializer
from jq.webhook import Webhook
from tests import fixtures

# Timestamps differ between two enqueues made one after the other; each is checked to be there.
_MOMENTS = ("created_at", "enqueued_at")

# One enqueue's options each: every option of prepare_data that a batch may share.
OPTIONS: dict[str, dict[str, Any]] = {
    "plain": {},
    "arguments": {"args": (1, "two", [3]), "kwargs": {"key": {"nested": 4}}},
    "string args": {"args": "abc"},
    "dotted path": {"func": "tests.fixtures.add", "args": (1, 2)},
    "ttls and timeout": {"timeout": "2m", "result_ttl": 0, "ttl": 300, "failure_ttl": -1},
    "description": {"description": "a job of mine"},
    "meta": {"meta": {"progress": 0, "tags": ["a"]}},
    "at front": {"at_front": True},
    "retry": {"retry": Retry(max=3, interval=[1, 5], enqueue_at_front=True)},
    "callbacks": {
        "on_success": fixtures.on_success_record,
        "on_failure": fixtures.on_failure_record,
        "on_stopped": "tests.fixtures.stop_handler",
    },
    "repeat": {"repeat": Repeat(times=2, interval=[3, 4])},
    "webhooks": {"webhooks": [Webhook("https://example.com/hook", "finished")]},
}


def _data(name: str, job_id: str, **extra: Any) -> Any:
    options = {"func": fixtures.echo, **OPTIONS[name], **extra}
    return Queue.prepare_data(options.pop("func"), job_id=job_id, **options)


def _enqueue_one(queue: Queue, name: str, job_id: str) -> Job:
    options = {"func": fixtures.echo, **OPTIONS[name]}
    return queue.enqueue_call(options.pop("func"), job_id=job_id, **options)


def _same_records(broker: Broker, one_id: str, many_id: str) -> None:
    one, many = broker.load_job(one_id), broker.load_job(many_id)
    assert one is not None and many is not None
    for name in _MOMENTS:
        assert one.pop(name) and many.pop(name), name
    assert many == one


@pytest.mark.parametrize("name", list(OPTIONS))
def test_a_batch_stores_what_enqueue_stores(any_broker: Broker, name: str) -> None:
    queue = Queue("records", connection=any_broker)
    one = _enqueue_one(queue, name, "one")
    many = queue.enqueue_many([_data(name, f"many-{index}") for index in range(3)])
    for job in many:
        _same_records(any_broker, one.id, job.id)
        assert job.get_status(refresh=False) == one.get_status(refresh=False) == "queued"
        fetched, fetched_one = (Job.fetch(id, connection=any_broker) for id in (job.id, one.id))
        for attribute in ("args", "kwargs", "description", "timeout", "result_ttl", "ttl", "meta"):
            assert getattr(job, attribute) == getattr(one, attribute), attribute
            assert getattr(fetched, attribute) == getattr(fetched_one, attribute), attribute
        for attribute in ("retries_left", "retry_intervals", "repeats_left", "repeat_intervals", "webhooks"):
            assert getattr(job, attribute) == getattr(one, attribute), attribute


def test_generated_ids_and_the_signed_records(any_broker: Broker) -> None:
    """Ids made up per job, and a signing serializer (each record signed whole)."""
    serializer = SignedSerializer(DefaultSerializer, {"k1": b"0123456789abcdef0123456789abcdef"})
    queue = Queue("signed", connection=any_broker, serializer=serializer)
    jobs = queue.enqueue_many([Queue.prepare_data(fixtures.add, args=(n, n)) for n in range(4)])
    assert len({job.id for job in jobs}) == 4
    for n, job in enumerate(jobs):
        fetched = Job.fetch(job.id, connection=any_broker, serializer=serializer)
        assert fetched.args == (n, n) and fetched.description == f"tests.fixtures.add({n}, {n})"
    records = [any_broker.load_job(job.id) for job in jobs]
    assert len({record["signature"] for record in records if record}) == 4


def test_options_that_change_within_a_batch(any_broker: Broker) -> None:
    """A run of jobs sharing options, then another: each job gets its own."""
    queue = Queue("mixed", connection=any_broker)
    datas = [
        Queue.prepare_data(fixtures.add, args=(1, 1), timeout=10, meta={"m": 1}),
        Queue.prepare_data(fixtures.add, args=(2, 2), timeout=10),
        Queue.prepare_data(fixtures.add, args=(3, 3), timeout=20),
        Queue.prepare_data(fixtures.say_hello, timeout=20, description="hello"),
        Queue.prepare_data(fixtures.add, args=(5, 5), timeout=20),
    ]
    jobs = queue.enqueue_many(datas)
    fetched = [Job.fetch(job.id, connection=any_broker) for job in jobs]
    assert [job.timeout for job in fetched] == [10, 10, 20, 20, 20]
    assert [job.func_name for job in fetched] == ["tests.fixtures.add"] * 3 + [
        "tests.fixtures.say_hello",
        "tests.fixtures.add",
    ]
    assert [job.meta for job in fetched] == [{"m": 1}, {}, {}, {}, {}]
    assert [job.description for job in fetched][3:] == ["hello", "tests.fixtures.add(5, 5)"]
    assert queue.job_ids == [job.id for job in jobs]


def test_the_jobs_of_a_batch_share_nothing_they_may_change() -> None:
    from jq_backends.memory import MemoryBroker

    queue = Queue("own", connection=MemoryBroker())
    options = {"retry": Retry(max=2, interval=[1, 2]), "repeat": Repeat(times=1, interval=[3])}
    options["webhooks"] = [Webhook("https://example.com/hook", "finished")]
    jobs = queue.enqueue_many([Queue.prepare_data(fixtures.add, args=(n, n), **options) for n in range(3)])
    first, second = jobs[0], jobs[1]
    for name, value in vars(second).items():
        if isinstance(value, list | dict | set):
            assert value is not vars(first).get(name), name
    assert set(SIBLING_COPIED) <= set(vars(second))
    second.meta["x"] = 1
    assert first.meta == {} and jobs[2].meta == {}


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"args": {"not": "a list"}}, ConfigurationError),
        ({"kwargs": {1: "key not text"}}, ConfigurationError),
        ({"kwargs": ["not a dict"]}, ConfigurationError),
        ({"meta": ["not a dict"]}, ConfigurationError),
        ({"meta": {"lock": __import__("threading").Lock()}}, SerializationError),
        ({"job_id": "bad id"}, ConfigurationError),
        ({"description": 5}, ConfigurationError),
        ({"args": (__import__("threading").Lock(),)}, SerializationError),
    ],
)
def test_a_bad_job_later_in_a_batch_writes_nothing(
    any_broker: Broker, bad: dict[str, Any], error: type
) -> None:
    queue = Queue("bad", connection=any_broker)
    good = [Queue.prepare_data(fixtures.add, args=(n, n)) for n in range(2)]
    with pytest.raises(error):
        queue.enqueue_many([*good, Queue.prepare_data(fixtures.add, **{"args": (1, 1), **bad})])
    assert len(queue) == 0 and queue.job_ids == []


def test_an_overridden_create_job_sees_every_job(any_broker: Broker) -> None:
    seen: list[tuple[Any, ...]] = []

    class Counting(Queue):
        def create_job(self, func: Any, args: Any = None, *more: Any, **options: Any) -> Job:
            seen.append(tuple(args or ()))
            return super().create_job(func, args, *more, **options)

    queue = Counting("counted", connection=any_broker)
    queue.enqueue_many([Queue.prepare_data(fixtures.add, args=(n, n)) for n in range(3)])
    assert seen == [(0, 0), (1, 1), (2, 2)]


class _Marking:
    """A plugin whose enqueue scope changes each job: what it changes is stored."""

    @hookimpl
    def jq_job_enqueue_scope(self, job: Job, queue: str) -> Any:
        @contextlib.contextmanager
        def scope() -> Iterator[None]:
            job.meta["marked"] = queue
            job.description = f"marked {job.id}"
            yield

        return scope()


def test_a_plugin_scope_sees_and_changes_every_job(any_broker: Broker) -> None:
    name = get_plugin_manager().register(_Marking(), name="test-marking")
    try:
        queue = Queue("plugged", connection=any_broker)
        jobs = queue.enqueue_many([Queue.prepare_data(fixtures.add, args=(n, n)) for n in range(3)])
    finally:
        get_plugin_manager().unregister(name)
    for job in jobs:
        fetched = Job.fetch(job.id, connection=any_broker)
        assert fetched.meta == {"marked": "plugged"} and fetched.description == f"marked {job.id}"


def test_a_batch_on_a_pipeline_and_in_a_group(any_broker: Broker) -> None:
    if not any_broker.supports_groups:
        pytest.skip("this driver stores no groups")
    queue = Queue("grouped", connection=any_broker)
    jobs = queue.enqueue_many(
        [Queue.prepare_data(fixtures.add, args=(n, n)) for n in range(3)], group_id="g1"
    )
    for job in jobs:
        record = any_broker.load_job(job.id)
        assert record is not None and record["group_id"] == b"g1"


def test_a_sibling_over_the_size_limit_writes_nothing(any_broker: Broker) -> None:
    from jq.exceptions import PayloadTooLargeError

    queue = Queue("sized", connection=any_broker, max_payload_size=2000)
    datas = [Queue.prepare_data(fixtures.echo, args=("x" * size,)) for size in (10, 10, 3000, 10)]
    with pytest.raises(PayloadTooLargeError, match="the call"):
        queue.enqueue_many(datas)
    assert len(queue) == 0
    datas[2] = Queue.prepare_data(fixtures.echo, args=("x" * 1500,), meta={"m": "y" * 600})
    with pytest.raises(PayloadTooLargeError):
        queue.enqueue_many(datas)
    assert len(queue) == 0


# -- one-by-one enqueue, made from the queue's model of the function ------------------------------


class _WholeQueue(Queue):
    """A queue whose create_job is its own: every enqueue goes the whole way (no model)."""

    def create_job(self, *args: Any, **kwargs: Any) -> Job:
        return super().create_job(*args, **kwargs)


ONE_BY_ONE: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "plain": ((), {}),
    "arguments": ((1, "two"), {"key": [3]}),
    "job id and meta": ((5,), {"job_id": "{id}", "meta": {"m": 1}}),
    "description and at front": ((), {"description": "mine", "at_front": True}),
    "arguments named as options": ((), {"kwargs": {"ttl": 5, "timeout": 3}, "args": (1,)}),
}


@pytest.mark.parametrize("name", list(ONE_BY_ONE))
@pytest.mark.parametrize("func", [fixtures.echo, "tests.fixtures.echo"])
def test_enqueue_from_a_model_stores_what_the_whole_way_stores(
    any_broker: Broker, name: str, func: Any
) -> None:
    args, options = ONE_BY_ONE[name]
    made, whole = Queue("made", connection=any_broker), _WholeQueue("made", connection=any_broker)
    for index in range(3):
        jobs = []
        for queue, tag in ((made, "made"), (whole, "whole")):
            own = {
                key: value.format(id=f"{tag}{index}") if key == "job_id" else value
                for key, value in options.items()
            }
            jobs.append(queue.enqueue(func, *args, **own))
        _same_records(any_broker, jobs[1].id, jobs[0].id)
        for attribute in ("args", "kwargs", "description", "timeout", "meta", "origin", "func_name"):
            assert getattr(jobs[0], attribute) == getattr(jobs[1], attribute), attribute
        assert jobs[0].get_status(refresh=False) == jobs[1].get_status(refresh=False) == "queued"
        assert jobs[0].enqueued_at is not None and jobs[0].created_at <= jobs[0].enqueued_at
    assert made._enqueue_models and not whole._enqueue_models


def test_jobs_made_from_a_model_are_their_own(any_broker: Broker) -> None:
    queue = Queue("own", connection=any_broker)
    first = queue.enqueue(fixtures.add, 1, 2)
    first.meta["changed"] = True
    first.description = "changed"
    second = queue.enqueue(fixtures.add, 3, 4)
    assert second.meta == {} and second.description == "tests.fixtures.add(3, 4)"
    assert second.created_at >= first.created_at and second.id != first.id
    fetched = Job.fetch(second.id, connection=any_broker)
    assert (fetched.args, fetched.meta) == ((3, 4), {})
    (model,) = (entry.job for entry in (queue._enqueue_models or {}).values())
    assert model is not first and model is not second
    assert any_broker.load_job(model.id) is None, "a model is never stored"


def test_a_signing_key_set_later_signs_the_next_jobs(
    any_broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = Queue("signed-later", connection=any_broker)
    unsigned = queue.enqueue(fixtures.add, 1, 2)
    monkeypatch.setenv("JQ_SIGNING_KEYS", "k1:0123456789abcdef0123456789abcdef")
    signed = queue.enqueue(fixtures.add, 1, 2)
    monkeypatch.delenv("JQ_SIGNING_KEYS")
    unsigned_again = queue.enqueue(fixtures.add, 1, 2)
    records = [any_broker.load_job(job.id) or {} for job in (unsigned, signed, unsigned_again)]
    assert ["signature" in record for record in records] == [False, True, False]


def test_methods_callables_and_options_go_the_whole_way(any_broker: Broker) -> None:
    queue = Queue("whole", connection=any_broker)
    job = queue.enqueue(fixtures.add, 1, 2, job_timeout=30, result_ttl=10)
    assert (job.timeout, job.result_ttl) == (30, 10)
    assert not queue._enqueue_models, "a job with options is made whole"
    queue.enqueue(fixtures.CallableObject(), 3)
    queue.enqueue(fixtures.Number(2).div, 1)
    queue.enqueue(fixtures.add, 1, 2)
    assert list(queue._enqueue_models or {}) == [fixtures.add]


def test_an_overridden_step_sees_every_enqueue(any_broker: Broker) -> None:
    seen: list[str] = []

    class Watching(Queue):
        def enqueue_job(self, job: Job, *args: Any, **kwargs: Any) -> Job:
            seen.append(job.id)
            return super().enqueue_job(job, *args, **kwargs)

    queue = Watching("watched", connection=any_broker)
    jobs = [queue.enqueue(fixtures.add, n, n) for n in range(3)]
    assert seen == [job.id for job in jobs]


def test_a_job_class_with_its_own_init_gets_every_job_made_whole(any_broker: Broker) -> None:
    class Tagged(Job):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.tags: list[str] = []

    queue = Queue("tagged", connection=any_broker, job_class=Tagged)
    jobs = [queue.enqueue(fixtures.add, 1, 1), queue.enqueue(fixtures.add, 2, 2)]
    jobs += queue.enqueue_many([Queue.prepare_data(fixtures.add, args=(n, n)) for n in range(2)])
    for index, job in enumerate(jobs):
        assert isinstance(job, Tagged)
        job.tags.append(str(index))
    assert [job.tags for job in jobs] == [["0"], ["1"], ["2"], ["3"]]
