"""Serializers: how job calls, results and meta become bytes and back.

A serializer is any object (a class, an instance or a module) with ``dumps(obj) -> bytes`` and
``loads(bytes) -> obj``. jq ships two:

* :class:`DefaultSerializer` (pickle): any picklable value, RQ's default. Loading a pickle runs
  code chosen by whoever wrote it, so only use it when nobody untrusted can write to the store.
* :class:`JSONSerializer`: JSON values only (tuples come back as lists); loading never runs code.

and :class:`SignedSerializer` (from :mod:`jq.signing`), which signs what any serializer writes
and refuses unsigned or tampered data before decoding it (``JQ_SIGNING_KEYS`` turns it on).

Plugins offer more by name through the ``jq_serializer`` hook.
"""

from __future__ import annotations

import json
import pickle
from typing import Any, Protocol, runtime_checkable

import cloudpickle

from jq.base.utils import import_attribute, public_module
from jq.exceptions import ConfigurationError, UnknownPluginError
from jq.io.signing import SignedSerializer, signed_by_env
from jq.plugins import get_plugin_manager

__all__ = [
    "SERIALIZER_ALIASES",
    "DefaultSerializer",
    "InvalidSerializerError",
    "JSONSerializer",
    "PickleSerializer",
    "Serializer",
    "SignedSerializer",
    "resolve_serializer",
]


@runtime_checkable
class Serializer(Protocol):
    """Anything with ``dumps`` and ``loads``."""

    def dumps(self, obj: Any, /) -> bytes:  # pragma: no cover - protocol
        """Encode a value."""
        ...

    def loads(self, data: bytes, /) -> Any:  # pragma: no cover - protocol
        """Decode what :meth:`dumps` produced."""
        ...


class DefaultSerializer:
    """Pickle, falling back to cloudpickle for values plain pickle refuses (closures, lambdas).

    Output is always readable by :func:`pickle.loads`.
    """

    @staticmethod
    def dumps(obj: Any) -> bytes:
        """Pickle ``obj`` with the highest protocol."""
        try:
            return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError):
            # The C pickler is much faster; cloudpickle only for what it cannot do.
            data: bytes = cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
            return data

    @staticmethod
    def loads(data: bytes) -> Any:
        """Unpickle ``data``."""
        return pickle.loads(data)


#: RQ's name for :class:`DefaultSerializer`.
PickleSerializer = DefaultSerializer


class JSONSerializer:
    """JSON, UTF-8 encoded. Values must be JSON types; loading never runs code."""

    @staticmethod
    def dumps(*args: Any, **kwargs: Any) -> bytes:
        """Encode a value as compact JSON (further arguments go to :func:`json.dumps`)."""
        kwargs.setdefault("separators", (",", ":"))
        kwargs.setdefault("allow_nan", False)
        return json.dumps(*args, **kwargs).encode("utf-8")

    @staticmethod
    def loads(s: bytes, *args: Any, **kwargs: Any) -> Any:
        """Decode JSON bytes (further arguments go to :func:`json.loads`)."""
        return json.loads(s.decode("utf-8"), *args, **kwargs)


#: The serializers known by name (plugins add more through the ``jq_serializer`` hook).
SERIALIZER_ALIASES: dict[str, Serializer] = {"json": JSONSerializer, "pickle": PickleSerializer}


class InvalidSerializerError(ConfigurationError, NotImplementedError):
    """What was given as a serializer has no ``dumps``/``loads`` (a ``NotImplementedError``, as
    RQ raises, and a :class:`ConfigurationError`)."""


def resolve_serializer(serializer: Any = None) -> Serializer:
    """The serializer for ``serializer``: None or another false value (the default), a name
    (``'json'``, ``'pickle'``, a plugin's), a dotted path, or an object.

    When ``JQ_SIGNING_KEYS`` is set, what is resolved is wrapped in a
    :class:`jq.signing.SignedSerializer` with those keys (unless it signs already), so one
    environment variable makes every queue, job and worker of a process sign and verify.

    Raises :class:`ConfigurationError` with what was wrong and what to pass instead.
    """
    resolved: Serializer = signed_by_env(_resolve_unsigned(serializer))
    return resolved


def _resolve_unsigned(value: Any) -> Serializer:
    if not value:
        return DefaultSerializer
    if isinstance(value, str):
        if "." not in value:
            found = get_plugin_manager().serializer(value)
            if found is None:
                raise UnknownPluginError(
                    f"no serializer is named {value!r}: use 'pickle' or 'json', a dotted path to an "
                    "object with dumps/loads, or install the plugin that provides it"
                )
            return found
        try:
            value = import_attribute(value)
        except (ImportError, AttributeError) as exc:
            raise ConfigurationError(f"serializer {value!r} cannot be imported: {exc}") from exc
        except Exception as exc:
            # The module itself raised while imported: a mistake in the path's module, not jq's.
            why = f"its module raised {type(exc).__name__}: {exc}"
            raise ConfigurationError(f"serializer {value!r} cannot be imported: {why}") from exc
    if callable(getattr(value, "dumps", None)) and callable(getattr(value, "loads", None)):
        serializer: Serializer = value
        return serializer
    raise InvalidSerializerError(
        f"serializer {value!r} has no dumps/loads: pass an object with dumps(obj) -> bytes and "
        "loads(bytes) -> obj, a name such as 'json', or a dotted path"
    )


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.serializers", Serializer, DefaultSerializer, JSONSerializer, InvalidSerializerError)
