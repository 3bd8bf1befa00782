"""jq's Queue, Job, Result, Retry, Callback, Dependency and ``@job`` have RQ 3.0's members with RQ's
signatures: the same parameter names in the same positional order, the same defaults.

RQ 3.0's members are kept below as data (taken once from RQ 3.0.0's classes, not read from an
installed rq: jq never imports rq). jq may accept more than RQ (a default where RQ requires a
value, an extra parameter after RQ's), never less. What jq leaves out or defaults differently is
listed here with the reason, and in docs/moving-from-rq.md.
"""

from __future__ import annotations

import enum
import inspect
from dataclasses import dataclass
from typing import Any

import pytest

from jq.callbacks import Callback
from jq.decorators import job
from jq.job import Dependency, Job, JobStatus, Retry
from jq.queue import Queue
from jq.queueing.enqueueing import EnqueueArgs, EnqueueData
from jq.results import Result

CLASSES: dict[str, type] = {
    "Queue": Queue,
    "Job": Job,
    "Result": Result,
    "Retry": Retry,
    "Callback": Callback,
    "Dependency": Dependency,
    "job": job,
}

#: RQ 3.0.0's class members (properties, attributes, nested classes, and methods with their
#: parameters; ``*`` starts the keyword-only ones).
RQ_MEMBERS: dict[str, dict[str, str]] = {
    "Queue": {
        "DEFAULT_TIMEOUT": "attribute",
        "__bool__": "method ()",
        "__eq__": "method (other)",
        "__hash__": "method ()",
        "__init__": (
            "method (name='default', connection=None, default_timeout=None, is_async=True, "
            "job_class=None, serializer=None, death_penalty_class=UnixSignalDeathPenalty, **kwargs)"
        ),
        "__iter__": "method ()",
        "__len__": "method ()",
        "__lt__": "method (other)",
        "__repr__": "method ()",
        "__str__": "method ()",
        "acquire_maintenance_lock": "method ()",
        "all": "classmethod (connection, job_class=None, serializer=None, death_penalty_class=None)",
        "canceled_job_registry": "property",
        "compact": "method ()",
        "count": "property",
        "create_job": (
            "method (func, args=None, kwargs=None, timeout=None, result_ttl=None, ttl=None, "
            "failure_ttl=None, description=None, depends_on=None, job_id=None, meta=None, "
            "status=JobStatus.QUEUED, retry=None, repeat=None, *, on_success=None, on_failure=None, "
            "on_stopped=None, webhooks=None, group_id=None, rate_limit=None)"
        ),
        "death_penalty_class": "class",
        "deferred_job_registry": "property",
        "delete": "method (delete_jobs=True)",
        "dequeue_any": (
            "classmethod (queues, timeout, connection, job_class=None, serializer=None, "
            "death_penalty_class=None)"
        ),
        "empty": "method ()",
        "enqueue": "method (f, *args, **kwargs)",
        "enqueue_at": "method (datetime, f, *args, **kwargs)",
        "enqueue_call": (
            "method (func, args=None, kwargs=None, timeout=None, result_ttl=None, ttl=None, "
            "failure_ttl=None, description=None, depends_on=None, job_id=None, at_front=False, "
            "meta=None, retry=None, repeat=None, on_success=None, on_failure=None, on_stopped=None, "
            "rate_limit=None, pipeline=None, unique=False, webhooks=None)"
        ),
        "enqueue_dependents": "method (job, exclude_job_id=None, refresh_job_status=True)",
        "enqueue_in": "method (time_delta, func, *args, **kwargs)",
        "enqueue_job": "method (job, pipeline=None, at_front=False, unique=False)",
        "enqueue_many": "method (job_datas, pipeline=None, group_id=None)",
        "enqueue_ready_jobs_by_queue": "method (job_ids_by_queue_name)",
        "failed_job_registry": "property",
        "fetch_job": "method (job_id)",
        "finished_job_registry": "property",
        "from_queue_key": (
            "classmethod (queue_key, connection, job_class=None, serializer=None, death_penalty_class=None)"
        ),
        "get_job_ids": "method (offset=0, length=-1)",
        "get_job_position": "method (job_or_id)",
        "get_jobs": "method (offset=0, length=-1)",
        "get_redis_server_version": "method ()",
        "intermediate_queue": "property",
        "intermediate_queue_key": "property",
        "is_async": "property",
        "is_empty": "method ()",
        "job_class": "class",
        "job_ids": "property",
        "jobs": "property",
        "key": "property",
        "lmove": "classmethod (connection, queue_key, timeout)",
        "lpop": "classmethod (queue_keys, timeout, connection=None)",
        "move_dependents_to_ready": (
            "method (job, pipeline=None, exclude_job_id=None, refresh_job_status=True)"
        ),
        "parse_args": "classmethod (f, *args, **kwargs)",
        "pop_job_id": "method ()",
        "prepare_data": (
            "staticmethod (func, args=None, kwargs=None, timeout=None, result_ttl=None, ttl=None, "
            "failure_ttl=None, description=None, depends_on=None, job_id=None, at_front=False, "
            "meta=None, retry=None, on_success=None, on_failure=None, on_stopped=None, repeat=None, "
            "webhooks=None)"
        ),
        "push_job_id": "method (job_id, pipeline=None, at_front=False)",
        "ready_job_registry": "property",
        "redis_queue_namespace_prefix": "attribute",
        "redis_queues_keys": "attribute",
        "registry_cleaning_key": "property",
        "release_maintenance_lock": "method ()",
        "remove": "method (job_or_id, pipeline=None)",
        "run_job": "method (job)",
        "run_sync": "method (job)",
        "schedule_job": "method (job, datetime, pipeline=None, unique=False)",
        "scheduled_job_registry": "property",
        "scheduler_pid": "property",
        "setup_dependencies": "method (job, pipeline=None)",
        "started_job_registry": "property",
    },
    "Job": {
        "__eq__": "method (other)",
        "__hash__": "method ()",
        "__init__": "method (id=None, connection=None, serializer=None)",
        "__repr__": "method ()",
        "__str__": "method ()",
        "args": "property",
        "cancel": "method (pipeline=None, enqueue_dependents=False, remove_from_dependencies=False)",
        "cleanup": "method (ttl=None, pipeline=None, remove_from_queue=True)",
        "create": (
            "classmethod (func, args=None, kwargs=None, connection=None, result_ttl=None, ttl=None, "
            "status=None, description=None, depends_on=None, timeout=None, retry=None, id=None, "
            "origin='', meta=None, failure_ttl=None, serializer=None, group_id=None, *, "
            "on_success=None, on_failure=None, on_stopped=None, webhooks=None)"
        ),
        "data": "property",
        "delete": "method (pipeline=None, remove_from_queue=True, delete_dependents=False)",
        "delete_dependents": "method (pipeline=None)",
        "dependencies_are_met": (
            "method (parent_job=None, pipeline=None, exclude_job_id=None, refresh_job_status=True)"
        ),
        "dependencies_key": "property",
        "dependency": "property",
        "dependency_ids": "property",
        "dependent_ids": "property",
        "dependents_key": "property",
        "dependents_key_for": "classmethod (job_id)",
        "exc_info": "property",
        "execution_registry": "property",
        "exists": "classmethod (job_id, connection)",
        "failed_job_registry": "property",
        "failure_callback": "property",
        "failure_callback_timeout": "property",
        "fetch": "classmethod (id, connection=None, serializer=None)",
        "fetch_dependencies": "method (watch=False, pipeline=None)",
        "fetch_many": "classmethod (job_ids, connection, serializer=None)",
        "finished_job_registry": "property",
        "func": "property",
        "func_name": "property",
        "get_call_string": "method ()",
        "get_executions": "method ()",
        "get_meta": "method (refresh=True)",
        "get_position": "method ()",
        "get_result_ttl": "method (default_ttl)",
        "get_retry_interval": "method ()",
        "get_status": "method (refresh=True)",
        "get_ttl": "method (default_ttl=None)",
        "has_rate_limit": "property",
        "heartbeat": "method (timestamp, ttl, pipeline=None, xx=False)",
        "id": "property",
        "instance": "property",
        "is_canceled": "property",
        "is_deferred": "property",
        "is_failed": "property",
        "is_finished": "property",
        "is_queued": "property",
        "is_ready_to_enqueue": "property",
        "is_scheduled": "property",
        "is_started": "property",
        "is_stopped": "property",
        "key": "property",
        "key_for": "classmethod (job_id)",
        "kwargs": "property",
        "latest_result": "method (timeout=0)",
        "perform": "method ()",
        "prepare_for_execution": "method (worker_name, pipeline)",
        "process_dependencies": "method (depends_on)",
        "redis_job_namespace_prefix": "attribute",
        "refresh": "method ()",
        "register_dependency": "method (pipeline=None)",
        "requeue": "method (at_front=False)",
        "restore": "method (raw_data)",
        "result": "property",
        "results": "method ()",
        "retry": "method (queue, pipeline)",
        "return_value": "method (refresh=False)",
        "save": "method (pipeline=None, include_meta=True, include_result=True)",
        "save_meta": "method ()",
        "send_webhooks": "method (status, *, exc_string=None)",
        "set_status": "method (status, pipeline=None)",
        "should_enqueue_at_front": "method ()",
        "should_retry": "property",
        "started_job_registry": "property",
        "stopped_callback": "property",
        "stopped_callback_timeout": "property",
        "success_callback": "property",
        "success_callback_timeout": "property",
        "to_dict": "method (include_meta=True, include_result=True)",
    },
    "Result": {
        "Type": "class",
        "__bool__": "method ()",
        "__eq__": "method (other)",
        "__hash__": "attribute",
        "__init__": (
            "method (job_id, type, connection, id=None, created_at=None, return_value=None, "
            "exc_string=None, worker_name='', serializer=None, execution_id=None, "
            "execution_started_at=None, execution_ended_at=None)"
        ),
        "__repr__": "method ()",
        "all": "classmethod (job, serializer=None)",
        "count": "classmethod (job)",
        "create": (
            "classmethod (job, type, ttl, return_value=None, exc_string=None, worker_name='', "
            "pipeline=None, execution_id=None, execution_started_at=None, execution_ended_at=None)"
        ),
        "create_failure": (
            "classmethod (job, ttl, exc_string, worker_name='', pipeline=None, execution_id=None, "
            "execution_started_at=None, execution_ended_at=None)"
        ),
        "create_max_retries_exceeded": (
            "classmethod (job, ttl, return_value, worker_name, execution_id, execution_started_at, "
            "execution_ended_at, pipeline=None)"
        ),
        "create_retried": (
            "classmethod (job, ttl, return_value, worker_name, execution_id, execution_started_at, "
            "execution_ended_at, pipeline=None)"
        ),
        "delete_all": "classmethod (job)",
        "fetch": "classmethod (job, serializer=None)",
        "fetch_latest": "classmethod (job, serializer=None, timeout=0)",
        "get_key": "classmethod (job_id)",
        "restore": "classmethod (job_id, result_id, payload, connection, serializer=None)",
        "save": "method (ttl, pipeline=None)",
        "serialize": "method ()",
    },
    "Retry": {
        "__init__": "method (max, interval=0, enqueue_at_front=False)",
        "__repr__": "method ()",
        "get_interval": "classmethod (count, intervals)",
    },
    "Callback": {
        "__init__": "method (func, timeout=None)",
        "name": "property",
    },
    "Dependency": {
        "__init__": "method (jobs, allow_failure=False, enqueue_at_front=False)",
    },
    "job": {
        "__call__": "method (f)",
        "__init__": (
            "method (queue, connection, timeout=None, result_ttl=None, ttl=None, queue_class=None, "
            "depends_on=None, at_front=False, meta=None, description=None, failure_ttl=None, "
            "retry=None, on_failure=None, on_success=None, on_stopped=None, webhooks=None)"
        ),
        "queue_class": "class",
    },
}

