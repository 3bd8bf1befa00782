"""A typed facade over pluggy's plugin manager, and the process's shared instance.

Nothing is built at import time: the first call to :func:`get_plugin_manager` creates the manager
and loads every plugin of the ``jq`` entry-point group (jq's own built-ins included).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import pluggy

from jq.exceptions import ConfigurationError
from jq.plugins import hookspecs
from jq.plugins.hookspecs import ExceptionHandler

if TYPE_CHECKING:
    from jq.base.timeouts import BaseDeathPenalty
    from jq.broker import Broker
    from jq.core.job import Job
    from jq.io.serializers import Serializer
    from jq.worker import BaseWorker

__all__ = ["ENTRY_POINT_GROUP", "PluginManager", "get_plugin_manager", "set_plugin_manager"]

#: Installed distributions offer plugins under this entry-point group.
ENTRY_POINT_GROUP = "jq"

logger = logging.getLogger("jq.plugins")

#: What a scope hook nobody answered gives: one shared context that does nothing (entering it
#: changes nothing, so every job may share it).
_NO_SCOPE: AbstractContextManager[object] = contextlib.nullcontext()

ExcInfo = tuple[type[BaseException], BaseException, "TracebackType | None"]


class PluginManager:
    """jq's plugins and typed calls into their hooks.

    :param load_entry_points: load every plugin of the ``jq`` entry-point group now.
    """

    def __init__(self, *, load_entry_points: bool = True) -> None:
        self._pm = pluggy.PluginManager(hookspecs.PROJECT)
        self._pm.add_hookspecs(hookspecs)
        if load_entry_points:
            self.load_entry_points()

    # -- registration -----------------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Register every plugin offered under the ``jq`` entry-point group, once each."""
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if self._pm.get_plugin(entry_point.name) is not None:
                continue
            try:
                plugin = entry_point.load()
            except Exception as exc:
                raise ConfigurationError(
                    f"the jq plugin {entry_point.name!r} ({entry_point.value}) failed to load: "
                    f"{type(exc).__name__}: {exc}; fix or uninstall the package that provides it"
                ) from exc
            self._pm.register(plugin, name=entry_point.name)

    def register(self, plugin: object, name: str | None = None) -> str:
        """Register a plugin (a module or an object with hook implementations); returns its name."""
        try:
            registered = self._pm.register(plugin, name=name)
        except ValueError as exc:
            raise ConfigurationError(f"plugin {name or plugin!r} is already registered") from exc
        if registered is None:
            raise ConfigurationError(f"plugin {name or plugin!r} is blocked and cannot be registered")
        return registered

    def unregister(self, name: str) -> None:
        """Remove the plugin registered under ``name``."""
        self._pm.unregister(name=name)

    def plugin_names(self) -> list[str]:
        """Names of the registered plugins, in registration order."""
        return [name for name, _plugin in self._pm.list_name_plugin()]

    @property
    def pluggy_manager(self) -> pluggy.PluginManager:
        """The underlying pluggy manager, for tools that need all of it."""
        return self._pm

    # -- typed hook calls -------------------------------------------------------------------------

    def serializer(self, name: str) -> Serializer | None:
        """The serializer a plugin offers under ``name``, or None."""
        return cast("Serializer | None", self._pm.hook.jq_serializer(name=name))

    def death_penalty_class(self, job: Job, worker: BaseWorker) -> type[BaseDeathPenalty] | None:
        """The death-penalty class a plugin picks for this job, or None."""
        caller = self._pm.hook.jq_death_penalty_class
        if not caller.get_hookimpls():  # asked for every job: no call machinery when nobody answers
            return None
        return cast("type[BaseDeathPenalty] | None", caller(job=job, worker=worker))

    def exception_handlers(self, worker: BaseWorker) -> list[ExceptionHandler]:
        """Every handler plugins add for this worker, in registration order."""
        # pluggy calls the most recently registered plugin first; handlers run oldest first.
        results: Iterable[list[ExceptionHandler] | None] = reversed(
            self._pm.hook.jq_exception_handlers(worker=worker)
        )
        return [handler for handlers in results if handlers for handler in handlers]

    def broker_from_url(self, url: str, options: Mapping[str, Any]) -> Broker | None:
        """A broker for the URL from the first plugin that handles its scheme, or None."""
        return cast("Broker | None", self._pm.hook.jq_broker_from_url(url=url, options=options))

    def broker_from_connection(self, connection: object) -> Broker | None:
        """A broker wrapping a client object from the first plugin that knows it, or None."""
        return cast("Broker | None", self._pm.hook.jq_broker_from_connection(connection=connection))

    # Lifecycle events are for metrics and tracing: a failing plugin is logged and never changes
    # what happens to the job.
    def job_enqueued(self, job: Job) -> None:
        """Tell plugins a job was enqueued."""
        self._notify("jq_job_enqueued", job=job)

    def job_started(self, job: Job, worker: BaseWorker | None) -> None:
        """Tell plugins a job is about to run."""
        self._notify("jq_job_started", job=job, worker=worker)

    def job_finished(self, job: Job, result: Any, worker: BaseWorker | None) -> None:
        """Tell plugins a job succeeded."""
        self._notify("jq_job_finished", job=job, result=result, worker=worker)

    def job_failed(self, job: Job, exc_info: ExcInfo, worker: BaseWorker | None) -> None:
        """Tell plugins a job failed."""
        self._notify("jq_job_failed", job=job, exc_info=exc_info, worker=worker)

    def enqueue_scope(self, jobs: Sequence[Job], queue: str) -> AbstractContextManager[object]:
        """Every plugin's ``jq_job_enqueue_scope`` for each of ``jobs`` (enqueued on ``queue``),
        then every plugin's ``jq_jobs_enqueue_scope`` for all of them, entered together; nothing
        to enter when no plugin implements either hook."""
        # A generator: no job's call is built when no plugin implements the hook.
        scopes = self._found_scopes("jq_job_enqueue_scope", ({"job": job, "queue": queue} for job in jobs))
        scopes += self._found_scopes("jq_jobs_enqueue_scope", ({"jobs": jobs, "queue": queue},))
        return _entered(scopes) if scopes else _NO_SCOPE

    def perform_scope(self, job: Job, worker: BaseWorker | None) -> AbstractContextManager[object]:
        """Every plugin's ``jq_job_perform_scope`` for ``job``, entered together."""
        if not self._pm.hook.jq_job_perform_scope.get_hookimpls():
            return _NO_SCOPE  # asked for every job: not even the call's arguments are built
        scopes = self._found_scopes("jq_job_perform_scope", [{"job": job, "worker": worker}])
        return _entered(scopes) if scopes else _NO_SCOPE

    def _found_scopes(
        self, hook_name: str, calls: Iterable[Mapping[str, Any]]
    ) -> list[tuple[AbstractContextManager[object], str]]:
        """Ask every plugin for its scope for each call (oldest plugin first: pluggy calls the
        most recently registered first): the scopes they returned, each with the hook's name. A
        hook only returns its scope here: the scope's own code runs when it is entered."""
        caller = getattr(self._pm.hook, hook_name)
        if not caller.get_hookimpls():  # asked for every job: no call machinery when nobody answers
            return []
        scopes: list[tuple[AbstractContextManager[object], str]] = []
        for kwargs in calls:
            try:
                found = caller(**kwargs)
            except Exception:
                logger.exception("a jq plugin failed in %s; the job is not affected", hook_name)
                continue
            if found:  # pluggy leaves out the None answers: nearly always empty
                scopes.extend((scope, hook_name) for scope in reversed(found) if scope is not None)
        return scopes

    def notifies(self, *hook_names: str) -> bool:
        """Whether any plugin implements one of the hooks ``hook_names`` (``"jq_job_finished"``...)."""
        hooks = self._pm.hook
        return any(getattr(hooks, name).get_hookimpls() for name in hook_names)

    def _notify(self, hook_name: str, **kwargs: Any) -> None:
        caller = getattr(self._pm.hook, hook_name)
        if not caller.get_hookimpls():
            return
        try:
            caller(**kwargs)
        except Exception:
            logger.exception("a jq plugin failed in %s; the job is not affected", hook_name)


