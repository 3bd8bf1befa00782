"""Small helpers shared by the core: time, timeouts and TTLs, importing by dotted path, names."""

from __future__ import annotations

import builtins
import datetime
import importlib
import math
import multiprocessing
import multiprocessing.process
import os
import re
import sys
import time
import warnings
from typing import Any

from jq.exceptions import ConfigurationError, TimeoutFormatError

__all__ = [
    "AttributeImportError",
    "ForkProcess",
    "ModuleImportError",
    "TimeoutFormatError",
    "backend_class",
    "environment_value",
    "format_timestamp",
    "import_attribute",
    "now",
    "now_timestamp",
    "parse_composite_key",
    "parse_timeout",
    "parse_timestamp",
    "validate_description",
    "validate_flag",
    "validate_job_id",
    "validate_queue_name",
    "validate_ttl",
]

_TIMEOUT_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TIMEOUT_FORM = re.compile(r"^\s*([0-9]+)\s*([smhd]?)\s*$", re.IGNORECASE)

#: Job ids: 1 to 128 ASCII letters, digits, ``_`` and ``-`` (RQ's rule). Use with ``fullmatch``:
#: ``$`` would also accept a trailing newline.
JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
#: Queue names: 1 to 128 ASCII letters, digits, ``_ - . :``. Use with ``fullmatch``.
QUEUE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,128}")

#: The longest timeout or TTL accepted, in seconds (about 68 years; -1 means no limit). Longer
#: values are mistakes, and some are harmful: Redis refuses an EXPIRE past 64-bit milliseconds
#: halfway through a write, and ``signal.alarm`` takes a C unsigned int.
MAX_SECONDS = 2**31 - 1


_UTC = datetime.timezone.utc
# Python 3.11's fromisoformat reads a trailing "Z" as UTC, ten times faster than slicing it off
# and replacing the tzinfo afterwards.
_FROMISOFORMAT_READS_Z = sys.version_info >= (3, 11)


def now() -> datetime.datetime:
    """The current time in UTC (timezone-aware)."""
    return datetime.datetime.now(_UTC)


def environment_value(name: str) -> str:
    """The environment variable ``name``, or ``""`` when it is not set (``os.environ.get``: read
    on each call, so a change made through ``os.environ`` applies to the next job)."""
    return os.environ.get(name, "")


def format_timestamp(moment: datetime.datetime) -> str:
    """A readable, sortable UTC timestamp such as ``2026-11-23T06:12:07.123456Z``."""
    if moment.tzinfo is not None and moment.tzinfo is not _UTC and moment.utcoffset():
        moment = moment.astimezone(_UTC)
    # %-formatting of the fields is about twice as fast as isoformat(timespec=...) after a
    # replace(tzinfo=None), and as an f-string with format specs; this runs a few times per job.
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
        moment.microsecond,
    )


def now_timestamp() -> str:
    """``format_timestamp(now())``, in a third of the time: the date and time of day are
    formatted once per second and kept; only the microseconds are formatted on each call. A
    worker stamps a record four times per job: ~5,200 instructions a call against ~14,500 for
    ``format_timestamp(now())``, ~37,000 per job drained, ~10 % of a SimpleWorker's client
    instructions per no-op job (callgrind; docs/architecture.md, "Private internals").
    ``tests/test_fast_paths.py`` checks that both give the same text."""
    moment = time.time()
    second = int(moment)
    cached_second, prefix = _second_prefix
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _set_second_prefix(second, prefix)
    return "%s.%06dZ" % (prefix, int((moment - second) * 1_000_000))  # noqa: UP031 - as format_timestamp


# now_timestamp's formatted second: one tuple, replaced whole, so a thread never reads one
# second's number with another second's text.
_second_prefix: tuple[int, str] = (-1, "")


def _set_second_prefix(second: int, prefix: str) -> None:
    global _second_prefix  # noqa: PLW0603 - a cache of one entry
    _second_prefix = (second, prefix)


def parse_timestamp(text: str) -> datetime.datetime:
    """The timezone-aware UTC datetime of a :func:`format_timestamp` string."""
    if not text.endswith("Z"):
        raise ValueError(f"{text!r} is not a UTC timestamp such as 2026-11-23T06:12:07.123456Z")
    if _FROMISOFORMAT_READS_Z:
        moment = datetime.datetime.fromisoformat(text)
        if moment.tzinfo is _UTC:
            return moment
        raise ValueError(f"{text!r} is not a UTC timestamp such as 2026-11-23T06:12:07.123456Z")
    return datetime.datetime.fromisoformat(text[:-1]).replace(tzinfo=_UTC)


