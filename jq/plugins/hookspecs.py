"""The hooks a jq plugin can implement.

A plugin is a module or object with functions named like the specs below, each marked with
:data:`jq.hookimpl`. jq finds plugins in the ``jq`` entry-point group of installed distributions
(and anything registered with :meth:`jq.plugins.PluginManager.register`); jq's own serializers,
death penalties and drivers are plugins registered exactly the same way.

Hooks marked *firstresult* stop at the first implementation that returns something other than
``None``; plugins registered later are asked first. The others call every implementation and
collect the results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from jq.base.timeouts import BaseDeathPenalty
    from jq.broker import Broker
    from jq.core.job import Job
    from jq.io.serializers import Serializer
    from jq.worker import BaseWorker

#: The project name hooks are registered under.
PROJECT = "jq"

hookspec = pluggy.HookspecMarker(PROJECT)

#: The exception handler signature of RQ: ``handler(job, exc_type, exc_value, traceback)``.
ExceptionHandler = Callable[
    ["Job", type[BaseException], BaseException, "TracebackType | None"], "bool | None"
]


@hookspec(firstresult=True)
def jq_serializer(name: str) -> Serializer | None:
    """Return the serializer registered under ``name``, or ``None`` if this plugin has none.

    Called when a Queue, Job or Worker is given ``serializer="name"`` (a plain name without dots;
    a dotted path is imported instead). jq's built-in plugin answers ``"pickle"`` (also
    ``"default"``) and ``"json"``.

    :param name: the name as the user wrote it.
    :returns: an object with ``dumps(obj) -> bytes`` and ``loads(bytes) -> obj``.

    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def jq_death_penalty_class(job: Job, worker: BaseWorker) -> type[BaseDeathPenalty] | None:
    """Return the death-penalty class that enforces this job's timeout, or ``None`` to pass.

    Asked for every job a worker runs, unless the worker was given ``death_penalty_class=``
    explicitly (the user's choice wins). When no plugin answers, the worker's default is used
    (:class:`jq.timeouts.UnixSignalDeathPenalty`).

    :param job: the job about to run.
    :param worker: the worker running it.

    Stops at the first non-None result.
    """


@hookspec
def jq_exception_handlers(worker: BaseWorker) -> list[ExceptionHandler] | None:
    """Return exception handlers to add to a worker's chain.

    Called once when a worker starts. The handlers run after the worker's own
    ``exception_handlers`` and before the default handler (which moves the job to the failed
    registry), in plugin registration order. Each handler is called as
    ``handler(job, exc_type, exc_value, traceback)``; an explicit ``False`` stops the chain,
    ``None`` or ``True`` passes to the next handler.

    :param worker: the worker being set up.
    """


@hookspec(firstresult=True)
def jq_broker_from_url(url: str, options: Mapping[str, Any]) -> Broker | None:
    """Return a broker for ``url`` if this plugin handles its scheme, else ``None``.

    jq's drivers answer ``redis://``, ``rediss://``, ``unix://``, ``sqlite://`` and ``memory://``.

    :param url: the URL as given (``connection="redis://..."``, ``JQ_URL`` or ``--url``).
    :param options: extra keyword options for the driver (may be empty).

    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def jq_broker_from_connection(connection: object) -> Broker | None:
    """Return a broker that wraps ``connection`` (a client object), or ``None`` if foreign.

    Called when ``connection=`` is neither a :class:`jq.broker.Broker` nor a URL string; the Redis
    driver recognises redis-py clients, fakeredis clients included.

    Stops at the first non-None result.
    """


@hookspec
def jq_job_enqueued(job: Job) -> None:
    """Called after a job was stored and placed (queued, deferred or scheduled).

    Runs in the process that enqueued it. For metrics and tracing; an exception raised here is
    logged and never fails the enqueue.
    """


@hookspec
def jq_job_started(job: Job, worker: BaseWorker | None) -> None:
    """Called in the process that runs the job, just before its function is called.

    ``worker`` is None when the job runs at once because its queue has ``is_async=False``.
    """


@hookspec
def jq_job_finished(job: Job, result: Any, worker: BaseWorker | None) -> None:
    """Called after a job succeeded and its result was stored."""


@hookspec
def jq_job_failed(
    job: Job,
    exc_info: tuple[type[BaseException], BaseException, TracebackType | None],
    worker: BaseWorker | None,
) -> None:
    """Called after a job failed and its failure was stored."""


@hookspec
def jq_job_enqueue_scope(job: Job, queue: str) -> AbstractContextManager[object] | None:
    """Return a context manager to enter around the enqueue of ``job`` on ``queue``, or ``None``.

    Entered in the process that enqueues, before the job's record is built, so that it may add
    to ``job.meta`` (a tracing plugin puts its trace context there); exited once the job is
    stored, or once the enqueue raised (the error passes through it). With ``enqueue_many``
    every job's scope is entered before the batch is built and exited after it is stored; with
    ``is_async=False`` the job runs after its scope was exited. An exception raised by a scope is
    logged and never fails the enqueue; a scope cannot swallow the enqueue's own error.
    Every plugin's scope is entered, in registration order.

    :param job: the job about to be stored (its ``origin`` may not be set yet).
    :param queue: the name of the queue it is enqueued on.
    """


@hookspec
def jq_jobs_enqueue_scope(jobs: Sequence[Job], queue: str) -> AbstractContextManager[object] | None:
    """Return a context manager to enter around the enqueue of all of ``jobs`` on ``queue``, or
    ``None``: :func:`jq_job_enqueue_scope` asked once per enqueue (one job, or an
    ``enqueue_many`` batch) rather than once per job, for a plugin that decides for all of them
    at once (jq's OpenTelemetry plugin checks once whether tracing is on). Entered and exited
    as those scopes are, after them; every plugin's, in registration order.

    :param jobs: the jobs about to be stored, in the order given (their ``origin`` may not be set
        yet).
    :param queue: the name of the queue they are enqueued on.
    """


@hookspec
def jq_job_perform_scope(job: Job, worker: BaseWorker | None) -> AbstractContextManager[object] | None:
    """Return a context manager to enter around the call of ``job``'s function, or ``None``.

    Entered in the process that runs the job (a work horse, a worker's thread, or the enqueuing
    process under ``is_async=False``), after ``jq_job_started``, and exited when the function
    returned or raised: the job's error, a timeout included, passes through it before the worker
    records the outcome. Code the job runs is inside it (a tracing plugin makes its span current
    there). An exception raised by a scope is logged and never changes the job's outcome; a
    scope cannot swallow the job's own error. Every plugin's scope is entered, in registration
    order.

    :param job: the job about to run.
    :param worker: the worker running it, or None under ``is_async=False``.
    """


#: The names of every hook, for checks that each is documented and tested.
HOOK_NAMES: tuple[str, ...] = tuple(name for name in list(globals()) if name.startswith("jq_"))
