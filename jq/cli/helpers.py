"""RQ's module ``rq.cli.helpers``: the pieces RQ's command line is built from, for code that
builds its own commands with them (``@pass_cli_config``, ``parse_function_args``...).

They follow RQ's behaviour; the objects they make are jq's (``CliConfig().queue_class`` is
:class:`jq.Queue`...). ``jqueue enqueue`` reads its arguments with :func:`parse_function_args`
and ``jqueue info --raw`` prints with :func:`show_queues` and :func:`show_workers`; for how
``jqueue`` reads its settings, see :mod:`jq.cli.config` and :mod:`jq.cli.connection`.
"""

from __future__ import annotations

import datetime
import enum
import functools
import importlib
import json
import os
import shutil
import sys
import time
from ast import literal_eval
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click
import redis
from redis.sentinel import Sentinel

from jq.base.logutils import setup_loghandlers
from jq.base.utils import import_attribute, now, parse_timeout
from jq.compat.helpers import import_job_class, import_worker_class
from jq.defaults import (
    DEFAULT_CONNECTION_CLASS,
    DEFAULT_DEATH_PENALTY_CLASS,
    DEFAULT_JOB_CLASS,
    DEFAULT_QUEUE_CLASS,
    DEFAULT_SERIALIZER_CLASS,
    DEFAULT_WORKER_CLASS,
)
from jq.worker import WorkerStatus

__all__ = [
    "CliConfig",
    "ParsingMode",
    "get_redis_from_config",
    "get_scale",
    "green",
    "pad",
    "parse_function_arg",
    "parse_function_args",
    "parse_schedule",
    "pass_cli_config",
    "read_config_file",
    "red",
    "refresh",
    "setup_loghandlers_from_args",
    "shared_options",
    "show_both",
    "show_queues",
    "show_workers",
    "state_symbol",
    "yellow",
]

#: Text styled for the terminal in red, green and yellow.
red = functools.partial(click.style, fg="red")
green = functools.partial(click.style, fg="green")
yellow = functools.partial(click.style, fg="yellow")

_TRUE = {"y", "yes", "t", "true"}
# What a queue without workers shows (an en dash).
_NONE = "\u2013"
_FALSE = {"n", "no", "f", "false", ""}


def read_config_file(module: str) -> dict[str, Any]:
    """The UPPER_CASE names of the settings module ``module`` (a dotted name), with their values."""
    settings = importlib.import_module(module)
    return {name: value for name, value in vars(settings).items() if name.upper() == name}


def get_redis_from_config(settings: Mapping[str, Any], connection_class: Any = redis.Redis) -> Any:
    """A client from RQ-style settings: ``REDIS_URL``; else ``SENTINEL`` (a dict: ``INSTANCES``,
    ``MASTER_NAME``, ``DB``, ``USERNAME``, ``PASSWORD``, ``SOCKET_TIMEOUT``, ``SSL``,
    ``CONNECTION_KWARGS``, ``SENTINEL_KWARGS``); else ``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_DB``,
    ``REDIS_PASSWORD`` and the ``REDIS_SSL*`` settings (localhost:6379/0 by default)."""
    if settings.get("REDIS_URL") is not None:
        return connection_class.from_url(settings["REDIS_URL"])
    sentinel = settings.get("SENTINEL")
    if sentinel is not None:
        options = {
            "db": sentinel.get("DB", 0),
            "username": sentinel.get("USERNAME"),
            "password": sentinel.get("PASSWORD"),
            "socket_timeout": sentinel.get("SOCKET_TIMEOUT"),
            "ssl": sentinel.get("SSL", False),
            **sentinel.get("CONNECTION_KWARGS", {}),
        }
        sentinels = Sentinel(
            sentinel.get("INSTANCES", [("localhost", 26379)]),
            sentinel_kwargs=sentinel.get("SENTINEL_KWARGS", {}),
            **options,
        )
        return sentinels.master_for(sentinel.get("MASTER_NAME", "mymaster"), redis_class=connection_class)
    ssl = settings.get("REDIS_SSL", False)
    if isinstance(ssl, str):
        if ssl.lower() not in _TRUE | _FALSE:
            raise ValueError('REDIS_SSL is a boolean and must be "True" or "False".')
        ssl = ssl.lower() in _TRUE
    return connection_class(
        host=settings.get("REDIS_HOST", "localhost"),
        port=settings.get("REDIS_PORT", 6379),
        db=settings.get("REDIS_DB", 0),
        password=settings.get("REDIS_PASSWORD"),
        ssl=ssl,
        ssl_ca_certs=settings.get("REDIS_SSL_CA_CERTS"),
        ssl_cert_reqs=settings.get("REDIS_SSL_CERT_REQS", "required"),
        ssl_ca_data=settings.get("REDIS_SSL_CA_DATA"),
        ssl_keyfile=settings.get("REDIS_SSL_KEYFILE"),
        ssl_certfile=settings.get("REDIS_SSL_CERTFILE"),
    )


