"""jq.metrics: the history of real jobs read back as series, the store's stats, and the
Prometheus metrics (parsed with prometheus-client's own parser) checked against the store, on
the memory driver and a real redis-server."""

from __future__ import annotations

import datetime
import io
import sys
from collections.abc import Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jq import Queue, Retry, SimpleWorker
from jq.broker import Broker, Counts
from jq.broker.history import OTHER_FUNCTION, RUN_TIME_BOUNDS
from jq.exceptions import ConfigurationError
from jq.metrics import history, history_by, read_totals
from jq.metrics.charts import MAX_POINTS, HistoryCharts
from jq.metrics.prometheus import JQCollector, exporter_app, lumped, make_wsgi_app, metrics_text
from jq_backends.memory import MemoryBroker
from jq_backends.redis import RedisBroker
from tests import fixtures
from tests.redis_server import free_port

MINUTES = datetime.timedelta(minutes=10)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """An empty store: the memory driver, or the Redis driver on the session's redis-server."""
    broker: Broker = (
        MemoryBroker() if request.param == "memory" else RedisBroker(request.getfixturevalue("redis_client"))
    )
    try:
        yield broker
    finally:
        broker.close()


def run_jobs(broker: Broker) -> None:
    """On queue ``mail``: three jobs that finish and one that fails twice then for good (its two
    retries counted); on queue ``reports``: one that finishes, and two left queued."""
    mail, reports = Queue("mail", connection=broker), Queue("reports", connection=broker)
    for n in range(3):
        mail.enqueue(fixtures.add, n, n)
    mail.enqueue(fixtures.div_by_zero, 1, retry=Retry(max=2))
    reports.enqueue(fixtures.say_hello, "metrics")
    SimpleWorker([mail, reports], connection=broker).work(burst=True, logging_level="CRITICAL")
    reports.enqueue(fixtures.say_hello, "later")
    reports.enqueue(fixtures.say_hello, "later still")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, by (name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_history_counts_real_jobs_by_queue_and_function(store: Broker) -> None:
    run_jobs(store)
    everything = history(store, since=MINUTES)
    assert (everything.finished, everything.failed, everything.retried) == (4, 1, 2)
    assert sum(point.executions for point in everything.points) == 7
    assert len(everything.points) in (10, 11) and everything.step == 60
    assert everything.p50 is not None and everything.p95 is not None and everything.p50 <= everything.p95
    mail = history(store, queue="mail", since=MINUTES)
    assert (mail.finished, mail.failed, mail.retried) == (3, 1, 2)
    failing = history(store, queue="mail", function="tests.fixtures.div_by_zero", since=MINUTES)
    assert (failing.finished, failing.failed, failing.retried, failing.counts.timed) == (0, 1, 2, 3)
    by_function = history_by(store, "function", since=MINUTES)
    assert {name: series.finished for name, series in by_function.items()} == {
        "tests.fixtures.add": 3,
        "tests.fixtures.div_by_zero": 0,
        "tests.fixtures.say_hello": 1,
    }
    by_queue = history_by(store, "queue", since=MINUTES, step=300)
    assert {name: series.counts.executions for name, series in by_queue.items()} == {"mail": 6, "reports": 1}
    assert all(series.step == 300 for series in by_queue.values())
    both = history_by(store, "both", since=MINUTES)
    assert set(both) == {
        ("mail", "tests.fixtures.add"),
        ("mail", "tests.fixtures.div_by_zero"),
        ("reports", "tests.fixtures.say_hello"),
    }
    # A window that starts more than a day ago is read per hour.
    month = history(store, since=datetime.timedelta(days=20))
    assert month.step == 3600 and month.counts.executions == 7
    assert history(store, since=MINUTES, until=datetime.timedelta(minutes=5)).counts.executions == 0


def test_history_refuses_windows_it_cannot_read(store: Broker) -> None:
    with pytest.raises(ValueError, match="before until"):
        history(store, since=datetime.timedelta(minutes=1), until=datetime.timedelta(minutes=2))
    with pytest.raises(ValueError, match="whole number of minutes"):
        history(store, since=MINUTES, step=90)
    with pytest.raises(TypeError, match="datetime, a timedelta"):
        history(store, since="yesterday")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="by must be"):
        history_by(store, "worker")  # type: ignore[arg-type]


def test_totals_count_every_outcome_since_the_start(store: Broker) -> None:
    run_jobs(store)
    totals = read_totals(store)
    failing = totals[("mail", "tests.fixtures.div_by_zero")]
    assert (failing.finished, failing.failed, failing.retried, failing.timed) == (0, 1, 2, 3)
    assert set(read_totals(store, ["reports"])) == {("reports", "tests.fixtures.say_hello")}
    assert read_totals(store, ["unknown"]) == {}