def parse_timeout(timeout: Any, *, name: str = "job_timeout") -> int | None:
    """Seconds from a timeout in any of the forms RQ accepts.

    ``None`` stays None (use the default). An int, or a string of digits (``'30'``), or digits with
    a unit ``s``, ``m``, ``h`` or ``d`` (``'5s'``, ``'3m'``, ``'1h'``). ``-1`` means no limit.
    Zero, other negatives, floats with a fraction, booleans, NaN, more than :data:`MAX_SECONDS`
    and anything else are refused with :class:`TimeoutFormatError` (a ``ValueError``), where RQ
    would pass some of them on to a job that then never times out (docs/moving-from-rq.md).
    """
    value = timeout
    if value is None:
        return None
    seconds: int
    if isinstance(value, bool):
        raise TimeoutFormatError(f"{name} must be a number of seconds or a string like '5m', not {value!r}")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, float):
        if math.isnan(value) or math.isinf(value) or not value.is_integer():
            raise TimeoutFormatError(f"{name} must be a whole number of seconds, not {value!r}")
        seconds = int(value)
    elif isinstance(value, str):
        match = _TIMEOUT_FORM.match(value)
        if value.strip() == "-1":
            return -1
        if match is None:
            raise TimeoutFormatError(
                f"{name} {value!r} is not understood: use seconds (30 or '30') or a number with a "
                "unit s, m, h or d ('5s', '3m', '1h', '2d'), or -1 for no limit"
            )
        seconds = int(match.group(1)) * _TIMEOUT_UNITS[(match.group(2) or "s").lower()]
    else:
        raise TimeoutFormatError(
            f"{name} must be a number of seconds or a string like '5m', not {type(value).__name__}"
        )
    if seconds == -1:
        return -1
    if seconds <= 0:
        raise TimeoutFormatError(f"{name} must be positive (or -1 for no limit), not {value!r}")
    if seconds > MAX_SECONDS:
        raise TimeoutFormatError(
            f"{name} {value!r} is longer than the maximum of {MAX_SECONDS} seconds (about 68 years): "
            "use -1 for no limit"
        )
    return seconds


def validate_ttl(value: Any, *, name: str, allow_zero: bool) -> int | None:
    """A TTL in seconds: None (default), -1 (forever), a positive int, or 0 when ``allow_zero``.

    Accepts the same forms as :func:`parse_timeout` (``'1h'``...).
    """
    if value is None:
        return None
    if value == 0 and not isinstance(value, bool) and allow_zero:
        return 0
    if isinstance(value, str) and value.strip() == "0" and allow_zero:
        return 0
    try:
        return parse_timeout(value, name=name)
    except TimeoutFormatError as exc:
        accepted = "0, " if allow_zero else ""
        raise TimeoutFormatError(
            f"{name} must be {accepted}a positive number of seconds (at most {MAX_SECONDS}, or a "
            f"string like '1h') or -1 (forever), not {value!r}"
        ) from exc


def validate_job_id(job_id: Any) -> str:
    """Return the id if it is a valid job id; raise :class:`ConfigurationError` otherwise.

    A job id is 1 to 128 ASCII letters, digits, ``_`` or ``-``: no ``:`` (the key separator),
    no ``{}`` (Redis Cluster hash tags), no spaces or control characters.
    """
    if not isinstance(job_id, str) or not JOB_ID_PATTERN.fullmatch(job_id):
        raise ConfigurationError(
            f"job id {_shown(job_id)} is not valid: use 1 to 128 ASCII letters, digits, '_' or '-'"
        )
    return job_id


def validate_queue_name(name: Any) -> str:
    """Return the name if it is a valid queue name; raise :class:`ConfigurationError` otherwise.

    A queue name is 1 to 128 ASCII letters, digits, ``_``, ``-``, ``.`` or ``:``. A name may hold
    ``:`` because it is always the last part of its keys (``jq:queue:a:intermediate`` cannot be
    one of queue ``a``'s keys: see :mod:`jq_backends.keys`).
    """
    if not isinstance(name, str) or not QUEUE_NAME_PATTERN.fullmatch(name):
        raise ConfigurationError(
            f"queue name {_shown(name)} is not valid: use 1 to 128 ASCII letters, digits, '_', '-', "
            "'.' or ':'"
        )
    return name


def _shown(value: Any) -> str:
    """``repr(value)``, cut short: an error message must not carry a megabyte of bad input."""
    text = repr(value)
    if len(text) <= 60:
        return text
    length = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{text[:50]}...{length}"


def validate_flag(value: Any, *, name: str) -> bool:
    """Return ``value`` if it is True or False; raise a clear error otherwise.

    A string such as ``'no'`` is truthy, so taking any value as a flag would silently do the
    opposite of what was meant.
    """
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, not {_shown(value)}")
    return value


def validate_description(value: Any) -> str | None:
    """Return the description if it is None or text; raise a clear error otherwise."""
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(
            f"description must be text (a str) or None, not {type(value).__name__} {_shown(value)}: "
            "pass str(...) of it"
        )
    return value


class ModuleImportError(ImportError, ValueError):
    """:func:`import_attribute` found no module for a path: an ImportError, and a ValueError as RQ
    raises there."""


class AttributeImportError(AttributeError, ValueError):
    """:func:`import_attribute` found the module but not the attribute: an AttributeError, and a
    ValueError as RQ raises there."""


