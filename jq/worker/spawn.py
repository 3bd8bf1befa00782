"""SpawnWorker's work horses: a fresh Python process per job, started with ``os.posix_spawn``.

The worker starts ``python -c`` with jq's :func:`child_main`, in a process group of its own
(``setpgroup``), and passes it on a pipe what it needs, pickled: the worker's class and settings,
how to connect to the store, and the claimed job's record. The new process rebuilds the worker,
runs the job with ``main_work_horse`` and reports the outcome on a second pipe, exactly as a
forked horse does; the worker waits for it, kills it past the job's timeout plus the grace, and
records its death as for a forked horse (:class:`jq.worker.horse.ForkPerJobExecution`).

No fork anywhere, so nothing of the worker's memory (threads, locks, sockets) reaches the horse:
what it needs must be importable and picklable, which :func:`check_spawnable` checks when the
worker starts. A spawned horse asks Linux to kill it when the worker dies, as a forked one does;
the horse warden (which a fork would start) is not used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import sys
from typing import TYPE_CHECKING, Any, Protocol

from jq.base.logutils import setup_logging
from jq.base.threads import start_background_thread
from jq.exceptions import ConfigurationError
from jq.io.connections import key_prefix, resolve_broker
from jq.worker.horse import ForkPerJobExecution
from jq.worker.horse_process import HorseProcess, die_with_parent
from jq.worker.warden import HorseWarden

if TYPE_CHECKING:
    from jq.base.timeouts import BaseDeathPenalty
    from jq.broker import Broker
    from jq.core.job import Job
    from jq.plugins.hookspecs import ExceptionHandler
    from jq.queueing.queue import Queue
    from jq.worker.base import BaseWorker

__all__ = ["SpawnExecution", "SpawnHost", "check_spawnable", "child_main", "connection_spec"]

logger = logging.getLogger("jq.worker")

# The spawned interpreter's program: the worker's import path first, so that it finds what the
# worker found (RQ's SpawnWorker does the same), then jq's entry point with the two pipes' fds.
_BOOT = "import sys; sys.path[:] = {path!r}; from jq.worker.spawn import child_main; child_main()"

# Pool settings redis-py adds to a pool's connection_kwargs itself (a new pool makes its own), and
# settings that hold live objects of this process.
_NOT_PASSED = frozenset(
    {
        "himport_registry",
        "maint_notifications_config",
        "maint_notifications_pool_handler",
        "orig_host_address",
        "orig_socket_connect_timeout",
        "orig_socket_timeout",
        "retry",
        "driver_info",
        "event_dispatcher",
    }
)

# Settings of a worker that a spawned horse needs, copied onto the worker it rebuilds.
_SETTINGS = (
    "death_penalty_class",
    "_explicit_death_penalty",
    "_exc_handlers",
    "default_result_ttl",
    "job_monitoring_interval",
    "log_job_description",
    "log_result_lifespan",
    "disable_default_exception_handler",
    "worker_ttl",
    "death_penalty_grace",
)


class SpawnHost(Protocol):
    """What a spawned horse is rebuilt from, of the worker (:func:`check_spawnable`,
    :meth:`SpawnExecution.start_horse`): its class (``type(worker)``), ``name``,
    ``queue_names()``, ``job_class``, ``queue_class``, ``serializer``, ``death_penalty_class``,
    ``_exc_handlers`` and ``broker``. Read by name as well: the settings listed in ``_SETTINGS``,
    and ``_log_settings`` and ``_connection_arg`` when the worker has them."""

    name: str
    broker: Broker
    job_class: type[Job]
    queue_class: type[Queue]
    serializer: Any
    death_penalty_class: type[BaseDeathPenalty]
    _exc_handlers: list[ExceptionHandler]

    def queue_names(self) -> list[str]: ...


def connection_spec(broker: Broker, connection_arg: Any = None) -> tuple[str, Any]:
    """How a new process connects to ``broker``'s store: ``("url", url)`` when the worker was
    given a URL (``connection_arg``, what it was told to connect with), ``("redis", (client
    class, pool class, connection class, settings))`` for a redis-py client on a plain
    connection pool. Raises ConfigurationError otherwise (a Sentinel or Cluster client: give the
    worker a URL)."""
    if isinstance(connection_arg, str):
        return ("url", connection_arg)
    client = broker.connection
    pool = getattr(client, "connection_pool", None)
    settings = getattr(pool, "connection_kwargs", None)
    plain_pool = type(pool).__module__ == "redis.connection" and type(pool).__name__ in (
        "ConnectionPool",
        "BlockingConnectionPool",
    )
    if pool is None or not (plain_pool and isinstance(settings, dict)):
        raise ConfigurationError(
            f"SpawnWorker starts a new process per job, which must connect to the store again, and "
            f"cannot tell how from {client!r}: give the worker a URL (connection='redis://...')"
        )
    passed = {}
    for key, value in settings.items():
        # A bare object() is a library's "not given" marker, recognized by identity: a copy would
        # be taken for a value. Left out, the new pool uses its own marker.
        if key in _NOT_PASSED or type(value) is object:
            continue
        try:
            pickle.dumps(value)
        except Exception:
            logger.debug("SpawnWorker: the connection setting %s is not passed to its horses", key)
            continue
        passed[key] = value
    return ("redis", (type(client), type(pool), pool.connection_class, passed))


def _connect(spec: tuple[str, Any]) -> Any:
    kind, value = spec
    if kind == "url":
        return value
    client_class, pool_class, connection_class, settings = value
    return client_class(connection_pool=pool_class(connection_class=connection_class, **settings))


def _worker_config(worker: SpawnHost) -> dict[str, Any]:
    """What a spawned horse needs to rebuild the worker (without the job)."""
    return {
        "worker_class": type(worker),
        "name": worker.name,
        "queues": worker.queue_names(),
        "job_class": worker.job_class,
        "queue_class": worker.queue_class,
        "serializer": worker.serializer,
        "settings": {name: getattr(worker, name) for name in _SETTINGS},
        "logging": getattr(worker, "_log_settings", None),
    }


def check_spawnable(worker: SpawnHost) -> None:
    """Refuse a worker a spawned process could not rebuild: classes or handlers defined in
    ``__main__`` (a new interpreter cannot import them), settings that cannot be pickled, a
    connection a new process cannot open (ConfigurationError, a ValueError, saying which)."""
    for thing in (
        type(worker),
        worker.job_class,
        worker.queue_class,
        worker.death_penalty_class,
        *worker._exc_handlers,
    ):
        if getattr(thing, "__module__", None) == "__main__":
            raise ConfigurationError(
                f"SpawnWorker cannot use {thing!r}: what is defined in __main__ cannot be imported by "
                "the process it starts for a job; move it to a module"
            )
    try:
        pickle.dumps(_worker_config(worker))
    except Exception as error:
        raise ConfigurationError(
            f"SpawnWorker passes its settings to the process it starts for a job, and they cannot be "
            f"pickled: {type(error).__name__}: {error}"
        ) from error
    connection_spec(worker.broker, getattr(worker, "_connection_arg", None))


class SpawnedHorse(HorseProcess):
    """A horse started with ``os.posix_spawn`` (not forked): waited for and killed like a forked
    one."""

    def __init__(self, pid: int, warden: HorseWarden) -> None:  # no super(): that forks
        self.pid = pid
        self._pidfd = self._open_pidfd(pid)
        self._warden = warden
        self.reaped = False


class SpawnExecution(ForkPerJobExecution):
    """A fresh Python process per job (see the module docstring)."""

    # A spawned horse is rebuilt from the worker's class and settings, not forked from it: it
    # reads other members of the worker than a forked one (SpawnHost, not ForkedHorseHost).
    def start_horse(self, worker: SpawnHost, job: Job, queue: Queue) -> None:  # type: ignore[override]
        """Spawn the horse and hand it the worker's settings and the job."""
        config = _worker_config(worker)
        config.update(
            parent=os.getpid(),
            connection=connection_spec(worker.broker, getattr(worker, "_connection_arg", None)),
            job=(job.id, job.origin, job.to_record()),
        )
        payload = pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)
        report_read, report_write = os.pipe()
        config_read, config_write = os.pipe()
        os.set_inheritable(report_write, True)
        os.set_inheritable(config_read, True)
        argv = [sys.executable, "-c", _BOOT.format(path=sys.path), str(config_read), str(report_write)]
        try:
            pid = os.posix_spawn(sys.executable, argv, _child_environment(worker.broker), setpgroup=0)
        except BaseException:
            for fd in (report_read, config_write):
                os.close(fd)
            raise
        finally:
            os.close(config_read)
            os.close(report_write)
        self._horse = SpawnedHorse(pid, self._warden)
        self._read_end = report_read
        # In a thread: a payload bigger than the pipe's buffer waits for the horse to read it,
        # and the worker must be watching the horse's deadline meanwhile.
        start_background_thread(lambda: _send(config_write, payload), f"jq-spawn-{pid}")


