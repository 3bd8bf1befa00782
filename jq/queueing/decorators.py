"""The ``@job`` decorator: ``add.delay(3, 4)`` (or ``add.enqueue(3, 4)``) enqueues ``add(3, 4)``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jq.base.utils import parse_timeout, public_module, validate_description, validate_ttl
from jq.core.callbacks import Callback
from jq.core.job import Job
from jq.core.retry import Retry
from jq.queueing.queue import Queue

__all__ = ["job"]


class job:
    """Give a function ``.delay(*args, **kwargs)`` and ``.enqueue(*args, **kwargs)``, which
    enqueue it on ``queue`` with :meth:`Queue.enqueue_call`.

    :param queue: a :class:`Queue` or a queue name.
    :param connection: for a queue given by name (else a ``Connection`` context or ``JQ_URL``).
    :param timeout: the job timeout (``'5m'`` forms too).
    :param queue_class: the :class:`Queue` subclass for a queue given by name.

    The other options are enqueue's. As in RQ, a call takes three of them out of its keyword
    arguments: ``depends_on``, ``job_id`` and ``at_front``; every other keyword argument goes to
    the function. Timeouts, TTLs and ``description`` are also checked here, so a mistake shows
    when the module is imported rather than at the first call.
    """

    #: The class of the queue made for a queue given by name, unless ``queue_class`` says.
    queue_class: type[Queue] = Queue

    def __init__(
        self,
        queue: Queue | str,
        connection: Any = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        queue_class: type[Queue] | None = None,
        depends_on: Any = None,
        at_front: bool = False,
        meta: dict[str, Any] | None = None,
        description: str | None = None,
        failure_ttl: int | str | None = None,
        retry: Retry | None = None,
        on_failure: Callback | Callable[..., Any] | None = None,
        on_success: Callback | Callable[..., Any] | None = None,
        on_stopped: Callback | Callable[..., Any] | None = None,
        webhooks: Any = None,
    ) -> None:
        parse_timeout(timeout)
        validate_ttl(result_ttl, name="result_ttl", allow_zero=True)
        validate_ttl(ttl, name="ttl", allow_zero=False)
        validate_ttl(failure_ttl, name="failure_ttl", allow_zero=True)
        validate_description(description)
        self.queue = queue
        self.queue_class = queue_class or type(self).queue_class
        self.connection = connection
        self.timeout = timeout
        self.result_ttl = result_ttl
        self.ttl = ttl
        self.depends_on = depends_on
        self.at_front = at_front
        self.meta = meta
        self.description = description
        self.failure_ttl = failure_ttl
        self.retry = retry
        self.on_success = on_success
        self.on_failure = on_failure
        self.on_stopped = on_stopped
        self.webhooks = webhooks

    def _queue(self) -> Queue:
        if isinstance(self.queue, str):
            return self.queue_class(name=self.queue, connection=self.connection)
        return self.queue

    def __call__(self, f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def delay(*args: Any, **kwargs: Any) -> Job:
            depends_on = kwargs.pop("depends_on", None) or self.depends_on
            job_id = kwargs.pop("job_id", None)
            at_front = kwargs.pop("at_front", None)
            return self._queue().enqueue_call(
                f,
                args=args,
                kwargs=kwargs,
                timeout=self.timeout,
                result_ttl=self.result_ttl,
                ttl=self.ttl,
                depends_on=depends_on,
                job_id=job_id,
                at_front=self.at_front if at_front is None else at_front,
                meta=self.meta,
                description=self.description,
                failure_ttl=self.failure_ttl,
                retry=self.retry,
                on_failure=self.on_failure,
                on_success=self.on_success,
                on_stopped=self.on_stopped,
                webhooks=self.webhooks,
            )

        f.delay = delay  # type: ignore[attr-defined]
        f.enqueue = delay  # type: ignore[attr-defined]
        return f


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.decorators", job)
