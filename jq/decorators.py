"""The ``@job`` decorator: ``add.delay(3, 4)`` enqueues ``add(3, 4)``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jq.callbacks import Callback
from jq.job import Job
from jq.queue import Queue
from jq.retry import Retry
from jq.utils import parse_timeout, validate_description, validate_flag, validate_ttl

__all__ = ["job"]


class job:
    """Give a function a ``.delay(*args, **kwargs)`` that enqueues it on ``queue``.

    :param queue: a :class:`Queue` or a queue name.
    :param connection: for a queue given by name.
    :param timeout: the job timeout (``'5m'`` forms too).

    The other options are enqueue's. ``.delay()`` also takes ``depends_on``, ``job_id``,
    ``at_front``, ``meta`` and ``description`` for one call. Every ``.delay()`` goes through
    enqueue's checks; timeouts, TTLs, ``at_front`` and ``description`` are also checked here, so a
    mistake shows when the module is imported rather than at the first call.
    """

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
    ) -> None:
        parse_timeout(timeout)
        validate_ttl(result_ttl, name="result_ttl", allow_zero=True)
        validate_ttl(ttl, name="ttl", allow_zero=False)
        validate_ttl(failure_ttl, name="failure_ttl", allow_zero=True)
        validate_flag(at_front, name="at_front")
        validate_description(description)
        self.queue = queue
        self.queue_class = queue_class or Queue
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

    def _queue(self) -> Queue:
        if isinstance(self.queue, Queue):
            return self.queue
        return self.queue_class(self.queue, connection=self.connection)

    def __call__(self, f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def delay(*args: Any, **kwargs: Any) -> Job:
            return self._queue().enqueue_call(
                f,
                args=args,
                kwargs=kwargs,
                timeout=self.timeout,
                result_ttl=self.result_ttl,
                ttl=self.ttl,
                failure_ttl=self.failure_ttl,
                description=kwargs.pop("description", self.description),
                depends_on=kwargs.pop("depends_on", self.depends_on),
                job_id=kwargs.pop("job_id", None),
                at_front=kwargs.pop("at_front", self.at_front),
                meta=kwargs.pop("meta", self.meta),
                retry=self.retry,
                on_success=self.on_success,
                on_failure=self.on_failure,
                on_stopped=self.on_stopped,
            )

        f.delay = delay  # type: ignore[attr-defined]
        return f
