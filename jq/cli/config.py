"""Settings of ``jqueue``: command-line flags, then ``JQ_*`` environment variables, then a config module.

A config module (``jqueue worker -c settings``) is a Python module whose upper-case names are
RQ's settings::

    REDIS_URL = "redis://localhost:6379/1"
    # or REDIS_HOST / REDIS_PORT / REDIS_DB / REDIS_PASSWORD
    # or SENTINEL = {"INSTANCES": [("10.0.0.1", 26379)], "MASTER_NAME": "mymaster", ...}
    QUEUES = ["high", "default", "low"]
    NAME = "worker-1"
    SENTRY_DSN = "https://key@sentry.example.com/1"
    SERIALIZER = "json"
    LOGGING_LEVEL = "WARNING"

Each setting is taken from the first place that gives it: a flag, else an environment variable
(:data:`ENVIRONMENT_VARIABLES`), else the config module, else the default. Other names in the
module are ignored, so an application's own settings module can serve.
"""

from __future__ import annotations

import importlib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final, Generic, TypeVar

from jq.cli.errors import UserError

__all__ = [
    "ENVIRONMENT_VARIABLES",
    "LOGGING_LEVELS",
    "ConfigModule",
    "ConnectionSpec",
    "EnvironmentSettings",
    "FlagSettings",
    "HostSettings",
    "SentinelSettings",
    "Setting",
    "Settings",
    "load_config_module",
    "read_environment",
    "redact_url",
    "resolve_settings",
]

T = TypeVar("T")

#: The logging levels ``--logging-level``, ``JQ_LOGGING_LEVEL`` and ``LOGGING_LEVEL`` accept.
LOGGING_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

#: The environment variables jqueue reads, and what each sets.
ENVIRONMENT_VARIABLES: Final[Mapping[str, str]] = {
    "JQ_URL": "the store's URL (like --url)",
    "JQ_QUEUES": "comma-separated queue names for workers (like the QUEUES arguments)",
    "JQ_NAME": "the worker's name, or a pool's name prefix (like --name)",
    "JQ_SERIALIZER": "the serializer: a plugin name such as json, or a dotted path (like --serializer)",
    "JQ_LOGGING_LEVEL": "DEBUG, INFO, WARNING, ERROR or CRITICAL (like --logging-level)",
    "JQ_SENTRY_DSN": "report job failures to this Sentry DSN (like --sentry-dsn)",
}

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


@dataclass(frozen=True)
class Setting(Generic[T]):
    """A resolved value and where it came from (``--name``, ``JQ_NAME``, ``config module settings``,
    ``default``)."""

    value: T
    source: str


@dataclass(frozen=True)
class SentinelSettings:
    """A ``SENTINEL`` setting: the sentinels to ask, and how to connect to the master they name."""

    instances: tuple[tuple[str, int], ...]
    master_name: str = "mymaster"
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    socket_timeout: float | None = None
    ssl: bool = False
    connection_kwargs: Mapping[str, Any] = field(default_factory=dict)
    sentinel_kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HostSettings:
    """``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_DB`` and ``REDIS_PASSWORD`` of a config module."""

    host: str = "localhost"
    port: int = 6379
    db: int = 0
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ConfigModule:
    """The settings a config module gives (None: the module does not set it)."""

    name: str
    redis_url: str | None = None
    host: HostSettings | None = None
    sentinel: SentinelSettings | None = None
    queues: tuple[str, ...] | None = None
    worker_name: str | None = None
    sentry_dsn: str | None = None
    serializer: str | None = None
    logging_level: str | None = None


@dataclass(frozen=True)
class EnvironmentSettings:
    """The settings the ``JQ_*`` environment variables give (None: unset or empty)."""

    url: str | None = None
    queues: tuple[str, ...] | None = None
    name: str | None = None
    serializer: str | None = None
    logging_level: str | None = None
    sentry_dsn: str | None = None


@dataclass(frozen=True)
class FlagSettings:
    """The settings given on the command line (None or empty: not given)."""

    url: str | None = None
    queues: tuple[str, ...] = ()
    name: str | None = None
    serializer: str | None = None
    logging_level: str | None = None
    sentry_dsn: str | None = None


@dataclass(frozen=True)
class ConnectionSpec:
    """Where the store is: exactly one of a URL, a Sentinel-managed master, or a host and port."""

    source: str
    url: str | None = None
    sentinel: SentinelSettings | None = None
    host: HostSettings | None = None

    def describe(self) -> str:
        """A password-free description for logs and messages."""
        if self.sentinel is not None:
            sentinels = ", ".join(f"{host}:{port}" for host, port in self.sentinel.instances)
            return f"Sentinel master {self.sentinel.master_name!r} db {self.sentinel.db} via {sentinels}"
        if self.host is not None:
            return f"redis://{self.host.host}:{self.host.port}/{self.host.db}"
        return redact_url(self.url or "")


