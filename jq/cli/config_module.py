"""Reading a config module: RQ's settings (``REDIS_URL``, ``SENTINEL``, ``REDIS_HOST``...,
``QUEUES``, ``NAME``, ``DICT_CONFIG``...) with their types checked.

A setting of the wrong type, or a module that cannot be imported, is a :class:`UserError` naming
the module and the setting (exit status 2).
"""

from __future__ import annotations

import importlib
import ssl
from collections.abc import Mapping
from types import ModuleType
from typing import Any, Final, TypeVar

from jq.cli.config import (
    TLS_SETTINGS,
    ConfigModule,
    HostSettings,
    SentinelSettings,
    check_concurrency,
    check_level,
    check_pool,
    host_settings,
    parse_flag,
)
from jq.cli.errors import UserError

__all__ = ["read_config_module"]

T = TypeVar("T")

_SENTINEL_KEYS: Final = frozenset(
    {
        "INSTANCES",
        "MASTER_NAME",
        "DB",
        "USERNAME",
        "PASSWORD",
        "SOCKET_TIMEOUT",
        "SSL",
        "CONNECTION_KWARGS",
        "SENTINEL_KWARGS",
    }
)


class _ModuleReader:
    """Reads typed settings from a config module; a wrong type is a :class:`UserError`."""

    def __init__(self, module: ModuleType, name: str) -> None:
        self.module = module
        self.name = name

    def fail(self, setting: str, expected: str, value: object, secret: bool = False) -> UserError:
        shown = type(value).__name__ if secret else f"{type(value).__name__} {value!r}"
        return UserError(f"{setting} in config module {self.name!r} must be {expected}, not {shown}")

    def get(self, setting: str) -> Any:
        return getattr(self.module, setting, None)

    def text(self, setting: str, secret: bool = False) -> str | None:
        value = self.get(setting)
        if value is not None and not isinstance(value, str):
            raise self.fail(setting, "a string", value, secret)
        return value

    def integer(self, setting: str) -> int | None:
        value = self.get(setting)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.fail(setting, "an integer", value)
        return value

    def names(self, setting: str) -> tuple[str, ...] | None:
        value = self.get(setting)
        if value is None:
            return None
        if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
            raise self.fail(setting, "a list of queue names such as ['high', 'default']", value)
        return tuple(value)


def read_config_module(name: str) -> ConfigModule:
    """Import the config module ``name`` (a module path such as ``settings`` or ``myapp.jq_settings``)
    and read its settings; raises :class:`UserError` when it cannot be imported or a setting has the
    wrong type."""
    reader = _ModuleReader(_import_config(name), name)
    level = reader.text("LOGGING_LEVEL")
    if level is not None:
        level = check_level(level, f"LOGGING_LEVEL in config module {name!r}")
    concurrency = reader.integer("CONCURRENCY")
    if concurrency is not None:
        concurrency = check_concurrency(concurrency, f"CONCURRENCY in config module {name!r}")
    pool = reader.text("POOL")
    if pool is not None:
        pool = check_pool(pool, f"POOL in config module {name!r}")
    return ConfigModule(
        name=name,
        redis_url=reader.text("REDIS_URL", secret=True),
        host=_read_host(reader),
        sentinel=_read_sentinel(reader),
        queues=reader.names("QUEUES"),
        worker_name=reader.text("NAME"),
        sentry_dsn=reader.text("SENTRY_DSN", secret=True),
        serializer=reader.text("SERIALIZER"),
        logging_level=level,
        concurrency=concurrency,
        pool=pool,
        dict_config=_read_dict_config(reader),
    )


def _read_dict_config(reader: _ModuleReader) -> Mapping[str, Any] | None:
    value = reader.get("DICT_CONFIG")
    if value is not None and not isinstance(value, Mapping):
        raise reader.fail("DICT_CONFIG", "a dict for logging.config.dictConfig", value)
    return value


def _import_config(name: str) -> ModuleType:
    if name.endswith(".py") or "/" in name:
        raise UserError(
            f"config {name!r} looks like a file name: give its module path, e.g. '-c settings' for "
            "settings.py (its directory must be the current one or given with --path)"
        )
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise UserError(
                f"config module {name!r} not found: run jqueue from its directory or add that "
                "directory with --path"
            ) from None
        raise UserError(f"config module {name!r} cannot be imported: {exc}") from None
    except SyntaxError as exc:
        raise UserError(
            f"config module {name!r} has a syntax error: {exc.filename}, line {exc.lineno}: {exc.msg}"
        ) from None
    except SystemExit as exc:
        # A module that exits while imported (a script's guard, sys.exit(3)) would otherwise end
        # jqueue silently with its own status.
        raise UserError(
            f"config module {name!r} called sys.exit({exc.code!r}) while being imported"
        ) from None
    except Exception as exc:
        raise UserError(f"config module {name!r} failed to import: {type(exc).__name__}: {exc}") from None


