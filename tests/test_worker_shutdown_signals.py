"""jq.worker.shutdown.ShutdownSignals in this process: the first SIGINT/SIGTERM asks for a warm
shutdown, any later one for a cold one, however the handlers' runs fall (the processes that get
real signals are tests/test_worker_runtime.py's)."""

from __future__ import annotations

import signal
from types import FrameType

from jq.worker.shutdown import ShutdownSignals


def recording_signals() -> tuple[ShutdownSignals, list[str]]:
    """Handlers (not installed) that record which shutdown each signal asked for."""
    asked: list[str] = []

    def warm(signum: int, frame: FrameType | None) -> None:
        asked.append(f"warm:{signal.Signals(signum).name}")

    def cold(signum: int, frame: FrameType | None) -> None:
        asked.append(f"cold:{signal.Signals(signum).name}")

    return ShutdownSignals("w", warm, cold), asked


def test_the_first_signal_is_warm_and_the_next_ones_cold() -> None:
    signals, asked = recording_signals()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGTERM):
        signals._handle(signum, None)
    assert asked == ["warm:SIGTERM", "cold:SIGINT", "cold:SIGTERM"]


def test_a_signal_whose_handler_runs_inside_the_first_ones_still_counts(monkeypatch) -> None:
    """Python may run a second signal's handler between two bytecodes of the first one's, here
    while the first counts what was delivered: one of the two must still be the second signal
    (a cold shutdown), not both the first."""
    signals, asked = recording_signals()
    count_delivered = signals._count_delivered
    nested = []

    def counting_while_another_arrives() -> int:
        delivered = count_delivered()
        if not nested:
            nested.append(True)
            signals._handle(signal.SIGINT, None)  # runs inside the SIGTERM handler
        return delivered

    monkeypatch.setattr(signals, "_count_delivered", counting_while_another_arrives)
    signals._handle(signal.SIGTERM, None)
    assert sorted(kind for kind, _ in (entry.split(":") for entry in asked)) == ["cold", "warm"], asked
