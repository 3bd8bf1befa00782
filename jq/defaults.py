"""The numbers jq uses when nobody says otherwise, in one place."""

from __future__ import annotations

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
#: Seconds a work horse may outlive its job's timeout before the worker kills it.
DEFAULT_DEATH_PENALTY_GRACE = 5.0


def effective_timeout(timeout: int | None) -> int | None:
    """Seconds a job may run given its ``timeout`` field: None means no limit (-1)."""
    seconds = DEFAULT_JOB_TIMEOUT if timeout is None else timeout
    return seconds if seconds > 0 else None
