"""Options every ``jqueue`` command shares, and opening the store they name.

:func:`store_options` adds ``--url``, ``--config``, ``--path`` and ``--connection-class`` (and
``--serializer`` where a command reads or writes job data) and hands the command one
:class:`StoreOptions`. :func:`open_session` turns those, the environment and the config module
into a checked connection.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import redis

from jq.broker import Broker
from jq.cli.config import ConfigModule, FlagSettings, Settings, load_config_module, resolve_settings
from jq.cli.connection import build_connection, describe_failure
from jq.cli.errors import RuntimeFailure, import_subclass
from jq.connections import resolve_broker
from jq.serializers import Serializer, resolve_serializer
from jq.utils import MAX_SECONDS, validate_ttl

__all__ = [
    "Session",
    "StoreOptions",
    "add_import_paths",
    "connect",
    "load_settings",
    "open_session",
    "parse_duration",
    "parse_ttl",
    "store_options",
]

F = TypeVar("F", bound=Callable[..., Any])

# A duration as the command line takes it: digits, then at most one unit.
_DURATION = re.compile(r"([0-9]+)([smhd]?)", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """A click callback: seconds from ``30``, ``90s``, ``10m``, ``2h`` or ``1d``, at most
    :data:`jq.utils.MAX_SECONDS` (about 68 years: Redis's and jq's longest time); a usage error for
    anything else."""
    if value is None:
        return None
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        raise click.BadParameter(f"{value!r} is not a duration: use seconds (30) or 30s, 10m, 2h, 1d")
    seconds = int(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    if seconds <= 0:
        raise click.BadParameter(f"{value!r} is not a positive duration")
    if seconds > MAX_SECONDS:
        raise click.BadParameter(
            f"{value!r} is longer than the maximum of {MAX_SECONDS} seconds (about 68 years)"
        )
    return seconds


def parse_ttl(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """A click callback: a time to live in seconds (``500``, ``10m``) up to
    :data:`jq.utils.MAX_SECONDS`, ``0`` (do not keep) or ``-1`` (forever); a usage error for
    anything else."""
    if value is None:
        return None
    try:
        return validate_ttl(value, name="ttl", allow_zero=True)
    except ValueError:
        if _DURATION.fullmatch(value.strip()):
            raise click.BadParameter(
                f"{value!r} is longer than the maximum of {MAX_SECONDS} seconds (about 68 years): "
                "use -1 to keep results forever"
            ) from None
        raise click.BadParameter(
            f"{value!r} is not a TTL: use seconds (500), 10m, 1h, 0 or -1 (forever)"
        ) from None


@dataclass(frozen=True)
class StoreOptions:
    """The store-related flags of a command."""

    url: str | None
    config: str | None
    paths: tuple[str, ...]
    connection_class: str
    serializer: str | None = None


@dataclass(frozen=True)
class Session:
    """What a command works with: its settings, the broker, and the serializer for job data."""

    settings: Settings
    broker: Broker
    serializer: Serializer


def _store_params(with_serializer: bool) -> list[Callable[[F], F]]:
    params: list[Callable[[F], F]] = [
        click.option(
            "--url",
            "-u",
            metavar="URL",
            help="The store: redis://[:password@]host:port/db, rediss://..., unix://..., "
            "memory:// (env: JQ_URL).",
        ),
        click.option(
            "--config",
            "-c",
            metavar="MODULE",
            help="A config module path such as 'settings' (REDIS_URL, QUEUES, SENTINEL...).",
        ),
        click.option(
            "--path",
            "-P",
            "paths",
            multiple=True,
            metavar="DIR",
            help="Add a directory to the import path (repeatable); searched first.",
        ),
        click.option(
            "--connection-class",
            default="redis.Redis",
            show_default=True,
            metavar="CLASS",
            help="The redis-py client class built from the URL or config (a redis.Redis subclass).",
        ),
    ]
    if with_serializer:
        params.append(
            click.option(
                "--serializer",
                "-S",
                metavar="NAME",
                help="How job data is encoded: 'pickle' (default), 'json', or a dotted path "
                "(env: JQ_SERIALIZER).",
            ),
        )
    return params


def store_options(*, with_serializer: bool = False) -> Callable[[F], F]:
    """Add the store options to a command; it receives them as ``store: StoreOptions``, with the
    ``--path`` directories (and the current one) already on the import path."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            store = StoreOptions(
                url=kwargs.pop("url"),
                config=kwargs.pop("config"),
                paths=tuple(kwargs.pop("paths")),
                connection_class=kwargs.pop("connection_class"),
                serializer=kwargs.pop("serializer", None),
            )
            # Before the command does anything: whatever it imports first (a config module, a
            # cron config, a class) must be found in the --path directories.
            add_import_paths(store.paths)
            return func(*args, store=store, **kwargs)

        decorated: Any = wrapper
        for param in reversed(_store_params(with_serializer)):
            decorated = param(decorated)
        return decorated  # type: ignore[no-any-return]

    return decorate


def add_import_paths(paths: tuple[str, ...]) -> None:
    """Put ``paths`` first on ``sys.path`` (in the order given), then the current directory, as
    ``python -m`` does, so ``-c settings`` and job modules are found from where jqueue runs."""
    entries = [os.path.abspath(path) for path in paths]
    for entry in reversed(entries):
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)
    current = os.getcwd()
    # The console script, unlike ``python -m``, does not put the current directory on the path.
    if "" not in sys.path and current not in sys.path:
        sys.path.insert(len(entries), current)


def load_settings(
    store: StoreOptions, flags: FlagSettings, environ: Mapping[str, str] | None = None
) -> tuple[Settings, ConfigModule | None]:
    """Apply ``--path``, import ``--config`` and resolve every setting (nothing connects yet)."""
    add_import_paths(store.paths)
    module = load_config_module(store.config) if store.config else None
    settings = resolve_settings(flags, os.environ if environ is None else environ, module)
    return settings, module


def open_session(store: StoreOptions, settings: Settings) -> Session:
    """Connect to the store ``settings`` name and check that it answers.

    A store that cannot be reached is a :class:`RuntimeFailure` (exit status 1).
    """
    serializer = resolve_serializer(settings.serializer.value)
    connection_class = import_subclass(store.connection_class, redis.Redis, "connection class")
    connection = build_connection(settings.connection, connection_class)
    broker = resolve_broker(connection)
    assert settings.connection is not None  # build_connection refused None
    unreachable: tuple[type[BaseException], ...] = (*broker.transient_errors, redis.RedisError)
    try:
        broker.ping()
    except unreachable as exc:
        reason = describe_failure(settings.connection, exc)
        raise RuntimeFailure(
            f"cannot connect to the store at {settings.connection.describe()}: {reason}"
        ) from None
    return Session(settings=settings, broker=broker, serializer=serializer)


def connect(store: StoreOptions, environ: Mapping[str, str] | None = None) -> Session:
    """:func:`load_settings` and :func:`open_session` for commands that only need the store."""
    settings, _module = load_settings(
        store, FlagSettings(url=store.url, serializer=store.serializer), environ
    )
    return open_session(store, settings)
