"""Running a periodic step until stopped: for the scheduler and the cron scheduler."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from jq.broker import Broker
from jq.core.outage import Backoff, describe_outage

__all__ = ["run_until_stopped"]

logger = logging.getLogger("jq")


def run_until_stopped(step: Callable[[], float], stop: threading.Event, broker: Broker, label: str) -> None:
    """Call ``step()`` — it returns the seconds to wait before the next call — until ``stop`` is set.

    SIGINT and SIGTERM set ``stop`` when running in the main thread. While the store is
    unreachable, steps are retried with a capped back-off.
    """
    restore = _stop_on_signals(stop)
    backoff = Backoff()
    try:
        while not stop.is_set():
            try:
                delay = step()
                if backoff.failures:
                    logger.warning("%s: the store answers again", label)
                backoff.reset()
            except broker.transient_errors as error:
                delay = backoff.next_delay()
                if backoff.failures == 1:
                    logger.warning("%s: %s; retrying", label, describe_outage(broker, error))
            stop.wait(max(delay, 0.01))
    finally:
        restore()


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
