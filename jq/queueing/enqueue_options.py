"""What ``enqueue()`` is given: the job's call and RQ's enqueue options, told apart.

:class:`EnqueueArgs` is what :meth:`Queue.parse_args` makes of ``enqueue(f, *args, **kwargs)``;
:class:`EnqueueData` is one job of :meth:`Queue.enqueue_many`, made by :meth:`Queue.prepare_data`.
Both have RQ's fields, in RQ's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from jq.base.utils import public_module
from jq.core.callbacks import Callback
from jq.core.retry import Retry
from jq.exceptions import ConfigurationError

__all__ = ["ENQUEUE_OPTIONS", "EnqueueArgs", "EnqueueData", "parse_enqueue_args"]

#: enqueue()'s own keyword options and their defaults (``job_timeout`` becomes ``timeout``);
#: every other keyword argument goes to the job's function.
ENQUEUE_OPTIONS: dict[str, Any] = {
    "job_timeout": None,
    "description": None,
    "result_ttl": None,
    "ttl": None,
    "failure_ttl": None,
    "depends_on": None,
    "job_id": None,
    "at_front": False,
    "meta": None,
    "retry": None,
    "repeat": None,
    "on_success": None,
    "on_failure": None,
    "on_stopped": None,
    "rate_limit": None,
    "webhooks": None,
    "pipeline": None,
    "unique": False,
}


class EnqueueData(NamedTuple):
    """One job for :meth:`Queue.enqueue_many`, made by :meth:`Queue.prepare_data`."""

    func: Callable[..., Any] | str
    args: Sequence[Any] | None
    kwargs: dict[str, Any] | None
    timeout: int | str | None
    result_ttl: int | str | None
    ttl: int | str | None
    failure_ttl: int | str | None
    description: str | None
    depends_on: Any
    job_id: str | None
    at_front: bool
    meta: dict[str, Any] | None
    retry: Retry | None
    on_success: Callback | Callable[..., Any] | None
    on_failure: Callback | Callable[..., Any] | None
    on_stopped: Callback | Callable[..., Any] | None
    #: A :class:`~jq.repeat.Repeat`: run the job again after each success.
    repeat: Any = None
    #: :class:`~jq.webhook.Webhook` objects sent when the job ends.
    webhooks: Any = None


class EnqueueArgs(NamedTuple):
    """``enqueue(f, *args, **kwargs)`` split into the job's call and enqueue's options."""

    func: Callable[..., Any] | str
    timeout: int | str | None
    description: str | None
    result_ttl: int | str | None
    ttl: int | str | None
    failure_ttl: int | str | None
    depends_on: Any
    job_id: str | None
    at_front: Any
    meta: dict[str, Any] | None
    retry: Retry | None
    repeat: Any
    on_success: Callback | Callable[..., Any] | None
    on_failure: Callback | Callable[..., Any] | None
    on_stopped: Callback | Callable[..., Any] | None
    rate_limit: Any
    pipeline: Any
    unique: Any
    args: Sequence[Any]
    kwargs: dict[str, Any]
    webhooks: Any


def parse_enqueue_args(f: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> EnqueueArgs:
    """Split ``enqueue()``'s arguments (see :meth:`Queue.parse_args`)."""
    if not isinstance(f, str) and not callable(f):
        raise ConfigurationError(
            f"the first argument to enqueue must be a function or a dotted path, not {f!r}"
        )
    if kwargs:
        options = {name: kwargs.pop(name, default) for name, default in ENQUEUE_OPTIONS.items()}
    else:  # the usual call: no options, no keyword arguments
        options = ENQUEUE_OPTIONS
    if "args" in kwargs or "kwargs" in kwargs:
        if args:
            raise ConfigurationError("pass arguments either positionally or with args=/kwargs=, not both")
        explicit_args = kwargs.pop("args", None) or ()
        explicit_kwargs = kwargs.pop("kwargs", None) or {}
        if kwargs:
            # RQ drops them silently; an argument that never reaches the function is a bug.
            raise ConfigurationError(
                "with args=/kwargs=, every argument of the function goes inside them; "
                f"unexpected: {', '.join(sorted(kwargs))}"
            )
        args, kwargs = tuple(explicit_args), dict(explicit_kwargs)
    return EnqueueArgs(
        f,
        options["job_timeout"],
        options["description"],
        options["result_ttl"],
        options["ttl"],
        options["failure_ttl"],
        options["depends_on"],
        options["job_id"],
        options["at_front"],
        options["meta"],
        options["retry"],
        options["repeat"],
        options["on_success"],
        options["on_failure"],
        options["on_stopped"],
        options["rate_limit"],
        options["pipeline"],
        options["unique"],
        args,
        kwargs,
        options["webhooks"],
    )


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.queue", EnqueueArgs, EnqueueData)
