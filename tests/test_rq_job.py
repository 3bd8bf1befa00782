"""Jobs, results, callbacks, dependencies, retries and ``@job`` behave as RQ 3.0's (issue 12).

Each test runs on every driver (memory, fakeredis, real redis) where the store takes part.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest

from jq import Callback, Queue, Retry, SimpleWorker
from jq.broker import Broker
from jq.decorators import job
from jq.exceptions import (
    ConfigurationError,
    InvalidJobOperation,
    MissingJobError,
    NoSuchJobError,
    UnsupportedByBrokerError,
)
from jq.job import Dependency, Job, JobStatus
from jq.results import Result
from tests import fixtures


def run_burst(queue: Queue) -> bool:
    """Run every queued job of ``queue`` in this process."""
    return SimpleWorker([queue], connection=queue.broker).work(burst=True)


class TestStatus:
    """B12, B13, B34: statuses of created and vanished jobs, and how statuses print."""

    def test_a_vanished_jobs_status_raises_both_errors(self, broker: Broker) -> None:
        job_ = Queue("q", connection=broker).enqueue(fixtures.add, 1, 2)
        job_.delete()
        for catch in (MissingJobError, NoSuchJobError, InvalidJobOperation):
            with pytest.raises(catch):
                job_.get_status()
        with pytest.raises(InvalidJobOperation):
            _ = job_.is_queued
        with pytest.raises(NoSuchJobError):
            _ = job_.is_finished
        assert job_.get_status(refresh=False) == JobStatus.QUEUED
        assert job_.get_meta() == {}

    def test_created_until_enqueued(self, broker: Broker) -> None:
        created = Job.create(fixtures.add, (1, 2), connection=broker)
        assert created.get_status(refresh=False) == JobStatus.CREATED
        created.save()
        assert created.get_status() == JobStatus.CREATED
        assert Job.fetch(created.id, connection=broker).get_status(refresh=False) == JobStatus.CREATED
        Queue("q", connection=broker).enqueue_job(created)
        assert created.get_status() == JobStatus.QUEUED
        explicit = Job.create(fixtures.add, (1, 2), connection=broker, status=JobStatus.SCHEDULED)
        assert explicit.get_status(refresh=False) == JobStatus.SCHEDULED

    def test_statuses_print_as_rqs(self) -> None:
        # Python's own str() of a (str, Enum) member, as RQ's JobStatus gives.
        assert str(JobStatus.QUEUED) == enum.Enum.__str__(JobStatus.QUEUED) == "JobStatus.QUEUED"
        assert JobStatus.QUEUED == "queued" and JobStatus.QUEUED.value == "queued"
        assert JobStatus("created") is JobStatus.CREATED

    def test_str_of_a_job(self, broker: Broker) -> None:
        job_ = Queue("q", connection=broker).enqueue(fixtures.add, 1, 2, job_id="abc")
        assert str(job_) == "<Job abc: tests.fixtures.add(1, 2)>"
        assert repr(job_).startswith("Job('abc', enqueued_at=")

    def test_rqs_statuses_jq_never_stores_are_refused_as_set_status(self, broker: Broker) -> None:
        job_ = Queue("q", connection=broker).enqueue(fixtures.add, 1, 2)
        with pytest.raises(ConfigurationError, match="never stores"):
            job_.set_status(JobStatus.READY_TO_ENQUEUE)
        assert job_.is_queued and not job_.is_ready_to_enqueue


class TestCreate:
    """B14, B21, B37: Job.create's description, arguments and function names."""

    def test_description_is_the_call(self, broker: Broker) -> None:
        created = Job.create(fixtures.echo, (1,), {"b": 2, "a": 1}, connection=broker)
        assert created.description == "tests.fixtures.echo(1, a=1, b=2)"
        assert Job.create(fixtures.add, (1, 2), connection=broker, description="mine").description == "mine"

    def test_long_arguments_are_cut_as_rq_cuts_them(self, broker: Broker) -> None:
        job_ = Queue("q", connection=broker).enqueue(fixtures.echo, "x" * 300, key="y" * 300)
        shown = "'" + "x" * 74 + "..."
        assert job_.description == f"tests.fixtures.echo({shown}, key={shown.replace('x', 'y')})"
        assert job_.get_call_string() == job_.description
        assert job_.args == ("x" * 300,)

    def test_a_string_of_arguments(self, broker: Broker) -> None:
        created = Job.create(fixtures.echo, "ab", connection=broker)
        assert created.args == "ab"
        queue = Queue("q", connection=broker)
        queue.enqueue_job(created)
        run_burst(queue)
        assert created.return_value() == (("a", "b"), {})

    def test_positional_order_of_create(self, broker: Broker) -> None:
        # func, args, kwargs, connection, result_ttl, ttl, status, description, depends_on,
        # timeout, retry, id
        created = Job.create(
            fixtures.add, (1, 2), None, broker, 10, 20, None, "d", None, 30, Retry(2), "my-id"
        )
        assert (created.result_ttl, created.ttl, created.description) == (10, 20, "d")
        assert (created.timeout, created.retries_left, created.id) == (30, 2, "my-id")

    def test_builtins_are_named_by_module(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        job_ = queue.enqueue(len, [1, 2, 3])
        assert job_.func_name == "builtins.len"
        run_burst(queue)
        assert job_.return_value() == 3

    def test_group_id_and_webhooks_are_kept(self, broker: Broker) -> None:
        """Stream F: RQ 3.0's group_id and webhooks are the job's (they were refused before)."""
        from jq.webhook import Webhook

        hook = Webhook("https://example.invalid/done", "finished")
        created = Job.create(fixtures.add, connection=broker, group_id="g", webhooks=[hook])
        assert created.group_id == "g" and created.webhooks == [hook]
        with pytest.raises(TypeError, match="Webhook"):
            Job.create(fixtures.add, connection=broker, webhooks=[object()])


class TestDependencies:
    """B21 and RQ's dependency members."""

    @pytest.mark.parametrize("bad", [5, [5], ["ok", 3.5], []])
    def test_dependency_refuses_what_is_not_a_job(self, bad: Any) -> None:
        with pytest.raises(ValueError, match="Dependency"):
            Dependency(jobs=bad)

    def test_dependency_takes_any_iterable(self) -> None:
        assert Dependency(jobs=("a", "b")).dependencies == ["a", "b"]
        assert Dependency(jobs="a").dependencies == ["a"]

    def test_dependents_and_dependencies(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        parent, other = queue.enqueue(fixtures.add, 1, 2), queue.enqueue(fixtures.add, 3, 4)
        child = queue.enqueue(fixtures.add, 5, 6, depends_on=[parent, other])
        assert parent.dependent_ids == [child.id]
        assert child.dependency_ids == [parent.id, other.id]
        assert [job_.id for job_ in child.fetch_dependencies()] == [parent.id, other.id]
        assert not child.dependencies_are_met()
        assert child.key == broker.job_key(child.id)
        assert parent.dependents_key == broker.dependents_key(parent.id)
        assert child.dependencies_key == broker.dependencies_key(child.id)
        run_burst(queue)
        assert child.dependencies_are_met()
        assert child.get_status() == JobStatus.FINISHED

    def test_dependencies_are_met_with_a_parent(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        parent = queue.enqueue(fixtures.div_by_zero, 1)
        strict = queue.enqueue(fixtures.add, 1, 1, depends_on=parent)
        tolerant = queue.enqueue(fixtures.add, 1, 1, depends_on=Dependency(parent, allow_failure=True))
        parent.set_status(JobStatus.FAILED)
        assert not strict.dependencies_are_met(parent_job=parent)
        assert tolerant.dependencies_are_met(parent_job=parent)
        assert strict.dependencies_are_met(exclude_job_id=parent.id)

    def test_delete_dependents(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        parent = queue.enqueue(fixtures.add, 1, 2)
        child = queue.enqueue(fixtures.add, 5, 6, depends_on=parent)
        parent.delete_dependents()
        assert not Job.exists(child.id, broker)
        assert Job.exists(parent.id, broker)


class TestRecordMembers:
    """RQ's record-level Job members: to_dict, restore, cleanup, heartbeat, key names."""

    def test_save_without_meta_keeps_the_stored_meta(self, broker: Broker) -> None:
        job_ = Queue("q", connection=broker).enqueue(fixtures.add, 1, 2, meta={"kept": 1})
        job_.meta = {"kept": 2}
        job_.description = "changed"
        job_.save(include_meta=False)
        fetched = Job.fetch(job_.id, connection=broker)
        assert (fetched.meta, fetched.description) == ({"kept": 1}, "changed")
        job_.save()
        assert Job.fetch(job_.id, connection=broker).meta == {"kept": 2}

    def test_to_dict_and_restore(self, broker: Broker) -> None:
        job_ = Queue("q", connection=broker).enqueue(fixtures.add, 1, 2, meta={"k": 1})
        record = job_.to_dict()
        assert (
            record["origin"] == b"q" and "meta" in record and "meta" not in job_.to_dict(include_meta=False)
        )
        copy = Job(job_.id, connection=broker)
        copy.restore({name.encode(): value for name, value in broker.load_job(job_.id).items()})
        assert (copy.origin, copy.args, copy.meta, copy.get_status(refresh=False)) == (
            "q",
            (1, 2),
            {"k": 1},
            JobStatus.QUEUED,
        )
        with pytest.raises(NoSuchJobError):
            Job("x", connection=broker).restore({})

    def test_cleanup(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        kept, expiring, deleted = (queue.enqueue(fixtures.add, n, n) for n in range(3))
        kept.cleanup(-1)
        kept.cleanup(None)
        expiring.cleanup(300)
        deleted.cleanup(0)
        assert broker.job_ttl(kept.id) is None
        remaining = broker.job_ttl(expiring.id)
        assert remaining is not None and 250 < remaining <= 300
        assert not Job.exists(deleted.id, broker) and deleted.id not in queue.job_ids

    def test_heartbeat(self, broker: Broker) -> None:
        job_ = Queue("q", connection=broker).enqueue(fixtures.add, 1, 2)
        moment = job_.created_at
        job_.heartbeat(moment, 60)
        assert Job.fetch(job_.id, connection=broker).last_heartbeat == moment

    def test_class_level_key_names(self) -> None:
        assert Job.key_for("abc") == "jq:job:abc"
        assert Job.redis_job_namespace_prefix == "jq:job:"
        assert Job.dependents_key_for("abc") == "jq:dependents:abc"
        assert Result.get_key("abc") == "jq:results:abc"

    def test_registries_of_the_jobs_queue(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        job_ = queue.enqueue(fixtures.div_by_zero, 1)
        run_burst(queue)
        assert job_ in job_.failed_job_registry
        assert job_.finished_job_registry.name == job_.started_job_registry.name == "q"

    def test_delete_positional_order(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        job_ = queue.enqueue(fixtures.add, 1, 2)
        job_.delete(None, False)  # pipeline, remove_from_queue
        assert not Job.exists(job_.id, broker) and queue.job_ids == [job_.id]

    def test_get_position_without_a_queue(self, broker: Broker) -> None:
        assert Job.create(fixtures.add, connection=broker).get_position() is None


class TestResults:
    """B36 and RQ's Result members."""

    def test_identity(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        job_ = queue.enqueue(fixtures.add, 1, 2)
        run_burst(queue)
        latest = job_.latest_result()
        assert latest is not None
        assert latest == job_.latest_result() == Result.fetch_latest(job_) == Result.fetch(job_)
        assert repr(latest) == f"Result(id={latest.id}, type=SUCCESSFUL)"
        assert bool(latest) and latest.execution_id == latest.id
        assert latest.execution_started_at == Job.fetch(job_.id, connection=broker).started_at
        assert latest.execution_ended_at == latest.created_at
        assert latest.worker_name and latest.connection is broker.connection
        assert Result.count(job_) == 1 and Result.all(job_) == [latest]
        with pytest.raises(TypeError):
            hash(latest)
        assert Result.Type.MAX_RETRIES_EXCEEDED.value == 5

    def test_create_and_restore(self, broker: Broker) -> None:
        job_ = Queue("q", connection=broker).enqueue(fixtures.add, 1, 2)
        made = Result.create(job_, Result.Type.SUCCESSFUL, 60, return_value=3, worker_name="w")
        failure = Result.create_failure(job_, 60, "Traceback...")
        assert [result.type for result in job_.results()] == [Result.Type.FAILED, Result.Type.SUCCESSFUL]
        assert job_.results()[1] == made and job_.results()[1].return_value == 3
        assert job_.results()[0].exc_string == "Traceback..." and failure.id
        restored = Result.restore(job_.id, "r-1", made.serialize(), broker.connection)
        assert (restored.id, restored.return_value, restored.worker_name) == ("r-1", 3, "w")
        with pytest.raises(UnsupportedByBrokerError, match=r"job\.delete"):
            Result.delete_all(job_)
        gone = Job.create(fixtures.add, connection=broker)
        with pytest.raises(NoSuchJobError):
            Result.create(gone, Result.Type.SUCCESSFUL, 60, return_value=1)


class TestCallbacks:
    """B16: Callback('print'), lambdas and other references RQ accepts are accepted."""

    def test_references(self) -> None:
        assert Callback("print").name == "print"
        assert Callback(print).name == "builtins.print"
        assert Callback(lambda job, connection, result: None).name.endswith("<lambda>")
        assert Callback("anything at all", timeout="2m").timeout == 120
        assert Callback(print, timeout=0).timeout == 60
        with pytest.raises(ConfigurationError):
            Callback(object())  # type: ignore[arg-type]

    def test_a_builtin_by_name_runs(self, broker: Broker, capsys: pytest.CaptureFixture[str]) -> None:
        queue = Queue("q", connection=broker)
        job_ = queue.enqueue(fixtures.add, 1, 2, on_success="print", job_id="printed")
        assert job_.success_callback_timeout == 60
        run_burst(queue)
        assert job_.get_status() == JobStatus.FINISHED
        assert "<Job printed: tests.fixtures.add(1, 2)>" in capsys.readouterr().out

    def test_a_lambda_is_accepted_and_fails_the_job_when_it_cannot_be_imported(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        job_ = queue.enqueue(fixtures.add, 1, 2, on_success=Callback(lambda j, c, r: None, 5))
        assert job_.success_callback_timeout == 5
        run_burst(queue)
        # A worker imports callbacks by name, and a lambda has none it can import: as in RQ, an
        # on_success callback that raises (here, while being imported) fails the job.
        assert job_.get_status() == JobStatus.FAILED
        assert "<lambda>" in job_.latest_result().exc_string


class TestRetry:
    """Retry(max, interval=0, enqueue_at_front=False)."""

    def test_as_rq(self) -> None:
        assert repr(Retry(3, 60)) == "Retry(max=3, interval=60, enqueue_at_front=False)"
        assert repr(Retry(2, [1, 2], True)) == "Retry(max=2, interval=[1, 2], enqueue_at_front=True)"
        assert Retry.get_interval(5, 30) == 30 and Retry.get_interval(5, [1, 2]) == 2

    def test_job_members(self, broker: Broker) -> None:
        job_ = Queue("q", connection=broker).enqueue(fixtures.add, 1, 2, retry=Retry(2, [10, 20]))
        assert job_.should_retry and job_.get_retry_interval() == 10
        assert not job_.should_enqueue_at_front() and not job_.has_rate_limit


class TestDecorator:
    """B28: @job as RQ's: .delay and .enqueue, what a call consumes, queue_class."""

    def test_delay_and_enqueue(self, broker: Broker) -> None:
        queue = Queue("low", connection=broker)
        decorated = job(queue, timeout=5)(fixtures.echo)
        first = decorated.delay(1, meta={"k": 1}, description="d")
        second = decorated.enqueue(2, job_id="given", at_front=True)
        assert first.kwargs == {"meta": {"k": 1}, "description": "d"}
        assert (second.id, second.kwargs, queue.job_ids[0]) == ("given", {}, "given")
        assert (first.timeout, first.origin) == (5, "low")

    def test_queue_class(self, broker: Broker) -> None:
        class Mine(Queue):
            pass

        assert job.queue_class is Queue
        decorated = job("q", connection=broker, queue_class=Mine)(fixtures.add)
        assert decorated.delay(1, 2).origin == "q"
        assert job("q", connection=broker).queue_class is Queue

    def test_webhooks_go_on_the_jobs(self, broker: Broker) -> None:
        """Stream F: the decorator's webhooks are the jobs' (they were refused before)."""
        from jq.webhook import Webhook

        hook = Webhook("https://example.invalid/done", "failed", method="POST")
        delayed = job("q", connection=broker, webhooks=[hook])(fixtures.add).delay(1, 2)
        assert Job.fetch(delayed.id, connection=broker).webhooks == [hook]


class TestModuleFunctions:
    """rq.callbacks' and rq.job's module-level functions."""

    def test_execute_callbacks(self, broker: Broker) -> None:
        from jq.callbacks import execute_failure_callback, execute_stopped_callback, execute_success_callback
        from jq.timeouts import TimerDeathPenalty

        fixtures.SEEN.clear()
        queue = Queue("q", connection=broker)
        job_ = queue.enqueue(
            fixtures.add,
            1,
            2,
            on_success=fixtures.on_success_record,
            on_failure=fixtures.on_failure_record,
            on_stopped=fixtures.on_stopped_record,
        )
        execute_success_callback(job_, TimerDeathPenalty, 3)
        error = ValueError("boom")
        execute_failure_callback(job_, TimerDeathPenalty, ValueError, error, None)
        execute_stopped_callback(job_, TimerDeathPenalty)
        assert len(fixtures.SEEN) == 3
        fixtures.SEEN.clear()
        plain = queue.enqueue(fixtures.add, 1, 2)
        execute_success_callback(plain, TimerDeathPenalty, 3)  # no callback: nothing happens
        assert fixtures.SEEN == []

    def test_parse_job_id_and_cancel_job(self, broker: Broker) -> None:
        from jq.job import cancel_job, parse_job_id

        assert parse_job_id("abc:execution") == parse_job_id("abc") == "abc"
        job_ = Queue("q", connection=broker).enqueue(fixtures.add, 1, 2)
        cancel_job(job_.id, broker)
        assert job_.get_status() == JobStatus.CANCELED

    def test_get_jobs_with_met_dependencies(self, broker: Broker) -> None:
        queue = Queue("q", connection=broker)
        parent = queue.enqueue(fixtures.add, 1, 2)
        child = queue.enqueue(fixtures.add, 1, 2, depends_on=parent)
        free = queue.enqueue(fixtures.add, 1, 2)
        assert Dependency.get_jobs_with_met_dependencies([child, free], None) == ([free], [child])
