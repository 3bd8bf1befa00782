"""OpenTelemetry traces of jq's jobs: a span where a job is enqueued (kind PRODUCER) and a span
where it runs (kind CONSUMER), its child, so that one trace goes from the web request that
enqueued a job to the worker that ran it, and on into whatever the job itself traces.

The trace context travels inside the job: the producer's span context is written into
``job.meta`` under :data:`TRACE_CONTEXT_KEY` (by the global propagator: W3C ``traceparent`` and
``tracestate`` unless configured otherwise) before the job's record is built, and the worker
reads it back. The spans follow the OpenTelemetry messaging conventions: ``messaging.system``
``jq``, ``messaging.operation.type`` ``send``/``process``, ``messaging.operation.name``
``enqueue``/``perform``, ``messaging.destination.name`` (the queue), ``messaging.message.id`` (the
job id), ``messaging.client.id`` (the worker's name), ``code.function.name`` (the job's
function); an error the job raises is recorded on its span, whose status is then ERROR.

The plugin is registered under the ``jq`` entry-point group as ``otel``. It does something only
when ``opentelemetry-api`` is installed (``pip install 'jq-queue[otel]'``) and the application
has set a tracer provider (the SDK's, with its exporter): until then it makes no span and
writes nothing. ``JQ_OTEL=0`` turns it off. :class:`TracingPlugin` with a tracer provider of its
own can be registered by hand (``get_plugin_manager().register(TracingPlugin(provider))``).

A work horse (``jq.Worker``) ends with ``os._exit``, which skips the SDK's exit handlers: in a
work horse the plugin flushes the tracer provider after each job, so that no span is lost.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from jq.plugins import hookimpl
from jq.version import __version__

try:
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, Status, StatusCode
except ImportError:  # jq-queue[otel] is not installed: the plugin stays off
    OTEL_INSTALLED = False
else:
    OTEL_INSTALLED = True

if TYPE_CHECKING:
    from opentelemetry.trace import ProxyTracerProvider, Span, TracerProvider

    from jq.core.job import Job
    from jq.worker import BaseWorker

__all__ = ["ENABLE_VARIABLE", "OTEL_INSTALLED", "TRACE_CONTEXT_KEY", "TracingPlugin", "plugin"]

#: The key of ``job.meta`` that holds the trace context a job carries (reserved for this plugin).
TRACE_CONTEXT_KEY: Final = "jq.otel"
#: The environment variable that turns the entry-point plugin off (``0``, ``false``, ``no``, ``off``).
ENABLE_VARIABLE: Final = "JQ_OTEL"
#: The value of ``messaging.system`` on jq's spans.
MESSAGING_SYSTEM: Final = "jq"


class TracingPlugin:
    """The hooks that trace jobs (see the module).

    :param tracer_provider: where the spans go; None: the global tracer provider, and no span
        at all until the application sets one.
    """

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        if not OTEL_INSTALLED:
            raise ModuleNotFoundError(
                "jq's OpenTelemetry plugin needs opentelemetry-api: pip install 'jq-queue[otel]'",
                name="opentelemetry",
            )
        self._provider = tracer_provider
        self._tracer = trace.get_tracer("jq", __version__, tracer_provider=tracer_provider)
        # The global provider is set once at most (OpenTelemetry refuses a second one), so once
        # there is one the answer of _active() is final. Until then the proxy provider that
        # get_tracer_provider() returns is kept to ask: get_tracer_provider() itself looks up
        # OTEL_PYTHON_TRACER_PROVIDER in os.environ at each call (a KeyError raised and caught
        # inside while it is unset), about 8,600 instructions against 3,900 for the proxy's answer.
        self._proxy: ProxyTracerProvider | None = None
        self._on = tracer_provider is not None
        if tracer_provider is None:
            current = trace.get_tracer_provider()
            if isinstance(current, trace.ProxyTracerProvider):
                self._proxy = current
            else:
                self._on = not isinstance(current, trace.NoOpTracerProvider)

    def _active(self) -> bool:
        """Whether spans go anywhere: a provider was given, or the application set a global one
        (before jq was imported or at any time since)."""
        if self._on:
            return True
        proxy = self._proxy
        if proxy is None:  # the global provider was set to the no-op one: off for good
            return False
        # The proxy hands out the set provider's own tracer once there is one, else a proxy
        # tracer: a few attribute writes, and no look-up of the environment.
        tracer = proxy.get_tracer("jq", __version__)
        if isinstance(tracer, trace.ProxyTracer):
            return False
        self._on, self._proxy = not isinstance(tracer, trace.NoOpTracer), None
        return self._on

    @hookimpl
    def jq_jobs_enqueue_scope(
        self, jobs: Sequence[Job], queue: str
    ) -> contextlib.AbstractContextManager[object] | None:
        """A PRODUCER span around the enqueue of each job, whose context goes into it. Whether
        spans go anywhere is asked once for a whole ``enqueue_many`` batch, not once per job."""
        return self._producers(jobs, queue) if self._active() else None

    @hookimpl
    def jq_job_perform_scope(
        self, job: Job, worker: BaseWorker | None
    ) -> contextlib.AbstractContextManager[object] | None:
        """A CONSUMER span around the call, a child of the enqueue's."""
        return self._consumer(job, worker) if self._active() else None

    @contextlib.contextmanager
    def _producers(self, jobs: Sequence[Job], queue: str) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for job in jobs:
                stack.enter_context(self._producer(job, queue))
            yield

    @contextlib.contextmanager
    def _producer(self, job: Job, queue: str) -> Iterator[None]:
        attributes = _attributes(job, queue, "send", "enqueue")
        with self._tracer.start_as_current_span(
            f"send {queue}",
            kind=SpanKind.PRODUCER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            if carrier:
                job.meta[TRACE_CONTEXT_KEY] = carrier
            with _recorded(span):
                yield

    @contextlib.contextmanager
    def _consumer(self, job: Job, worker: BaseWorker | None) -> Iterator[None]:
        carrier = job.meta.get(TRACE_CONTEXT_KEY)
        parent = propagate.extract(carrier) if isinstance(carrier, Mapping) else None
        attributes = _attributes(job, job.origin, "process", "perform")
        if worker is not None:
            attributes["messaging.client.id"] = worker.name
        try:
            with (
                self._tracer.start_as_current_span(
                    f"process {job.origin}",
                    context=parent,
                    kind=SpanKind.CONSUMER,
                    attributes=attributes,
                    record_exception=False,
                    set_status_on_exception=False,
                ) as span,
                _recorded(span),
            ):
                yield
        finally:
            if worker is not None and os.getpid() != worker.pid:
                self._flush()

    def _flush(self) -> None:
        """Export the spans the provider holds: a work horse ends with ``os._exit``."""
        provider = self._provider or trace.get_tracer_provider()
        flush = getattr(provider, "force_flush", None)
        if callable(flush):
            flush()


@contextlib.contextmanager
def _recorded(span: Span) -> Iterator[None]:
    """Record an error raised inside on ``span``, and set its status to ERROR (an interruption
    such as ``KeyboardInterrupt`` is not an error of the job's: it passes unrecorded)."""
    try:
        yield
    except Exception as error:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        raise


def _attributes(job: Job, queue: str, operation_type: str, operation_name: str) -> dict[str, Any]:
    """The messaging attributes of a span about ``job`` on ``queue``."""
    attributes: dict[str, Any] = {
        "messaging.system": MESSAGING_SYSTEM,
        "messaging.operation.type": operation_type,
        "messaging.operation.name": operation_name,
        "messaging.destination.name": queue,
        "messaging.message.id": job.id,
    }
    with contextlib.suppress(Exception):  # a call that cannot be read has no function name
        attributes["code.function.name"] = job.func_name
    return attributes


class _Off:
    """The entry point's plugin when tracing is off: no hook at all (nothing is called per job)."""


def _entry_point_plugin() -> object:
    """What the ``otel`` entry point registers: the tracing hooks when OpenTelemetry is installed
    and :data:`ENABLE_VARIABLE` does not turn them off, else an object without hooks."""
    if not OTEL_INSTALLED or os.environ.get(ENABLE_VARIABLE, "").strip().lower() in (
        "0",
        "false",
        "no",
        "off",
    ):
        return _Off()
    return TracingPlugin()


#: The plugin the ``jq`` entry point ``otel`` names.
plugin = _entry_point_plugin()