def pad(s: str, pad_to_length: int) -> str:
    """``s`` followed by spaces up to ``pad_to_length`` characters."""
    return s.ljust(pad_to_length)


def get_scale(x: int) -> int:
    """The smallest of 20, 50, 100, 200, 400, 600, 800 and 1000 that is at least ``x``, else ``x``."""
    return next((scale for scale in (20, 50, 100, 200, 400, 600, 800, 1000) if x <= scale), x)


def state_symbol(state: Any) -> Any:
    """A worker state as coloured text (busy, idle, suspended); another state as it is."""
    symbols = {
        WorkerStatus.BUSY: red(WorkerStatus.BUSY.value),
        WorkerStatus.IDLE: green(WorkerStatus.IDLE.value),
        WorkerStatus.SUSPENDED: yellow(WorkerStatus.SUSPENDED.value),
    }
    return symbols.get(state, state)


def _counts(queue: Any) -> str:
    return (
        f"{queue.started_job_registry.count} executing, {queue.finished_job_registry.count} finished, "
        f"{queue.failed_job_registry.count} failed"
    )


def show_queues(
    queues: Sequence[Any], raw: bool, by_queue: bool, queue_class: Any, worker_class: Any, connection: Any
) -> None:
    """Print each queue's size (with a bar unless ``raw``) and its registries' counts."""
    width = min(20, shutil.get_terminal_size().columns - 20)
    counts = {queue: queue.count for queue in queues}
    ratio = width / get_scale(max(counts.values(), default=0))
    for queue, count in counts.items():
        if raw:
            click.echo(f"queue {queue.name} {count}, {_counts(queue)}")
        else:
            bar = green("|" + "\u2588" * int(ratio * count))
            click.echo(f"{queue.name:<12} {bar} {count}, {_counts(queue)}")
    if not raw:
        click.echo(f"{len(queues)} queues, {sum(counts.values())} jobs total")


def show_workers(
    queues: Sequence[Any], raw: bool, by_queue: bool, queue_class: Any, worker_class: Any, connection: Any
) -> None:
    """Print the workers of ``queues`` (of the store when none), or each queue's workers with
    ``by_queue``."""
    if by_queue:
        found = {queue: worker_class.all(queue=queue, connection=connection) for queue in queues}
        width = max((len(queue.name) for queue in found), default=0) + 1
        for queue, workers in found.items():
            names = sorted(f"{worker.name} ({state_symbol(worker.get_state())})" for worker in workers)
            listed = ", ".join(names) or _NONE
            click.echo(f"{pad(queue.name + ':', width)} {listed}")
        shown: set[Any] = {worker.name for workers in found.values() for worker in workers}
    else:
        workers = {
            worker.name: worker
            for queue in queues or [None]
            for worker in worker_class.all(queue=queue, connection=connection)
        }
        for worker in workers.values():
            where = f"{worker.name} ({worker.hostname} {getattr(worker, 'ip_address', None)} {worker.pid})"
            state = worker.get_state() if raw else state_symbol(worker.get_state())
            jobs = f"jobs: {worker.successful_job_count} finished, {worker.failed_job_count} failed"
            prefix = "worker " if raw else ""
            colon = "" if raw else ":"
            click.echo(f"{prefix}{where}{colon} {state} {', '.join(worker.queue_names())}. {jobs}")
        shown = set(workers)
    if not raw:
        click.echo(f"{len(shown)} workers, {len(queues)} queues")


