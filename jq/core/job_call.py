"""The call a job makes: its function, arguments and callbacks, decoded lazily from ``data``."""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jq.base.coroutines import run_coroutine
from jq.base.utils import import_attribute
from jq.core import job_record
from jq.core.callbacks import DEFAULT_CALLBACK_TIMEOUT, Callback
from jq.exceptions import DeserializationError
from jq.io.serializers import Serializer

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = ["CALL_STRING_ARGUMENT_LENGTH", "JobCall", "current_job"]

#: How many characters of each argument's repr a call string (and so a default description)
#: shows, as in RQ; longer ones end with ``...``.
CALL_STRING_ARGUMENT_LENGTH = 75

_UNSET: Any = job_record.UNSET

#: The job whose function runs in this thread (or asyncio task).
current_job: contextvars.ContextVar[Job | None] = contextvars.ContextVar("jq_current_job", default=None)


class JobCall:
    """What a :class:`jq.job.Job` runs: decoded from the stored call on first access."""

    _id: str
    serializer: Serializer
    _data: bytes | None
    _func_name: Any
    _instance: Any
    _args: Any
    _kwargs: Any
    success_callback_ref: Callback | None
    failure_callback_ref: Callback | None
    stopped_callback_ref: Callback | None

    def _decode_data(self) -> None:
        if self._func_name is not _UNSET:
            return
        if self._data is None:
            raise DeserializationError(f"job {self._id!r} has no stored call (its 'data' field is missing)")
        self._func_name, self._instance, self._args, self._kwargs = job_record.decode_call(
            self._id, self._data, self.serializer
        )

    @property
    def data(self) -> bytes:
        """The serialized call, as stored."""
        if self._data is None:
            self._decode_data()
            self._data = job_record.encode_call(self)
        return self._data

    @property
    def func_name(self) -> str:
        """The function's dotted path (or the method name, for an instance method)."""
        self._decode_data()
        return str(self._func_name)

    @property
    def instance(self) -> Any:
        """The object whose method is called, or None for a plain function."""
        self._decode_data()
        return self._instance

    @property
    def args(self) -> list[Any] | tuple[Any, ...]:
        """The positional arguments."""
        self._decode_data()
        return self._args  # type: ignore[no-any-return]

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments."""
        self._decode_data()
        return self._kwargs  # type: ignore[no-any-return]

    @property
    def func(self) -> Callable[..., Any]:
        """The callable to run, imported by name (raises if it cannot be found)."""
        if self.instance is not None:
            return getattr(self.instance, self.func_name)  # type: ignore[no-any-return]
        return import_attribute(self.func_name)  # type: ignore[no-any-return]

    def get_call_string(self) -> str:
        """``module.func(arg, key=value)``, for logs and the default description, as RQ writes
        it: keyword arguments sorted by name, each argument's repr cut to
        :data:`CALL_STRING_ARGUMENT_LENGTH` characters (and ``...``)."""
        try:
            arguments = [_shortened(repr(arg)) for arg in self.args]
            arguments += sorted(f"{key}={_shortened(repr(value))}" for key, value in self.kwargs.items())
            name = self.func_name
        except DeserializationError:
            return "<call cannot be read>"
        return f"{name}({', '.join(arguments)})"

    def perform(self) -> Any:
        """Run the call in this process and return its result (no timeout, nothing recorded).

        A coroutine function's coroutine (``async def``) is run to its end on an event loop of its
        own, within the death penalty around this call (see :mod:`jq.base.coroutines`).
        """
        token = current_job.set(self)  # type: ignore[arg-type]
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
        return _callback_timeout(self.success_callback_ref)

    @property
    def failure_callback_timeout(self) -> int:
        """Seconds the ``on_failure`` callback may run."""
        return _callback_timeout(self.failure_callback_ref)

    @property
    def stopped_callback_timeout(self) -> int:
        """Seconds the ``on_stopped`` callback may run."""
        return _callback_timeout(self.stopped_callback_ref)

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


def _shortened(text: str) -> str:
    if len(text) <= CALL_STRING_ARGUMENT_LENGTH:
        return text
    return text[:CALL_STRING_ARGUMENT_LENGTH] + "..."


def _callback_timeout(callback: Callback | None) -> int:
    return DEFAULT_CALLBACK_TIMEOUT if callback is None else callback.timeout
