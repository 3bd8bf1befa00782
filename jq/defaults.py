"""The numbers jq uses when nobody says otherwise, in one place, under jq's names and RQ's.

RQ's names (``rq.defaults``) are here with the values jq runs with: where jq's default differs
from RQ's (``DEFAULT_MAINTENANCE_TASK_INTERVAL``) the name gives jq's, which is what a worker
started with that value as its setting gets anyway. The class paths name jq's classes.
``RQ_KEY_PREFIX`` and ``FORMAT_KEY_PREFIX`` are jq's key prefix (``JQ_KEY_PREFIX``, else ``jq``)
without its closing ``:``, read at import as RQ reads ``RQ_KEY_PREFIX``.
"""

from __future__ import annotations

import os

__all__ = [
    "CALLBACK_TIMEOUT",
    "DEFAULT_CONNECTION_CLASS",
    "DEFAULT_CRON_JOB_HISTORY_LIMIT",
    "DEFAULT_CRON_JOB_HISTORY_TTL",
    "DEFAULT_CRON_SCHEDULER_TTL",
    "DEFAULT_DEATH_PENALTY_CLASS",
    "DEFAULT_DEATH_PENALTY_GRACE",
    "DEFAULT_FAILURE_TTL",
    "DEFAULT_JOB_CLASS",
    "DEFAULT_JOB_MONITORING_INTERVAL",
    "DEFAULT_JOB_TIMEOUT",
    "DEFAULT_LOGGING_DATE_FORMAT",
    "DEFAULT_LOGGING_FORMAT",
    "DEFAULT_MAINTENANCE_INTERVAL",
    "DEFAULT_MAINTENANCE_TASK_INTERVAL",
    "DEFAULT_QUEUE_CLASS",
    "DEFAULT_RESULT_TTL",
    "DEFAULT_SCHEDULER_FALLBACK_PERIOD",
    "DEFAULT_SERIALIZER_CLASS",
    "DEFAULT_WORKER_CLASS",
    "DEFAULT_WORKER_TTL",
    "FORMAT_KEY_PREFIX",
    "RQ_KEY_PREFIX",
    "UNSERIALIZABLE_RETURN_VALUE_PAYLOAD",
    "effective_timeout",
]

#: Seconds a job may run unless its queue or the job says otherwise.
DEFAULT_JOB_TIMEOUT = 180
#: Seconds a successful job's record and result are kept unless ``result_ttl`` says otherwise.
DEFAULT_RESULT_TTL = 500
#: Seconds a failed job is kept unless ``failure_ttl`` says otherwise (one year).
DEFAULT_FAILURE_TTL = 365 * 24 * 3600
#: Seconds a worker's record (and a running job's lease) lasts without a heartbeat.
DEFAULT_WORKER_TTL = 420
#: Seconds between heartbeats while a job runs (capped at a third of the worker ttl).
DEFAULT_JOB_MONITORING_INTERVAL = 30
#: Seconds between a worker's maintenance runs (abandoned jobs, expired registry entries).
DEFAULT_MAINTENANCE_INTERVAL = 60
#: RQ's name for :data:`DEFAULT_MAINTENANCE_INTERVAL` (RQ's own default is 600 seconds; jq's
#: maintenance is cheap, and ends the jobs of a dead worker sooner).
DEFAULT_MAINTENANCE_TASK_INTERVAL = DEFAULT_MAINTENANCE_INTERVAL
#: Seconds a work horse may outlive its job's timeout before the worker kills it.
DEFAULT_DEATH_PENALTY_GRACE = 5.0
#: Seconds a success, failure or stopped callback may run.
CALLBACK_TIMEOUT = 60
#: How many job ids a cron job's history keeps (RQ's cron).
DEFAULT_CRON_JOB_HISTORY_LIMIT = 1000
#: Seconds a cron job's history is kept after its last job (one year).
DEFAULT_CRON_JOB_HISTORY_TTL = 365 * 24 * 3600
#: Seconds a cron scheduler counts as alive after its last heartbeat.
DEFAULT_CRON_SCHEDULER_TTL = 120
#: RQ's seconds before another scheduler takes over from a dead one. jq's schedulers hold
#: expiring locks instead (``jq.scheduler.DEFAULT_LOCK_TTL``, 10 seconds).
DEFAULT_SCHEDULER_FALLBACK_PERIOD = 120

#: The start of every line a worker logs, by default.
DEFAULT_LOGGING_FORMAT = "%(asctime)s %(message)s"
#: How that time is written, by default.
DEFAULT_LOGGING_DATE_FORMAT = "%H:%M:%S"

#: Dotted paths of the classes used when none is named.
DEFAULT_JOB_CLASS = "jq.job.Job"
DEFAULT_QUEUE_CLASS = "jq.Queue"
DEFAULT_WORKER_CLASS = "jq.Worker"
DEFAULT_SERIALIZER_CLASS = "jq.serializers.DefaultSerializer"
DEFAULT_CONNECTION_CLASS = "redis.Redis"
DEFAULT_DEATH_PENALTY_CLASS = "jq.timeouts.UnixSignalDeathPenalty"

#: What is stored as the return value of a job whose return value its serializer cannot store.
UNSERIALIZABLE_RETURN_VALUE_PAYLOAD = "Unserializable return value"

#: jq's key prefix at import (``JQ_KEY_PREFIX``, else ``jq:``) without its closing ``:``, as RQ
#: spells its own (``rq``). Brokers check and use the prefix themselves (jq.connections.key_prefix).
RQ_KEY_PREFIX = (os.environ.get("JQ_KEY_PREFIX") or "jq:").removesuffix(":")
#: :data:`RQ_KEY_PREFIX` ready for ``str.format()``: the braces of a hash tag doubled.
FORMAT_KEY_PREFIX = RQ_KEY_PREFIX.replace("{", "{{").replace("}", "}}")


def effective_timeout(timeout: int | None) -> int | None:
    """Seconds a job may run given its ``timeout`` field: None means no limit (-1)."""
    seconds = DEFAULT_JOB_TIMEOUT if timeout is None else timeout
    return seconds if seconds > 0 else None
