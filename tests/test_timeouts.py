"""UnixSignalDeathPenalty keeps an alarm that was already running: an outer job's penalty (a job
that runs another with ``is_async=False``) or pytest-timeout's."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from jq.timeouts import JobTimeoutException, UnixSignalDeathPenalty, hold_alarm_handler


class OuterAlarm(Exception):
    """Raised by the outer alarm's handler in these tests."""


@pytest.fixture
def outer_alarm():
    """Set SIGALRM to raise OuterAlarm after the seconds given; the test's earlier handler and
    alarm (pytest-timeout's, when it uses signals) come back afterwards."""
    saved_handler = signal.getsignal(signal.SIGALRM)
    saved_left, saved_interval = signal.setitimer(signal.ITIMER_REAL, 0)
    fired: list[float] = []

    def handler(signum, frame):
        fired.append(time.monotonic())
        raise OuterAlarm

    def arm(seconds: float) -> list[float]:
        signal.signal(signal.SIGALRM, handler)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        return fired

    try:
        yield arm
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, saved_handler)
        if saved_left > 0:
            signal.setitimer(signal.ITIMER_REAL, saved_left, saved_interval)


def test_a_longer_alarm_is_put_back_with_its_handler_and_time_left(outer_alarm):
    outer_alarm(30)
    with UnixSignalDeathPenalty(10, JobTimeoutException, job_id="j"):
        assert 9 < signal.getitimer(signal.ITIMER_REAL)[0] <= 10
    left = signal.getitimer(signal.ITIMER_REAL)[0]
    assert 25 < left <= 30
    assert signal.getsignal(signal.SIGALRM) is not signal.SIG_DFL
    assert signal.getsignal(signal.SIGALRM).__name__ == "handler"


def test_without_an_alarm_before_the_default_handler_comes_back(outer_alarm):
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    with UnixSignalDeathPenalty(10, JobTimeoutException, job_id="j"):
        pass
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL


def test_the_penalty_still_fires_inside_a_longer_alarm(outer_alarm):
    fired = outer_alarm(30)
    with pytest.raises(JobTimeoutException), UnixSignalDeathPenalty(0.1, JobTimeoutException, job_id="j"):
        time.sleep(10)
    assert fired == []
    assert signal.getitimer(signal.ITIMER_REAL)[0] > 25


def test_a_shorter_alarm_goes_off_once_at_its_time_inside_the_penalty(outer_alarm):
    fired = outer_alarm(0.1)
    started = time.monotonic()
    with pytest.raises(OuterAlarm), UnixSignalDeathPenalty(10, JobTimeoutException, job_id="j"):
        time.sleep(10)
    assert len(fired) == 1 and fired[0] - started < 5
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0


@pytest.fixture(params=["installed each time", "held"])
def maybe_held(request):
    """Each penalty installing its handler, or inside hold_alarm_handler() as in a worker."""
    with hold_alarm_handler() if request.param == "held" else contextlib.nullcontext():
        yield request.param


def test_an_outer_penalty_survives_an_inner_one(maybe_held):
    outer = UnixSignalDeathPenalty(0.3, JobTimeoutException, job_id="outer")
    started = time.monotonic()
    with pytest.raises(JobTimeoutException, match=r"0\.3 seconds"), outer:
        with UnixSignalDeathPenalty(10, JobTimeoutException, job_id="inner"):
            pass
        time.sleep(10)
    assert time.monotonic() - started < 5


def test_an_outer_penalty_due_first_stops_the_inner_code(maybe_held):
    caught = []
    started = time.monotonic()
    with UnixSignalDeathPenalty(0.1, JobTimeoutException, job_id="outer"):
        try:
            with UnixSignalDeathPenalty(10, JobTimeoutException, job_id="inner"):
                time.sleep(10)
        except JobTimeoutException as exc:
            # A job runner records the inner job as failed, with the outer job's timeout.
            caught.append(str(exc))
    assert caught == ["Task exceeded maximum timeout value (0.1 seconds)"]
    assert time.monotonic() - started < 5


