"""Type aliases of RQ's API (``rq.types``), for annotations in code written for RQ."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

if TYPE_CHECKING:
    from jq.core.dependency import Dependency
    from jq.core.job import Job

__all__ = ["FailureCallbackType", "FunctionReferenceType", "JobDependencyType", "SuccessCallbackType"]

#: What a job calls: a dotted path (``'app.tasks.send'``) or a callable.
FunctionReferenceType = TypeVar("FunctionReferenceType", str, Callable[..., Any])

#: What ``depends_on`` takes: a job, a job id, a :class:`~jq.dependency.Dependency`, or a list of them.
JobDependencyType: TypeAlias = "Dependency | Job | str | list[Dependency | Job | str]"

#: An ``on_success`` callback: ``(job, connection, result)``.
SuccessCallbackType = Callable[["Job", Any, Any], Any]

#: An ``on_failure`` callback: ``(job, connection, exc_type, exc_value, traceback)``.
FailureCallbackType = Callable[
    ["Job", Any, type[BaseException] | None, BaseException | None, TracebackType | None], Any
]
