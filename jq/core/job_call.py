"""The call a job makes, as plain functions: naming a callable so that a worker finds it again,
the call string of logs and descriptions, and the job whose call runs now.

The call's serialized form (``data``) is :func:`jq.core.job_record.encode_call` and
:func:`~jq.core.job_record.decode_call`.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jq.core.callbacks import DEFAULT_CALLBACK_TIMEOUT, Callback
from jq.exceptions import ConfigurationError

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = [
    "CALL_STRING_ARGUMENT_LENGTH",
    "call_string",
    "callable_reference",
    "callback_timeout",
    "current_job",
]

#: How many characters of each argument's repr a call string (and so a default description)
#: shows, as in RQ; longer ones end with ``...``.
CALL_STRING_ARGUMENT_LENGTH = 75

#: The job whose function runs in this thread (or asyncio task).
current_job: contextvars.ContextVar[Job | None] = contextvars.ContextVar("jq_current_job", default=None)


def callable_reference(func: Any) -> tuple[str, Any]:
    """``(func_name, instance)`` naming a callable so that a worker can find it again."""
    if isinstance(func, str):
        # Identifiers only: the worker imports this path, and nothing else belongs in one.
        if not all(part.isidentifier() for part in func.split(".")):
            raise ConfigurationError(f"{func!r} is not a dotted path such as 'package.module.function'")
        return func, None
    if inspect.ismethod(func):
        return func.__name__, func.__self__
    if inspect.isfunction(func) or inspect.isbuiltin(func):
        qualname = func.__qualname__
        if "<lambda>" in qualname or "<locals>" in qualname:
            raise ConfigurationError(
                f"{qualname!r} cannot be enqueued: a worker imports a job's function by name, so "
                "define it at module level (lambdas and nested functions have no importable name)"
            )
        # As RQ: builtins too are named by module, ``builtins.len``. A builtin method of an
        # object (``[].append``) has no module: its qualname is the best name there is.
        module = func.__module__
        return (f"{module}.{qualname}" if module else qualname), None
    if callable(func):
        return "__call__", func
    raise ConfigurationError(f"a job runs a function, a method, a callable or a dotted path, not {func!r}")


def call_string(func_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    """``module.func(arg, key=value)`` as RQ writes it: keyword arguments sorted by name, each
    argument's repr cut to :data:`CALL_STRING_ARGUMENT_LENGTH` characters (and ``...``)."""
    arguments = [_shortened(repr(arg)) for arg in args]
    arguments += sorted(f"{key}={_shortened(repr(value))}" for key, value in kwargs.items())
    return f"{func_name}({', '.join(arguments)})"


def callback_timeout(callback: Callback | None) -> int:
    """Seconds a job's callback may run (the default one when the job has none)."""
    return DEFAULT_CALLBACK_TIMEOUT if callback is None else callback.timeout


def _shortened(text: str) -> str:
    if len(text) <= CALL_STRING_ARGUMENT_LENGTH:
        return text
    return text[:CALL_STRING_ARGUMENT_LENGTH] + "..."
