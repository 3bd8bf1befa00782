"""How ``jqueue`` fails: one line on stderr and an exit status that says whose fault it was.

Exit statuses:

* ``0``: done.
* ``1``: the command was well formed but could not be carried out: the store is unreachable or
  refused the request, a job does not exist or is in a state where the operation does not apply,
  a worker name is already taken, a job's record is corrupt, a key holds the wrong type, the
  store is out of memory.
* ``2``: a usage or configuration mistake: an unknown or malformed flag, a class or function
  that cannot be imported, a bad URL, a broken config module or a setting of the wrong type.

Neither prints a traceback: a traceback means a bug in jq.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar

import click
import redis

from jq.base.utils import import_attribute
from jq.exceptions import (
    DeserializationError,
    DuplicateWorkerError,
    InvalidJobOperation,
    JQError,
    NoSuchJobError,
    StoreDataError,
    StoreFullError,
)

__all__ = ["RuntimeFailure", "UserError", "import_object", "import_subclass", "translate_errors"]

T = TypeVar("T")

#: jq errors about the state of the store rather than about what the user typed.
_RUNTIME_JQ_ERRORS = (
    NoSuchJobError,
    InvalidJobOperation,
    DuplicateWorkerError,
    DeserializationError,
    StoreDataError,
    StoreFullError,
)


class UserError(click.ClickException):
    """A mistake in what the user asked for: printed as one line, exit status 2."""

    exit_code = 2


class RuntimeFailure(click.ClickException):
    """A well-formed request that could not be carried out: one line, exit status 1."""

    exit_code = 1


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn jq's and redis-py's errors into :class:`UserError` or :class:`RuntimeFailure`."""
    try:
        yield
    except click.ClickException:
        raise
    except _RUNTIME_JQ_ERRORS as exc:
        raise RuntimeFailure(str(exc)) from None
    except JQError as exc:
        raise UserError(str(exc)) from None
    except redis.RedisError as exc:
        raise RuntimeFailure(f"the Redis server refused the request: {type(exc).__name__}: {exc}") from None


def import_object(path: str, what: str) -> Any:
    """The object at dotted ``path``; a :class:`UserError` naming ``what`` when it cannot be imported."""
    try:
        return import_attribute(path)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"{what} {path!r} cannot be imported: {exc}") from None
    except SyntaxError as exc:
        raise UserError(f"{what} {path!r} cannot be imported: a syntax error: {exc}") from None
    except Exception as exc:
        # The module itself raised while imported (a missing setting, a failed connection...).
        raise UserError(
            f"{what} {path!r} cannot be imported: its module raised {type(exc).__name__}: {exc}"
        ) from None


def import_subclass(path: str, base: type[T], what: str) -> type[T]:
    """The class at dotted ``path``, which must be ``base`` or a subclass of it."""
    value = import_object(path, what)
    if not (isinstance(value, type) and issubclass(value, base)):
        raise UserError(f"{what} {path!r} is not a subclass of {base.__module__}.{base.__qualname__}")
    found: type[T] = value
    return found
