"""The helpers of RQ's ``rq.utils`` that jq's own code does not need, with RQ's names, signatures
and meaning, for code written for RQ. Import them from :mod:`jq.utils` (``rq.utils`` after
:func:`jq.install_as_rq`), which re-exports every one.
"""

from __future__ import annotations

import datetime
import enum
import inspect
import json
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from jq.base.utils import backend_class, import_attribute, parse_composite_key, public_module
from jq.io.connections import resolve_broker
from jq.queueing.queue import Queue

__all__ = [
    "NOT_JSON_SERIALIZABLE",
    "Platform",
    "as_text",
    "backend_class",
    "ceildiv",
    "compact",
    "current_timestamp",
    "decode_redis_hash",
    "ensure_job_list",
    "get_call_string",
    "get_connection_from_queues",
    "get_platform",
    "get_version",
    "import_job_class",
    "import_queue_class",
    "import_worker_class",
    "is_nonstring_iterable",
    "missing_keys",
    "normalize_config_path",
    "parse_composite_key",
    "parse_names",
    "resolve_function_reference",
    "safe_json_dumps",
    "split_list",
    "str_to_date",
    "truncate_long_string",
    "utcformat",
    "utcparse",
    "validate_absolute_path",
]

_T = TypeVar("_T")

#: What :func:`safe_json_dumps` gives for a value JSON cannot encode.
NOT_JSON_SERIALIZABLE = "<not JSON serializable>"

# RQ's timestamp text: microseconds and a Z. jq's own records use the same form.
_UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_UTC_FORMAT_WITHOUT_MICROSECONDS = "%Y-%m-%dT%H:%M:%SZ"


class Platform(enum.Enum):
    """The operating system family Python runs on."""

    WINDOWS = "windows"
    MAC = "mac"
    LINUX = "linux"
    OTHERS = "others"


def get_platform() -> Platform:
    """The :class:`Platform` of this process, from :data:`sys.platform`."""
    name = sys.platform.lower()
    if name.startswith("win"):
        return Platform.WINDOWS
    if name == "darwin":
        return Platform.MAC
    if name.startswith("linux"):
        return Platform.LINUX
    return Platform.OTHERS


def resolve_function_reference(func: Any) -> tuple[Any, str]:
    """``(instance, name)`` for what a job may call: a bound method gives its object and its name,
    a function or builtin ``(None, 'module.qualname')``, a dotted path ``(None, path)``, a
    callable object ``(object, '__call__')``. Anything else is a :class:`TypeError`."""
    if inspect.ismethod(func):
        return func.__self__, func.__name__
    if inspect.isfunction(func) or inspect.isbuiltin(func):
        return None, f"{func.__module__}.{func.__qualname__}"
    if isinstance(func, str | bytes):
        return None, as_text(func)
    if not inspect.isclass(func) and callable(func):
        return func, "__call__"
    raise TypeError(f"a job calls a function, a method, a callable object or a dotted path, not {func!r}")


def compact(lst: Iterable[_T | None]) -> list[_T]:
    """The items of ``lst`` that are not None, in order."""
    return [item for item in lst if item is not None]


def as_text(v: bytes | str) -> str:
    """``v`` as text: bytes decoded as UTF-8, a str as it is; anything else is a ValueError."""
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, str):
        return v
    raise ValueError(f"expected bytes or str, not {type(v).__name__}")


def decode_redis_hash(h: Mapping[bytes | str, Any], *, decode_values: bool = False) -> dict[str, Any]:
    """A Redis hash (HGETALL's reply) with text keys, and text values with ``decode_values``."""
    if decode_values:
        return {as_text(key): as_text(value) for key, value in h.items()}
    return {as_text(key): value for key, value in h.items()}


