"""Starting jq's background threads (heartbeats, command listeners).

Signals go to the process, and the kernel hands each one to any thread that does not block it.
A signal handled by a background thread wakes nobody: the main thread, where Python runs signal
handlers, may sit in a ``select`` until something else happens. So jq's threads block SIGINT and
SIGTERM, and the kernel always delivers those to the main thread.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

__all__ = ["start_background_thread"]

_SHUTDOWN_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def start_background_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """Start a daemon thread running ``target`` that never receives SIGINT or SIGTERM."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    # A new thread starts with its creator's signal mask: block the signals while creating it.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SHUTDOWN_SIGNALS)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread
