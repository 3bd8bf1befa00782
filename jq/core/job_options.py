"""A job's options that decide what happens after it runs (TTLs, retries, where a retry goes,
its rate limit, webhooks), read under RQ's names; a mixin of :class:`jq.job.Job`."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from jq.core.retry import Retry

__all__ = ["JobOutcomeOptions"]


class JobOutcomeOptions:
    """RQ's methods reading a job's after-run options."""

    # Set by Job.__init__ or as Job's class defaults (see jq.core.job).
    _id: str
    ttl: int | None
    result_ttl: int | None
    retries_left: int | None
    retry_max: int | None
    retry_intervals: list[int] | None
    enqueue_at_front_on_retry: bool
    enqueue_at_front: bool
    ended_at: datetime.datetime | None
    rate_limit_key: str | None
    rate_limit_concurrency: int | None
    webhooks: list[Any]
    log: logging.Logger

    def get_ttl(self, default_ttl: int | None = None) -> int | None:
        """The job's ``ttl``, or ``default_ttl`` when it has none."""
        return default_ttl if self.ttl is None else self.ttl

    def get_result_ttl(self, default_ttl: int) -> int:
        """The job's ``result_ttl``, or ``default_ttl`` when it has none."""
        return default_ttl if self.result_ttl is None else self.result_ttl

    @property
    def should_retry(self) -> bool:
        """Whether a failure now would be retried (retries are left)."""
        return bool(self.retries_left)

    def get_retry_interval(self) -> int:
        """Seconds the next retry waits (0 without intervals)."""
        if not self.retry_intervals:
            return 0
        left = self.retries_left or 0
        done = len(self.retry_intervals) - left if self.retry_max is None else self.retry_max - left
        return Retry.get_interval(max(done, 0), self.retry_intervals)

    def should_enqueue_at_front(self) -> bool:
        """Whether the job goes to the front of its queue: when it is retried after it ran and its
        ``Retry`` says ``enqueue_at_front``, else as its own ``enqueue_at_front`` says."""
        if self.enqueue_at_front_on_retry and self.ended_at is not None:
            return True
        return bool(self.enqueue_at_front)

    @property
    def has_rate_limit(self) -> bool:
        """Whether the job was enqueued with a ``RateLimit`` (a key and a concurrency)."""
        return bool(self.rate_limit_key and self.rate_limit_concurrency)

    def send_webhooks(self, status: str, *, exc_string: str | None = None) -> None:
        """Send every webhook of the job whose ``job_status`` is ``status`` (``'finished'`` or
        ``'failed'``), one after the other; ``exc_string`` goes in a ``failed`` POST's payload.
        Never raises: a webhook that cannot be sent is logged (``jq.webhook``)."""
        for webhook in self.webhooks:
            if webhook.job_status == status:
                self.log.debug("job %s: %s webhook to %s", self._id, status, webhook.url)
                webhook.send(self, exc_string=exc_string)