def show_both(
    queues: Sequence[Any], raw: bool, by_queue: bool, queue_class: Any, worker_class: Any, connection: Any
) -> None:
    """:func:`show_queues` then :func:`show_workers`, and the time (unless ``raw``)."""
    show_queues(queues, raw, by_queue, queue_class, worker_class, connection)
    if not raw:
        click.echo("")
    show_workers(queues, raw, by_queue, queue_class, worker_class, connection)
    if not raw:
        click.echo("")
        click.echo(f"Updated: {datetime.datetime.now()}")


def refresh(interval: float, func: Callable[..., Any], *args: Any) -> None:
    """Call ``func(*args)`` once, or with an ``interval`` forever, clearing the screen and
    sleeping ``interval`` seconds between calls."""
    while True:
        if interval:
            click.clear()
        func(*args)
        if not interval:
            return
        time.sleep(interval)


def setup_loghandlers_from_args(verbose: bool, quiet: bool, date_format: str, log_format: str) -> None:
    """:func:`jq.logutils.setup_loghandlers` at DEBUG with ``verbose``, WARNING with ``quiet``,
    leaving the level alone otherwise; both flags at once are a RuntimeError."""
    if verbose and quiet:
        raise RuntimeError("Flags --verbose and --quiet are mutually exclusive.")
    level = "DEBUG" if verbose else "WARNING" if quiet else None
    setup_loghandlers(level, date_format=date_format, log_format=log_format)


class ParsingMode(enum.Enum):
    """How a command-line argument of ``enqueue`` is read: as text, as JSON (``:``) or as a Python
    literal (``%``)."""

    PLAIN_TEXT = 0
    JSON = 1
    LITERAL_EVAL = 2


def _decode(value: str, mode: ParsingMode, keyword: str | None, position: int) -> Any:
    what = keyword or f"{position}. non keyword argument"
    if mode is ParsingMode.JSON:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise click.BadParameter(f"Unable to parse {what} as JSON.") from None
    if mode is ParsingMode.LITERAL_EVAL:
        try:
            return literal_eval(value)
        except Exception:
            raise click.BadParameter(
                f"Unable to eval {what} as Python object. See "
                "https://docs.python.org/3/library/ast.html#ast.literal_eval"
            ) from None
    return value


def parse_function_arg(argument: str, arg_pos: int) -> tuple[str | None, Any]:
    """``(keyword or None, value)`` of one ``enqueue`` argument: ``text``, ``:json``, ``%literal``,
    ``key=text``, ``key:=json``, ``key%=literal``; a value ``@path`` is read from that file first."""
    keyword: str | None = None
    mode = ParsingMode.PLAIN_TEXT
    if argument[:1] == ":":
        mode, value = ParsingMode.JSON, argument[1:]
    elif argument[:1] == "%":
        mode, value = ParsingMode.LITERAL_EVAL, argument[1:]
    else:
        equals = argument.find("=")
        if equals > 0:
            keyword, value = argument[:equals], argument[equals + 1 :]
            if keyword.endswith(":") and argument.index(":") + 1 == equals:
                mode, keyword = ParsingMode.JSON, keyword[:-1]
            elif keyword.endswith("%") and argument.index("%") + 1 == equals:
                mode, keyword = ParsingMode.LITERAL_EVAL, keyword[:-1]
        else:
            value = argument
    if value.startswith("@"):
        try:
            with open(value[1:]) as file:
                value = file.read()
        except FileNotFoundError:
            raise click.FileError(value[1:], "Not found") from None
        except OSError as exc:  # a directory, no permission...
            raise click.FileError(value[1:], exc.strerror or str(exc)) from None
        except UnicodeDecodeError as exc:
            raise click.FileError(value[1:], f"not text: {exc}; pass a text file") from None
    return keyword, _decode(value, mode, keyword, arg_pos)


def parse_function_args(arguments: Sequence[str]) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments of ``enqueue``'s arguments (see
    :func:`parse_function_arg`); a keyword given twice is a ``BadParameter``."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for argument in arguments:
        keyword, value = parse_function_arg(argument, len(args) + 1)
        if keyword is None:
            args.append(value)
        elif keyword in kwargs:
            raise click.BadParameter("You can't specify multiple values for the same keyword.")
        else:
            kwargs[keyword] = value
    return args, kwargs