def safe_json_dumps(value: Any) -> str:
    """``value`` as JSON text, or :data:`NOT_JSON_SERIALIZABLE` when JSON cannot encode it."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return NOT_JSON_SERIALIZABLE


def _import_subclass(name: str, base_path: str, what: str) -> Any:
    found = import_attribute(name)
    module_name, _, class_name = base_path.rpartition(".")
    base = getattr(__import__(module_name, fromlist=[class_name]), class_name)
    if not isinstance(found, type) or not issubclass(found, base):
        raise ValueError(f"{name!r} is not a {what} class (a subclass of {base_path})")
    return found


def import_worker_class(name: str) -> Any:
    """The worker class at dotted path ``name``; ValueError when it is not one."""
    return _import_subclass(name, "jq.worker.base.BaseWorker", "worker")


def import_job_class(name: str) -> Any:
    """The job class at dotted path ``name``; ValueError when it is not one."""
    return _import_subclass(name, "jq.job.Job", "job")


def import_queue_class(name: str) -> Any:
    """The queue class at dotted path ``name``; ValueError when it is not one."""
    return _import_subclass(name, "jq.queue.Queue", "queue")


def normalize_config_path(config_path: str) -> str:
    """A configuration module given as a file path (``app/cron_config.py``) as the dotted name
    ``importlib.import_module`` takes (``app.cron_config``); a dotted name as it is."""
    if os.path.sep not in config_path and not config_path.endswith(".py"):
        return config_path
    dotted = config_path.removesuffix(".py").lstrip(os.path.sep)
    return dotted.replace(os.path.sep, ".")


def validate_absolute_path(file_path: str) -> str:
    """``file_path`` when it names an existing file; FileNotFoundError or IsADirectoryError
    otherwise."""
    if not os.path.exists(file_path):
        raise FileNotFoundError(f"configuration file {file_path!r} does not exist")
    if not os.path.isfile(file_path):
        raise IsADirectoryError(f"configuration path {file_path!r} is a directory, not a file")
    return file_path


def utcformat(dt: datetime.datetime) -> str:
    """``2026-11-23T06:12:07.123456Z`` for a UTC datetime (the time fields as they are)."""
    return dt.strftime(_UTC_FORMAT)


def utcparse(string: str) -> datetime.datetime:
    """The timezone-aware UTC datetime of :func:`utcformat`'s text (with or without
    microseconds)."""
    try:
        parsed = datetime.datetime.strptime(string, _UTC_FORMAT)
    except ValueError:
        parsed = datetime.datetime.strptime(string, _UTC_FORMAT_WITHOUT_MICROSECONDS)
    return parsed.replace(tzinfo=datetime.timezone.utc)


def str_to_date(date_str: bytes | str) -> datetime.datetime:
    """:func:`utcparse` of text or UTF-8 bytes; ValueError when empty."""
    if not date_str:
        raise ValueError("an empty value is not a date")
    return utcparse(as_text(date_str))


def is_nonstring_iterable(obj: Any) -> bool:
    """Whether ``obj`` is iterable and not a str."""
    return isinstance(obj, Iterable) and not isinstance(obj, str)


def ensure_job_list(obj: Any) -> list[Any]:
    """``obj`` as a list: the items of an iterable (not a str), else ``[obj]``."""
    return list(obj) if is_nonstring_iterable(obj) else [obj]


def current_timestamp() -> int:
    """Now, in whole seconds since the epoch (UTC)."""
    return int(datetime.datetime.now(datetime.timezone.utc).timestamp())


def get_version(connection: Any) -> tuple[int, int, int]:
    """The Redis server's version as three numbers, remembered on the client.

    ``connection`` is a redis-py client, or anything jq accepts as a connection (its client is
    asked). A server that does not answer INFO (fakeredis) counts as 5.0.9, as in RQ; a store that
    is not Redis (``memory://``) as 0.0.0.
    """
    client = connection
    if not hasattr(client, "info"):
        client = resolve_broker(connection).connection
        if not hasattr(client, "info"):
            return (0, 0, 0)
    cached = getattr(client, "_jq_redis_server_version", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    # lazy: redis-py only for a Redis server: jq.utils (RQ's rq.utils) does not import it for memory://
    import redis

    try:
        text = str(client.info("server")["redis_version"])
    except redis.ResponseError:
        return (5, 0, 9)
    numbers = [int(part) for part in text.split(".")[:3] if part.isdigit()]
    version = (*numbers, 0, 0, 0)[:3]
    client._jq_redis_server_version = version
    return version  # type: ignore[return-value]


def ceildiv(a: int, b: int) -> int:
    """``a / b`` rounded up, in integers."""
    return -(-a // b)


def split_list(a_list: Sequence[_T], segment_size: int) -> Iterator[Sequence[_T]]:
    """Consecutive slices of ``a_list`` of ``segment_size`` items (the last may be shorter)."""
    for start in range(0, len(a_list), segment_size):
        yield a_list[start : start + segment_size]


def missing_keys(connection: Any, keys: Sequence[str]) -> list[str]:
    """The Redis keys of ``keys`` that do not exist, in order (one EXISTS when all do)."""
    if not keys or connection.exists(*keys) == len(keys):
        return []
    with connection.pipeline() as pipeline:
        for key in keys:
            pipeline.exists(key)
        found = pipeline.execute()
    return [key for key, exists in zip(keys, found, strict=True) if not exists]


def truncate_long_string(data: str, max_length: int | None = None) -> str:
    """``data`` cut to ``max_length`` characters followed by ``...`` when longer (None: whole)."""
    if max_length is None or len(data) <= max_length:
        return data
    return data[:max_length] + "..."


def get_call_string(
    func_name: str | None, args: Any, kwargs: Mapping[Any, Any], max_length: int | None = None
) -> str | None:
    """The call as Python source, ``func(1, 'a', key=2)``, keyword arguments sorted, each
    argument's repr cut by :func:`truncate_long_string`; None when ``func_name`` is None."""
    if func_name is None:
        return None
    parts = [truncate_long_string(repr(arg), max_length) for arg in args]
    parts += sorted(f"{key}={truncate_long_string(repr(value), max_length)}" for key, value in kwargs.items())
    return f"{func_name}({', '.join(parts)})"


def parse_names(queues_or_names: Iterable[Any]) -> list[str]:
    """Queue names of queues or names, in order."""
    return [item.name if isinstance(item, Queue) else str(item) for item in queues_or_names]


def get_connection_from_queues(queues_or_names: Iterable[Any]) -> Any:
    """The connection of the first Queue among ``queues_or_names``, or None."""
    for item in queues_or_names:
        if isinstance(item, Queue):
            return item.connection
    return None


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.utils", Platform)
