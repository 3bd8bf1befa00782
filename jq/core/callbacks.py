"""Callbacks run after a job succeeds, fails or is stopped."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jq.base.timeouts import JobTimeoutException
from jq.base.utils import import_attribute, parse_timeout, public_module
from jq.exceptions import ConfigurationError

if TYPE_CHECKING:
    from jq.base.timeouts import BaseDeathPenalty
    from jq.core.job import Job

__all__ = [
    "CALLBACK_TIMEOUT",
    "DEFAULT_CALLBACK_TIMEOUT",
    "Callback",
    "execute_failure_callback",
    "execute_stopped_callback",
    "execute_success_callback",
    "function_path",
]

#: Seconds a callback may run before it is stopped.
DEFAULT_CALLBACK_TIMEOUT = 60
#: RQ's name for :data:`DEFAULT_CALLBACK_TIMEOUT`.
CALLBACK_TIMEOUT = DEFAULT_CALLBACK_TIMEOUT


def function_path(func: Callable[..., Any] | str, *, what: str) -> str:
    """The name a worker imports a callback by: a string as given (``'print'`` is a builtin,
    ``'package.module.function'`` a function), else ``module.qualname`` of a function or builtin.

    As in RQ, any function is accepted, a lambda or a nested function too: its name is stored, and
    a worker that cannot import it logs the callback's failure when the job ends (a callback run
    in the enqueuing process, ``is_async=False``, is called directly).
    """
    if isinstance(func, str):
        if not func:
            raise ConfigurationError(
                f"{what} '' names no function: give one such as 'package.module.function'"
            )
        return func
    if not (inspect.isfunction(func) or inspect.isbuiltin(func)):
        raise ConfigurationError(
            f"{what} must be a function, a builtin or a function's dotted path, not {func!r}"
        )
    return f"{func.__module__ or 'builtins'}.{func.__qualname__}"


class Callback:
    """A function to call on an outcome, with its own timeout.

    :param func: a function (a builtin, a lambda...) or its name: ``'package.module.function'``,
        or a builtin's (``'print'``).
    :param timeout: seconds (or ``'1m'`` forms); default (and when 0) 60.
    """

    def __init__(self, func: Callable[..., Any] | str, timeout: int | str | None = None) -> None:
        self._name = function_path(func, what="callback")
        # The function itself when given one: the enqueuing process (is_async=False) calls it
        # directly, so a lambda works there.
        self._given = None if isinstance(func, str) else func
        parsed = parse_timeout(timeout, name="callback timeout") if timeout else None
        self.timeout: int = DEFAULT_CALLBACK_TIMEOUT if parsed is None else parsed

    @property
    def name(self) -> str:
        """The name a worker imports the callback by."""
        return self._name

    @property
    def func(self) -> Callable[..., Any]:
        """The function: the one given, else imported by :attr:`name`."""
        if self._given is not None:
            return self._given
        func: Callable[..., Any] = import_attribute(self.name)
        return func

    @classmethod
    def coerce(
        cls, value: Callback | Callable[..., Any] | str | None, what: str = "callback"
    ) -> Callback | None:
        """A :class:`Callback` from a Callback, a function, a name, or None.

        ``what`` names the option in errors (``on_success``...), so the caller sees which is wrong.
        """
        if value is None or isinstance(value, Callback):
            return value
        function_path(value, what=what)
        return cls(value)

    def __repr__(self) -> str:
        return f"Callback({self.name!r}, timeout={self.timeout})"


def _run(
    job: Job, callback: Callable[..., Any] | None, timeout: int, penalty: type[BaseDeathPenalty], *args: Any
) -> None:
    if callback is None:
        return
    if inspect.iscoroutinefunction(callback):
        raise TypeError("coroutine callbacks are not supported")
    with penalty(timeout, JobTimeoutException, job_id=job.id):
        callback(job, job.connection, *args)


def execute_success_callback(job: Job, death_penalty_class: type[BaseDeathPenalty], result: Any) -> None:
    """Run ``job``'s ``on_success`` callback under its timeout (its errors propagate)."""
    _run(job, job.success_callback, job.success_callback_timeout, death_penalty_class, result)


def execute_failure_callback(job: Job, death_penalty_class: type[BaseDeathPenalty], *exc_info: Any) -> None:
    """Run ``job``'s ``on_failure`` callback under its timeout (its errors propagate)."""
    _run(job, job.failure_callback, job.failure_callback_timeout, death_penalty_class, *exc_info)


def execute_stopped_callback(job: Job, death_penalty_class: type[BaseDeathPenalty]) -> None:
    """Run ``job``'s ``on_stopped`` callback under its timeout (its errors propagate)."""
    _run(job, job.stopped_callback, job.stopped_callback_timeout, death_penalty_class)


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.callbacks", Callback)
