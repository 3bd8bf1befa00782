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
from types import FrameType, TracebackType
from typing import Any, Literal

from jq.base.interrupts import raise_in_thread, with_default_message
from jq.base.utils import public_module
from jq.exceptions import JQError

# signal.signal wraps the C module's function to turn the previous handler into an enum member,
# which for a bound-method handler means a failed enum lookup (a caught ValueError) on every call:
# about 5 µs of a short job's run. The previous handler is never used here, so the C function is
# called directly where CPython has it (signal._signal), else the wrapper.
_RAW_SIGNAL: Any = getattr(signal, "_signal", signal)
_set_handler = _RAW_SIGNAL.signal
_DEFAULT_HANDLER = _RAW_SIGNAL.SIG_DFL
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
        if self._timeout is not None:
            # The penalty may fire after the body had already finished: the body's outcome stands.
            with contextlib.suppress(BaseTimeoutException):
                self.cancel_death_penalty()
        token = getattr(self, "_deadline_token", None)
        if token is not None:
            self._deadline_token = None
            with contextlib.suppress(ValueError):  # exited in another context than entered
                _deadline.reset(token)
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
            _set_handler(signal.SIGALRM, _DEFAULT_HANDLER)
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
        self._previous_handler = _set_handler(signal.SIGALRM, self.handle_death_penalty)
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
        _set_handler(signal.SIGALRM, _DEFAULT_HANDLER if previous is None else previous)

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
        raise_in_thread(self._target_thread_id, self._async_exception)

    def setup_death_penalty(self) -> None:
        """Start the timer thread."""
        self._target_thread_id = threading.get_ident()
        self._timer = self.new_timer()
        self._timer.start()

    def cancel_death_penalty(self) -> None:
        """Stop the timer; if it already fired, clear an exception not yet delivered."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer.join()
            self._timer = None
            # Clearing is harmless when nothing is pending and prevents a late delivery.
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
