"""Webhooks (RQ 3.0's ``rq.webhook``): an HTTP request made when a job ends finished or failed.

Unlike a callback a webhook is plain data (JSON-serializable, nothing to import), stored on the
job's record. The worker sends it once the outcome is recorded (see :meth:`jq.job.Job.send_webhooks`
and docs/scheduling.md); sending one never fails the job: errors are logged.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from jq.base.utils import public_module

if TYPE_CHECKING:
    from jq.core.job import Job

__all__ = ["Webhook"]

logger = logging.getLogger("jq.webhook")

_STATUSES = ("finished", "failed")
_METHODS = ("GET", "POST")


class Webhook:
    """A request to ``url`` when the job ends with ``job_status`` (``'finished'`` or
    ``'failed'``): a GET, or a POST of the job's summary as JSON (:meth:`get_payload`), with
    ``headers``, given up after ``timeout`` seconds."""

    def __init__(
        self,
        url: str,
        job_status: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        timeout: int = 10,
    ) -> None:
        parts = urllib.parse.urlparse(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"url must be an http:// or https:// URL, not {url!r}")
        if job_status not in _STATUSES:
            raise ValueError(f"job_status must be 'finished' or 'failed', not {job_status!r}")
        if method not in _METHODS:
            raise ValueError(f"method must be 'GET' or 'POST', not {method!r}")
        if headers is not None and not isinstance(headers, dict):
            raise TypeError(f"headers must be a dict or None, not {type(headers).__name__}")
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.url = url
        self.job_status = job_status
        self.method = method
        self.headers = headers
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"Webhook({self.url!r}, job_status={self.job_status!r}, method={self.method!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Webhook):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def to_dict(self) -> dict[str, Any]:
        """The webhook as JSON-ready data (:meth:`from_dict` reads it back)."""
        return {
            "url": self.url,
            "job_status": self.job_status,
            "method": self.method,
            "headers": self.headers,
            "timeout": self.timeout,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Webhook:
        """The webhook :meth:`to_dict` described."""
        return cls(
            data["url"],
            data["job_status"],
            method=data.get("method", "GET"),
            headers=data.get("headers"),
            timeout=data.get("timeout", 10),
        )

    def get_payload(self, job: Job, *, exc_string: str | None = None) -> dict[str, Any]:
        """What a POST sends: the job's id, function, status and times (and, for a failure, the
        traceback text as ``exc_info``)."""
        payload: dict[str, Any] = {
            "job_id": job.id,
            "func_name": job.func_name,
            "status": self.job_status,
            "enqueued_at": job.enqueued_at.isoformat() if job.enqueued_at else None,
            "ended_at": job.ended_at.isoformat() if job.ended_at else None,
        }
        if self.job_status == "failed":
            payload["exc_info"] = exc_string
        return payload

    def send(self, job: Job, *, exc_string: str | None = None) -> None:
        """Make the request now, once, blocking up to ``timeout`` seconds; any error (unreachable
        endpoint, timeout, an HTTP error status) is logged on ``jq.webhook``, never raised, so a
        webhook never changes the job's outcome."""
        try:
            headers = dict(self.headers or {})
            data = None
            if self.method == "POST":
                data = json.dumps(self.get_payload(job, exc_string=exc_string)).encode("utf-8")
                headers = {"Content-Type": "application/json", **headers}
            request = urllib.request.Request(self.url, data=data, headers=headers, method=self.method)
            with urllib.request.urlopen(request, timeout=self.timeout):
                pass
        except urllib.error.HTTPError as error:
            # An error status: the error is the response, and holds its connection until closed.
            error.close()
            logger.warning("webhook %s %s for job %s: the endpoint answered %s", self.method, self.url,
                           job.id, error.code)  # fmt: skip
        except Exception:
            logger.warning("webhook %s %s for job %s failed", self.method, self.url, job.id, exc_info=True)


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.webhook", Webhook)
