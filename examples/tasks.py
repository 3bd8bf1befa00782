"""Job functions for the quickstart: plain functions a worker imports by name."""

from __future__ import annotations

import sys

from jq import Queue, get_current_job
from jq.job import Job


def count_words(text: str) -> int:
    """How many words ``text`` has."""
    return len(text.split())


def make_report(numbers: list[int]) -> dict[str, float]:
    """A small report, saving progress in the job's meta as it goes."""
    job = get_current_job()
    total = 0
    for index, number in enumerate(numbers, start=1):
        total += number
        if job is not None:
            job.meta["progress"] = f"{index}/{len(numbers)}"
            job.save_meta()
    return {"total": total, "mean": total / len(numbers)}


def send_report(recipient: str) -> str:
    """Pretend to mail the report (runs only after make_report succeeded)."""
    return f"report sent to {recipient}"


def request_report(numbers: list[int], recipient: str) -> Job:
    """What a web view would do: queue the report, then the mail once the report is made.

    ``Queue()`` with no connection uses the current one: ``JQ_URL`` in production, the test's
    store under jq's pytest plugin.
    """
    queue = Queue()
    report = queue.enqueue(make_report, numbers)
    return queue.enqueue(send_report, recipient, depends_on=report)


def divide(x: float, y: float) -> float:
    """x / y: fails for y == 0."""
    return x / y


def is_loaded(module: str) -> bool:
    """Whether ``module`` was imported in the process running this job before the job ran: a
    preloading worker's jobs find its imports there (see preloading_worker.py)."""
    return module in sys.modules
