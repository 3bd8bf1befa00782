"""jq in one minute, on one SQLite file: two processes, no server needed.

    python examples/quickstart.py

This process is the producer: it enqueues a few jobs on ``sqlite:///.../jobs.db`` and starts a
worker in a second process (``jqueue worker``, here as ``python -m jq worker``) on the same file,
waits for the jobs' results, prints them and stops the worker. Swap the URL for
``redis://localhost:6379/0`` and run the workers on other machines to go distributed.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
import tempfile
from pathlib import Path

import tasks  # the job functions, importable by name in the worker too

from jq import Queue
from jq.job import Job

HERE = Path(__file__).resolve().parent
#: How long the demo waits for the worker before it gives up (a slow machine's first start).
PATIENCE = 60.0


def start_worker(url: str, log_path: Path) -> subprocess.Popen[bytes]:
    """A worker process on ``url`` that imports job functions from this folder (``-P``) and also
    queues scheduled jobs when they are due (``--with-scheduler``)."""
    command = [sys.executable, "-m", "jq", "worker", "--url", url, "-P", str(HERE), "--with-scheduler"]
    with log_path.open("wb") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def outcome(job: Job) -> str:
    """The job's status and its return value or the last line of its error."""
    status = job.get_status(refresh=True)
    if job.is_failed:
        return f"{status.value}: {(job.exc_info or '').strip().splitlines()[-1]}"
    return f"{status.value}: {job.return_value()}"


def main() -> None:
    """Enqueue, let the worker process run everything, print."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'jobs.db'}"  # an absolute path: sqlite:////tmp/...
        queue = Queue("default", connection=url)

        words = queue.enqueue(tasks.count_words, "the quick brown fox jumps over the lazy dog")
        report = queue.enqueue(tasks.make_report, [3, 5, 8, 13], job_timeout="1m")
        mail = queue.enqueue(tasks.send_report, "ops@example.com", depends_on=report)
        broken = queue.enqueue(tasks.divide, 1, 0)
        later = queue.enqueue_in(datetime.timedelta(seconds=1), tasks.count_words, "due in a second")

        print(f"queued {len(queue)} jobs; {mail.id[:8]} waits for its dependency: {mail.get_status().value}")
        print(f"before any worker ran: words.result = {words.result}")

        worker = start_worker(url, Path(folder) / "worker.log")
        try:
            for job in (words, report, mail, broken, later):
                if job.latest_result(timeout=PATIENCE) is None:
                    log = (Path(folder) / "worker.log").read_text(errors="replace")
                    sys.exit(f"no result for {job.id} after {PATIENCE:.0f}s; the worker said:\n{log}")
        finally:
            worker.terminate()  # a warm shutdown: the worker finishes its job, then exits
            worker.wait(timeout=PATIENCE)

        print(f"count_words   -> {outcome(words)}")
        print(f"make_report   -> {outcome(report)} (meta {report.get_meta()})")
        print(f"send_report   -> {outcome(mail)}")
        print(f"divide(1, 0)  -> {outcome(broken)}")
        print(f"in a second   -> {outcome(later)}")
        print(
            f"registries: finished={queue.finished_job_registry.count} "
            f"failed={queue.failed_job_registry.count} queued={len(queue)}"
        )
        queue.connection.close()


if __name__ == "__main__":
    main()
