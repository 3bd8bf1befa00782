"""Context-local objects (RQ's ``rq.local``): values that each thread (each greenlet, when
greenlet is installed) sees for itself.

jq's own code keeps its per-context state in :mod:`contextvars` (``get_current_job`` reads
``jq.core.job_call.current_job``); these classes are for code written for RQ that uses them.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from jq.base.utils import public_module

__all__ = ["Local", "LocalManager", "LocalProxy", "LocalStack", "release_local"]

_get_ident: Callable[[], Any]
try:  # one context per greenlet where greenlets are used, else per thread
    _get_ident = importlib.import_module("greenlet").getcurrent
except ImportError:
    _get_ident = threading.get_ident


def release_local(local: Local | LocalStack) -> None:
    """Forget what the current context stored in ``local`` (a :class:`Local` or :class:`LocalStack`)."""
    local.__release_local__()


class Local:
    """An object whose attributes each context sets and reads for itself."""

    __slots__ = ("__ident_func__", "__storage__")

    def __init__(self) -> None:
        object.__setattr__(self, "__storage__", {})
        object.__setattr__(self, "__ident_func__", _get_ident)

    def _values(self) -> dict[str, Any] | None:
        return self.__storage__.get(self.__ident_func__())  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[tuple[Any, dict[str, Any]]]:
        """``(context, attributes)`` of every context that stored something."""
        return iter(list(self.__storage__.items()))

    def __call__(self, proxy: str) -> LocalProxy:
        """A :class:`LocalProxy` to this object's attribute ``proxy``."""
        return LocalProxy(self, proxy)

    def __release_local__(self) -> None:
        self.__storage__.pop(self.__ident_func__(), None)

    def __getattr__(self, name: str) -> Any:
        values = self._values()
        if values is None or name not in values:
            raise AttributeError(name)
        return values[name]

    def __setattr__(self, name: str, value: Any) -> None:
        self.__storage__.setdefault(self.__ident_func__(), {})[name] = value

    def __delattr__(self, name: str) -> None:
        values = self._values()
        if values is None or name not in values:
            raise AttributeError(name)
        del values[name]


class LocalStack:
    """A stack per context: :meth:`push`, :meth:`pop`, :attr:`top`; emptied, it is released."""

    def __init__(self) -> None:
        self._local = Local()

    def __release_local__(self) -> None:
        self._local.__release_local__()

    @property
    def __ident_func__(self) -> Callable[[], Any]:
        """The function naming the current context."""
        return self._local.__ident_func__  # type: ignore[no-any-return]

    @__ident_func__.setter
    def __ident_func__(self, value: Callable[[], Any]) -> None:
        object.__setattr__(self._local, "__ident_func__", value)

    def __call__(self) -> LocalProxy:
        """A :class:`LocalProxy` to the top of the stack."""

        def top() -> Any:
            found = self.top
            if found is None:
                raise RuntimeError("the local stack is empty")
            return found

        return LocalProxy(top)

    def push(self, obj: Any) -> list[Any]:
        """Put ``obj`` on top; the stack."""
        stack: list[Any] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = []
            self._local.stack = stack
        stack.append(obj)
        return stack

    def pop(self) -> Any:
        """Take the top item off and return it; None when the stack is empty."""
        stack: list[Any] | None = getattr(self._local, "stack", None)
        if not stack:
            return None
        if len(stack) == 1:
            release_local(self._local)
        return stack.pop()

    @property
    def top(self) -> Any:
        """The top item, or None."""
        stack: list[Any] | None = getattr(self._local, "stack", None)
        return stack[-1] if stack else None

    def __len__(self) -> int:
        stack: list[Any] | None = getattr(self._local, "stack", None)
        return len(stack) if stack else 0


class LocalManager:
    """Releases several locals at once (at the end of a request, of a job)."""

    def __init__(self, locals: Any = None, ident_func: Callable[[], Any] | None = None) -> None:
        if locals is None:
            locals = []
        elif isinstance(locals, Local | LocalStack):
            locals = [locals]
        #: The locals this manager releases.
        self.locals: list[Local | LocalStack] = list(locals)
        #: The function naming the current context; given one, the locals use it too.
        self.ident_func: Callable[[], Any] = ident_func or _get_ident
        if ident_func is not None:
            for local in self.locals:
                object.__setattr__(local, "__ident_func__", ident_func)

    def get_ident(self) -> Any:
        """The current context's identity."""
        return self.ident_func()

    def cleanup(self) -> None:
        """Release every local for the current context."""
        for local in self.locals:
            release_local(local)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} storages: {len(self.locals)}>"


class LocalProxy:
    """Stands for the value a local holds now: an attribute of a :class:`Local`, or what a
    function returns (``LocalProxy(lambda: ...)``). Attribute access, calls, comparisons, items
    and iteration go to that value."""

    __slots__ = ("__local", "__name__")

    def __init__(self, local: Any, name: str | None = None) -> None:
        object.__setattr__(self, "_LocalProxy__local", local)
        object.__setattr__(self, "__name__", name)

    def _get_current_object(self) -> Any:
        """The value stood for now."""
        local = object.__getattribute__(self, "_LocalProxy__local")
        name = object.__getattribute__(self, "__name__")
        if name is None and not hasattr(local, "__release_local__"):
            return local()
        try:
            return getattr(local, name)
        except AttributeError:
            raise RuntimeError(f"no object bound to {name}") from None

    def __repr__(self) -> str:
        try:
            return repr(self._get_current_object())
        except RuntimeError:
            return f"<{type(self).__name__} unbound>"

    def __str__(self) -> str:
        return str(self._get_current_object())

    def __bool__(self) -> bool:
        try:
            return bool(self._get_current_object())
        except RuntimeError:
            return False

    def __dir__(self) -> list[str]:
        try:
            return dir(self._get_current_object())
        except RuntimeError:
            return []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._get_current_object(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._get_current_object(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._get_current_object(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._get_current_object()(*args, **kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._get_current_object()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._get_current_object()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._get_current_object()[key]

    def __len__(self) -> int:
        return len(self._get_current_object())

    def __iter__(self) -> Iterator[Any]:
        return iter(self._get_current_object())

    def __contains__(self, item: Any) -> bool:
        return item in self._get_current_object()

    def __eq__(self, other: object) -> bool:
        return bool(self._get_current_object() == other)

    def __ne__(self, other: object) -> bool:
        return bool(self._get_current_object() != other)

    def __lt__(self, other: Any) -> bool:
        return bool(self._get_current_object() < other)

    def __le__(self, other: Any) -> bool:
        return bool(self._get_current_object() <= other)

    def __gt__(self, other: Any) -> bool:
        return bool(self._get_current_object() > other)

    def __ge__(self, other: Any) -> bool:
        return bool(self._get_current_object() >= other)

    def __hash__(self) -> int:
        return hash(self._get_current_object())


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.local", Local, LocalStack, LocalManager, LocalProxy)