def import_attribute(name: str) -> Any:
    """Import ``package.module.attribute`` (attributes may be nested: ``module.Class.method``); a
    bare name is a builtin (``'len'``).

    Raises :class:`ModuleImportError` or :class:`AttributeImportError` (both ``ValueError``, as
    in RQ) with a message naming what is missing. An error raised while importing the module
    itself comes through as it is.

    A worker resolves the function of every job it runs. Which part of a path is the module is
    remembered (not the attribute's value): later calls take the module from ``sys.modules`` and
    walk the attributes again, so a function replaced on its module (a monkeypatch, a reload) is
    the one called, while ``importlib.import_module``'s import machinery runs once per path.
    """
    path = name
    known = _module_split.get(path) if isinstance(path, str) else None
    if known is not None:
        module_name, names = known
        found: Any = sys.modules.get(module_name)
        if found is not None:
            try:
                for part in names:
                    found = getattr(found, part)
            except AttributeError:
                pass  # gone from its module since: the full lookup below says what is missing
            else:
                return found
    if not isinstance(path, str) or not path or path.startswith(".") or path.endswith("."):
        raise ModuleImportError(f"{path!r} is not a dotted path such as 'package.module.function'")
    parts = path.split(".")
    if len(parts) == 1:
        # A bare name is looked up among the builtins, as RQ does ('abs', 'len').
        if hasattr(builtins, path):
            return getattr(builtins, path)
        raise ModuleImportError(f"{path!r} is not a dotted path such as 'package.module.function'")
    module = None
    # Import the longest prefix that is a module, then walk attributes.
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # Only swallow "this prefix is not a module"; an import error inside the module is real.
            if exc.name is not None and (module_name == exc.name or module_name.startswith(exc.name + ".")):
                continue
            raise
        attributes = parts[split:]
        break
    else:
        raise ModuleImportError(f"cannot import {path!r}: no module named {parts[0]!r}")
    value: Any = module
    walked = module_name
    for attribute in attributes:
        try:
            value = getattr(value, attribute)
        except AttributeError:
            raise AttributeImportError(
                f"cannot import {path!r}: {walked!r} has no attribute {attribute!r}"
            ) from None
        walked = f"{walked}.{attribute}"
    if len(_module_split) >= _MODULE_SPLITS_KEPT:
        _module_split.clear()  # a bound on what a process remembers; rebuilt as jobs come
    _module_split[path] = (module_name, tuple(attributes))
    return value


# import_attribute's memory: dotted path -> (module name, attribute names after it).
_module_split: dict[str, tuple[str, tuple[str, ...]]] = {}
_MODULE_SPLITS_KEPT = 4096


#: RQ's ``ForkProcess`` (``rq.scheduler``, ``rq.worker_pool``): a process started with fork,
#: where the platform forks, else the platform's default. RQ starts its scheduler and pool
#: workers in one; jq's scheduler runs in a thread and its pool starts workers itself.
ForkProcess: type[multiprocessing.process.BaseProcess]
try:
    ForkProcess = multiprocessing.get_context("fork").Process
except ValueError:  # no fork on this platform
    ForkProcess = multiprocessing.Process


def backend_class(holder: Any, default_name: str, override: Any = None) -> Any:
    """``override`` when given (a dotted path is imported), else ``holder``'s attribute
    ``default_name``: how a class picks its job, queue or death-penalty class."""
    if override is None:
        return getattr(holder, default_name)
    if isinstance(override, str):
        return import_attribute(override)
    return override


def parse_composite_key(composite_key: str) -> tuple[str, str]:
    """``(job id, execution id)`` of ``"<job id>:<execution id>"``; a lone job id gives
    ``(job id, "")`` with a DeprecationWarning, as RQ does."""
    job_id, separator, execution_id = composite_key.partition(":")
    if not separator:
        warnings.warn(
            f"a composite key is <job id>:<execution id>, not {composite_key!r}",
            DeprecationWarning,
            stacklevel=2,
        )
    elif ":" in execution_id:
        raise ValueError(f"{composite_key!r} is not <job id>:<execution id>")
    return job_id, execution_id


def public_module(name: str, *classes: type) -> None:
    """Name ``classes`` as members of module ``name``, the public path users import them from
    (``jq.job``, RQ's ``rq.job``), rather than the module of the layer that defines them
    (``jq.core.job``).

    A class's ``__module__`` is what pickle stores to find it again (a ``Retry`` or a ``Job`` in a
    job's arguments, result or meta), what reprs and error messages show, and what a dotted path
    built from a class names. Keeping the public path there means a value pickled by this release
    loads in a release where the class lives elsewhere, and the other way round; the public
    module re-exports the same class object, so the lookup finds it. Called by the defining
    module itself, right after the classes, so it holds whichever module is imported first.
    """
    for cls in classes:
        cls.__module__ = name


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.utils", ModuleImportError, AttributeImportError)