def _send(fd: int, payload: bytes) -> None:
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
    except OSError:
        pass  # the horse died before reading it: its death is recorded by the worker
    finally:
        os.close(fd)


def _child_environment(broker: Broker) -> dict[str, str]:
    environment = dict(os.environ)
    # A broker made with a key prefix of its own: the horse's must be the same.
    probe = broker.worker_key("x")
    if probe.endswith("worker:x"):
        prefix = probe[: -len("worker:x")]
        if prefix != key_prefix():
            environment["JQ_KEY_PREFIX"] = prefix
    return environment


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def child_main() -> None:  # pragma: no cover - runs in the spawned horse
    """The spawned horse: read the config, rebuild the worker, run the job, report."""
    config_fd, report_fd = int(sys.argv[1]), int(sys.argv[2])
    code = 0
    try:
        config = pickle.loads(_read_all(config_fd))
        die_with_parent()
        if os.getppid() != config["parent"]:
            # The worker died before the line above took effect: nobody would watch us.
            os._exit(1)
        _run(config, report_fd)
    except BaseException:
        logger.exception("spawned work horse %d stopped on an error", os.getpid())
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _run(config: dict[str, Any], report_fd: int) -> None:  # pragma: no cover - in the horse
    if config["logging"] is not None:
        level, date_format, log_format = config["logging"]
        setup_logging(logging.getLogger("jq.worker"), level, log_format, date_format)
    broker = resolve_broker(_connect(config["connection"]))
    worker_class: type[BaseWorker] = config["worker_class"]
    worker = worker_class(
        config["queues"],
        config["name"],
        connection=broker,
        job_class=config["job_class"],
        queue_class=config["queue_class"],
        prepare_for_work=False,
        serializer=config["serializer"],
    )
    for name, value in config["settings"].items():
        setattr(worker, name, value)
    worker.runner = worker._make_runner()
    job_id, origin, record = config["job"]
    job = worker.job_class(job_id, connection=broker, serializer=worker.serializer)
    job.apply_record(record)
    job.origin = origin
    worker.on_horse_start(job)
    outcome = worker.run_in_horse(job, worker.queue_for(job))
    if outcome is not None:
        os.write(report_fd, bytes([outcome, int(worker.runner.timed_out)]))