#: RQ's instance attributes (set in ``__init__``), checked on live objects.
RQ_INSTANCE_ATTRIBUTES: dict[str, list[str]] = {
    "Queue": ["connection", "log", "name", "redis_server_version", "serializer"],
    "Job": [
        "allow_dependency_failures", "connection", "created_at", "description", "ended_at",
        "enqueue_at_front", "enqueue_at_front_on_retry", "enqueued_at", "failure_ttl", "group_id",
        "last_heartbeat", "log", "meta", "number_of_retries", "origin", "rate_limit_concurrency",
        "rate_limit_key", "redis_server_version", "repeat_intervals", "repeats_left", "result_ttl",
        "retries_left", "retry_intervals", "serializer", "started_at", "timeout", "ttl", "webhooks",
        "worker_name",
    ],
    "Result": [
        "connection", "created_at", "exc_string", "execution_ended_at", "execution_id",
        "execution_started_at", "id", "job_id", "return_value", "serializer", "type", "worker_name",
    ],
    "Retry": ["enqueue_at_front", "intervals", "max"],
    "Callback": ["func", "timeout"],
    "Dependency": ["allow_failure", "dependencies", "enqueue_at_front"],
    "job": [
        "at_front", "connection", "depends_on", "description", "failure_ttl", "meta", "on_failure",
        "on_stopped", "on_success", "queue", "result_ttl", "retry", "timeout", "ttl", "webhooks",
    ],
}  # fmt: skip

