"""A working worker's command listener: shutdown, kill-horse, stop-job and stop-execution (see
:mod:`jq.command`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from jq.broker import Broker, CommandSubscription

__all__ = ["CommandListener"]

logger = logging.getLogger("jq.worker")


class CommandListener:
    """Subscribes worker ``name`` to its commands on ``broker`` while it works, and hands each one
    to ``handle_payload`` (the worker's :meth:`jq.worker.BaseWorker.handle_payload`, bound: a
    worker class may override it).

    Handlers run on the broker's listener thread: they only set flags or kill the current job,
    which the worker's own loop then records.
    """

    def __init__(self, broker: Broker, name: str, handle_payload: Callable[[dict[str, Any]], None]) -> None:
        self.broker, self.name, self.handle_payload = broker, name, handle_payload
        self._subscription: CommandSubscription | None = None

    @property
    def subscription(self) -> CommandSubscription | None:
        """The broker's subscription while listening, else None."""
        return self._subscription

    def start(self) -> None:
        """Listen from now on."""
        self._subscription = self.broker.subscribe_commands(self.name, self.handle)

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
            self.handle_payload(message)
        except ValueError:
            logger.warning(
                "worker %s: ignored a command it does not understand: %r", self.name, payload[:200]
            )
