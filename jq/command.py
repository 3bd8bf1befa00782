"""Commands to running workers: shut down, kill the work horse, stop a job.

A command is published on the worker's channel; only a worker listening at that moment gets it
(every worker listens while it works).

>>> send_shutdown_command(redis, "worker-1")          # warm shutdown
>>> send_kill_horse_command(redis, "worker-1")        # kill its current job's horse
>>> send_stop_job_command(redis, job_id)              # the job ends 'stopped'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jq.connections import resolve_broker
from jq.exceptions import InvalidJobOperation

__all__ = [
    "Command",
    "decode_command",
    "send_command",
    "send_kill_horse_command",
    "send_shutdown_command",
    "send_stop_job_command",
]

#: The commands a worker understands.
COMMANDS = ("shutdown", "kill-horse", "stop-job")


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its name, and the job it is about (for ``stop-job``)."""

    name: str
    job_id: str | None = None

    def encode(self) -> bytes:
        """The payload published on the worker's channel."""
        body: dict[str, str] = {"command": self.name}
        if self.job_id is not None:
            body["job_id"] = self.job_id
        return json.dumps(body).encode()


def decode_command(payload: bytes) -> Command | None:
    """The command in a payload, or None if it is not one this version understands."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or body.get("command") not in COMMANDS:
        return None
    job_id = body.get("job_id")
    return Command(body["command"], job_id if isinstance(job_id, str) else None)


def send_command(connection: Any, worker_name: str, command_name: str, **kwargs: str) -> int:
    """Publish a command for ``worker_name``; how many listening workers got it."""
    if command_name not in COMMANDS:
        raise InvalidJobOperation(f"unknown command {command_name!r}: use one of {', '.join(COMMANDS)}")
    command = Command(command_name, kwargs.get("job_id"))
    return resolve_broker(connection).publish_command(worker_name, command.encode())


def send_shutdown_command(connection: Any, worker_name: str) -> int:
    """Ask a worker for a warm shutdown: it finishes its current job, then stops."""
    return send_command(connection, worker_name, "shutdown")


def send_kill_horse_command(connection: Any, worker_name: str) -> int:
    """Kill the work horse of a worker's current job (the job fails, or is retried)."""
    return send_command(connection, worker_name, "kill-horse")


def send_stop_job_command(connection: Any, job_id: str, serializer: Any = None) -> int:
    """Stop a running job: it ends ``stopped`` (not retried). Refused unless the job is started."""
    from jq.job import Job

    job = Job.fetch(job_id, connection=connection, serializer=serializer)
    if job.get_status(refresh=False) != "started" or not job.worker_name:
        raise InvalidJobOperation(
            f"job {job_id!r} is {job.get_status(refresh=False).value}, not started: only a running job "
            "can be stopped (cancel a queued one instead)"
        )
    return send_command(connection, job.worker_name, "stop-job", job_id=job_id)