def _counting_signal(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every handler signal.signal installs from now on."""
    installed: list[Any] = []
    real: Callable[..., Any] = signal.signal

    def counting(signum: int, handler: Any) -> Any:
        installed.append(handler)
        return real(signum, handler)

    monkeypatch.setattr(signal, "signal", counting)
    return installed


def test_held_penalties_only_set_the_timer_and_still_fire(outer_alarm, monkeypatch):
    """What the hold is for: a worker's jobs install no handler each (see jq.base.timeouts)."""
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    with hold_alarm_handler():
        installed = _counting_signal(monkeypatch)
        for _ in range(3):
            with UnixSignalDeathPenalty(10, JobTimeoutException, job_id="j"):
                assert 9 < signal.getitimer(signal.ITIMER_REAL)[0] <= 10
            assert signal.getitimer(signal.ITIMER_REAL)[0] == 0
        with pytest.raises(JobTimeoutException), UnixSignalDeathPenalty(0.1, JobTimeoutException, job_id="j"):
            time.sleep(10)
        assert installed == []
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL


def test_the_handler_before_a_hold_runs_inside_it_and_comes_back_after(outer_alarm):
    """A user's SIGALRM handler still gets its alarms while a worker holds SIGALRM, between jobs
    and inside a penalty when it is due first, and is installed again when the hold ends."""
    fired = outer_alarm(30)
    handler = signal.getsignal(signal.SIGALRM)
    with hold_alarm_handler():
        assert signal.getsignal(signal.SIGALRM) is not handler
        with UnixSignalDeathPenalty(10, JobTimeoutException, job_id="j"):
            pass
        assert 25 < signal.getitimer(signal.ITIMER_REAL)[0] <= 30  # its time left, as without a hold
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(OuterAlarm):
            time.sleep(10)  # between jobs
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(OuterAlarm), UnixSignalDeathPenalty(10, JobTimeoutException, job_id="j"):
            time.sleep(10)  # inside a penalty, due first
        assert len(fired) == 2
    assert signal.getsignal(signal.SIGALRM) is handler


def test_nested_holds_put_the_handler_back_once(outer_alarm):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    with hold_alarm_handler():
        held = signal.getsignal(signal.SIGALRM)
        with hold_alarm_handler():
            assert signal.getsignal(signal.SIGALRM) is held
        assert signal.getsignal(signal.SIGALRM) is held
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_IGN


#: Run in a fresh interpreter: a TimerDeathPenalty in a job's thread that ends before its time
#: (JOB_BODY "pass": every job that does not time out) or times the job out, then a trace
#: function (a debugger's, a coverage tool's) and a call.
_TRACED_AFTER_A_PENALTY = """
import sys, threading
from jq.timeouts import JobTimeoutException, TimerDeathPenalty

def job_thread():
    try:
        with TimerDeathPenalty(TIMEOUT):
            JOB_BODY
    except JobTimeoutException:
        print("timed out")

thread = threading.Thread(target=job_thread)
thread.start()
thread.join()
calls = []
def tracer(frame, event, arg):
    calls.append(event)
    return None
def traced():
    return 1
sys.settrace(tracer)
traced()
sys.settrace(None)
print(calls)
"""


@pytest.mark.parametrize(
    ("timeout", "body", "printed"),
    [("60", "pass", "['call']"), ("0.05", "while True: pass", "timed out\n['call']")],
    ids=["ended-in-time", "timed-out"],
)
def test_a_timer_penalty_leaves_tracing_working(timeout: str, body: str, printed: str):
    """Clearing an asynchronous exception when none is pending (PyThreadState_SetAsyncExc with
    NULL: one never raised, or one already delivered) leaves CPython 3.11's eval breaker set for
    good: the next traced call never returns."""
    script = _TRACED_AFTER_A_PENALTY.replace("TIMEOUT", timeout).replace("JOB_BODY", body)
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=10
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a traced call hung after a TimerDeathPenalty ended")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == printed
