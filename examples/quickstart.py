"""jq in one minute, on the in-memory broker: no server needed.

    python examples/quickstart.py

Enqueues a few jobs, runs them with a worker in this process, and prints what happened. Swap
"memory://" for "redis://localhost:6379/0" and run `jqueue worker` elsewhere to go distributed.
"""

from __future__ import annotations

import logging

import tasks  # the job functions, importable by name

from jq import Queue, SimpleWorker


def main() -> None:
    """Enqueue, work, print."""
    queue = Queue("default", connection="memory://")

    words = queue.enqueue(tasks.count_words, "the quick brown fox jumps over the lazy dog")
    report = queue.enqueue(tasks.make_report, [3, 5, 8, 13], job_timeout="1m")
    mail = queue.enqueue(tasks.send_report, "ops@example.com", depends_on=report)
    broken = queue.enqueue(tasks.divide, 1, 0)

    print(f"queued {len(queue)} jobs; {mail.id[:8]} waits for its dependency: {mail.get_status().value}")
    print(f"before any worker ran: words.result = {words.result}")

    # The worker logs each job; keep the demo's output to the summary below.
    logging.getLogger("jq.worker").setLevel(logging.CRITICAL)
    SimpleWorker([queue]).work(burst=True, logging_level="CRITICAL")

    print(f"count_words   -> {words.get_status().value}: {words.result}")
    print(f"make_report   -> {report.get_status().value}: {report.result} (meta {report.get_meta()})")
    print(f"send_report   -> {mail.get_status().value}: {mail.result}")
    print(f"divide(1, 0)  -> {broken.get_status().value}: {broken.exc_info.strip().splitlines()[-1]}")
    print(
        f"registries: finished={queue.finished_job_registry.count} "
        f"failed={queue.failed_job_registry.count} queued={len(queue)}"
    )


if __name__ == "__main__":
    main()
