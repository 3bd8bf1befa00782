"""Options every ``jqueue`` command shares, and opening the store they name.

:func:`store_options` adds RQ's shared options — ``--url``, ``--config``, ``--path``,
``--worker-class``, ``--job-class``, ``--queue-class``, ``--connection-class`` and
``--serializer`` — to every command and hands the command one :class:`StoreOptions`.
:func:`open_session` turns those, the environment and the config module into a checked
connection.
"""

from __future__ import annotations

import functools
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import redis

from jq.base.utils import MAX_SECONDS, validate_ttl
from jq.broker import Broker
from jq.cli.config import ConfigModule, FlagSettings, Settings, resolve_settings
from jq.cli.config_module import read_config_module
from jq.cli.connection import build_connection, describe_failure
from jq.cli.errors import RuntimeFailure, import_subclass, translate_errors
from jq.core.job import Job
from jq.io.connections import resolve_broker
from jq.io.serializers import Serializer, resolve_serializer
from jq.queueing.queue import Queue
from jq.worker import BaseWorker

__all__ = [
    "Classes",
    "Seconds",
    "Session",
    "StoreOptions",
    "add_import_paths",
    "connect",
    "load_settings",
    "open_session",
    "parse_delay",
    "parse_duration",
    "parse_ttl",
    "resolve_classes",
    "store_options",
]

F = TypeVar("F", bound=Callable[..., Any])


class Seconds(click.FloatRange):
    """A number of seconds in a range (``click.FloatRange``'s bounds); NaN, which a ``FloatRange``
    lets through (it fails no comparison), is refused too, saying what a number of seconds is."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The number, or a usage error."""
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number of seconds: use e.g. 30 or 0.5", param, ctx)
        return number