def _read_host(reader: _ModuleReader) -> HostSettings | None:
    host = reader.text("REDIS_HOST")
    port = reader.integer("REDIS_PORT")
    db = reader.integer("REDIS_DB")
    password = reader.text("REDIS_PASSWORD", secret=True)
    ssl = reader.get("REDIS_SSL")
    if host is None and port is None and db is None and password is None and ssl is None:
        return None
    where = f"in config module {reader.name!r}"
    tls: dict[str, str] = {}
    for setting in TLS_SETTINGS:
        value = reader.get(setting)
        text = _cert_reqs(value) if setting == "REDIS_SSL_CERT_REQS" else value
        if text is not None and not isinstance(text, str):
            raise reader.fail(setting, "a string", value, secret=True)
        if text is not None:
            tls[setting] = text
    return host_settings(host, port, db, password, parse_flag(ssl, f"REDIS_SSL {where}"), tls)


def _cert_reqs(value: object) -> object:
    """``REDIS_SSL_CERT_REQS`` as redis-py's text: ``ssl.CERT_REQUIRED`` is ``"required"``."""
    if isinstance(value, ssl.VerifyMode):
        return {ssl.CERT_NONE: "none", ssl.CERT_OPTIONAL: "optional"}.get(value, "required")
    return value


def _read_sentinel(reader: _ModuleReader) -> SentinelSettings | None:
    value = reader.get("SENTINEL")
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise reader.fail("SENTINEL", "a dict such as {'INSTANCES': [('host', 26379)], ...}", value)
    unknown = sorted(str(key) for key in value if key not in _SENTINEL_KEYS)
    if unknown:
        raise UserError(
            f"SENTINEL in config module {reader.name!r} has unknown keys {', '.join(unknown)}: "
            f"use {', '.join(sorted(_SENTINEL_KEYS))}"
        )
    sentinel = _SentinelReader(reader, value)
    return SentinelSettings(
        instances=sentinel.instances(),
        master_name=sentinel.typed("MASTER_NAME", str, "a string", "mymaster"),
        db=sentinel.integer("DB", 0),
        username=sentinel.typed("USERNAME", str, "a string", None),
        password=sentinel.typed("PASSWORD", str, "a string", None, secret=True),
        socket_timeout=sentinel.seconds("SOCKET_TIMEOUT"),
        ssl=sentinel.typed("SSL", bool, "True or False", False),
        connection_kwargs=sentinel.keywords("CONNECTION_KWARGS"),
        sentinel_kwargs=sentinel.keywords("SENTINEL_KWARGS"),
    )


class _SentinelReader:
    """Reads the typed keys of a ``SENTINEL`` dict."""

    def __init__(self, reader: _ModuleReader, value: Mapping[str, Any]) -> None:
        self.reader = reader
        self.value = value

    def fail(self, key: str, expected: str, secret: bool = False) -> UserError:
        return self.reader.fail(f"SENTINEL[{key!r}]", expected, self.value[key], secret)

    def typed(self, key: str, kind: type[T], expected: str, default: T, secret: bool = False) -> T:
        if self.value.get(key) is None:
            return default
        found = self.value[key]
        if not isinstance(found, kind):
            raise self.fail(key, expected, secret)
        return found

    def integer(self, key: str, default: int) -> int:
        found = self.typed(key, int, "an integer", default)
        if isinstance(found, bool):
            raise self.fail(key, "an integer")
        return found

    def seconds(self, key: str) -> float | None:
        found = self.value.get(key)
        if found is not None and (isinstance(found, bool) or not isinstance(found, int | float)):
            raise self.fail(key, "a number of seconds or None")
        return None if found is None else float(found)

    def keywords(self, key: str) -> Mapping[str, Any]:
        found = self.typed(key, dict, "a dict of keyword arguments", {})
        if not all(isinstance(name, str) for name in found):
            raise self.fail(key, "a dict with string keys")
        return dict(found)

    def instances(self) -> tuple[tuple[str, int], ...]:
        expected = "a list of (host, port) pairs such as [('10.0.0.1', 26379)]"
        found = self.value.get("INSTANCES")
        if found is None:
            raise UserError(f"SENTINEL in config module {self.reader.name!r} needs INSTANCES: {expected}")
        if not isinstance(found, list | tuple) or not found:
            raise self.fail("INSTANCES", expected)
        pairs: list[tuple[str, int]] = []
        for item in found:
            if (
                not isinstance(item, list | tuple)
                or len(item) != 2
                or not isinstance(item[0], str)
                or isinstance(item[1], bool)
                or not isinstance(item[1], int)
            ):
                raise self.fail("INSTANCES", expected)
            pairs.append((item[0], item[1]))
        return tuple(pairs)