RQ_JOB_STATUSES = [
    "CANCELED", "CREATED", "DEFERRED", "FAILED", "FINISHED", "QUEUED", "RATE_LIMITED",
    "READY_TO_ENQUEUE", "SCHEDULED", "STARTED", "STOPPED",
]  # fmt: skip
RQ_RESULT_TYPES = {"SUCCESSFUL": 1, "FAILED": 2, "STOPPED": 3, "RETRIED": 4, "MAX_RETRIES_EXCEEDED": 5}
RQ_ENQUEUE_DATA = [
    "func", "args", "kwargs", "timeout", "result_ttl", "ttl", "failure_ttl", "description",
    "depends_on", "job_id", "at_front", "meta", "retry", "on_success", "on_failure", "on_stopped",
    "repeat", "webhooks",
]  # fmt: skip
RQ_ENQUEUE_ARGS = [
    "func", "timeout", "description", "result_ttl", "ttl", "failure_ttl", "depends_on", "job_id",
    "at_front", "meta", "retry", "repeat", "on_success", "on_failure", "on_stopped", "rate_limit",
    "pipeline", "unique", "args", "kwargs", "webhooks",
]  # fmt: skip

#: RQ members jq does not have, and why (docs/moving-from-rq.md, "Queues and jobs").
LEFT_OUT: dict[tuple[str, str], str] = {
    ("Queue", "enqueue_dependents"): "jq releases dependents in the step that ends their parent",
    ("Queue", "move_dependents_to_ready"): "jq releases dependents in the step that ends their parent",
    ("Queue", "enqueue_ready_jobs_by_queue"): "jq releases dependents in the step that ends their parent",
    ("Queue", "setup_dependencies"): "jq's enqueue defers a job in the same atomic step",
    ("Queue", "ready_job_registry"): "released dependents are queued at once: no ready registry",
    ("Queue", "intermediate_queue"): "jq claims atomically: no intermediate queue",
    ("Queue", "intermediate_queue_key"): "jq claims atomically: no intermediate queue",
    ("Queue", "run_job"): "an internal step of RQ's run_sync; jq's run_sync ends the job as a worker does",
    ("Job", "prepare_for_execution"): "a worker's claim starts a job in one atomic step",
    ("Job", "register_dependency"): "jq's enqueue registers dependencies in the same atomic step",
    ("Job", "retry"): "a failed job's retry is part of the step that records the failure",
}

