"""Commands to running workers: shut down, kill the work horse, stop a job (or one execution).

A command is published on the worker's channel; only a worker listening at that moment gets it
(every worker listens while it works). The ``send_*`` functions return how many workers received
the command (RQ's return None; a count is what a caller can check).

>>> send_shutdown_command(redis, "worker-1")          # warm shutdown
>>> send_kill_horse_command(redis, "worker-1")        # kill its current job's horse
>>> send_stop_job_command(redis, job_id)              # the job ends 'stopped'

A worker acts on a command with the ``handle_*`` functions below (through
:meth:`jq.worker.BaseWorker.handle_payload`); a command name it does not know is logged and
ignored, so a newer sender never breaks an older worker.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from jq.core.job import Job
from jq.exceptions import InvalidJobOperation, NoSuchJobError
from jq.io.connections import resolve_broker
from jq.worker.strategies import KillReason

__all__ = [
    "PUBSUB_CHANNEL_TEMPLATE",
    "CommandTarget",
    "handle_command",
    "handle_kill_worker_command",
    "handle_shutdown_command",
    "handle_stop_execution_command",
    "handle_stop_job_command",
    "parse_payload",
    "send_command",
    "send_kill_horse_command",
    "send_shutdown_command",
    "send_stop_execution_command",
    "send_stop_job_command",
]

logger = logging.getLogger("jq.worker")

#: The channel a worker listens to with the default key prefix (the driver names the channel:
#: under ``JQ_KEY_PREFIX`` when that is set).
PUBSUB_CHANNEL_TEMPLATE = "jq:commands:%s"

#: The commands a worker acts on.
COMMANDS = ("shutdown", "kill-horse", "stop-job", "stop-execution")


def send_command(connection: Any, worker_name: str, command: str, **kwargs: Any) -> int:
    """Publish ``command`` (with ``kwargs`` as its arguments) for the worker ``worker_name``; how
    many listening workers got it.

    Any name is published, as RQ does: a worker ignores (and logs) a command it does not know.
    """
    payload: dict[str, Any] = {"command": command, **kwargs}
    return resolve_broker(connection).publish_command(worker_name, json.dumps(payload).encode())


def parse_payload(payload: dict[Any, Any]) -> dict[Any, Any]:
    """The command a pub/sub message carries: ``{"command": ..., **arguments}``.

    ``payload`` is the message as a worker receives it (``{"data": b'{"command": ...}'}``).
    Raises ValueError when ``data`` is not a JSON object.
    """
    data = payload["data"]
    body = json.loads(data.decode() if isinstance(data, bytes | bytearray) else data)
    if not isinstance(body, dict):
        raise ValueError(f"a command is a JSON object, not {body!r}")
    return body


def send_shutdown_command(connection: Any, worker_name: str) -> int:
    """Ask a worker for a warm shutdown: it finishes its current job, then stops."""
    return send_command(connection, worker_name, "shutdown")


def send_kill_horse_command(connection: Any, worker_name: str) -> int:
    """Kill the work horse of a worker's current job (the job fails, or is retried); a worker
    running no job ignores it."""
    return send_command(connection, worker_name, "kill-horse")


def send_stop_execution_command(connection: Any, job_id: str, execution_id: str) -> int:
    """Stop one execution of a job: the worker running execution ``execution_id`` of ``job_id``
    stops it (the job ends ``stopped``). Raises :class:`InvalidJobOperation` when that execution
    is not running (the job is gone, or runs another execution)."""
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        raise InvalidJobOperation(f"execution {execution_id!r} of job {job_id!r} is not running") from None
    if job.execution_id != execution_id or not job.worker_name:
        raise InvalidJobOperation(f"execution {execution_id!r} of job {job_id!r} is not running")
    return send_command(
        connection, job.worker_name, "stop-execution", job_id=job_id, execution_id=execution_id
    )


def send_stop_job_command(connection: Any, job_id: str, serializer: Any = None) -> int:
    """Stop a job: the worker named in the job's record stops it if it runs it now (the job ends
    ``stopped``, not retried; a worker not running it ignores the command).

    Raises :class:`InvalidJobOperation` when no worker ever took the job, as RQ does.
    """
    job = Job.fetch(job_id, connection=connection, serializer=serializer)
    if not job.worker_name:
        raise InvalidJobOperation(f"job {job_id!r} is not running: no worker has taken it")
    return send_command(connection, job.worker_name, "stop-job", job_id=job_id)


class CommandTarget(Protocol):
    """What acting on a command uses of the worker: its ``name`` (log lines) and the methods that
    carry the commands out (``request_stop``, ``kill_job``, ``request_stop_execution``), called on
    the worker so that a subclass's overrides are."""

    name: str

    def request_stop(self) -> None: ...

    def kill_job(self, reason: KillReason, job_id: str | None = None) -> bool: ...

    def request_stop_execution(self, execution_id: str) -> None: ...


def handle_command(worker: CommandTarget, payload: dict[Any, Any]) -> None:
    """Act on a parsed command (see :func:`parse_payload`); log and ignore an unknown one."""
    command = payload.get("command")
    if command == "stop-execution":
        handle_stop_execution_command(worker, payload)
    elif command == "stop-job":
        handle_stop_job_command(worker, payload)
    elif command == "shutdown":
        handle_shutdown_command(worker)
    elif command == "kill-horse":
        handle_kill_worker_command(worker, payload)
    else:
        logger.warning("worker %s: ignored a command it does not understand: %r", worker.name, command)


def handle_shutdown_command(worker: CommandTarget) -> None:
    """A warm shutdown, as if the worker got SIGINT (in any thread: no signal is sent)."""
    logger.info("worker %s: received a shutdown command", worker.name)
    worker.request_stop()


def handle_kill_worker_command(worker: CommandTarget, payload: dict[Any, Any]) -> None:
    """Kill the current job's work horse (a SimpleWorker stops the job in its own process)."""
    logger.info("worker %s: received a kill-horse command", worker.name)
    if not worker.kill_job(KillReason.KILL_HORSE):
        logger.info("worker %s: not running a job; kill-horse command ignored", worker.name)


def handle_stop_execution_command(worker: CommandTarget, payload: dict[Any, Any]) -> None:
    """Stop the execution the command names, if this worker runs it."""
    execution_id = str(payload.get("execution_id") or "")
    logger.info("worker %s: received a command to stop execution %s", worker.name, execution_id)
    worker.request_stop_execution(execution_id)


def handle_stop_job_command(worker: CommandTarget, payload: dict[Any, Any]) -> None:
    """Stop the job the command names, if this worker runs it (it ends ``stopped``)."""
    job_id = payload.get("job_id")
    logger.info("worker %s: received a command to stop job %s", worker.name, job_id)
    if not isinstance(job_id, str) or not worker.kill_job(KillReason.STOP_JOB, job_id=job_id):
        logger.info("worker %s: not running job %s; nothing to stop", worker.name, job_id)
