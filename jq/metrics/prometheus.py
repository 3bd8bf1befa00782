"""Prometheus metrics of a jq store: a collector that reads the store at scrape time, a WSGI app
that serves them, and the exporter behind ``jqueue metrics``.

It needs ``prometheus-client`` (``pip install 'jq-queue[metrics]'``), imported when a collector
is made: this module itself imports without it. Every scrape reads the store in a few round
trips whatever the number of jobs (:func:`jq.admin.overview.take_snapshot`,
:func:`jq.metrics.read_totals`);
nothing is kept between scrapes, so any number of exporters may read one store.

===================================== =================== ==========================================
metric                                labels              what
===================================== =================== ==========================================
``jq_up``                                                 1 when the store answered the scrape, else 0
``jq_queue_jobs``                     queue, status       jobs in the queue and each registry (gauge)
``jq_queue_latency_seconds``          queue               how long the next job out has waited
``jq_workers``                        state               live workers by state (gauge)
``jq_jobs_finished_total``            queue, function     executions that finished (counter)
``jq_jobs_failed_total``              queue, function     executions that failed for good (counter)
``jq_jobs_retried_total``             queue, function     executions that failed and were retried
``jq_job_run_time_seconds``           queue, function     run times (histogram)
``jq_scrape_duration_seconds``                            how long reading the store took
===================================== =================== ==========================================

The ``function`` label is bounded: per queue, the ``max_functions`` functions with the most
executions keep their name and the others are added up as ``other`` (the store itself counts
at most :data:`jq.broker.history.FUNCTIONS_KEPT` by name).

    # in a Flask or Django project (WSGI), next to the dashboard or alone:
    from jq.metrics.prometheus import make_wsgi_app
    metrics_app = make_wsgi_app("redis://localhost:6379/0")
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import redis

from jq.admin.overview import COUNTS, take_snapshot
from jq.broker import Broker, Counts, WorkerState
from jq.broker.history import OTHER_FUNCTION, RUN_TIME_BOUNDS
from jq.exceptions import ConfigurationError, JQError
from jq.io.connections import resolve_broker
from jq.metrics.history import read_totals

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import CollectorRegistry

__all__ = ["DEFAULT_MAX_FUNCTIONS", "JQCollector", "lumped", "make_registry", "make_wsgi_app", "metrics_text"]

logger = logging.getLogger("jq.metrics")

#: How many functions of each queue keep their own ``function`` label by default.
DEFAULT_MAX_FUNCTIONS = 20


def _prometheus_client() -> Any:
    """The ``prometheus_client`` package, or a clear error saying how to install it."""
    try:
        import prometheus_client  # lazy: an optional dependency (jq-queue[metrics])
        import prometheus_client.metrics_core
    except ImportError as exc:
        raise ConfigurationError(
            "jq's Prometheus metrics need prometheus-client, which is not installed: "
            "pip install 'jq-queue[metrics]'"
        ) from exc
    return prometheus_client


def lumped(by_function: Mapping[str, Counts], max_functions: int) -> dict[str, Counts]:
    """``by_function`` with at most ``max_functions`` functions by name: those with the most
    executions (ties by name); the others added up under ``other``."""
    ranked = sorted(by_function.items(), key=lambda item: (-item[1].executions, item[0]))
    kept: dict[str, Counts] = {}
    rest = Counts()
    for function, counts in ranked:
        if function != OTHER_FUNCTION and len(kept) < max_functions:
            kept[function] = counts
        else:
            rest.add(counts)
    if rest.executions or rest.timed:
        kept[OTHER_FUNCTION] = rest
    return kept


class JQCollector:
    """A Prometheus collector (``registry.register(JQCollector(...))``) that reads a jq store at
    every scrape: see the module for the metrics.

    :param connection: a broker, a redis-py client or a URL, as ``Queue(connection=...)`` takes.
    :param queues: the queues to report (None: every known queue, read at each scrape).
    :param max_functions: how many functions per queue keep their own ``function`` label.
    """

    def __init__(
        self,
        connection: Any = None,
        *,
        queues: Sequence[str] | None = None,
        max_functions: int = DEFAULT_MAX_FUNCTIONS,
    ) -> None:
        if not isinstance(max_functions, int) or isinstance(max_functions, bool) or max_functions < 0:
            raise ConfigurationError(
                f"max_functions must be a whole number, at least 0, not {max_functions!r}"
            )
        self._core = _prometheus_client().metrics_core
        self.broker: Broker = resolve_broker(connection)
        self.queues = None if queues is None else list(queues)
        self.max_functions = max_functions

    @property
    def _store_errors(self) -> tuple[type[BaseException], ...]:
        """What a store that is down or holds bad data raises (not a bug of jq's)."""
        return (JQError, redis.RedisError, *self.broker.transient_errors)

    def describe(self) -> list[Metric]:
        """Nothing: registering the collector does not read the store (its metrics are read at
        each scrape)."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Read the store and yield every metric; only ``jq_up`` (0) when the store could not be
        read, the error logged."""
        core, started = self._core, time.perf_counter()
        try:
            snapshot = take_snapshot(self.broker, self.queues or ())
            queues = [row.name for row in snapshot.queues]
            totals = read_totals(self.broker, queues)
        except self._store_errors as exc:
            # The store is down or holds bad data: one line per scrape, not a traceback.
            logger.error("jq metrics: the store %s could not be read: %s: %s", self.broker.url,
                         type(exc).__name__, exc)  # fmt: skip
            yield core.GaugeMetricFamily("jq_up", "1 when the jq store answered the scrape, else 0", value=0)
            return
        except Exception:
            logger.exception("jq metrics: the store %s could not be read", self.broker.url)
            yield core.GaugeMetricFamily("jq_up", "1 when the jq store answered the scrape, else 0", value=0)
            return
        yield core.GaugeMetricFamily("jq_up", "1 when the jq store answered the scrape, else 0", value=1)
        jobs = core.GaugeMetricFamily(
            "jq_queue_jobs", "Jobs in each queue and its registries, by status", labels=["queue", "status"]
        )
        latency = core.GaugeMetricFamily(
            "jq_queue_latency_seconds", "How long the next job out of the queue has waited", labels=["queue"]
        )
        for row in snapshot.queues:
            for status in COUNTS:
                jobs.add_metric([row.name, status], row.counts[status])
            latency.add_metric([row.name], row.latency or 0.0)
        yield jobs
        yield latency
        states = dict.fromkeys((state.value for state in WorkerState), 0)
        for worker in snapshot.workers:
            states[worker.state] = states.get(worker.state, 0) + 1
        workers = core.GaugeMetricFamily("jq_workers", "Live workers by state", labels=["state"])
        for state, count in sorted(states.items()):
            workers.add_metric([state], count)
        yield workers
        yield from self._outcomes(queues, totals)
        yield core.GaugeMetricFamily(
            "jq_scrape_duration_seconds",
            "How long reading the jq store took",
            value=time.perf_counter() - started,
        )

    def _outcomes(self, queues: Iterable[str], totals: Mapping[tuple[str, str], Counts]) -> Iterator[Metric]:
        """The counters and the run-time histogram, by queue and function (bounded)."""
        core, labels = self._core, ["queue", "function"]
        counters = [
            (core.CounterMetricFamily(f"jq_jobs_{outcome}", about, labels=labels), outcome)
            for outcome, about in _COUNTERS.items()
        ]
        run_times = core.HistogramMetricFamily(
            "jq_job_run_time_seconds", "Run times of executions", labels=labels
        )
        for queue in queues:
            by_function = {function: counts for (name, function), counts in totals.items() if name == queue}
            for function, counts in lumped(by_function, self.max_functions).items():
                for family, outcome in counters:
                    family.add_metric([queue, function], getattr(counts, outcome))
                run_times.add_metric([queue, function], _buckets(counts), sum_value=counts.run_time_sum)
        for family, _outcome in counters:
            yield family
        yield run_times


#: The counters of outcomes: the :class:`~jq.broker.Counts` attribute each counts, and its help.
_COUNTERS = {
    "finished": "Executions that finished",
    "failed": "Executions that failed for good (or were stopped, or abandoned by their worker)",
    "retried": "Executions that failed, or returned Retry, and went back to run again",
}


def _buckets(counts: Counts) -> list[tuple[str, float]]:
    """The histogram's cumulative buckets as Prometheus's ``le`` labels."""
    buckets: list[tuple[str, float]] = []
    total = 0
    for bound, count in zip((*RUN_TIME_BOUNDS, float("inf")), counts.run_times, strict=True):
        total += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), total))
    return buckets


