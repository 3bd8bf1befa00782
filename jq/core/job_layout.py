"""Key names a job (or queue) answers under RQ's names, and the classes of a job's queue and
registries.

RQ code sometimes builds Redis key names itself (``Job.key_for(id)``,
``Queue.redis_queue_namespace_prefix + name``). jq answers those names with its own keys (``jq:job:<id>``),
always through a broker's key methods, so that they follow the broker's prefix. Read on an object,
they come from the object's broker; read on the class, from :func:`layout_broker`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jq.broker import Broker
from jq.exceptions import NoConnectionError
from jq.io.connections import resolve_broker

__all__ = ["LayoutKey", "layout_broker", "queueing_class"]


def layout_broker() -> Broker:
    """The broker whose key names a class-level member reports: the current connection (a
    ``with Connection(...)`` block, or ``JQ_URL``), else an in-memory broker, which names its keys
    as every jq driver does (under ``JQ_KEY_PREFIX``, else ``jq:``)."""
    try:
        return resolve_broker(None)
    except NoConnectionError:
        return resolve_broker("memory://")


class LayoutKey:
    """A class attribute holding a key name built by ``build(broker)``: with the broker of the
    object it is read on, or :func:`layout_broker` when read on the class."""

    def __init__(self, build: Callable[[Broker], str], doc: str) -> None:
        self.build = build
        self.__doc__ = doc

    def __get__(self, obj: Any, owner: type | None = None) -> str:
        broker = getattr(obj, "broker", None) if obj is not None else None
        return self.build(broker if isinstance(broker, Broker) else layout_broker())


def queueing_class(job_class: type, name: str) -> Any:
    """The class of the queueing layer a job class was given under ``name`` (``queue_class``,
    ``execution_registry_class``): :mod:`jq.queueing` plugs them in when it is imported."""
    found = getattr(job_class, name, None)
    if found is None:
        raise RuntimeError(
            f"{job_class.__name__}.{name} is not set: import jq.job (or anything of jq.queueing), which "
            "gives jobs their queue, registries and executions, before asking a job for them"
        )
    return found
