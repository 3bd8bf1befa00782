"""RQ's ``rq.command``, and jq's public path of :mod:`jq.worker.command`:
the same objects, re-exported."""

from __future__ import annotations

from jq.worker.command import (
    COMMANDS,
    PUBSUB_CHANNEL_TEMPLATE,
    handle_command,
    handle_kill_worker_command,
    handle_shutdown_command,
    handle_stop_execution_command,
    handle_stop_job_command,
    parse_payload,
    send_command,
    send_kill_horse_command,
    send_shutdown_command,
    send_stop_execution_command,
    send_stop_job_command,
)

__all__ = [
    "COMMANDS",
    "PUBSUB_CHANNEL_TEMPLATE",
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
