"""RQ 3.0's registry of running cron schedulers (``rq.cron_scheduler_registry``), which jq does
not keep.

RQ lets one cron scheduler per name run and lists them for dashboards. jq's cron schedulers
(:class:`jq.cron.CronScheduler`) need no registration: any number may run, each tick being
enqueued once whoever fires it. These functions refuse with
:class:`jq.exceptions.UnsupportedByBrokerError` rather than answer "none running".
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from jq.base.utils import public_module
from jq.defaults import DEFAULT_CRON_SCHEDULER_TTL
from jq.exceptions import UnsupportedByBrokerError

__all__ = ["UnregisteredScheduler", "cleanup", "get_keys", "get_registry_key", "register", "unregister"]


def _not_kept() -> UnsupportedByBrokerError:
    return UnsupportedByBrokerError(
        "jq keeps no registry of cron schedulers: any number may run, each tick enqueued once "
        "(see docs/scheduling.md)"
    )


def get_registry_key() -> str:
    """Refused: there is no such registry in jq."""
    raise _not_kept()


def register(cron_scheduler: Any, pipeline: Any = None) -> None:
    """Refused: there is no such registry in jq."""
    raise _not_kept()


def unregister(cron_scheduler: Any, pipeline: Any = None) -> None:
    """Refused: there is no such registry in jq."""
    raise _not_kept()


def get_keys(connection: Any) -> list[str]:
    """Refused: there is no such registry in jq."""
    raise _not_kept()


def cleanup(connection: Any, threshold: int = DEFAULT_CRON_SCHEDULER_TTL) -> int:
    """Refused: there is no such registry in jq."""
    raise _not_kept()


class UnregisteredScheduler:
    """The members of RQ's ``CronScheduler`` that read or write its record in this registry:
    refused, for :class:`jq.cron.CronScheduler`, with :class:`UnsupportedByBrokerError`."""

    @property
    def key(self) -> str:
        """Refused: jq stores no record of a cron scheduler."""
        raise _not_kept()

    @property
    def last_heartbeat(self) -> datetime.datetime | None:
        """Refused: jq stores no record of a cron scheduler."""
        raise _not_kept()

    @classmethod
    def fetch(cls, name: str, connection: Any) -> Any:
        """Refused: jq stores no record of a cron scheduler."""
        raise _not_kept()

    @classmethod
    def all(cls, connection: Any, cleanup: bool = True) -> list[Any]:
        """Refused: jq keeps no registry of the cron schedulers that run."""
        raise _not_kept()

    def save(self, pipeline: Any = None) -> None:
        """Refused: jq stores no record of a cron scheduler."""
        raise _not_kept()

    def restore(self, raw_data: Mapping[str, Any]) -> None:
        """Refused: jq stores no record of a cron scheduler."""
        raise _not_kept()

    def register_birth(self) -> None:
        """Refused: jq keeps no registry of the cron schedulers that run."""
        raise _not_kept()

    def register_death(self, pipeline: Any = None) -> None:
        """Refused: jq keeps no registry of the cron schedulers that run."""
        raise _not_kept()

    def heartbeat(self) -> None:
        """Refused: jq keeps no registry of the cron schedulers that run."""
        raise _not_kept()


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.cron_scheduler_registry", UnregisteredScheduler)
