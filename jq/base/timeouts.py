"""Death penalties: how a job that runs past its timeout is stopped.

A death penalty is a context manager around the job's call:
``with death_penalty_class(timeout, JobTimeoutException, job_id=job.id): job.perform()``.
Subclass :class:`BaseDeathPenalty` and implement :meth:`~BaseDeathPenalty.setup_death_penalty`
and :meth:`~BaseDeathPenalty.cancel_death_penalty` to stop jobs your own way.
"""

from __future__ import annotations

import contextlib
import contextvars
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType, TracebackType
from typing import Any, Literal

from jq.base.interrupts import raise_in_thread, with_default_message
from jq.base.utils import public_module
from jq.exceptions import JQError

# Installing a handler with signal.signal costs ~4 µs when the handler it replaces is a Python
# callable (the wrapper looks it up as a Handlers member and catches the ValueError), and a
# penalty that installs its handler and puts the previous one back pays that once per job: ~5 % of
# a SimpleWorker's CPU per no-op job (see docs/architecture.md, "Private internals"). A worker
# therefore holds SIGALRM for its whole run (hold_alarm_handler): one handler of jq's, installed
# once, that calls whichever handler a penalty would have installed, so each job only swaps a
# Python reference and sets the timer. Outside a hold a penalty installs and restores as usual.
_held = 0  # how many hold_alarm_handler() contexts are open (main thread only)
# While held: the handler SIGALRM would have now if each penalty installed its own (a callable,
# SIG_DFL or SIG_IGN).
_logical: Any = None
# The shortest alarm set: "at once" (setitimer treats 0 as "cancel").
_SOON = 1e-6

__all__ = [
    "BaseDeathPenalty",
    "BaseTimeoutException",
    "HorseMonitorTimeoutException",
    "JobTimeoutException",
    "TimerDeathPenalty",
    "UnixSignalDeathPenalty",
    "current_deadline",
    "get_default_death_penalty_class",
    "hold_alarm_handler",
]

# The (time.monotonic() deadline, seconds) of the innermost death penalty running in this context:
# a coroutine job cancels its task then (see jq.base.coroutines).
_deadline: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "jq_death_penalty_deadline", default=None
)


def current_deadline() -> tuple[float, float] | None:
    """When the death penalty around the running code stops it: ``(time.monotonic() deadline,
    its timeout in seconds)``, the earliest of nested ones; None outside any penalty."""
    return _deadline.get()


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    """The SIGALRM handler while held: runs the handler a penalty would have installed."""
    handler = _logical
    if callable(handler):
        handler(signum, frame)
    elif handler == signal.SIG_DFL:
        # SIGALRM's default action ends the process: what that handler would have done.
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGALRM)


def _swap_handler(handler: Any) -> Any:
    """Make ``handler`` SIGALRM's handler; the one it replaces (None: one not installed from
    Python). While held only the Python reference :func:`_on_alarm` calls changes."""
    global _logical
    if _held:
        previous, _logical = _logical, handler
        return previous
    return signal.signal(signal.SIGALRM, handler)


@contextlib.contextmanager
def hold_alarm_handler() -> Iterator[None]:
    """Keep one SIGALRM handler of jq's installed inside ``with``, so that each
    :class:`UnixSignalDeathPenalty` inside only sets the timer and swaps a reference, instead of
    installing its handler and putting the previous one back (a worker holds it around its loop).

    The handler that was there before runs when SIGALRM comes outside a penalty, and is installed
    again when the outermost hold ends. Code inside that installs its own SIGALRM handler must put
    back the one it found (as libraries that use SIGALRM do): else later penalties inside the hold
    never fire. Outside the main thread, or without SIGALRM, it does nothing.
    """
    global _held, _logical  # noqa: PLW0603 - the held handler, one per process
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return
    if not _held:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        # None: installed outside Python, and it cannot be put back from Python (as a penalty).
        _logical = signal.SIG_DFL if previous is None else previous
    _held += 1
    try:
        yield
    finally:
        _held -= 1
        if not _held:
            handler, _logical = _logical, None
            signal.signal(signal.SIGALRM, handler)


class BaseTimeoutException(JQError):
    """The root of timeout exceptions raised inside a job."""


class JobTimeoutException(BaseTimeoutException):
    """The job ran past its timeout and was stopped."""


