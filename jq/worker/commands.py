"""A working worker's command listener: shutdown, kill-horse, stop-job and stop-execution (see
:mod:`jq.command`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from jq.broker import CommandSubscription

if TYPE_CHECKING:
    from jq.worker.base import BaseWorker

__all__ = ["CommandListener"]

logger = logging.getLogger("jq.worker")


class CommandListener:
    """Subscribes the worker to its commands while it works, and hands each one to
    :meth:`jq.worker.BaseWorker.handle_payload`.

    Handlers run on the broker's listener thread: they only set flags or kill the current job,
    which the worker's own loop then records.
    """

    def __init__(self, worker: BaseWorker) -> None:
        self.worker = worker
        self._subscription: CommandSubscription | None = None

    @property
    def subscription(self) -> CommandSubscription | None:
        """The broker's subscription while listening, else None."""
        return self._subscription

    def start(self) -> None:
        """Listen from now on."""
        self._subscription = self.worker.broker.subscribe_commands(self.worker.name, self.handle)

    def stop(self) -> None:
        """Stop listening."""
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    def handle(self, payload: bytes) -> None:
        """Act on one command payload, given to the worker as a pub/sub message (as RQ's worker
        receives it, so a ``handle_payload`` written for RQ works)."""
        message: dict[str, Any] = {"type": "message", "pattern": None, "channel": None, "data": payload}
        try:
            self.worker.handle_payload(message)
        except ValueError:
            logger.warning(
                "worker %s: ignored a command it does not understand: %r", self.worker.name, payload[:200]
            )
