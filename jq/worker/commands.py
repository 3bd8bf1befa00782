"""A working worker's command listener: shutdown, kill-horse and stop-job (see :mod:`jq.command`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from jq.broker import CommandSubscription
from jq.command import decode_command
from jq.worker.strategies import KillReason

if TYPE_CHECKING:
    from jq.worker.base import BaseWorker

__all__ = ["CommandListener"]

logger = logging.getLogger("jq.worker")


class CommandListener:
    """Subscribes the worker to its commands while it works, and acts on each one.

    Handlers run on the broker's listener thread: they only set flags or kill the current job,
    which the worker's own loop then records.
    """

    def __init__(self, worker: BaseWorker) -> None:
        self.worker = worker
        self._subscription: CommandSubscription | None = None

    def start(self) -> None:
        """Listen from now on."""
        self._subscription = self.worker.broker.subscribe_commands(self.worker.name, self.handle)

    def stop(self) -> None:
        """Stop listening."""
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    def handle(self, payload: bytes) -> None:
        """Act on one command payload."""
        command = decode_command(payload)
        worker = self.worker
        if command is None:
            logger.warning(
                "worker %s: ignored a command it does not understand: %r", worker.name, payload[:200]
            )
            return
        logger.info("worker %s: received command %s", worker.name, command.name)
        if command.name == "shutdown":
            worker.request_stop()
        elif command.name == "kill-horse":
            worker.kill_job(KillReason.KILL_HORSE)
        elif command.job_id is None or not worker.kill_job(KillReason.STOP_JOB, job_id=command.job_id):
            logger.info("worker %s: not running job %s; nothing to stop", worker.name, command.job_id)
