"""The soak's job functions and callbacks (importable by name from any worker).

Each execution writes a ``start`` line when the function begins and an ``end`` line when it
returns or raises; ``on_success`` and ``on_failure`` write ``success`` and ``failure`` lines,
once per time the job is ended. Every line is one ``os.write`` to a file opened with
``O_APPEND`` (short lines: never interleaved), so what ran is counted outside the store::

    <event> <job id> <pid> <ppid> <session id> <monotonic ns> [<detail>]

The monotonic clock is the machine's (``CLOCK_MONOTONIC``), the same in every process, so the
soak orders lines from different workers and compares them with its own kills and restarts.
"""

from __future__ import annotations

import os
import time
from typing import Any

from jq import get_current_job


def log_line(path: str, event: str, job_id: str, detail: str = "") -> None:
    """Append one line to the soak's execution log."""
    line = f"{event} {job_id} {os.getpid()} {os.getppid()} {os.getsid(0)} {time.monotonic_ns()} {detail}\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def work(log: str, seconds: float, fail_first: bool = False) -> str:
    """Sleep ``seconds``; with ``fail_first``, raise on the job's first execution (its Retry
    runs it again)."""
    job = get_current_job()
    assert job is not None
    log_line(log, "start", job.id)
    try:
        if seconds:
            time.sleep(seconds)
        if fail_first:
            marker = os.path.join(os.path.dirname(log), f"failed-once-{job.id}")
            try:
                os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            except FileExistsError:
                pass
            else:
                raise RuntimeError("fails on its first execution, by design")
    except BaseException as error:
        log_line(log, "end", job.id, f"raised:{type(error).__name__}")
        raise
    log_line(log, "end", job.id, "returned")
    return job.id


def always_fail(log: str) -> None:
    """Fail every time (the soak's jobs that end failed for a stated reason)."""
    job = get_current_job()
    assert job is not None
    log_line(log, "start", job.id)
    log_line(log, "end", job.id, "raised:ValueError")
    raise ValueError("fails every time, by design")


def on_success(job: Any, connection: Any, result: Any, *args: Any, **kwargs: Any) -> None:
    """Note that the job ended finished."""
    log_line(job.args[0], "success", job.id)


def on_failure(job: Any, connection: Any, *exc_info: Any, **kwargs: Any) -> None:
    """Note that the job ended failed, and why."""
    kind = exc_info[0].__name__ if exc_info and exc_info[0] is not None else "unknown"
    log_line(job.args[0], "failure", job.id, kind)
