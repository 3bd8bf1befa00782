"""Cron configs: modules that describe periodic jobs, in jq's way or in RQ's.

A config module (or ``.py`` file) either defines ``cron = jq.cron.Cron()`` with its jobs (jq's
way), or calls :func:`register` once per job, as RQ's config files call ``rq.cron.register``::

    # cron_config.py, written for RQ
    from rq import cron                  # jq.cron under jq.install_as_rq(); or: from jq import cron
    from myapp.tasks import cleanup

    cron.register(cleanup, queue_name="maintenance", interval=1800)

:func:`load_cron` imports it and returns one :class:`~jq.scheduling.cron_entries.Cron` with every job, which
``jqueue cron``, ``Worker(cron=...)`` and ``CronScheduler.load_config_from_file`` run.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from jq.defaults import DEFAULT_RESULT_TTL
from jq.exceptions import ConfigurationError
from jq.scheduling.cron_entries import Cron

__all__ = ["config_errors", "load_cron", "load_cron_parts", "register", "take_registered"]

logger = logging.getLogger("jq.cron")

# What `register` collected since the last `take_registered()`: RQ's config files call the
# module-level function before any scheduler exists, so the calls wait here.
_registered: list[dict[str, Any]] = []
_loading = threading.RLock()


def register(
    func: Callable[..., Any],
    queue_name: str,
    args: Sequence[Any] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    interval: float | None = None,
    cron: str | None = None,
    job_timeout: int | str | None = None,
    result_ttl: int | str | None = DEFAULT_RESULT_TTL,
    ttl: int | str | None = None,
    failure_ttl: int | str | None = None,
    meta: dict[str, Any] | None = None,
    webhooks: Sequence[Any] | None = None,
    name: str = "",
) -> dict[str, Any]:
    """Describe a periodic job, in a cron config module (RQ's ``rq.cron.register``).

    Nothing runs yet: the job is collected, and whatever loads the config (``jqueue cron CONFIG``,
    ``CronScheduler.load_config_from_file``, ``Worker(cron=...)``) schedules it. Give exactly one of
    ``interval`` (seconds: the job fires when a scheduler starts, then every ``interval`` seconds)
    and ``cron`` (a five-field string in the scheduler's local time). Returns what was collected.
    """
    data: dict[str, Any] = {
        "func": func,
        "queue_name": queue_name,
        "args": args,
        "kwargs": kwargs,
        "interval": interval,
        "cron": cron,
        "job_timeout": job_timeout,
        "result_ttl": result_ttl,
        "ttl": ttl,
        "failure_ttl": failure_ttl,
        "meta": meta,
        "webhooks": webhooks,
        "name": name,
    }
    with _loading:
        _registered.append(data)
    logger.debug("cron config: %r registered for queue %s", getattr(func, "__name__", func), queue_name)
    return data


def take_registered() -> list[dict[str, Any]]:
    """What :func:`register` collected so far; the collection starts again empty."""
    with _loading:
        taken = list(_registered)
        _registered.clear()
        return taken


def load_cron(location: str) -> Cron:
    """Every job of the cron config at ``location``: a dotted module path (``myapp.cron_config``)
    or a file (``cron_config.py``, ``conf/cron_config``).

    The module's ``cron`` (a :class:`~jq.scheduling.cron_entries.Cron`) and the jobs it gave
    :func:`register` while it was imported, together. A module imported before is imported again,
    so that its ``register`` calls run again. A config that describes no job is returned empty
    (with a warning): RQ's configs may register jobs only under some condition.
    """
    result, registered = load_cron_parts(location)
    for data in registered:
        with config_errors(location, data):
            result.register_rq(**data)
    if not len(result):
        logger.warning(
            "cron config %r describes no job: call jq.cron.register(...) (RQ's rq.cron.register) or "
            "define cron = jq.cron.Cron() in it",
            location,
        )
    return result


def load_cron_parts(location: str) -> tuple[Cron, list[dict[str, Any]]]:
    """The two halves of the cron config at ``location`` (see :func:`load_cron`): its module's
    ``cron`` (jq's way; empty if it has none) and the arguments of each :func:`register` call it
    made (RQ's way), not registered anywhere yet."""
    with _loading:
        take_registered()  # calls made outside of any config do not belong to this one
        module = _import_config(location)
        registered = take_registered()
    found = getattr(module, "cron", None)
    result = Cron()
    if isinstance(found, Cron):
        result.extend(found)
    elif found is not None and not isinstance(found, types.ModuleType):
        # ``from rq import cron`` (RQ's way) leaves the module jq.cron under that name.
        raise ConfigurationError(
            f"cron config {location!r}: 'cron' must be a jq.cron.Cron(), not {type(found).__name__}"
        )
    return result, registered


@contextlib.contextmanager
def config_errors(location: str, data: Mapping[str, Any]) -> Iterator[None]:
    """Registering one job of a config: what it cannot take is a :class:`ConfigurationError`
    naming the config and the job."""
    try:
        yield
    except (ConfigurationError, TypeError) as exc:
        what = getattr(data["func"], "__name__", data["func"])
        raise ConfigurationError(f"cron config {location!r}: the job of {what!r}: {exc}") from exc


def _import_config(location: str) -> types.ModuleType:
    try:
        if location.endswith(".py") or os.sep in location:
            return _load_file(Path(location if location.endswith(".py") else f"{location}.py"), location)
        if location in sys.modules:
            return importlib.reload(sys.modules[location])
        return importlib.import_module(location)
    except ConfigurationError:
        raise
    except SystemExit as exc:
        raise ConfigurationError(
            f"cron config {location!r} called sys.exit({exc.code!r}) while loaded"
        ) from None
    except Exception as exc:
        raise ConfigurationError(
            f"cron config {location!r} cannot be loaded: {type(exc).__name__}: {exc}"
        ) from exc


def _load_file(path: Path, location: str) -> types.ModuleType:
    if not path.is_file():
        # Say which file was looked for: a location without .py was given one (/srv/cron -> .py).
        tried = repr(location) if str(path) == location else f"{str(path)!r} (from {location!r})"
        found = "is a directory" if Path(location).is_dir() or path.is_dir() else "does not exist"
        raise ConfigurationError(
            f"cron config file {tried} {found}: give a Python file (app/cron.py) or a module's "
            "dotted path (app.cron)"
        )
    name = f"jq_cron_config_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigurationError(f"cron config file {location!r} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    # Registered while it runs, as an import would, so that what it defines can be pickled.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