@dataclass(frozen=True)
class Settings:
    """Every setting after precedence: flags, then environment, then config module, then default."""

    connection: ConnectionSpec | None
    queues: Setting[tuple[str, ...]]
    name: Setting[str | None]
    serializer: Setting[str | None]
    logging_level: Setting[str]
    sentry_dsn: Setting[str | None]

    def sources(self) -> str:
        """One line saying where each setting came from (for ``--verbose``)."""
        connection = (
            f"{self.connection.describe()} (from {self.connection.source})" if self.connection else "none"
        )
        parts = [f"connection {connection}"]
        for label, setting in (
            ("queues", self.queues),
            ("name", self.name),
            ("serializer", self.serializer),
            ("logging level", self.logging_level),
        ):
            value = ",".join(setting.value) if isinstance(setting.value, tuple) else setting.value
            parts.append(f"{label} {value or '-'} (from {setting.source})")
        parts.append(f"sentry {'on' if self.sentry_dsn.value else 'off'} (from {self.sentry_dsn.source})")
        return "; ".join(parts)


# -- the config module ------------------------------------------------------------------------------


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


def load_config_module(name: str) -> ConfigModule:
    """Import the config module ``name`` (a module path such as ``settings`` or ``myapp.jq_settings``)
    and read its settings; raises :class:`UserError` when it cannot be imported or a setting has the
    wrong type."""
    reader = _ModuleReader(_import_config(name), name)
    level = reader.text("LOGGING_LEVEL")
    if level is not None:
        level = _check_level(level, f"LOGGING_LEVEL in config module {name!r}")
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
    )


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
    if host is None and port is None and db is None and password is None:
        return None
    defaults = HostSettings()
    return HostSettings(
        host=defaults.host if host is None else host,
        port=defaults.port if port is None else port,
        db=defaults.db if db is None else db,
        password=password,
    )


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


# -- the environment --------------------------------------------------------------------------------


def read_environment(environ: Mapping[str, str]) -> EnvironmentSettings:
    """The settings of the ``JQ_*`` variables in ``environ``; an empty variable counts as unset."""

    def get(name: str) -> str | None:
        value = environ.get(name, "").strip()
        return value or None

    queues = get("JQ_QUEUES")
    level = get("JQ_LOGGING_LEVEL")
    return EnvironmentSettings(
        url=get("JQ_URL"),
        queues=tuple(part.strip() for part in queues.split(",") if part.strip()) if queues else None,
        name=get("JQ_NAME"),
        serializer=get("JQ_SERIALIZER"),
        logging_level=_check_level(level, "JQ_LOGGING_LEVEL") if level else None,
        sentry_dsn=get("JQ_SENTRY_DSN"),
    )


def _check_level(level: str, where: str) -> str:
    if level.upper() not in LOGGING_LEVELS:
        raise UserError(f"{where} must be one of {', '.join(LOGGING_LEVELS)}, not {level!r}")
    return level.upper()


# -- precedence -------------------------------------------------------------------------------------


def _pick(
    label: str, flag: T | None, env: T | None, env_name: str, config: T | None, module: ConfigModule | None
) -> Setting[T | None]:
    if flag is not None:
        return Setting(flag, label)
    if env is not None:
        return Setting(env, env_name)
    if config is not None and module is not None:
        return Setting(config, f"config module {module.name}")
    return Setting(None, "default")


def resolve_settings(
    flags: FlagSettings, environ: Mapping[str, str], module: ConfigModule | None
) -> Settings:
    """Apply the precedence: flags, then the environment, then the config module, then defaults."""
    env = read_environment(environ)
    config = module or ConfigModule(name="")
    queues = _pick("arguments", flags.queues or None, env.queues, "JQ_QUEUES", config.queues, module)
    level = _pick(
        "flags", flags.logging_level, env.logging_level, "JQ_LOGGING_LEVEL", config.logging_level, module
    )
    return Settings(
        connection=_connection_spec(flags, env, module),
        queues=Setting(queues.value or ("default",), queues.source),
        name=_pick("--name", flags.name, env.name, "JQ_NAME", config.worker_name, module),
        serializer=_pick(
            "--serializer", flags.serializer, env.serializer, "JQ_SERIALIZER", config.serializer, module
        ),
        logging_level=Setting(level.value or "INFO", level.source),
        sentry_dsn=_pick(
            "--sentry-dsn", flags.sentry_dsn, env.sentry_dsn, "JQ_SENTRY_DSN", config.sentry_dsn, module
        ),
    )


def _connection_spec(
    flags: FlagSettings, env: EnvironmentSettings, module: ConfigModule | None
) -> ConnectionSpec | None:
    if flags.url is not None:
        return ConnectionSpec("--url", url=flags.url)
    if env.url is not None:
        return ConnectionSpec("JQ_URL", url=env.url)
    if module is None:
        return None
    source = f"config module {module.name}"
    # RQ's order within a config module: REDIS_URL, then SENTINEL, then REDIS_HOST and friends.
    if module.redis_url is not None:
        return ConnectionSpec(source, url=module.redis_url)
    if module.sentinel is not None:
        return ConnectionSpec(source, sentinel=module.sentinel)
    if module.host is not None:
        return ConnectionSpec(source, host=module.host)
    return None


# -- messages ---------------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """``url`` with the password of its user part hidden (for messages and logs)."""
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))
