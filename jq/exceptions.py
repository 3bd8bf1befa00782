"""Every error jq raises on purpose, under one root, :class:`JQError`.

Errors about a value the caller passed are also :class:`ValueError` (or :class:`TypeError`), so
code that catches the built-in kinds keeps working. One exception is not a :class:`JQError`:
:class:`ShutDownImminentException` derives from :class:`BaseException`, as RQ's does, so that a
job's ``except Exception:`` does not swallow a shutdown that must stop it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "AbandonedJobError",
    "ConfigurationError",
    "DequeueTimeout",
    "DeserializationError",
    "DuplicateJobError",
    "DuplicateSchedulerError",
    "DuplicateWorkerError",
    "InvalidJobDependency",
    "InvalidJobOperation",
    "InvalidJobOperationError",
    "JQError",
    "JobStopped",
    "MissingJobError",
    "NoConnectionError",
    "NoRedisConnectionException",
    "NoSuchGroupError",
    "NoSuchJobError",
    "PayloadTooLargeError",
    "SchedulerNotFound",
    "SerializationError",
    "ShutDownImminentException",
    "SignatureError",
    "StopRequested",
    "StoreDataError",
    "StoreFullError",
    "StorePermissionError",
    "TimeoutFormatError",
    "UnknownPluginError",
    "UnsupportedByBrokerError",
    "WorkHorseDiedError",
]


class JQError(Exception):
    """The root of every error jq raises on purpose."""


class NoSuchJobError(JQError):
    """No job with the given id exists (never created, deleted, or expired)."""


class DuplicateJobError(JQError):
    """``unique=True`` was asked and a job with the same id is still pending."""

    def __init__(self, message: str, job_id: str | None = None) -> None:
        super().__init__(message)
        #: The id of the job that is already pending.
        self.job_id = job_id


class InvalidJobOperation(JQError):
    """The operation does not apply to the job in its current state."""


class InvalidJobOperationError(InvalidJobOperation):
    """RQ's older name for an operation that does not apply to a job; jq raises
    :class:`InvalidJobOperation` (this is a subclass of it, so ``except`` clauses naming either
    keep working)."""


class MissingJobError(NoSuchJobError, InvalidJobOperation):
    """The job's record is gone (deleted, expired or never saved) while its status was asked.

    Both a :class:`NoSuchJobError` and an :class:`InvalidJobOperation`: RQ raises the latter for the
    status of a vanished job, and code written for either keeps catching it.
    """


class InvalidJobDependency(JQError, ValueError):
    """A dependency that cannot be honoured (unknown id, a job depending on itself...)."""


class SerializationError(JQError, TypeError):
    """A value (an argument, a result, meta) cannot be serialized with the job's serializer."""


class PayloadTooLargeError(JQError, ValueError):
    """A job's stored record (its serialized call, meta and description) is over the queue's
    ``max_payload_size``; nothing was written."""

    def __init__(self, message: str, size: int | None = None, limit: int | None = None) -> None:
        super().__init__(message)
        #: Bytes the record would have taken.
        self.size = size
        #: The limit it went over, in bytes.
        self.limit = limit


class DeserializationError(JQError):
    """Stored data cannot be read back with the configured serializer."""


class SignatureError(DeserializationError):
    """Signed data was required, and what is stored is unsigned, tampered or signed with an unknown
    key: it is refused before anything in it is decoded."""


class TimeoutFormatError(JQError, ValueError):
    """A timeout or TTL in a form jq does not understand."""


class ConfigurationError(JQError, ValueError):
    """A Queue, Worker or connection was set up with values that cannot work."""


class NoConnectionError(ConfigurationError):
    """No connection was given and none could be found in a context or in ``JQ_URL``."""


#: RQ's name for :class:`NoConnectionError`.
NoRedisConnectionException = NoConnectionError


class UnknownPluginError(ConfigurationError):
    """A serializer, backend or other plugin was asked for by a name nobody provides."""


class StorePermissionError(JQError):
    """The store refuses something jq needs: a Redis ACL user lacks a command, its key pattern or
    its channel pattern does not cover jq's prefix. The message names what to grant."""


class StoreDataError(JQError):
    """The store holds something else than jq keeps under one of its keys (on Redis, a key of the
    wrong type: a string where a queue's list belongs). The scripts that move a job check the keys
    they write before their first write: their refusal wrote nothing, and names the key."""


class StoreFullError(JQError):
    """The store is full: it answers, but refuses to keep anything more (Redis at ``maxmemory``
    under the ``noeviction`` policy). Nothing of the refused call was written; what is stored is
    kept, and workers wait until there is room again. The message says what to do."""


class UnsupportedByBrokerError(JQError):
    """The broker cannot do what was asked (e.g. the memory broker cannot span processes)."""


class DuplicateWorkerError(JQError):
    """A live worker with the same name is already registered."""


class DequeueTimeout(JQError):
    """No job arrived within the time a blocking dequeue waited."""


class ShutDownImminentException(BaseException):
    """Raised inside a job when the worker is shutting down and the job must stop now.

    A :class:`BaseException`, not an :class:`Exception`: a job's ``except Exception:`` must not
    swallow it and carry on as if nothing happened. ``extra_info`` holds details of where the job
    was stopped (:class:`jq.worker.HerokuWorker` puts the interrupted frame's ``f_code``,
    ``f_lineno``... there); ``{}`` when there are none.
    """

    #: Details of the interrupted job's frame; ``{}`` when there are none. A class default too: an
    #: exception raised into a thread by class (a cold shutdown of a SimpleWorker) has no
    #: arguments.
    extra_info: Mapping[str, object] = MappingProxyType({})

    def __init__(self, msg: str = "", extra_info: Mapping[str, object] | None = None) -> None:
        super().__init__(msg)
        self.extra_info = {} if extra_info is None else extra_info


class JobStopped(JQError):
    """Raised inside a job that was told to stop (``send_stop_job_command``); it ends ``stopped``."""


class StopRequested(JQError):
    """A worker was asked to stop (a signal, a shutdown command, a suspension of a burst worker):
    raised inside its loop to leave it, never out of :meth:`jq.worker.BaseWorker.work`."""


class SchedulerNotFound(JQError):
    """No scheduler with the given name is registered."""


class DuplicateSchedulerError(JQError):
    """A scheduler with the given name is registered already."""


class NoSuchGroupError(JQError):
    """No group of jobs with the given name exists."""


class AbandonedJobError(JQError):
    """The worker running the job stopped renewing its lease (it died or lost its store)."""


class WorkHorseDiedError(JQError):
    """The process running the job ended without recording an outcome."""
