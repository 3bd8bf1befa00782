"""The OpenTelemetry plugin (jq.plugins.otel): a trace crosses from the request that enqueues a
job to the worker that runs it, caught by the SDK's in-memory exporter (a SimpleWorker in this
process) and by a file exporter (a forked work horse on the session's redis-server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from jq import Queue, SimpleWorker, Worker
from jq.plugins import PluginManager, otel, set_plugin_manager
from jq.plugins.otel import TRACE_CONTEXT_KEY, TracingPlugin
from jq_backends.memory import MemoryBroker
from tests import fixtures


def current_span_id() -> str:
    """A job that says which span its code runs in (the worker's CONSUMER span)."""
    return format(trace.get_current_span().get_span_context().span_id, "016x")


def traced(exporter: SpanExporter) -> tuple[TracerProvider, PluginManager]:
    """A tracer provider exporting to ``exporter`` at each span's end, and a plugin manager (with
    every installed plugin) that traces into it, made the process's."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    manager = PluginManager()
    manager.register(TracingPlugin(provider), name="otel-test")
    set_plugin_manager(manager)
    return provider, manager


@pytest.fixture
def spans() -> Iterator[tuple[InMemorySpanExporter, trace.Tracer]]:
    """The in-memory exporter the plugin's spans go to, and a tracer of the same provider (the
    web request's)."""
    exporter = InMemorySpanExporter()
    provider, _ = traced(exporter)
    try:
        yield exporter, provider.get_tracer("web")
    finally:
        set_plugin_manager(None)
        provider.shutdown()


def by_name(finished: Sequence[ReadableSpan]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in finished}


def test_a_trace_crosses_from_the_request_to_the_worker(spans) -> None:
    exporter, web = spans
    queue = Queue("mail", connection=MemoryBroker())
    with web.start_as_current_span("POST /signup", kind=SpanKind.SERVER):
        job = queue.enqueue(current_span_id)
    assert "traceparent" in job.meta[TRACE_CONTEXT_KEY], "the context travels in the job"
    SimpleWorker([queue], connection=queue.broker, name="w1").work(burst=True)
    found = by_name(exporter.get_finished_spans())
    request, send, process = found["POST /signup"], found["send mail"], found["process mail"]
    trace_id = request.context.trace_id
    assert send.context.trace_id == process.context.trace_id == trace_id
    assert send.parent.span_id == request.context.span_id
    assert process.parent.span_id == send.context.span_id
    assert (send.kind, process.kind) == (SpanKind.PRODUCER, SpanKind.CONSUMER)
    assert dict(send.attributes) == {
        "messaging.system": "jq",
        "messaging.operation.type": "send",
        "messaging.operation.name": "enqueue",
        "messaging.destination.name": "mail",
        "messaging.message.id": job.id,
        "code.function.name": "tests.test_otel.current_span_id",
    }
    assert process.attributes["messaging.operation.type"] == "process"
    assert process.attributes["messaging.operation.name"] == "perform"
    assert process.attributes["messaging.client.id"] == "w1"
    assert process.attributes["messaging.message.id"] == job.id
    assert job.return_value() == format(process.context.span_id, "016x"), "the job's code runs in the span"
    assert process.status.status_code is StatusCode.UNSET


def test_an_error_is_recorded_on_the_span(spans) -> None:
    exporter, _ = spans
    queue = Queue("mail", connection=MemoryBroker())
    job = queue.enqueue(fixtures.div_by_zero, 1)
    SimpleWorker([queue], connection=queue.broker).work(burst=True)
    process = by_name(exporter.get_finished_spans())["process mail"]
    assert process.status.status_code is StatusCode.ERROR
    assert "ZeroDivisionError" in (process.status.description or "")
    [event] = process.events
    assert event.name == "exception" and event.attributes["exception.type"] == "ZeroDivisionError"
    assert job.get_status() == "failed", "tracing changes nothing of the job"


async def async_current_span_id() -> str:
    """The id of the span an async job's code runs in."""
    return current_span_id()


@pytest.mark.parametrize("pool", ["asyncio", "threads"])
def test_a_concurrent_worker_runs_each_job_in_its_own_span(spans, pool) -> None:
    exporter, web = spans
    queue = Queue("mail", connection=MemoryBroker())
    with web.start_as_current_span("POST /signup", kind=SpanKind.SERVER):
        good = queue.enqueue(async_current_span_id)
        bad = queue.enqueue(fixtures.async_raise, "no")
    SimpleWorker([queue], connection=queue.broker, concurrency=2, pool=pool).work(burst=True)
    processed = [span for span in exporter.get_finished_spans() if span.name == "process mail"]
    by_job = {span.attributes["messaging.message.id"]: span for span in processed}
    assert set(by_job) == {good.id, bad.id}
    assert good.return_value() == format(by_job[good.id].context.span_id, "016x")
    assert by_job[good.id].status.status_code is StatusCode.UNSET
    assert by_job[bad.id].status.status_code is StatusCode.ERROR


def test_a_refused_enqueue_is_recorded_on_its_span(spans) -> None:
    exporter, _ = spans
    queue = Queue("mail", connection=MemoryBroker())
    queue.enqueue(fixtures.add, 1, 2, job_id="once", unique=True)
    with pytest.raises(Exception, match="once"):
        queue.enqueue(fixtures.add, 1, 2, job_id="once", unique=True)
    refused = exporter.get_finished_spans()[-1]
    assert refused.name == "send mail" and refused.status.status_code is StatusCode.ERROR


def test_an_is_async_false_job_runs_in_a_child_of_its_enqueue(spans) -> None:
    exporter, _ = spans
    job = Queue("now", connection=MemoryBroker(), is_async=False).enqueue(current_span_id)
    send, process = exporter.get_finished_spans()
    assert (send.name, process.name) == ("send now", "process now")
    assert process.parent.span_id == send.context.span_id
    assert job.return_value() == format(process.context.span_id, "016x")


class FileExporter(SpanExporter):
    """Spans as JSON lines in a file: a forked work horse writes them where the test reads them."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.path.open("a") as handle:
            for span in spans:
                record = {
                    "name": span.name,
                    "trace": span.context.trace_id,
                    "span": span.context.span_id,
                    "parent": span.parent.span_id if span.parent else None,
                    "kind": span.kind.name,
                    "status": span.status.status_code.name,
                }
                handle.write(json.dumps(record) + "\n")
        return SpanExportResult.SUCCESS


def test_a_trace_crosses_into_a_forked_work_horse(redis_client, tmp_path) -> None:
    path = tmp_path / "spans.jsonl"
    provider, _ = traced(FileExporter(path))
    try:
        queue = Queue("mail", connection=redis_client)
        with provider.get_tracer("web").start_as_current_span("POST /signup"):
            ok = queue.enqueue(current_span_id)
        bad = queue.enqueue(fixtures.div_by_zero, 1)
        Worker([queue], connection=redis_client).work(burst=True, logging_level="CRITICAL")
    finally:
        set_plugin_manager(None)
        provider.shutdown()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    processed = [record for record in records if record["name"] == "process mail"]
    sends = [record for record in records if record["name"] == "send mail"]
    request = next(record for record in records if record["name"] == "POST /signup")
    assert len(processed) == 2 and len(sends) == 2, "the horses' spans were flushed before they exited"
    ok_process = next(record for record in processed if format(record["span"], "016x") == ok.return_value())
    assert ok_process["trace"] == request["trace"] and ok_process["kind"] == "CONSUMER"
    assert ok_process["parent"] == next(s["span"] for s in sends if s["trace"] == request["trace"])
    assert {record["status"] for record in processed} == {"UNSET", "ERROR"}
    assert bad.get_status() == "failed"


def test_a_batch_has_a_span_per_job_and_asks_once_whether_to_trace(spans, monkeypatch) -> None:
    """enqueue_many: a PRODUCER span and a trace context for each job, and one check for the whole
    batch of whether spans go anywhere (it costs as much as a job's enqueue, asked per job)."""
    exporter, _ = spans
    asked: list[int] = []  # by each plugin (the installed one's, and the test's)
    active = TracingPlugin._active
    monkeypatch.setattr(TracingPlugin, "_active", lambda self: asked.append(id(self)) or active(self))
    jobs = Queue("mail", connection=MemoryBroker()).enqueue_many(
        [Queue.prepare_data(fixtures.add, (n, n)) for n in range(3)]
    )
    assert asked and len(asked) == len(set(asked))
    sent = [span for span in exporter.get_finished_spans() if span.name == "send mail"]
    assert sorted(span.attributes["messaging.message.id"] for span in sent) == sorted(job.id for job in jobs)
    assert all("traceparent" in job.meta[TRACE_CONTEXT_KEY] for job in jobs)


def test_without_a_tracer_provider_the_plugin_writes_nothing() -> None:
    manager = PluginManager()
    manager.register(TracingPlugin(), name="otel-global")  # the global provider, which is unset
    set_plugin_manager(manager)
    try:
        job = Queue(connection=MemoryBroker()).enqueue(fixtures.add, 1, 2)
    finally:
        set_plugin_manager(None)
    assert TRACE_CONTEXT_KEY not in job.meta


def test_the_entry_point_plugin_is_off_when_asked_or_not_installed(monkeypatch) -> None:
    assert isinstance(otel._entry_point_plugin(), TracingPlugin)
    monkeypatch.setenv("JQ_OTEL", "0")
    assert not isinstance(otel._entry_point_plugin(), TracingPlugin)
    monkeypatch.delenv("JQ_OTEL")
    monkeypatch.setattr(otel, "OTEL_INSTALLED", False)
    assert not isinstance(otel._entry_point_plugin(), TracingPlugin)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'jq-queue\[otel\]'"):
        TracingPlugin()


def test_without_a_tracer_provider_an_enqueue_does_not_ask_for_the_global_one(monkeypatch) -> None:
    """get_tracer_provider() looks OTEL_PYTHON_TRACER_PROVIDER up in os.environ at each call (a
    KeyError raised and caught inside while it is unset): an enqueue must not pay it each time."""
    manager = PluginManager(load_entry_points=False)
    manager.register(TracingPlugin(), name="otel-global")
    asked: list[None] = []
    get_tracer_provider = trace.get_tracer_provider
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: asked.append(None) or get_tracer_provider())
    set_plugin_manager(manager)
    try:
        queue = Queue(connection=MemoryBroker())
        jobs = [queue.enqueue(fixtures.add, n, 1) for n in range(3)]
    finally:
        set_plugin_manager(None)
    assert asked == []
    assert all(TRACE_CONTEXT_KEY not in job.meta for job in jobs)


# A global tracer provider can be set once per process: the test sets it in a child process.
LATE_PROVIDER = """
import json
import os
import subprocess
import sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from jq import Queue, SimpleWorker
from jq.plugins.otel import TRACE_CONTEXT_KEY
from jq_backends.memory import MemoryBroker

queue = Queue("mail", connection=MemoryBroker())
before = queue.enqueue("operator.add", 1, 2)
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
after = queue.enqueue("operator.add", 3, 4)
SimpleWorker([queue], connection=queue.broker).work(burst=True, logging_level="CRITICAL")
print(json.dumps({
    "before": TRACE_CONTEXT_KEY in before.meta,
    "after": TRACE_CONTEXT_KEY in after.meta,
    "spans": sorted([span.name, span.attributes["messaging.message.id"] == after.id]
                    for span in exporter.get_finished_spans()),
}))
"""


def test_a_tracer_provider_set_after_the_first_enqueue_gets_the_spans_from_then_on() -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("OTEL_", "JQ_"))}
    child = subprocess.run(
        [sys.executable, "-c", LATE_PROVIDER], env=env, capture_output=True, text=True, check=False
    )
    assert child.returncode == 0, child.stderr
    seen = json.loads(child.stdout.splitlines()[-1])
    assert seen["before"] is False, "no provider yet: the first job carries no trace context"
    assert seen["after"] is True
    # Both jobs run once the provider is set: each gets a CONSUMER span, only the second a PRODUCER one.
    assert seen["spans"] == [["process mail", False], ["process mail", True], ["send mail", True]]
