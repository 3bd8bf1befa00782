"""RQ 3.0's exception and death-penalty names in jq.exceptions and jq.timeouts (B25)."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from jq import exceptions, timeouts
from jq.exceptions import (
    InvalidJobOperation,
    InvalidJobOperationError,
    JQError,
    ShutDownImminentException,
)


def test_shutdown_imminent_is_a_base_exception_with_extra_info():
    """B25: a job's ``except Exception:`` must not swallow a shutdown that must stop it."""
    error = ShutDownImminentException("shut down imminent (signal: SIGRTMIN)", {"f_lineno": 12})
    assert isinstance(error, BaseException) and not isinstance(error, Exception)
    assert error.extra_info == {"f_lineno": 12}
    assert str(error) == "shut down imminent (signal: SIGRTMIN)"
    caught = None
    try:
        try:
            raise error
        except Exception:  # what job code often does
            caught = "swallowed"
    except ShutDownImminentException:
        caught = "passed through"
    assert caught == "passed through"


def test_shutdown_imminent_without_extra_info():
    assert ShutDownImminentException("stop").extra_info == {}
    # Raised into a thread by class (a cold shutdown of a SimpleWorker): no arguments at all.
    assert dict(ShutDownImminentException.extra_info) == {}


@pytest.mark.parametrize(
    "name",
    [
        "NoSuchGroupError",
        "InvalidJobOperationError",
        "SchedulerNotFound",
        "DuplicateSchedulerError",
        "StopRequested",
    ],
)
def test_rq_exception_names_exist(name):
    error_class = getattr(exceptions, name)
    assert issubclass(error_class, JQError)
    assert name in exceptions.__all__


def test_invalid_job_operation_error_is_caught_by_either_name():
    with pytest.raises(InvalidJobOperation):
        raise InvalidJobOperationError("no")


def test_horse_monitor_timeout_and_default_death_penalty():
    assert issubclass(timeouts.HorseMonitorTimeoutException, timeouts.BaseTimeoutException)
    expected = timeouts.UnixSignalDeathPenalty if hasattr(signal, "SIGALRM") else timeouts.TimerDeathPenalty
    assert timeouts.get_default_death_penalty_class() is expected


def test_timer_death_penalty_new_timer_and_handle_death_penalty():
    """RQ's TimerDeathPenalty members: new_timer() makes the timer, handle_death_penalty() raises
    the timeout in the job's thread. A subclass overriding them is used."""
    calls = []

    class Counting(timeouts.TimerDeathPenalty):
        def new_timer(self):
            calls.append("new_timer")
            return super().new_timer()

        def handle_death_penalty(self):
            calls.append("handle")
            super().handle_death_penalty()

    outcome = []

    def job() -> None:
        try:
            with Counting(0.2, timeouts.JobTimeoutException):
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    pass
        except timeouts.JobTimeoutException:
            outcome.append("timed out")

    thread = threading.Thread(target=job)
    thread.start()
    thread.join(60)
    assert outcome == ["timed out"]
    assert calls == ["new_timer", "handle"]