#: Defaults jq keeps different from RQ's, and why.
OTHER_DEFAULTS: dict[tuple[str, str, str], str] = {
    ("Queue", "__init__", "death_penalty_class"): (
        "None: SIGALRM in the main thread and a timer elsewhere (RQ's signal class fails in threads)"
    ),
}


@dataclass(frozen=True)
class Param:
    """One parameter: its name, its kind ('' positional or keyword, '*' keyword-only, '*args',
    '**kwargs') and its default as text (None: required)."""

    name: str
    kind: str
    default: str | None


def parse(signature: str) -> tuple[str, list[Param]]:
    """``'method (a, b=1, *, c=None, **kw)'`` as its kind and its parameters."""
    kind, _, rest = signature.partition(" ")
    inside = rest.strip()[1:-1]
    params: list[Param] = []
    keyword_only = False
    for part in [part for part in inside.split(", ") if part]:
        if part == "*":
            keyword_only = True
        elif part.startswith("**"):
            params.append(Param(part[2:], "**", None))
        elif part.startswith("*"):
            keyword_only = True
            params.append(Param(part[1:], "*args", None))
        else:
            name, equals, default = part.partition("=")
            params.append(Param(name, "*" if keyword_only else "", default if equals else None))
    return kind, params


def default_text(value: Any) -> str:
    """A default as RQ's data spells it."""
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, type):
        return value.__name__
    return repr(value)


