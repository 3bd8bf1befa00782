"""RQ 3.0's ``Webhook`` (docs/docs/index.md, "Webhooks"), against a local HTTP server, on every
driver: sent once the job's outcome is recorded, for the status it names; its failures are logged
and never change the outcome."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from jq import Queue, Retry, SimpleWorker, Webhook, lifecycle
from jq.core.execution import JobRunner
from jq.exceptions import JobStopped
from jq.testing.helpers import wait_for
from tests import fixtures
from tests.processes import HORSE_MODES, WORKER_MODES, start_worker, stop


@dataclass
class Endpoint:
    """A local HTTP server that records every request: (method, path, headers, JSON body)."""

    url: str
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    #: Seconds to wait before answering, and the status code to answer with.
    delay: float = 0.0
    status: int = 200

    def paths(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, _headers, _body in self.requests]


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    seen = Endpoint("")

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            seen.requests.append((self.command, self.path, dict(self.headers), body))
            time.sleep(seen.delay)
            self.send_response(seen.status)
            self.end_headers()

        do_GET = do_POST = _record

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    seen.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def run_burst(queue: Queue) -> None:
    SimpleWorker([queue]).work(burst=True)


def test_finished_post_sends_the_job_summary(queue, endpoint):
    hooks = [
        Webhook(f"{endpoint.url}/done", "finished", method="POST", headers={"X-Token": "t"}),
        Webhook(f"{endpoint.url}/failed", "failed", method="POST"),
    ]
    job = queue.enqueue(fixtures.add, 1, 2, webhooks=hooks)
    run_burst(queue)
    assert job.get_status() == "finished"
    assert endpoint.paths() == [("POST", "/done")], "only the webhook for the status reached"
    _method, _path, headers, body = endpoint.requests[0]
    assert headers["Content-Type"] == "application/json" and headers["X-Token"] == "t"
    job.refresh()
    assert body == {
        "job_id": job.id,
        "func_name": "tests.fixtures.add",
        "status": "finished",
        "enqueued_at": job.enqueued_at.isoformat(),
        "ended_at": job.ended_at.isoformat(),
    }


def test_failed_post_carries_the_traceback_and_get_sends_no_body(queue, endpoint):
    hooks = [Webhook(f"{endpoint.url}/f", "failed", method="POST"), Webhook(f"{endpoint.url}/g", "failed")]
    job = queue.enqueue(fixtures.div_by_zero, 1, webhooks=hooks)
    run_burst(queue)
    assert job.get_status() == "failed"
    assert endpoint.paths() == [("POST", "/f"), ("GET", "/g")]
    assert "ZeroDivisionError" in endpoint.requests[0][3]["exc_info"]
    assert endpoint.requests[0][3]["status"] == "failed"
    assert endpoint.requests[1][3] is None


def test_no_failed_webhook_for_an_attempt_that_is_retried(queue, endpoint):
    hook = Webhook(f"{endpoint.url}/f", "failed", method="POST")
    job = queue.enqueue(fixtures.div_by_zero, 1, retry=Retry(max=2), webhooks=[hook])
    SimpleWorker([queue]).work(burst=True, max_jobs=1)
    assert job.get_status() == "queued" and endpoint.requests == []
    run_burst(queue)
    assert job.get_status() == "failed"
    assert endpoint.paths() == [("POST", "/f")], "once, for the final failure"


def test_a_returned_retry_that_runs_out_sends_failed_without_traceback(queue, endpoint):
    hook = Webhook(f"{endpoint.url}/f", "failed", method="POST")
    job = queue.enqueue(fixtures.return_retry, 1, webhooks=[hook])
    run_burst(queue)
    assert job.get_status() == "failed"
    assert [body["exc_info"] for *_rest, body in endpoint.requests] == [""]


def test_a_failing_endpoint_never_changes_the_outcome(queue, endpoint, caplog):
    endpoint.status = 500
    unreachable = Webhook("http://127.0.0.1:9/nothing", "finished", timeout=1)
    job = queue.enqueue(fixtures.add, 1, 2, webhooks=[Webhook(f"{endpoint.url}/x", "finished"), unreachable])
    with caplog.at_level(logging.WARNING, logger="jq.webhook"):
        run_burst(queue)
    assert job.get_status() == "finished" and job.return_value() == 3
    assert endpoint.paths() == [("GET", "/x")]
    failures = [record for record in caplog.records if record.name == "jq.webhook"]
    assert len(failures) == 2, "the HTTP error and the refused connection are both logged"


def test_a_slow_endpoint_is_given_up_after_its_timeout(queue, endpoint, caplog):
    endpoint.delay = 3
    job = queue.enqueue(fixtures.add, 1, 2, webhooks=[Webhook(f"{endpoint.url}/slow", "finished", timeout=1)])
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="jq.webhook"):
        run_burst(queue)
    assert time.monotonic() - began < 2.9, "the worker waited for the timeout, not the endpoint"
    assert job.get_status() == "finished"
    assert any(record.name == "jq.webhook" for record in caplog.records)


def test_a_stopped_job_sends_no_failed_webhook(queue, endpoint):
    job = queue.enqueue(fixtures.add, 1, 2, webhooks=[Webhook(f"{endpoint.url}/f", "failed")])
    assert queue.broker.claim_job(job.id, queue.name, lifecycle.claim_fields("w"), time.time() + 60)
    job.refresh()
    try:
        raise JobStopped("stopped by a command")
    except JobStopped:
        # What a worker records for a job it was told to stop.
        JobRunner(worker=None, death_penalty_class=None).handle_failure(job, sys.exc_info(), stopped=True)  # type: ignore[arg-type]
    assert job.get_status() == "stopped"
    assert endpoint.requests == []


def test_is_async_false_sends_them_too(broker, endpoint):
    queue = Queue(connection=broker, is_async=False)
    queue.enqueue(fixtures.add, 1, 2, webhooks=[Webhook(f"{endpoint.url}/ok", "finished")])
    queue.enqueue(fixtures.div_by_zero, 1, webhooks=[Webhook(f"{endpoint.url}/ko", "failed")])
    assert endpoint.paths() == [("GET", "/ok"), ("GET", "/ko")]


def test_stored_with_the_job_and_read_back(queue):
    hook = Webhook("https://example.invalid/done", "finished", method="POST", headers={"A": "b"}, timeout=3)
    job = queue.enqueue(fixtures.add, 1, 2, webhooks=[hook])
    assert type(job).fetch(job.id, connection=queue.broker).webhooks == [hook]
    queue.broker.update_job(job.id, {"webhooks": b"not json"})
    assert type(job).fetch(job.id, connection=queue.broker).webhooks == [], "unreadable: none is sent"


@pytest.mark.parametrize("mode", HORSE_MODES)
def test_sent_from_a_work_horse(redis_server, redis_client, endpoint, mode):
    """The same with a forking Worker, on a real server: the horse sends it."""
    queue = Queue(connection=redis_client)
    queue.enqueue(fixtures.add, 1, 2, webhooks=[Webhook(f"{endpoint.url}/{mode}", "finished", method="POST")])
    worker = start_worker(
        redis_server.url, name=f"webhook-{mode}", work={"burst": True}, **WORKER_MODES[mode]
    )
    code, stderr = stop(worker)
    assert code == 0, stderr
    assert wait_for(lambda: endpoint.paths() == [("POST", f"/{mode}")], timeout=10)


def test_a_cron_job_sends_its_webhooks_at_each_tick(broker, endpoint):
    """RQ's cron webhooks (docs/docs/cron.md, "Webhooks"): a heartbeat for each tick's job."""
    from jq.cron import Cron, CronScheduler

    cron = Cron()
    cron.register(
        fixtures.add, interval=60, args=(1, 2), webhooks=[Webhook(f"{endpoint.url}/beat", "finished")]
    )
    with pytest.raises(TypeError):
        cron.register(fixtures.add, interval=60, name="bad", webhooks=["https://example.invalid"])
    [job] = CronScheduler(cron, broker).tick()
    run_burst(Queue(connection=broker))
    assert job.get_status() == "finished"
    assert endpoint.paths() == [("GET", "/beat")]