def make_registry(
    connection: Any = None, *, queues: Sequence[str] | None = None, max_functions: int = DEFAULT_MAX_FUNCTIONS
) -> CollectorRegistry:
    """A Prometheus registry holding one :class:`JQCollector` (and nothing else): for
    ``prometheus_client.make_asgi_app(registry)`` or ``generate_latest(registry)``."""
    registry: CollectorRegistry = _prometheus_client().CollectorRegistry(auto_describe=False)
    registry.register(JQCollector(connection, queues=queues, max_functions=max_functions))
    return registry


def metrics_text(
    connection: Any = None, *, queues: Sequence[str] | None = None, max_functions: int = DEFAULT_MAX_FUNCTIONS
) -> str:
    """The metrics in Prometheus's text format, read now."""
    client = _prometheus_client()
    registry = make_registry(connection, queues=queues, max_functions=max_functions)
    return client.generate_latest(registry).decode("utf-8")  # type: ignore[no-any-return]


def make_wsgi_app(
    connection: Any = None, *, queues: Sequence[str] | None = None, max_functions: int = DEFAULT_MAX_FUNCTIONS
) -> WSGIApplication:
    """A WSGI app serving the metrics (at whatever path it is mounted on, as prometheus-client's
    own app does): what the dashboard mounts at ``/metrics``, and what a Flask or Django project
    can mount itself (see docs/observability.md)."""
    registry = make_registry(connection, queues=queues, max_functions=max_functions)
    app: WSGIApplication = _prometheus_client().make_wsgi_app(registry)
    return app


def exporter_app(metrics: WSGIApplication) -> WSGIApplication:
    """The standalone exporter's app: ``metrics`` at ``/metrics``, a line saying so at ``/``, and
    404 anywhere else."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path == "/metrics":
            served: Iterable[bytes] = metrics(environ, start_response)
            return served
        status = "200 OK" if path == "/" else "404 Not Found"
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return [b"jq metrics exporter: the metrics are at /metrics\n"]

    return app