class HorseMonitorTimeoutException(BaseTimeoutException):
    """Waiting for a work horse to exit took longer than a limit (RQ's worker raises it to wake
    up between heartbeats while its horse runs; jq's worker waits on the horse's pipe instead and
    never raises it, but death penalties and handlers written for RQ may name it)."""


class BaseDeathPenalty:
    """Stops the code inside ``with`` once ``timeout`` seconds have passed.

    :param timeout: seconds; ``None``, 0 or a negative value (``-1``) means no limit.
    :param exception: the exception class raised in the job when time is up.
    :param kwargs: extra context, such as ``job_id``.
    """

    def __init__(
        self,
        timeout: float | None,
        exception: type[BaseException] = JobTimeoutException,
        **kwargs: Any,
    ) -> None:
        self._timeout = timeout if timeout is not None and timeout > 0 else None
        self._exception = exception
        self.job_id: str | None = kwargs.get("job_id")
        self.kwargs = kwargs

    @property
    def timeout(self) -> float | None:
        """The limit in seconds, or None for no limit."""
        return self._timeout

    def message(self) -> str:
        """The text of the exception raised when time is up."""
        return f"Task exceeded maximum timeout value ({self._timeout} seconds)"

    def __enter__(self) -> BaseDeathPenalty:
        self._deadline_token: contextvars.Token[tuple[float, float] | None] | None = None
        if self._timeout is not None:
            # Said before the penalty is armed: a coroutine job cancels its task at this deadline.
            outer = _deadline.get()
            mine = (time.monotonic() + self._timeout, self._timeout)
            self._deadline_token = _deadline.set(mine if outer is None or mine[0] < outer[0] else outer)
            self.setup_death_penalty()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        # try/except rather than contextlib.suppress: this runs once per job.
        if self._timeout is not None:
            try:  # noqa: SIM105 - see above
                self.cancel_death_penalty()
            except BaseTimeoutException:
                pass  # the penalty fired after the body had already finished: its outcome stands
        token = getattr(self, "_deadline_token", None)
        if token is not None:
            self._deadline_token = None
            try:  # noqa: SIM105 - see above
                _deadline.reset(token)
            except ValueError:
                pass  # exited in another context than entered
        return False  # never swallow the body's exception

    def setup_death_penalty(self) -> None:
        """Arrange for :attr:`_exception` to be raised in the job after the timeout."""
        raise NotImplementedError

    def cancel_death_penalty(self) -> None:
        """Undo :meth:`setup_death_penalty`."""
        raise NotImplementedError


class UnixSignalDeathPenalty(BaseDeathPenalty):
    """Raises the timeout exception from a ``SIGALRM`` handler. Main thread of a Unix process only.

    An alarm already running when the penalty starts (an outer job's own penalty, when a job runs
    another with ``is_async=False``; pytest-timeout's) goes off once, at its time, with its own
    handler, as if this penalty were not there: inside the job if it is due first, else after the
    penalty ends, when it is set again with the time it has left. Its handler is put back too.
    """

    # What was there before setup: the SIGALRM handler, and the running alarm as (monotonic
    # deadline, interval), or None; whether that alarm is due before this penalty and has not
    # gone off yet; this penalty's own monotonic deadline.
    _previous_handler: Any = None
    _outer: tuple[float, float] | None = None
    _outer_first = False
    _deadline = 0.0

    def handle_death_penalty(self, signum: int, frame: FrameType | None) -> None:
        """The SIGALRM handler."""
        if self._outer_first:
            # The alarm set before this penalty is due first: it goes off now, once.
            self._outer_first, self._outer = False, None
            self._call_previous_handler(signum, frame)
            # Its handler returned: this penalty's own time keeps running.
            signal.setitimer(signal.ITIMER_REAL, max(self._deadline - time.monotonic(), _SOON))
            return
        raise self._exception(self.message())

    def _call_previous_handler(self, signum: int, frame: FrameType | None) -> None:
        handler = self._previous_handler
        if callable(handler):
            handler(signum, frame)
        elif handler == signal.SIG_DFL:
            # SIGALRM's default action ends the process: what that alarm would have done.
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGALRM)

    def setup_death_penalty(self) -> None:
        """Install the handler and start a real-time interval timer (see the class for an alarm
        already running)."""
        if threading.current_thread() is not threading.main_thread():
            raise JQError(
                "UnixSignalDeathPenalty works only in the main thread; use TimerDeathPenalty for a "
                "worker running in another thread"
            )
        assert self._timeout is not None
        self._previous_handler = _swap_handler(self.handle_death_penalty)
        left, interval = signal.setitimer(signal.ITIMER_REAL, self._timeout)
        now = time.monotonic()
        self._deadline = now + self._timeout
        self._outer = (now + left, interval) if left > 0 else None
        self._outer_first = 0 < left < self._timeout
        if self._outer_first:
            signal.setitimer(signal.ITIMER_REAL, left)

    def cancel_death_penalty(self) -> None:
        """Stop the timer and put back the handler that was there before."""
        signal.setitimer(signal.ITIMER_REAL, 0)
        previous, self._previous_handler = self._previous_handler, None
        # None: the handler was not installed from Python, and cannot be put back from Python.
        _swap_handler(signal.SIG_DFL if previous is None else previous)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        try:
            return super().__exit__(exc_type, exc_value, traceback)
        finally:
            # Set again after the penalty ended, never inside it: if it is due at once, what its
            # handler raises must not be taken for this penalty's own late timeout.
            outer, self._outer, self._outer_first = self._outer, None, False
            if outer is not None:
                signal.setitimer(signal.ITIMER_REAL, max(outer[0] - time.monotonic(), _SOON), outer[1])


