"""The dashboard's cost on a big store: 100,000 jobs in 50 queues on a private redis-server.

    python -m benchmarks.dashboard            # full run, writes the dashboard section of docs/benchmarks.md
    python -m benchmarks.dashboard --quick    # a smoke run (2,000 jobs in 5 queues), writes nothing

Each queue gets queued, scheduled, finished and failed jobs (the finished and failed ones run by a
worker in this process); then each page is asked ``--rounds`` times through the WSGI application
(no HTTP server: the numbers are the dashboard's and the store's, not a socket's), and the
median and 95th percentile are reported, beside the overview's counts read one call per place
(what ``jqueue info`` did before counts were pipelined).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `tests` and the working tree importable
    sys.path.insert(0, str(ROOT))

from werkzeug.test import Client  # noqa: E402

from benchmarks import jobs  # noqa: E402
from benchmarks.docs_section import replace_section  # noqa: E402
from benchmarks.run import machine  # noqa: E402
from jq import Queue, SimpleWorker  # noqa: E402
from jq.admin.overview import COUNTS  # noqa: E402
from jq.broker import Broker, Place, PlaceKind  # noqa: E402
from jq.dashboard import create_app  # noqa: E402
from jq.io.connections import resolve_broker  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

#: Of each queue's jobs: (run by a worker and finished, run and failed, scheduled); the rest wait.
SHARES = (0.15, 0.15, 0.10)
BATCH = 500


def fill(broker: Broker, queues: int, per_queue: int) -> list[str]:
    """``queues`` queues of ``per_queue`` jobs each, in every state; their names."""
    names = [f"q-{i:02d}" for i in range(queues)]
    finished, failed, scheduled = (int(per_queue * share) for share in SHARES)
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    for name in names:
        queue = Queue(name, connection=broker)
        calls = [Queue.prepare_data(jobs.noop) for _ in range(finished)]
        calls += [Queue.prepare_data(jobs.fail, failure_ttl=86400) for _ in range(failed)]
        for start in range(0, len(calls), BATCH):
            queue.enqueue_many(calls[start : start + BATCH])
    SimpleWorker([Queue(name, connection=broker) for name in names], connection=broker).work(burst=True)
    for name in names:
        queue = Queue(name, connection=broker)
        for _ in range(scheduled):
            queue.enqueue_at(later, jobs.noop)
        waiting = [Queue.prepare_data(jobs.noop) for _ in range(per_queue - finished - failed - scheduled)]
        for start in range(0, len(waiting), BATCH):
            queue.enqueue_many(waiting[start : start + BATCH])
    return names


def timed(call: Callable[[], object], rounds: int) -> tuple[float, float]:
    """Median and 95th percentile of ``call``'s duration, in milliseconds."""
    call()  # warm: templates compiled, scripts loaded
    durations = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    return statistics.median(durations), durations[min(len(durations) - 1, int(len(durations) * 0.95))]


def page(client: Client, path: str) -> Callable[[], object]:
    """A GET of ``path`` that must answer 200."""

    def get() -> object:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response

    return get


def one_call_per_place(broker: Broker, names: list[str]) -> Callable[[], object]:
    """The overview's counts as read before they were pipelined: one round trip per place."""
    kinds = [PlaceKind.QUEUE if status == "queued" else PlaceKind(status) for status in COUNTS]

    def count() -> object:
        return [
            broker.queue_length(name) if kind is PlaceKind.QUEUE else broker.registry_count(Place(kind, name))
            for name in names
            for kind in kinds
        ]

    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 jobs in 5 queues; write nothing")
    parser.add_argument("--queues", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs in all (spread over the queues)")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--no-write", action="store_true", help="print, do not write docs/benchmarks.md")
    options = parser.parse_args(argv)
    if options.quick:
        options.queues, options.jobs, options.rounds, options.no_write = 5, 2_000, 5, True
    logging.disable(logging.CRITICAL)  # 15% of the jobs fail on purpose: no traceback each
    load = os.getloadavg()[0]
    server = RedisServer().start()
    try:
        broker = resolve_broker(server.url)
        started = time.perf_counter()
        names = fill(broker, options.queues, options.jobs // options.queues)
        filled = time.perf_counter() - started
        client = Client(create_app(broker))
        first = names[0]
        deep = (options.jobs // options.queues) // 2 // 25
        rows = [
            ("overview (HTML)", page(client, "/")),
            ("overview (JSON, /api/overview)", page(client, "/api/overview")),
            ("overview counts, one call per place (before)", one_call_per_place(broker, names)),
            (f"failed jobs of {first}, first page", page(client, f"/queues/{first}/failed")),
            (f"queued jobs of {first}, page {deep}", page(client, f"/queues/{first}/queued?page={deep}")),
            (
                f"failed jobs of {first} filtered by function",
                page(client, f"/queues/{first}/failed?function=fail"),
            ),
            ("workers page", page(client, "/workers")),
        ]
        results = [(what, *timed(call, options.rounds)) for what, call in rows]
    finally:
        server.cleanup()
    lines = [
        f"{options.jobs:,} jobs in {options.queues} queues on a private redis-server (filled in "
        f"{filled:.0f} s); each request through the WSGI application, {options.rounds} rounds; "
        f"load average {load:.1f} as the run began (the machine may be shared).",
        "",
        "| request | median | p95 |",
        "| --- | ---: | ---: |",
        *(f"| {what} | {median:.1f} ms | {p95:.1f} ms |" for what, median, p95 in results),
        "",
        *machine(),
    ]
    print("\n".join(lines))
    if not options.no_write:
        replace_section(
            "dashboard",
            lines,
            heading="The dashboard",
            intro="`python -m benchmarks.dashboard`: its pages on a big store (see docs/dashboard.md).",
        )


if __name__ == "__main__":
    main()
