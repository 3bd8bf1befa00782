"""The lease pulse process of a worker that runs jobs in its own interpreter (jq.worker.pulse):
how it ends when other processes are forked beside it."""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis

from jq import Queue, SimpleWorker
from jq.worker.pulse import LeasePulse
from jq_backends.redis import RedisBroker
from tests import fixtures

#: Seconds a stop that works takes at most here (it takes milliseconds): past it, it hangs.
STOP_DEADLINE = 10


def _pulse() -> LeasePulse:
    """A pulse that never beats in these tests (its interval is a minute)."""
    return LeasePulse("w1", RedisBroker(fakeredis.FakeRedis()), 60, 120, contextlib.nullcontext())


def _ends(call: object) -> bool:
    """Whether ``call()`` returns within :data:`STOP_DEADLINE` seconds (run in a thread)."""
    thread = threading.Thread(target=call, daemon=True)  # type: ignore[arg-type]
    thread.start()
    thread.join(STOP_DEADLINE)
    return not thread.is_alive()


@contextlib.contextmanager
def _forked_child() -> Iterator[int]:
    """A child forked from this process that lives until the block ends (as a job's background
    process would), then is ended and reaped."""
    pid = fixtures.fork_paused_child()
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_a_pulse_stops_while_a_process_forked_after_it_lives():
    pulse = _pulse()
    pulse.start()
    pid = pulse.pid
    with _forked_child():
        stopped = _ends(pulse.stop)
        if not stopped:  # let the stuck stop() end, so the test leaves nothing behind
            assert pid is not None
            os.kill(pid, signal.SIGKILL)
        assert stopped, "stop() waited for the pulse, which a forked child kept alive"


def test_two_pulses_of_one_process_stop_one_at_a_time():
    """Two workers in threads of one process: the second pulse is forked after the first."""
    first, second = _pulse(), _pulse()
    first.start()
    second.start()
    try:
        assert _ends(first.stop), "the first pulse's stop waited for the second pulse"
    finally:
        for pulse in (first, second):
            if pulse.pid is not None:
                os.kill(pulse.pid, signal.SIGKILL)
        second.stop()
        first.stop()


def test_a_simple_worker_stops_after_a_job_that_left_a_forked_child(
    redis_client: redis.Redis, tmp_path: Path
):
    queue = Queue(connection=redis_client)
    pid_file = tmp_path / "child.pid"
    job = queue.enqueue(fixtures.fork_lingering_child, str(pid_file))
    worker = SimpleWorker([queue], connection=redis_client)
    try:
        assert _ends(lambda: worker.work(burst=True)), "the worker hung at its end"
        assert job.get_status(refresh=True) == "finished"
    finally:
        if pid_file.exists():
            child = int(pid_file.read_text())
            os.kill(child, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, 0)


def _run_before_line(
    method: Any, text: str, action: Callable[[], object], call: Callable[[], object]
) -> object:
    """``call()``, with ``action()`` run once right before the first line of ``method`` that holds
    ``text`` (what another thread could do at that moment)."""
    lines, first = inspect.getsourcelines(method)
    target = first + next(n for n, line in enumerate(lines) if text in line)
    done = []

    def tracer(frame: types.FrameType, event: str, arg: object) -> object:
        if frame.f_code is method.__code__:
            if event == "line" and frame.f_lineno == target and not done:
                done.append(True)
                action()
            return tracer
        return None

    sys.settrace(tracer)
    try:
        return call()
    finally:
        sys.settrace(None)
        assert done, f"no line of {method.__name__} holds {text!r}"


def test_a_stop_that_meets_a_check_forgetting_a_dead_pulse_raises_nothing():
    """The pulse was killed from outside at the worker's end: the heartbeat thread's check()
    forgets it (pid None) while the main thread's stop() is about to reap it."""
    pulse = _pulse()
    pulse.start()
    pid = pulse.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)

    def forgotten() -> None:
        pulse.pid = None  # what check() does to a pulse it found dead

    try:
        _run_before_line(LeasePulse.stop, "os.waitpid(", forgotten, pulse.stop)
    finally:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    assert pulse.pid is None


def test_a_check_that_meets_a_stop_says_the_pulse_is_gone_without_an_error():
    """The heartbeat thread's check() and the main thread's stop() at the end of work(): stop()
    may forget the pulse between check()'s look at it and its waitpid."""
    pulse = _pulse()
    pulse.start()
    try:
        alive = _run_before_line(LeasePulse.check, "os.waitpid(", pulse.stop, pulse.check)
    finally:
        pulse.stop()
    assert alive is False


#: Leases too many for the board (DEFAULT_CAPACITY): they go through the pipe.
PIPED_LEASES = 6000


def test_telling_a_busy_pulse_a_long_list_does_not_wait_for_its_renewals(redis_client: redis.Redis):
    """A worker running thousands of jobs at once (a concurrent worker) tells its pulse the list
    through the pipe. The pulse renews each lease with a round trip of its own, about a second
    for these; the worker's write must not wait for the whole renewal to find room in the pipe
    (its main loop claims and records jobs)."""
    pulse = LeasePulse("w1", RedisBroker(redis_client), 0.01, 60, contextlib.nullcontext())
    pulse.start()
    leases = [("default", f"job-{n:08d}-0000-0000-000000000000", f"{n:032x}") for n in range(PIPED_LEASES)]
    longest = 0.0
    try:
        for shift in range(8):  # each a new list: the pulse is renewing the one before
            started = time.perf_counter()
            pulse.running(leases[shift:] + leases[:shift])
            longest = max(longest, time.perf_counter() - started)
    finally:
        pulse.stop()
    assert longest < 0.25, f"a write of the lease list waited {longest:.2f} s for the pulse"


def test_a_pulse_that_could_not_fork_leaves_no_descriptor_open(monkeypatch: pytest.MonkeyPatch):
    """fork() refused (EAGAIN: the user's process limit): work() fails, and a process that calls
    it again (a supervisor thread, a test suite) must not lose two descriptors each time."""
    before = set(os.listdir("/proc/self/fd"))

    def refused() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", refused)
    pulse = _pulse()
    with pytest.raises(BlockingIOError):
        pulse.start()
    pulse.stop()
    assert set(os.listdir("/proc/self/fd")) <= before
