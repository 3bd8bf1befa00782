"""The call a job makes: its function, instance and arguments (:class:`Call`), their serialized
form (``data``, the record's field), naming a callable so that a worker finds it again, the call
string of logs and descriptions, and the job whose call runs now."""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from jq.base.coroutines import run_coroutine
from jq.base.utils import import_attribute
from jq.core.callbacks import DEFAULT_CALLBACK_TIMEOUT, Callback
from jq.exceptions import ConfigurationError, DeserializationError, SerializationError
from jq.io.serializers import Serializer
from jq.io.signing import signed_without_keys

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = [
    "CALL_STRING_ARGUMENT_LENGTH",
    "Call",
    "CallPayload",
    "JobCallView",
    "call_string",
    "callable_reference",
    "callback_timeout",
    "current_job",
    "decode_call",
    "encode_call",
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
    if not args and not kwargs:  # the call of many a job: nothing to list
        return f"{func_name}()"
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


class Call(NamedTuple):
    """What a job runs: ``func_name`` (a dotted path, or a method name with ``instance``)."""

    func_name: str
    instance: Any
    #: A list or a tuple (a string given as ``args`` is a sequence of its characters, as in RQ).
    args: Any
    kwargs: dict[str, Any]


class CallPayload:
    """A job's call and its serialized form, each made from the other on first use: a job read
    from its record decodes its call only when asked for it (a listing of jobs never is), and a
    new job's call is serialized when its record is first built."""

    __slots__ = ("_call", "_data")

    def __init__(self, data: bytes | None = None, call: Call | None = None) -> None:
        self._data = data
        self._call = call

    def call(self, job_id: str, serializer: Serializer) -> Call:
        """The call, decoded from the stored data on first use (:func:`decode_call`)."""
        if self._call is None:
            if self._data is None:
                raise DeserializationError(f"job {job_id!r} has no stored call (its 'data' field is missing)")
            self._call = decode_call(job_id, self._data, serializer)
        return self._call

    def data(self, job_id: str, serializer: Serializer) -> bytes:
        """The serialized call, as stored (:func:`encode_call` on first use)."""
        if self._data is None:
            self._data = encode_call(self.call(job_id, serializer), serializer)
        return self._data


def encode_call(call: Call, serializer: Serializer) -> bytes:
    """The serialized form of a call made in this process: ``(func_name, instance, args, kwargs)``."""
    try:
        return serializer.dumps((call.func_name, call.instance, tuple(call.args), call.kwargs))
    except Exception as exc:
        raise SerializationError(
            f"the call {call.func_name}(...) cannot be serialized with {_serializer_name(serializer)}: "
            f"{type(exc).__name__}: {exc}. Pass arguments the serializer supports"
        ) from exc


def decode_call(job_id: str, data: bytes, serializer: Serializer) -> Call:
    """The call from its stored form; :class:`DeserializationError` when it cannot be read."""
    try:
        call = serializer.loads(data)
    except Exception as exc:
        why = signed_without_keys(data, serializer) or (
            f"{type(exc).__name__}: {exc}; was it written with another serializer?"
        )
        raise DeserializationError(
            f"the call of job {job_id!r} cannot be read with {_serializer_name(serializer)}: {why}"
        ) from exc
    if (
        not isinstance(call, list | tuple)
        or len(call) != 4
        or not isinstance(call[0], str)
        or not isinstance(call[2], list | tuple)
        or not isinstance(call[3], dict)
    ):
        raise DeserializationError(
            f"the call of job {job_id!r} is not a (function, instance, args, kwargs) tuple"
        )
    func_name, instance, args, kwargs = call
    return Call(func_name, instance, tuple(args), kwargs)


def _serializer_name(serializer: Serializer) -> str:
    return getattr(serializer, "__name__", type(serializer).__name__)


class JobCallView:
    """RQ's members of a job that read its call and callbacks, a mixin of :class:`jq.job.Job`:
    the call is decoded from the stored ``data`` on first access."""

    # Set by Job.__init__ (see jq.core.job).
    _id: str
    _call: CallPayload
    serializer: Serializer
    success_callback_ref: Callback | None
    failure_callback_ref: Callback | None
    stopped_callback_ref: Callback | None

    @property
    def data(self) -> bytes:
        """The serialized call, as stored."""
        return self._call.data(self._id, self.serializer)

    @property
    def func_name(self) -> str:
        """The function's dotted path (or the method name, for an instance method)."""
        return self._call.call(self._id, self.serializer).func_name

    @property
    def instance(self) -> Any:
        """The object whose method is called, or None for a plain function."""
        return self._call.call(self._id, self.serializer).instance

    @property
    def args(self) -> list[Any] | tuple[Any, ...]:
        """The positional arguments."""
        return self._call.call(self._id, self.serializer).args  # type: ignore[no-any-return]

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments."""
        return self._call.call(self._id, self.serializer).kwargs

    @property
    def func(self) -> Callable[..., Any]:
        """The callable to run, imported by name (raises if it cannot be found)."""
        if self.instance is not None:
            return getattr(self.instance, self.func_name)  # type: ignore[no-any-return]
        return import_attribute(self.func_name)  # type: ignore[no-any-return]

    def get_call_string(self) -> str:
        """``module.func(arg, key=value)``, for logs and the default description, as RQ writes
        it (see :func:`jq.core.job_call.call_string`)."""
        try:
            return call_string(self.func_name, self.args, self.kwargs)
        except DeserializationError:
            return "<call cannot be read>"

    def perform(self) -> Any:
        """Run the call in this process and return its result (no timeout, nothing recorded).

        A coroutine function's coroutine (``async def``) is run to its end on an event loop of its
        own, within the death penalty around this call (see :mod:`jq.base.coroutines`).
        """
        token = current_job.set(cast("Job", self))
        try:
            result = self.func(*self.args, **self.kwargs)
            if inspect.iscoroutine(result):
                result = run_coroutine(result)
            return result
        finally:
            current_job.reset(token)

    @property
    def success_callback_timeout(self) -> int:
        """Seconds the ``on_success`` callback may run."""
        return callback_timeout(self.success_callback_ref)

    @property
    def failure_callback_timeout(self) -> int:
        """Seconds the ``on_failure`` callback may run."""
        return callback_timeout(self.failure_callback_ref)

    @property
    def stopped_callback_timeout(self) -> int:
        """Seconds the ``on_stopped`` callback may run."""
        return callback_timeout(self.stopped_callback_ref)

    @property
    def success_callback(self) -> Callable[..., Any] | None:
        """The imported ``on_success`` function, or None."""
        return self.success_callback_ref.func if self.success_callback_ref else None

    @property
    def failure_callback(self) -> Callable[..., Any] | None:
        """The imported ``on_failure`` function, or None."""
        return self.failure_callback_ref.func if self.failure_callback_ref else None

    @property
    def stopped_callback(self) -> Callable[..., Any] | None:
        """The imported ``on_stopped`` function, or None."""
        return self.stopped_callback_ref.func if self.stopped_callback_ref else None