def parse_schedule(schedule_in: str | None, schedule_at: str | None) -> datetime.datetime | None:
    """When ``--schedule-in`` (a timeout such as ``'10m'``, from now) or ``--schedule-at``
    (``%Y-%m-%dT%H:%M:%S``, naive) says; None for neither, ``BadArgumentUsage`` for both."""
    if schedule_in is not None:
        if schedule_at is not None:
            raise click.BadArgumentUsage("You can't specify both --schedule-in and --schedule-at")
        return now() + datetime.timedelta(seconds=parse_timeout(schedule_in) or 0)
    if schedule_at is not None:
        return datetime.datetime.strptime(schedule_at, "%Y-%m-%dT%H:%M:%S")
    return None


def _imported(loader: Callable[[str], Any], path: str, hint: str) -> Any:
    try:
        return loader(path)
    except (ImportError, AttributeError, ValueError) as error:
        raise click.BadParameter(str(error), param_hint=hint) from None


class CliConfig:
    """The shared options of a command (see :data:`shared_options`), with the classes they name
    imported and the connection made on first use."""

    def __init__(
        self,
        url: str | None = None,
        config: str | None = None,
        worker_class: str = DEFAULT_WORKER_CLASS,
        job_class: str = DEFAULT_JOB_CLASS,
        death_penalty_class: str = DEFAULT_DEATH_PENALTY_CLASS,
        queue_class: str = DEFAULT_QUEUE_CLASS,
        connection_class: str = DEFAULT_CONNECTION_CLASS,
        path: Sequence[str] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        self._connection: Any = None
        self.url = url
        self.config = config
        for directory in path or ():
            sys.path.append(directory)
        self.worker_class = _imported(import_worker_class, worker_class, "--worker-class")
        self.job_class = _imported(import_job_class, job_class, "--job-class")
        self.death_penalty_class = _imported(import_attribute, death_penalty_class, "--death-penalty-class")
        self.queue_class = _imported(import_attribute, queue_class, "--queue-class")
        self.connection_class = _imported(import_attribute, connection_class, "--connection-class")

    @property
    def connection(self) -> Any:
        """The client: from ``--url``, else the config module's settings, else the environment's
        (``REDIS_HOST``...)."""
        if self._connection is None:
            if self.url:
                self._connection = self.connection_class.from_url(self.url)
            else:
                settings = read_config_file(self.config) if self.config else os.environ
                self._connection = get_redis_from_config(settings, self.connection_class)
        return self._connection


#: The options every command built with :func:`pass_cli_config` takes. ``--url`` also reads
#: ``JQ_URL``; the other variables are RQ's.
shared_options = [
    click.option(
        "--url", "-u", envvar=["JQ_URL", "RQ_REDIS_URL"], help="URL describing Redis connection details."
    ),
    click.option("--config", "-c", envvar="RQ_CONFIG", help="Module containing RQ settings."),
    click.option(
        "--worker-class", "-w", envvar="RQ_WORKER_CLASS", default=DEFAULT_WORKER_CLASS, help="Worker class"
    ),
    click.option("--job-class", "-j", envvar="RQ_JOB_CLASS", default=DEFAULT_JOB_CLASS, help="Job class"),
    click.option("--queue-class", envvar="RQ_QUEUE_CLASS", default=DEFAULT_QUEUE_CLASS, help="Queue class"),
    click.option(
        "--connection-class",
        envvar="RQ_CONNECTION_CLASS",
        default=DEFAULT_CONNECTION_CLASS,
        help="Redis client class to use",
    ),
    click.option("--path", "-P", default=["."], help="Specify the import path.", multiple=True),
    click.option(
        "--serializer",
        "-S",
        default=DEFAULT_SERIALIZER_CLASS,
        help="Serializer to use. Accepts json, pickle, or a dotted import path.",
    ),
]


def pass_cli_config(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a click command's function: it takes the :data:`shared_options` and gets a
    :class:`CliConfig` of them as its first argument (the options are passed on too)."""
    for option in shared_options:
        func = option(func)

    def with_config(*args: Any, **kwargs: Any) -> Any:
        context = click.get_current_context()
        return context.invoke(func, CliConfig(**kwargs), *args[1:], **kwargs)

    return functools.update_wrapper(with_config, func)