def jq_params(member: Any) -> list[Param]:
    """jq's parameters of a callable member, as :func:`parse` gives RQ's."""
    kinds = {
        inspect.Parameter.POSITIONAL_OR_KEYWORD: "",
        inspect.Parameter.POSITIONAL_ONLY: "",
        inspect.Parameter.KEYWORD_ONLY: "*",
        inspect.Parameter.VAR_POSITIONAL: "*args",
        inspect.Parameter.VAR_KEYWORD: "**",
    }
    return [
        Param(
            p.name,
            kinds[p.kind],
            None if p.default is inspect.Parameter.empty else default_text(p.default),
        )
        for p in inspect.signature(member).parameters.values()
        if p.name not in ("self", "cls")
    ]


def raw_member(cls: type, name: str) -> Any:
    """The member as defined (staticmethod and classmethod objects unwrapped to tell them apart)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    raise AttributeError(name)


def differences(cls_name: str, name: str, rq: list[Param], ours: list[Param]) -> list[str]:
    """How jq's parameters fail to accept every call RQ's accept, with RQ's meaning."""
    found: list[str] = []
    rq_positional = [p for p in rq if p.kind == ""]
    our_positional = [p for p in ours if p.kind == ""]
    for index, param in enumerate(rq_positional):
        if index >= len(our_positional) or our_positional[index].name != param.name:
            got = our_positional[index].name if index < len(our_positional) else "nothing"
            found.append(f"positional #{index + 1} is {got}, RQ's is {param.name}")
    for param in our_positional[len(rq_positional) :]:
        if param.default is None and param.name not in {p.name for p in rq}:
            found.append(f"extra required parameter {param.name}")
    by_name = {p.name: p for p in ours}
    for param in rq:
        if param.kind in ("*args", "**"):
            if not any(p.kind == param.kind for p in ours):
                found.append(f"no {param.kind} (RQ's {param.name})")
            continue
        mine = by_name.get(param.name)
        if mine is None:
            found.append(f"no parameter {param.name}")
            continue
        if mine.kind == "*" and param.kind == "":
            found.append(f"{param.name} is keyword-only, RQ's is positional")
        if param.default is not None and mine.default != param.default:
            if (cls_name, name, param.name) not in OTHER_DEFAULTS:
                found.append(f"{param.name} defaults to {mine.default}, RQ's to {param.default}")
    for param in ours:
        if param.kind == "*" and param.default is None and param.name not in by_name:
            found.append(f"extra required keyword {param.name}")
    return found


