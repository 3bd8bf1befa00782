"""What reading a big store's metrics costs: a Prometheus scrape, the overview it reads and the
history's series, on a private redis-server holding many jobs in many queues.

    python -m benchmarks.scrape                        # 100,000 jobs in 50 queues
    python -m benchmarks.scrape --jobs 10000 --queues 5 --scrapes 5   # a smoke run

The store is filled with ``--jobs`` queued jobs spread over ``--queues`` queues (enqueue_many),
then a SimpleWorker runs ``--run`` of them (of four functions, one of which fails), so that the
registries and the history hold something. Each read is then timed ``--scrapes`` times in this
process and the median and the slowest are printed, with the round trips it made (from the
server's command statistics) and, for the scrape, the size of the exposition.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from benchmarks import jobs  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

#: The functions the jobs call, in turn: three that succeed and one that fails.
FUNCTIONS = (jobs.noop, jobs.noop_too, jobs.noop_three, jobs.fail)


def fill(client: redis.Redis, count: int, queues: int) -> None:
    """``count`` jobs over ``queues`` queues, in batches of 1,000."""
    from jq import Queue

    names = [f"queue-{index:02d}" for index in range(queues)]
    for start in range(0, count, 1000):
        size = min(1000, count - start)
        queue = Queue(names[(start // 1000) % queues], connection=client)
        queue.enqueue_many([Queue.prepare_data(FUNCTIONS[(start + n) % len(FUNCTIONS)]) for n in range(size)])


def run(client: redis.Redis, count: int, queues: int) -> None:
    """A SimpleWorker runs ``count`` jobs taken from every queue in turn."""
    from jq import Queue, SimpleWorker

    names = [f"queue-{index:02d}" for index in range(queues)]
    worker = SimpleWorker([Queue(name, connection=client) for name in names], connection=client)
    worker.work(burst=True, max_jobs=count, logging_level="CRITICAL")


def timed(client: redis.Redis, read: Callable[[], Any], times: int) -> tuple[float, float, float, Any]:
    """(median ms, slowest ms, commands per read, the last result) of ``read``."""
    durations = []
    client.config_resetstat()
    for _ in range(times):
        started = time.perf_counter()
        result = read()
        durations.append((time.perf_counter() - started) * 1000)
    stats = client.info("commandstats")
    commands = sum(
        entry["calls"] for name, entry in stats.items() if "config" not in name and "info" not in name
    )
    return statistics.median(durations), max(durations), commands / times, result


def main() -> None:
    """Fill a private redis-server, then time each read."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs enqueued (default 100,000)")
    parser.add_argument("--queues", type=int, default=50, help="queues they are spread over (default 50)")
    parser.add_argument("--run", type=int, default=5_000, help="jobs a worker runs first (default 5,000)")
    parser.add_argument("--scrapes", type=int, default=20, help="times each read is timed (default 20)")
    options = parser.parse_args()

    from jq.admin.overview import take_snapshot
    from jq.metrics import history, history_by
    from jq.metrics.prometheus import metrics_text
    from jq_backends.redis import RedisBroker

    server = RedisServer().start()
    try:
        client = redis.Redis(port=server.port)
        started = time.perf_counter()
        fill(client, options.jobs, options.queues)
        run(client, options.run, options.queues)
        print(
            f"{options.jobs:,} jobs in {options.queues} queues, {options.run:,} run "
            f"({time.perf_counter() - started:.0f} s to prepare); {client.dbsize():,} keys",
            flush=True,
        )
        broker = RedisBroker(client)
        hour = datetime.timedelta(hours=1)
        reads: list[tuple[str, Callable[[], Any]]] = [
            ("Prometheus scrape (metrics_text)", lambda: metrics_text(broker)),
            ("take_snapshot (the overview)", lambda: take_snapshot(broker)),
            ("history, last hour, every queue", lambda: history(broker, since=hour)),
            ("history_by both, last hour", lambda: history_by(broker, "both", since=hour)),
            ("history, last 7 days (hours)", lambda: history(broker, since=datetime.timedelta(days=7))),
        ]
        print(f"{'read':<36}{'median ms':>11}{'max ms':>9}{'commands':>10}")
        for name, read in reads:
            median, slowest, commands, result = timed(client, read, options.scrapes)
            extra = f"  ({len(result):,} bytes)" if isinstance(result, str) else ""
            print(f"{name:<36}{median:>11.1f}{slowest:>9.1f}{commands:>10.0f}{extra}")
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
