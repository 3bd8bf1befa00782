"""Callbacks run after a job succeeds, fails or is stopped."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from jq.exceptions import ConfigurationError
from jq.utils import parse_timeout

__all__ = [
    "DEFAULT_CALLBACK_TIMEOUT",
    "Callback",
    "execute_failure_callback",
    "execute_stopped_callback",
    "execute_success_callback",
    "function_path",
]

#: Seconds a callback may run before it is stopped.
DEFAULT_CALLBACK_TIMEOUT = 60


def function_path(func: Callable[..., Any] | str, *, what: str) -> str:
    """The importable dotted path of a module-level function (or the path itself if a string)."""
    if isinstance(func, str):
        # Identifiers joined by dots, nothing else: the worker imports this path.
        if "." not in func or not all(part.isidentifier() for part in func.split(".")):
            raise ConfigurationError(
                f"{what} {func!r} is not a dotted path such as 'package.module.function'"
            )
        return func
    if not (inspect.isfunction(func) or inspect.isbuiltin(func)):
        raise ConfigurationError(f"{what} must be a module-level function or its dotted path, not {func!r}")
    qualname = func.__qualname__
    if "<lambda>" in qualname or "<locals>" in qualname:
        raise ConfigurationError(
            f"{what} {qualname!r} cannot be imported by a worker: define it at module level"
        )
    return f"{func.__module__}.{qualname}"


class Callback:
    """A function to call on an outcome, with its own timeout.

    :param func: a module-level function or its dotted path.
    :param timeout: seconds (or '1m' forms); default 60.
    """

    def __init__(self, func: Callable[..., Any] | str, timeout: int | str | None = None) -> None:
        self.name = function_path(func, what="callback")
        parsed = parse_timeout(timeout, name="callback timeout")
        self.timeout: int = DEFAULT_CALLBACK_TIMEOUT if parsed is None else parsed

    @property
    def func(self) -> Callable[..., Any]:
        """The imported function."""
        from jq.utils import import_attribute

        func: Callable[..., Any] = import_attribute(self.name)
        return func

    @classmethod
    def coerce(
        cls, value: Callback | Callable[..., Any] | str | None, what: str = "callback"
    ) -> Callback | None:
        """A :class:`Callback` from a Callback, a function, a dotted path, or None.

        ``what`` names the option in errors (``on_success``...), so the caller sees which is wrong.
        """
        if value is None or isinstance(value, Callback):
            return value
        function_path(value, what=what)
        return cls(value)

    def __repr__(self) -> str:
        return f"Callback({self.name!r}, timeout={self.timeout})"


# RQ's module-level names (``rq.callbacks``): run a job's callback under a death penalty. jq's
# workers run callbacks through jq.execution.run_callback, which also logs what they raise.


def _run(callback: Callback | None, death_penalty_class: Any, job: Any, *args: Any) -> None:
    if callback is None:
        return
    from jq.timeouts import JobTimeoutException

    with death_penalty_class(callback.timeout, JobTimeoutException, job_id=job.id):
        callback.func(job, job.connection, *args)


def execute_success_callback(job: Any, death_penalty_class: Any, result: Any) -> None:
    """Call the job's ``on_success`` callback (if any) with ``(job, connection, result)``, stopped
    by ``death_penalty_class`` after its timeout; what it raises is raised."""
    _run(job.success_callback_ref, death_penalty_class, job, result)


def execute_failure_callback(job: Any, death_penalty_class: Any, *exc_info: Any) -> None:
    """Call the job's ``on_failure`` callback (if any) with ``(job, connection, *exc_info)``,
    stopped by ``death_penalty_class`` after its timeout; what it raises is raised."""
    _run(job.failure_callback_ref, death_penalty_class, job, *exc_info)


def execute_stopped_callback(job: Any, death_penalty_class: Any) -> None:
    """Call the job's ``on_stopped`` callback (if any) with ``(job, connection)``, stopped by
    ``death_penalty_class`` after its timeout; what it raises is raised."""
    _run(job.stopped_callback_ref, death_penalty_class, job)
