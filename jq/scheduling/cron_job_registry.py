"""RQ 3.0's registry of cron job names (``rq.cron_job_registry``), which jq does not keep.

RQ records the name and last enqueue time of every cron job in one sorted set that its cron
scheduler writes. jq's cron (:mod:`jq.cron`) fires each tick once through a marker per job and
keeps no list of names, so these functions refuse with
:class:`jq.exceptions.UnsupportedByBrokerError` rather than answer "no cron jobs".
"""

from __future__ import annotations

from typing import Any

from jq.defaults import DEFAULT_CRON_JOB_HISTORY_TTL
from jq.exceptions import UnsupportedByBrokerError

__all__ = ["add", "get_names", "get_registry_key", "remove_stale_entries"]


def _not_kept() -> UnsupportedByBrokerError:
    return UnsupportedByBrokerError(
        "jq keeps no registry of cron job names: its cron fires each tick once through a marker per "
        "job (see docs/scheduling.md)"
    )


def get_registry_key() -> str:
    """Refused: there is no such registry in jq."""
    raise _not_kept()


def add(name: str, connection: Any, enqueue_timestamp: float | None = None) -> None:
    """Refused: there is no such registry in jq."""
    raise _not_kept()


def get_names(connection: Any, cleanup: bool = True) -> list[str]:
    """Refused: there is no such registry in jq."""
    raise _not_kept()


def remove_stale_entries(connection: Any, threshold: int = DEFAULT_CRON_JOB_HISTORY_TTL) -> int:
    """Refused: there is no such registry in jq."""
    raise _not_kept()