@contextlib.contextmanager
def _entered(scopes: Sequence[tuple[AbstractContextManager[object], str]]) -> Iterator[None]:
    """Enter every one of ``scopes`` (each with the name of the hook that returned it) in order,
    each :func:`_guarded`, and leave them in reverse."""
    with contextlib.ExitStack() as stack:
        for scope, hook_name in scopes:
            stack.enter_context(_guarded(scope, hook_name))
        yield


@contextlib.contextmanager
def _guarded(scope: AbstractContextManager[object], hook_name: str) -> Iterator[None]:
    """``scope`` entered and exited, its own failures logged: it can neither fail the job nor
    swallow the job's error (which is re-raised whatever its ``__exit__`` answers)."""
    try:
        scope.__enter__()
    except Exception:
        logger.exception("a jq plugin's %s failed to enter; the job is not affected", hook_name)
        yield
        return
    try:
        yield
    except BaseException as error:
        try:
            scope.__exit__(type(error), error, error.__traceback__)
        except Exception:
            logger.exception("a jq plugin's %s failed to exit; the job is not affected", hook_name)
        raise
    try:
        scope.__exit__(None, None, None)
    except Exception:
        logger.exception("a jq plugin's %s failed to exit; the job is not affected", hook_name)


_lock = threading.Lock()
_manager: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process's plugin manager, created with every installed plugin on first use."""
    global _manager  # noqa: PLW0603 - one manager per process, built lazily, not at import
    manager = _manager
    if manager is not None:  # the common case, several times per job: no lock needed to read
        return manager
    with _lock:
        if _manager is None:
            _manager = PluginManager()
        return _manager


def set_plugin_manager(manager: PluginManager | None) -> None:
    """Replace the process's plugin manager (None: build a fresh one on next use). For tests."""
    global _manager  # noqa: PLW0603
    with _lock:
        _manager = manager