def test_the_charts_give_the_dashboard_its_series(store: Broker) -> None:
    run_jobs(store)
    chart = HistoryCharts(store).chart(queue="mail", function=None, minutes=10)
    series = {item["name"]: item for item in chart["series"]}
    assert set(series) == {"finished", "failed", "retried", "p50", "p95"}
    assert sum(value for _, value in series["finished"]["points"]) == 3
    assert sum(value for _, value in series["retried"]["points"]) == 2
    assert {item["unit"] for item in chart["series"]} == {"jobs per minute", "run time (s)"}
    assert chart["totals"] == {"finished": 3, "failed": 1, "retried": 2, "p50": chart["totals"]["p50"],
                               "p95": chart["totals"]["p95"]}  # fmt: skip
    week = HistoryCharts(store).chart(queue=None, function=None, minutes=7 * 24 * 60)
    assert week["step"] % 3600 == 0 and len(week["series"][0]["points"]) <= MAX_POINTS
    assert sum(value * week["step"] / 60 for _, value in week["series"][0]["points"]) == 4
    with pytest.raises(ValueError, match="minutes"):
        HistoryCharts(store).chart(queue=None, function=None, minutes=0)


def test_prometheus_metrics_parse_and_match_the_store(store: Broker) -> None:
    run_jobs(store)
    found = samples(metrics_text(store))
    assert found[("jq_up", ())] == 1
    for queue in ("mail", "reports"):
        q = Queue(queue, connection=store)
        registries = {
            "queued": q.count,
            "finished": q.finished_job_registry.count,
            "failed": q.failed_job_registry.count,
            "scheduled": q.scheduled_job_registry.count,
            "deferred": q.deferred_job_registry.count,
            "canceled": q.canceled_job_registry.count,
            "started": q.started_job_registry.get_job_count(cleanup=False),
        }
        for status, count in registries.items():
            assert found[("jq_queue_jobs", (("queue", queue), ("status", status)))] == count, (queue, status)
    assert found[("jq_queue_latency_seconds", (("queue", "mail"),))] == 0
    assert found[("jq_queue_latency_seconds", (("queue", "reports"),))] > 0
    totals = read_totals(store)
    for (queue, function), counts in totals.items():
        labels = (("function", function), ("queue", queue))
        assert found[("jq_jobs_finished_total", labels)] == counts.finished
        assert found[("jq_jobs_failed_total", labels)] == counts.failed
        assert found[("jq_jobs_retried_total", labels)] == counts.retried
        assert found[("jq_job_run_time_seconds_count", labels)] == counts.timed
        assert found[("jq_job_run_time_seconds_sum", labels)] == pytest.approx(counts.run_time_sum)
        assert (
            found[("jq_job_run_time_seconds_bucket", (*labels[:1], ("le", "+Inf"), labels[1]))]
            == counts.timed
        )
    assert (
        found[("jq_jobs_retried_total", (("function", "tests.fixtures.div_by_zero"), ("queue", "mail")))] == 2
    )
    assert sum(value for (name, _), value in found.items() if name == "jq_workers") == 0


def test_the_function_label_is_bounded(store: Broker) -> None:
    run_jobs(store)
    found = samples(metrics_text(store, max_functions=1))
    mail = {dict(labels)["function"] for name, labels in found if name == "jq_jobs_finished_total"
            and dict(labels)["queue"] == "mail"}  # fmt: skip
    assert mail == {"tests.fixtures.add", OTHER_FUNCTION}, "the busiest function keeps its name"
    other = (("function", OTHER_FUNCTION), ("queue", "mail"))
    assert found[("jq_jobs_failed_total", other)] == 1 and found[("jq_jobs_retried_total", other)] == 2
    bucket = [0] * (len(RUN_TIME_BOUNDS) + 1)
    assert lumped({"a": Counts(5), "b": Counts(1), OTHER_FUNCTION: Counts(2, run_times=bucket)}, 5) == {
        "a": Counts(5),
        "b": Counts(1),
        OTHER_FUNCTION: Counts(2),
    }
    assert lumped({"a": Counts(1), "b": Counts(1)}, 0) == {OTHER_FUNCTION: Counts(2)}
    with pytest.raises(ConfigurationError, match="max_functions"):
        JQCollector(store, max_functions=-1)


def test_an_unreachable_store_scrapes_as_down(caplog: pytest.LogCaptureFixture) -> None:
    broker = RedisBroker.from_url(f"redis://127.0.0.1:{free_port()}/0?socket_connect_timeout=1")
    try:
        found = samples(metrics_text(broker))
    finally:
        broker.close()
    assert found == {("jq_up", ()): 0}
    # One line per scrape that says why, not a traceback: the store is down, jq is not broken.
    [record] = [record for record in caplog.records if "could not be read" in record.getMessage()]
    assert record.exc_info is None and "ConnectionError" in record.getMessage()


def call(app: Any, path: str) -> tuple[str, bytes]:
    """Call a WSGI app with a GET of ``path``: (status, body)."""
    environ: dict[str, Any] = {"PATH_INFO": path, "wsgi.errors": io.StringIO()}
    setup_testing_defaults(environ)
    seen: list[str] = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: seen.append(status)))
    return seen[0], body


def test_the_wsgi_apps_serve_the_metrics() -> None:
    broker = MemoryBroker()
    run_jobs(broker)
    metrics = make_wsgi_app(broker)
    status, body = call(metrics, "/")
    assert status.startswith("200") and samples(body.decode())[("jq_up", ())] == 1
    exporter = exporter_app(metrics)
    assert call(exporter, "/metrics")[0].startswith("200")
    assert b"/metrics" in call(exporter, "/")[1]
    assert call(exporter, "/other")[0].startswith("404")


def test_without_prometheus_client_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'jq-queue\[metrics\]'"):
        metrics_text(MemoryBroker())
