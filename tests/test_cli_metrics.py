"""``jqueue metrics``: the exporter served for real (on a free port of 127.0.0.1) and read with
prometheus-client's parser, ``--once``, and the mistakes a user can make, on the session's
redis-server."""

from __future__ import annotations

import signal
import socket
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from jq import Queue, SimpleWorker
from tests import fixtures
from tests.test_cli import finish, jqueue, one_error_line, start_jqueue


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def populate(client) -> None:
    queue = Queue("mail", connection=client)
    queue.enqueue(fixtures.add, 1, 2)
    queue.enqueue(fixtures.div_by_zero, 1)
    SimpleWorker([queue], connection=client).work(burst=True, logging_level="CRITICAL")
    queue.enqueue(fixtures.add, 3, 4)


def test_once_prints_the_metrics_of_the_queues_asked_for(redis_server, redis_client):
    populate(redis_client)
    Queue("other", connection=redis_client).enqueue(fixtures.add, 5, 6)
    done = jqueue("metrics", "-u", redis_server.url, "--once", "mail")
    assert done.returncode == 0, done.stderr
    found = values(done.stdout)
    assert found[("jq_queue_jobs", (("queue", "mail"), ("status", "queued")))] == 1
    assert found[("jq_queue_jobs", (("queue", "mail"), ("status", "failed")))] == 1
    assert found[("jq_jobs_finished_total", (("function", "tests.fixtures.add"), ("queue", "mail")))] == 1
    assert not any(dict(labels).get("queue") == "other" for _, labels in found)


def test_the_exporter_serves_metrics_on_127_0_0_1_until_interrupted(redis_server, redis_client):
    populate(redis_client)
    process = start_jqueue("metrics", "-u", redis_server.url, "--port", "0")
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("serving the metrics of redis://"), line
        url = line.split(" at ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
        with urllib.request.urlopen(url, timeout=30) as response:
            found = values(response.read().decode())
        assert found[("jq_up", ())] == 1
        assert (
            found[("jq_jobs_failed_total", (("function", "tests.fixtures.div_by_zero"), ("queue", "mail")))]
            == 1
        )
    finally:
        process.send_signal(signal.SIGINT)
        done = finish(process)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr


def test_a_port_in_use_is_one_line_and_exit_2(redis_server):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = jqueue("metrics", "-u", redis_server.url, "--port", str(port))
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in one_error_line(done) and "--port" in done.stderr


def test_a_bad_option_is_one_line_and_exit_2(redis_server):
    done = jqueue("metrics", "-u", redis_server.url, "--max-functions", "-1")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_a_bad_queue_name_is_one_line_and_exit_2():
    done = jqueue("metrics", "-u", "memory://", "--once", "bad queue")
    assert done.returncode == 2, done.stderr
    assert "queue name 'bad queue' is not valid" in one_error_line(done)
