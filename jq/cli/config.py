"""Settings of ``jqueue``: command-line flags, then ``JQ_*`` environment variables, then a config module.

A config module (``jqueue worker -c settings``) is a Python module whose upper-case names are
RQ's settings::

    REDIS_URL = "redis://localhost:6379/1"
    # or REDIS_HOST / REDIS_PORT / REDIS_DB / REDIS_PASSWORD / REDIS_SSL / REDIS_SSL_*
    # or SENTINEL = {"INSTANCES": [("10.0.0.1", 26379)], "MASTER_NAME": "mymaster", ...}
    QUEUES = ["high", "default", "low"]
    NAME = "worker-1"
    SENTRY_DSN = "https://key@sentry.example.com/1"
    SERIALIZER = "json"
    LOGGING_LEVEL = "WARNING"
    CONCURRENCY = 50                    # jobs a worker runs at once
    POOL = "asyncio"                    # or "threads": where they run
    DICT_CONFIG = {"version": 1, ...}   # logging.config.dictConfig, for workers and cron

Each setting is taken from the first place that gives it: a flag, else an environment variable
(:data:`ENVIRONMENT_VARIABLES`; RQ's :data:`RQ_ENVIRONMENT_VARIABLES` after jq's), else the
config module, else the default. The store, when nothing names it, is RQ's fallback: the
``REDIS_HOST``... variables, else ``localhost:6379/0``. Other names in the module are ignored,
so an application's own settings module can serve.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from jq.cli.errors import UserError

__all__ = [
    "ENVIRONMENT_VARIABLES",
    "LOGGING_LEVELS",
    "POOLS",
    "RQ_ENVIRONMENT_VARIABLES",
    "TLS_SETTINGS",
    "ConfigModule",
    "ConnectionSpec",
    "EnvironmentSettings",
    "FlagSettings",
    "HostSettings",
    "SentinelSettings",
    "Setting",
    "Settings",
    "check_concurrency",
    "check_level",
    "check_pool",
    "host_settings",
    "parse_flag",
    "read_environment",
    "redact_url",
    "resolve_settings",
]

T = TypeVar("T")

#: The logging levels ``--logging-level``, ``JQ_LOGGING_LEVEL`` and ``LOGGING_LEVEL`` accept.
LOGGING_LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

#: Where a worker running several jobs at once runs them (``--pool``, ``JQ_POOL``, ``POOL``).
POOLS: Final = ("asyncio", "threads")

#: The environment variables jqueue reads, and what each sets.
ENVIRONMENT_VARIABLES: Final[Mapping[str, str]] = {
    "JQ_URL": "the store's URL (like --url)",
    "JQ_QUEUES": "comma-separated queue names for workers (like the QUEUES arguments)",
    "JQ_NAME": "the worker's name, or a pool's name prefix (like --name)",
    "JQ_SERIALIZER": "the serializer: a plugin name such as json, or a dotted path (like --serializer)",
    "JQ_LOGGING_LEVEL": "DEBUG, INFO, WARNING, ERROR or CRITICAL (like --logging-level)",
    "JQ_SENTRY_DSN": "report job failures to this Sentry DSN (like --sentry-dsn)",
    "JQ_CONCURRENCY": "how many jobs a worker runs at once (like --concurrency)",
    "JQ_POOL": "asyncio or threads: where a worker runs jobs at once (like --pool)",
}

#: RQ's environment variables, which jqueue reads too (a ``JQ_*`` variable wins when both are set).
RQ_ENVIRONMENT_VARIABLES: Final[Mapping[str, str]] = {
    "RQ_REDIS_URL": "the store's URL (like --url), when JQ_URL is not set",
    "RQ_CONFIG": "the config module (like --config)",
    "RQ_WORKER_CLASS": "the worker class (like --worker-class)",
    "RQ_JOB_CLASS": "the job class (like --job-class)",
    "RQ_QUEUE_CLASS": "the queue class (like --queue-class)",
    "RQ_CONNECTION_CLASS": "the redis-py client class (like --connection-class)",
    "REDIS_HOST": "the server, when no URL or config module names one (default localhost)",
    "REDIS_PORT": "its port (default 6379)",
    "REDIS_DB": "its database (default 0)",
    "REDIS_PASSWORD": "its password",
    "REDIS_SSL": "true: connect with TLS",
    "REDIS_SSL_CA_CERTS": "with TLS: the CA certificates file",
    "REDIS_SSL_CERT_REQS": "with TLS: required (default), optional or none",
    "REDIS_SSL_CA_DATA": "with TLS: CA certificates as PEM text",
    "REDIS_SSL_KEYFILE": "with TLS: the client's key file",
    "REDIS_SSL_CERTFILE": "with TLS: the client's certificate file",
}

# The settings of a server by host and port, as config modules and the environment name them.
_HOST_SETTINGS: Final = ("REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD")
#: RQ's settings of a TLS connection by host and port.
TLS_SETTINGS: Final = (
    "REDIS_SSL_CA_CERTS",
    "REDIS_SSL_CERT_REQS",
    "REDIS_SSL_CA_DATA",
    "REDIS_SSL_KEYFILE",
    "REDIS_SSL_CERTFILE",
)
_TRUE: Final = frozenset({"y", "yes", "t", "true", "on", "1"})
_FALSE: Final = frozenset({"n", "no", "f", "false", "off", "0", ""})


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
    """``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_DB``, ``REDIS_PASSWORD``, ``REDIS_SSL`` and the
    ``REDIS_SSL_*`` options, of a config module or the environment (RQ's settings)."""

    host: str = "localhost"
    port: int = 6379
    db: int = 0
    password: str | None = field(default=None, repr=False)
    ssl: bool = False
    #: With ``ssl``: redis-py's ``ssl_ca_certs``, ``ssl_cert_reqs``, ``ssl_ca_data``,
    #: ``ssl_keyfile`` and ``ssl_certfile`` keyword arguments that were given.
    tls: Mapping[str, str] = field(default_factory=dict)


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
    concurrency: int | None = None
    pool: str | None = None
    #: ``DICT_CONFIG``: a :func:`logging.config.dictConfig` for workers and cron.
    dict_config: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class EnvironmentSettings:
    """The settings the environment gives (None: unset or empty): the ``JQ_*`` variables, and
    RQ's ``RQ_REDIS_URL`` and ``REDIS_HOST``... variables."""

    url: str | None = None
    #: Which variable gave :attr:`url`: ``JQ_URL``, or ``RQ_REDIS_URL`` when JQ_URL is not set.
    url_variable: str = "JQ_URL"
    #: ``REDIS_HOST``, ``REDIS_PORT``... when any is set.
    host: HostSettings | None = None
    queues: tuple[str, ...] | None = None
    name: str | None = None
    serializer: str | None = None
    logging_level: str | None = None
    sentry_dsn: str | None = None
    concurrency: int | None = None
    pool: str | None = None


@dataclass(frozen=True)
class FlagSettings:
    """The settings given on the command line (None or empty: not given)."""

    url: str | None = None
    queues: tuple[str, ...] = ()
    name: str | None = None
    serializer: str | None = None
    logging_level: str | None = None
    sentry_dsn: str | None = None
    concurrency: int | None = None
    pool: str | None = None


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
            scheme = "rediss" if self.host.ssl else "redis"
            return f"{scheme}://{self.host.host}:{self.host.port}/{self.host.db}"
        return redact_url(self.url or "")


@dataclass(frozen=True)
class Settings:
    """Every setting after precedence: flags, then environment, then config module, then default."""

    connection: ConnectionSpec
    queues: Setting[tuple[str, ...]]
    name: Setting[str | None]
    serializer: Setting[str | None]
    logging_level: Setting[str]
    sentry_dsn: Setting[str | None]
    #: How many jobs a worker runs at once (None: not set, one at a time).
    concurrency: Setting[int | None] = Setting(None, "default")
    #: Where it runs them: asyncio or threads (None: not set).
    pool: Setting[str | None] = Setting(None, "default")

    def sources(self) -> str:
        """One line saying where each setting came from (for ``--verbose``)."""
        parts = [f"connection {self.connection.describe()} (from {self.connection.source})"]
        for label, setting in (
            ("queues", self.queues),
            ("name", self.name),
            ("serializer", self.serializer),
            ("logging level", self.logging_level),
            ("concurrency", self.concurrency),
            ("pool", self.pool),
        ):
            value = ",".join(setting.value) if isinstance(setting.value, tuple) else setting.value
            parts.append(f"{label} {'-' if value is None or value == '' else value} (from {setting.source})")
        parts.append(f"sentry {'on' if self.sentry_dsn.value else 'off'} (from {self.sentry_dsn.source})")
        return "; ".join(parts)


def host_settings(
    host: str | None,
    port: int | None,
    db: int | None,
    password: str | None,
    ssl: bool,
    tls: Mapping[str, str],
) -> HostSettings:
    """RQ's host settings, RQ's defaults for those not given (localhost, 6379, 0; with TLS, the
    server's certificate required)."""
    defaults = HostSettings()
    options = {setting.removeprefix("REDIS_").lower(): value for setting, value in tls.items()}
    if ssl:
        options.setdefault("ssl_cert_reqs", "required")
    return HostSettings(
        host=defaults.host if host is None else host,
        port=defaults.port if port is None else port,
        db=defaults.db if db is None else db,
        password=password,
        ssl=ssl,
        tls=options if ssl else {},
    )


def parse_flag(value: object, where: str) -> bool:
    """``REDIS_SSL``: a boolean, or text RQ reads as one (``"True"``, ``"false"``...)."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise UserError(f"{where} must be True or False, not {value!r}")


# -- the environment --------------------------------------------------------------------------------


def read_environment(environ: Mapping[str, str]) -> EnvironmentSettings:
    """The settings of the environment variables in ``environ``; an empty variable counts as
    unset. ``JQ_URL`` wins over RQ's ``RQ_REDIS_URL``."""

    def get(name: str) -> str | None:
        value = environ.get(name, "").strip()
        return value or None

    queues = get("JQ_QUEUES")
    level = get("JQ_LOGGING_LEVEL")
    concurrency, pool = get("JQ_CONCURRENCY"), get("JQ_POOL")
    url_variable = "JQ_URL" if get("JQ_URL") is not None else "RQ_REDIS_URL"
    return EnvironmentSettings(
        url=get(url_variable),
        url_variable=url_variable,
        host=_environment_host(get),
        queues=tuple(part.strip() for part in queues.split(",") if part.strip()) if queues else None,
        name=get("JQ_NAME"),
        serializer=get("JQ_SERIALIZER"),
        logging_level=check_level(level, "JQ_LOGGING_LEVEL") if level else None,
        sentry_dsn=get("JQ_SENTRY_DSN"),
        concurrency=check_concurrency(concurrency, "JQ_CONCURRENCY") if concurrency else None,
        pool=check_pool(pool, "JQ_POOL") if pool else None,
    )


def _environment_host(get: Callable[[str], str | None]) -> HostSettings | None:
    """RQ's ``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_DB``, ``REDIS_PASSWORD`` and ``REDIS_SSL*``
    variables, when any of the first five is set."""
    if all(get(name) is None for name in (*_HOST_SETTINGS, "REDIS_SSL")):
        return None

    def number(name: str) -> int | None:
        value = get(name)
        if value is None:
            return None
        if not value.isdigit():
            raise UserError(f"{name} must be a whole number, not {value!r}")
        return int(value)

    tls = {name: value for name in TLS_SETTINGS if (value := get(name)) is not None}
    ssl = parse_flag(get("REDIS_SSL"), "REDIS_SSL")
    return host_settings(
        get("REDIS_HOST"), number("REDIS_PORT"), number("REDIS_DB"), get("REDIS_PASSWORD"), ssl, tls
    )


def check_concurrency(value: object, where: str) -> int:
    """``value`` as a number of jobs (at least 1: a whole number, or its text); a
    :class:`UserError` naming ``where`` else."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
        raise UserError(f"{where} must be a whole number of at least 1, not {value!r}")
    return int(text)


def check_pool(value: str, where: str) -> str:
    """``value`` in lower case, if it names a pool; a :class:`UserError` naming ``where`` else."""
    if value.strip().lower() not in POOLS:
        raise UserError(f"{where} must be one of {', '.join(POOLS)}, not {value!r}")
    return value.strip().lower()


def check_level(level: str, where: str) -> str:
    """``level`` in upper case, if it is a logging level; a :class:`UserError` naming ``where`` else."""
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
        concurrency=_pick(
            "--concurrency", flags.concurrency, env.concurrency, "JQ_CONCURRENCY", config.concurrency, module
        ),
        pool=_pick("--pool", flags.pool, env.pool, "JQ_POOL", config.pool, module),
    )


def _connection_spec(
    flags: FlagSettings, env: EnvironmentSettings, module: ConfigModule | None
) -> ConnectionSpec:
    if flags.url is not None:
        return ConnectionSpec("--url", url=flags.url)
    if env.url is not None:
        return ConnectionSpec(env.url_variable, url=env.url)
    if module is not None:
        source = f"config module {module.name}"
        # RQ's order within a config module: REDIS_URL, then SENTINEL, then REDIS_HOST and friends.
        if module.redis_url is not None:
            return ConnectionSpec(source, url=module.redis_url)
        if module.sentinel is not None:
            return ConnectionSpec(source, sentinel=module.sentinel)
        if module.host is not None:
            return ConnectionSpec(source, host=module.host)
    # RQ's fallbacks: the REDIS_HOST... variables, then localhost:6379/0.
    if env.host is not None:
        return ConnectionSpec("REDIS_HOST... variables", host=env.host)
    return ConnectionSpec("default", host=HostSettings())


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