# A duration as the command line takes it: digits, then at most one unit.
_DURATION = re.compile(r"([0-9]+)([smhd]?)", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """A click callback: seconds from ``30``, ``90s``, ``10m``, ``2h`` or ``1d``, at most
    :data:`jq.utils.MAX_SECONDS` (about 68 years: Redis's and jq's longest time); a usage error for
    anything else."""
    return _seconds(value, allow_zero=False)


def parse_delay(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """A click callback: :func:`parse_duration`, ``0`` (now) included."""
    return _seconds(value, allow_zero=True)


def _seconds(value: str | None, *, allow_zero: bool) -> int | None:
    if value is None:
        return None
    match = _DURATION.fullmatch(value.strip())
    if match is None:
        raise click.BadParameter(f"{value!r} is not a duration: use seconds (30) or 30s, 10m, 2h, 1d")
    seconds = int(match.group(1)) * _UNITS[(match.group(2) or "s").lower()]
    if seconds < 0 or (seconds == 0 and not allow_zero):
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
    """The options every command shares (RQ's shared options): where the store is, the import
    path, the classes to use and the serializer. A class not given is None (jq's default)."""

    url: str | None
    config: str | None
    paths: tuple[str, ...]
    connection_class: str | None = None
    serializer: str | None = None
    worker_class: str | None = None
    job_class: str | None = None
    queue_class: str | None = None


@dataclass(frozen=True)
class Classes:
    """The classes the shared options name, imported and checked."""

    worker: type[BaseWorker]
    queue: type[Queue]
    connection: type[redis.Redis]
    #: None: the queue class's own job class.
    job: type[Job] | None = None

    def make_queue(self, name: str, broker: Broker, serializer: Serializer) -> Queue:
        """A queue of :attr:`queue` with :attr:`job` and ``serializer``."""
        return self.queue(name, connection=broker, job_class=self.job, serializer=serializer)


@dataclass(frozen=True)
class Session:
    """What a command works with: its settings, the broker, the serializer for job data, and
    the classes the shared options name."""

    settings: Settings
    broker: Broker
    serializer: Serializer
    classes: Classes
    #: What the broker was opened from: a URL for the schemes the core's lookup resolves
    #: (``redis+cluster://``, ``redis+sentinel://``, ``sqlite://``...), else a client.
    source: Any = None

    @property
    def worker_connection(self) -> Any:
        """What a worker's ``connection=`` gets: the URL the broker came from, when it came from
        one (the same broker: URLs resolve to a cached one), so that a worker that starts new
        processes (``SpawnWorker``) can tell them how to connect; else the broker."""
        return self.source if isinstance(self.source, str) else self.broker

    def queue(self, name: str) -> Queue:
        """The queue ``name`` of the ``--queue-class``, with the ``--job-class`` and serializer."""
        return self.classes.make_queue(name, self.broker, self.serializer)


def resolve_classes(store: StoreOptions) -> Classes:
    """Import the classes of ``--worker-class``, ``--job-class``, ``--queue-class`` and
    ``--connection-class`` (given, or from ``RQ_WORKER_CLASS``...); a :class:`UserError` for one
    that cannot be imported or is not of the right kind. Checked for every command, as RQ does,
    so a mistake in one shows whatever the command."""
    return Classes(
        worker=import_subclass(store.worker_class or "jq.Worker", BaseWorker, "worker class"),
        queue=import_subclass(store.queue_class or "jq.Queue", Queue, "queue class"),
        connection=import_subclass(store.connection_class or "redis.Redis", redis.Redis, "connection class"),
        job=import_subclass(store.job_class, Job, "job class") if store.job_class else None,
    )


def _store_params() -> list[Callable[[F], F]]:
    return [
        click.option(
            "--url",
            "-u",
            metavar="URL",
            help="The store: redis://[:password@]host:port/db, rediss://..., unix://..., "
            "redis+sentinel://host:port,.../master/db, redis+cluster://host:port,..., "
            "sqlite:///relative.db or sqlite:////absolute.db, memory:// (env: JQ_URL, then "
            "RQ_REDIS_URL).",
        ),
        click.option(
            "--config",
            "-c",
            envvar="RQ_CONFIG",
            show_envvar=True,
            metavar="MODULE",
            help="A config module path such as 'settings' (REDIS_URL, QUEUES, SENTINEL...).",
        ),
        click.option(
            "--path",
            "-P",
            "path",
            multiple=True,
            metavar="DIR",
            help="Add a directory to the import path (repeatable); searched first.",
        ),
        click.option(
            "--worker-class",
            "-w",
            envvar="RQ_WORKER_CLASS",
            show_envvar=True,
            metavar="CLASS",
            help="The worker class (default jq.Worker: jobs run in a work horse process; "
            "jq.SimpleWorker: in the worker's own process).",
        ),
        click.option(
            "--job-class",
            "-j",
            envvar="RQ_JOB_CLASS",
            show_envvar=True,
            metavar="CLASS",
            help="The jq.job.Job subclass for jobs.",
        ),
        click.option(
            "--queue-class",
            envvar="RQ_QUEUE_CLASS",
            show_envvar=True,
            metavar="CLASS",
            help="The jq.Queue subclass for queues (default jq.Queue).",
        ),
        click.option(
            "--connection-class",
            envvar="RQ_CONNECTION_CLASS",
            show_envvar=True,
            metavar="CLASS",
            help="The redis-py client class built from the URL or config (default redis.Redis).",
        ),
        click.option(
            "--serializer",
            "-S",
            metavar="NAME",
            help="How job data is encoded: 'pickle' (default), 'json', or a dotted path "
            "(env: JQ_SERIALIZER).",
        ),
    ]


def store_options() -> Callable[[F], F]:
    """Add the shared options to a command; it receives them as ``store: StoreOptions``, with the
    ``--path`` directories (and the current one) already on the import path.

    Every parameter has RQ's name (``path``, ``all``, ``exception_handler``...), so code written
    for RQ's commands can call jq's: ``ctx.invoke(rq.cli.cli.empty, all=True, url=...)`` (as
    Flask-RQ2 does). Values given that way are read as from the command line (``path="."``,
    ``results_ttl="500"``), and keywords a command does not take are ignored, as RQ's commands do.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with translate_errors():
                kwargs = _as_parsed(kwargs)
                return _run(func, args, kwargs)

        decorated: Any = wrapper
        for param in reversed(_store_params()):
            decorated = param(decorated)
        return decorated  # type: ignore[no-any-return]

    return decorate


def _as_parsed(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The command's arguments as parsing them would give. When click parsed a command line, they
    are; a command called with ``ctx.invoke(command, **values)`` gets the values as given (and
    its defaults) without the conversion and checks of parsing, done here."""
    ctx = click.get_current_context()
    params = {param.name: param for param in ctx.command.params if param.name is not None}
    # Parsing records where each value came from (the command line, a default, a variable).
    if any(ctx.get_parameter_source(name) is not None for name in params):
        return kwargs
    parsed: dict[str, Any] = {}
    for name, given in kwargs.items():
        param = params.get(name)
        if param is None:
            continue  # RQ's commands take **options: a keyword one does not use is ignored
        # path="." means --path .
        value = (given,) if param.multiple and isinstance(given, str) else given
        parsed[name] = param.process_value(ctx, value) if value is not None else value
    return parsed


def _run(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    path = kwargs.pop("path") or ()
    store = StoreOptions(
        url=kwargs.pop("url"),
        config=kwargs.pop("config"),
        paths=tuple(path),
        connection_class=kwargs.pop("connection_class"),
        serializer=kwargs.pop("serializer"),
        worker_class=kwargs.pop("worker_class"),
        job_class=kwargs.pop("job_class"),
        queue_class=kwargs.pop("queue_class"),
    )
    # Before the command does anything: whatever it imports first (a config module, a cron
    # config, a class) must be found in the --path directories.
    add_import_paths(store.paths)
    return func(*args, store=store, **kwargs)


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
    module = read_config_module(store.config) if store.config else None
    settings = resolve_settings(flags, os.environ if environ is None else environ, module)
    return settings, module


def open_session(store: StoreOptions, settings: Settings, classes: Classes | None = None) -> Session:
    """Connect to the store ``settings`` name and check that it answers.

    A store that cannot be reached is a :class:`RuntimeFailure` (exit status 1).
    """
    serializer = resolve_serializer(settings.serializer.value)
    classes = classes or resolve_classes(store)
    connection = build_connection(settings.connection, classes.connection)
    assert settings.connection is not None  # build_connection refused None
    try:
        # A Redis Cluster client asks the nodes for the cluster's layout as it is made.
        broker = resolve_broker(connection)
    except redis.RedisError as exc:
        raise _unreachable(settings, exc) from None
    unreachable: tuple[type[BaseException], ...] = (*broker.transient_errors, redis.RedisError)
    try:
        broker.ping()
    except unreachable as exc:
        raise _unreachable(settings, exc) from None
    return Session(
        settings=settings, broker=broker, serializer=serializer, classes=classes, source=connection
    )


def _unreachable(settings: Settings, error: BaseException) -> RuntimeFailure:
    """The failure (exit status 1) of a store that could not be reached."""
    assert settings.connection is not None
    reason = describe_failure(settings.connection, error)
    return RuntimeFailure(f"cannot connect to the store at {settings.connection.describe()}: {reason}")


def connect(store: StoreOptions, environ: Mapping[str, str] | None = None) -> Session:
    """:func:`load_settings` and :func:`open_session` for commands that only need the store."""
    settings, _module = load_settings(
        store, FlagSettings(url=store.url, serializer=store.serializer), environ
    )
    return open_session(store, settings)