MEMBERS = [(cls, name) for cls, members in RQ_MEMBERS.items() for name in members]


@pytest.mark.parametrize(("cls_name", "name"), MEMBERS, ids=[f"{c}.{n}" for c, n in MEMBERS])
def test_member_as_rq(cls_name: str, name: str) -> None:
    cls = CLASSES[cls_name]
    if (cls_name, name) in LEFT_OUT:
        assert not hasattr(cls, name), f"{cls_name}.{name} exists now: take it out of LEFT_OUT"
        return
    spec = RQ_MEMBERS[cls_name][name]
    assert hasattr(cls, name), f"{cls_name}.{name} is missing"
    if " " not in spec:  # an attribute, a property or a nested class: present is all it takes
        return
    kind, rq = parse(spec)
    raw = raw_member(cls, name)
    if kind in ("classmethod", "staticmethod"):
        # Either is called the same way on the class and on an instance.
        assert isinstance(raw, classmethod | staticmethod), f"{cls_name}.{name} is not a {kind}"
    else:
        assert not isinstance(raw, classmethod | staticmethod), f"{cls_name}.{name} is not a method"
    member = getattr(cls, name)
    assert differences(cls_name, name, rq, jq_params(member)) == []


@pytest.mark.parametrize("cls_name", list(RQ_INSTANCE_ATTRIBUTES))
def test_instance_attributes_as_rq(cls_name: str) -> None:
    broker = "memory://signatures"
    instances: dict[str, Any] = {
        "Queue": Queue("q", connection=broker),
        "Job": Job.create(print, connection=broker),
        "Result": Result("id", Result.Type.SUCCESSFUL, None),
        "Retry": Retry(2),
        "Callback": Callback(print),
        "Dependency": Dependency("a"),
        "job": job("q", connection=broker),
    }
    obj = instances[cls_name]
    assert [name for name in RQ_INSTANCE_ATTRIBUTES[cls_name] if not hasattr(obj, name)] == []


def test_job_statuses_as_rq() -> None:
    assert sorted(JobStatus.__members__) == RQ_JOB_STATUSES
    assert {status.name: status.value for status in JobStatus} == {
        name: name.lower() for name in RQ_JOB_STATUSES
    }


def test_result_types_as_rq() -> None:
    assert {kind.name: kind.value for kind in Result.Type} == RQ_RESULT_TYPES


def test_enqueue_data_and_args_as_rq() -> None:
    assert list(EnqueueData._fields) == RQ_ENQUEUE_DATA
    assert list(EnqueueArgs._fields) == RQ_ENQUEUE_ARGS


def test_the_checker_finds_what_it_must() -> None:
    """The comparison itself: a renamed, reordered or missing parameter is reported."""
    rq = parse("method (a, b=1, *, c=None, **kw)")[1]
    assert differences("X", "m", rq, parse("method (a, b=1, *, c=None, **kw)")[1]) == []
    assert differences("X", "m", rq, parse("method (a=0, b=1, d=2, *, c=None, **kw)")[1]) == []
    assert differences("X", "m", rq, parse("method (b=1, a=0, *, c=None, **kw)")[1]) == [
        "positional #1 is b, RQ's is a",
        "positional #2 is a, RQ's is b",
    ]
    assert differences("X", "m", rq, parse("method (a, *, b=1, c=None, **kw)")[1]) == [
        "positional #2 is nothing, RQ's is b",
        "b is keyword-only, RQ's is positional",
    ]
    assert differences("X", "m", rq, parse("method (a, b=2, *, c=None)")[1]) == [
        "b defaults to 2, RQ's to 1",
        "no ** (RQ's kw)",
    ]
    assert differences("X", "m", rq, parse("method (a, b=1, **kw)")[1]) == ["no parameter c"]