class TimerDeathPenalty(BaseDeathPenalty):
    """Raises the timeout exception asynchronously in the job's thread from a timer thread.

    Works in any thread. Like any asynchronous exception it is delivered between Python bytecodes,
    so a job blocked inside one long C call is stopped only when that call returns.
    """

    def __init__(
        self,
        timeout: float | None,
        exception: type[BaseException] = JobTimeoutException,
        **kwargs: Any,
    ) -> None:
        super().__init__(timeout, exception, **kwargs)
        self._target_thread_id = threading.get_ident()
        self._timer: threading.Timer | None = None
        # Whether the timer raised the exception in the job's thread (see cancel_death_penalty).
        self._fired = False
        # An asynchronous exception is raised by class, without arguments: bake the message in.
        self._async_exception = with_default_message(exception, self.message())

    def new_timer(self) -> threading.Timer:
        """A timer that calls :meth:`handle_death_penalty` once the timeout has passed (a timer
        runs once: each setup makes a new one)."""
        assert self._timeout is not None
        timer = threading.Timer(self._timeout, self.handle_death_penalty)
        timer.daemon = True
        return timer

    def handle_death_penalty(self) -> None:
        """Raise the timeout exception in the job's thread (called by the timer thread)."""
        self._fired = True
        raise_in_thread(self._target_thread_id, self._async_exception)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        if exc_type is not None and issubclass(exc_type, self._async_exception):
            self._fired = False  # delivered: nothing left to clear (see cancel_death_penalty)
        return super().__exit__(exc_type, exc_value, traceback)

    def setup_death_penalty(self) -> None:
        """Start the timer thread."""
        self._target_thread_id = threading.get_ident()
        self._fired = False
        self._timer = self.new_timer()
        self._timer.start()

    def cancel_death_penalty(self) -> None:
        """Stop the timer; if it already fired, clear an exception not yet delivered."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()
            self._timer = None
            # Only after the timer fired and its exception was not delivered (joined above: it
            # has fired, or never will): clearing when nothing is pending is not harmless. On
            # CPython 3.11 it leaves the interpreter's eval breaker set for good, and the next
            # call traced by a debugger or a coverage tool (sys.settrace) never returns.
            if self._fired:
                self._fired = False
                raise_in_thread(self._target_thread_id, None)


def get_default_death_penalty_class() -> type[BaseDeathPenalty]:
    """The death penalty a worker uses unless told otherwise: :class:`UnixSignalDeathPenalty`
    where the platform has ``SIGALRM``, else :class:`TimerDeathPenalty`."""
    return UnixSignalDeathPenalty if hasattr(signal, "SIGALRM") else TimerDeathPenalty


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module(
    "jq.timeouts",
    BaseTimeoutException,
    JobTimeoutException,
    HorseMonitorTimeoutException,
    BaseDeathPenalty,
    UnixSignalDeathPenalty,
    TimerDeathPenalty,
)
