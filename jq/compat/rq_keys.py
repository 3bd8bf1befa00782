"""The key names that RQ's modules export as constants (``rq.suspension.WORKERS_SUSPENDED``,
``rq.worker_registration.REDIS_WORKER_KEYS``...), in jq's Redis layout, in one place.

They are computed on first use, not at import: they depend on the key prefix
(``JQ_KEY_PREFIX``), and a prefix that cannot be used must be reported by the code that uses it,
with jq's clear error, rather than break ``import jq.cli`` or a worker's start-up. Each module
that exports one forwards its module ``__getattr__`` here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from jq.io.connections import key_prefix
from jq.scheduling.scheduler import scheduler_lock_name
from jq_backends.keys import KeySpace

if TYPE_CHECKING:
    from jq_backends.keys import KeySpace

__all__ = ["RQ_KEY_CONSTANTS", "rq_key_constant"]


def _keys() -> KeySpace:
    # Imported here: the key layout is the drivers' (jq_backends.keys), and these constants are
    # only for code written for RQ that reads them.
    return KeySpace(key_prefix())


def _scheduler_lock_template() -> str:
    return _keys().lock(scheduler_lock_name("%s"))


#: Each constant's name and how to build it under the prefix in effect.
RQ_KEY_CONSTANTS: dict[str, Callable[[], str]] = {
    # RQ: rq:suspended
    "WORKERS_SUSPENDED": lambda: _keys().suspended,
    # RQ: rq:workers (jq's set holds worker names, not keys)
    "REDIS_WORKER_KEYS": lambda: _keys().workers,
    # RQ: rq:workers:%s (the set of a queue's workers, names, ``%`` the queue name)
    "WORKERS_BY_QUEUE_KEY": lambda: _keys().template("workers-of") + "%s",
    # RQ: rq:worker:{0}:executions; jq's worker record names the job it runs
    "WORKER_EXECUTIONS_KEY_TEMPLATE": lambda: _keys().template("worker") + "{0}",
    # RQ: rq:scheduler-lock:%s
    "SCHEDULER_LOCKING_KEY_TEMPLATE": _scheduler_lock_template,
}


def rq_key_constant(module: str, name: str) -> str:
    """The value of the constant ``name`` for a module's ``__getattr__``; AttributeError, as for
    any missing module attribute, when ``name`` is not one of :data:`RQ_KEY_CONSTANTS`."""
    build = RQ_KEY_CONSTANTS.get(name)
    if build is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    return build()
