"""jq's workers have RQ 3.0's members, with RQ's parameter lists.

RQ's lists are kept here as data (taken from RQ 3.0.0's ``rq.worker``, ``rq.command``,
``rq.exceptions`` and ``rq.timeouts``): jq never imports rq. For each RQ member, jq's class of
the same name has it; for a method, jq's parameters start with RQ's, in RQ's order, of the same
kinds and with the same defaults. jq may add parameters after RQ's (with defaults, or keyword-only),
and may give a default where RQ requires a value. Differences jq keeps are in ``KEPT``, each with
its reason (and in docs/moving-from-rq.md).
"""

from __future__ import annotations

import enum
import importlib
import inspect

import pytest

from jq import Queue

RQ_WORKER_CLASSES = {
    "BaseWorker": {
        "__eq__": ("other",),
        "__hash__": (),
        "__init__": (
            "queues",
            "name=None",
            "default_result_ttl=500",
            "connection=None",
            "exception_handlers=None",
            "maintenance_interval=600",
            "default_worker_ttl=None",
            "worker_ttl=None",
            "job_class=None",
            "queue_class=None",
            "log_job_description=True",
            "job_monitoring_interval=30",
            "disable_default_exception_handler=False",
            "prepare_for_work=True",
            "serializer=None",
            "work_horse_killed_handler=None",
        ),
        "all": (
            "connection=None",
            "job_class=None",
            "queue_class=None",
            "queue=None",
            "serializer=None",
        ),
        "all_keys": (
            "connection=None",
            "queue=None",
        ),
        "bootstrap": (
            "logging_level='INFO'",
            "date_format='%H:%M:%S'",
            "log_format='%(asctime)s %(message)s'",
        ),
        "check_for_suspension": ("burst",),
        "clean_group_registries": (),
        "clean_registries": (),
        "cleanup_execution": (
            "job",
            "pipeline",
            "execution=None",
        ),
        "connection_timeout": "property",
        "count": (
            "connection=None",
            "queue=None",
        ),
        "current_execution_count": "property",
        "death_date": "property",
        "death_penalty_class": "attribute",
        "dequeue_job_and_maintain_ttl": (
            "timeout",
            "max_idle_time=None",
        ),
        "dequeue_timeout": "property",
        "execute_job": (
            "job",
            "queue",
        ),
        "execution": "property",
        "executions_key": "property",
        "exponential_backoff_factor": "attribute",
        "find_by_key": (
            "worker_key",
            "connection",
            "job_class=None",
            "queue_class=None",
            "serializer=None",
        ),
        "get_current_executions": ("refresh=False",),
        "get_current_job": (),
        "get_current_job_id": (),
        "get_heartbeat_ttl": (
            "job",
            "working_time=0.0",
        ),
        "get_redis_server_version": (),
        "get_state": (),
        "handle_exception": (
            "job",
            "*exc_info",
        ),
        "handle_execution_ended": (
            "job",
            "queue",
            "heartbeat_ttl",
        ),
        "handle_job_failure": (
            "job",
            "queue",
            "started_job_registry=None",
            "exc_string=''",
            "execution=None",
        ),
        "handle_job_retry": (
            "job",
            "queue",
            "retry",
            "started_job_registry",
            "execution",
        ),
        "handle_job_success": (
            "job",
            "queue",
            "started_job_registry",
            "execution",
        ),
        "handle_payload": ("message",),
        "handle_warm_shutdown_request": (),
        "handle_work_horse_killed": (
            "job",
            "retpid",
            "ret_val",
            "rusage",
        ),
        "heartbeat": (
            "timeout=None",
            "pipeline=None",
        ),
        "horse_pid": "property",
        "increment_failed_job_count": ("pipeline=None",),
        "increment_successful_job_count": ("pipeline=None",),
        "increment_total_working_time": (
            "job_execution_time",
            "pipeline",
        ),
        "is_horse": "property",
        "job_class": "attribute",
        "key": "property",
        "kill_horse": ("sig=Signals.SIGKILL",),
        "log_job_description": "attribute",
        "log_result_lifespan": "attribute",
        "main_work_horse": (
            "job",
            "queue",
        ),
        "maintain_heartbeats": (
            "job",
            "execution",
        ),
        "max_connection_wait_time": "attribute",
        "perform_job": (
            "job",
            "queue",
            "execution",
        ),
        "pop_exc_handler": (),
        "prepare_execution": ("job",),
        "prepare_job_execution": (
            "job",
            "remove_from_intermediate_queue=False",
        ),
        "procline": ("message",),
        "pubsub_channel_name": "property",
        "push_exc_handler": ("handler_func",),
        "queue_class": "attribute",
        "queue_keys": (),
        "queue_names": (),
        "redis_worker_namespace_prefix": "attribute",
        "redis_workers_keys": "attribute",
        "refresh": (),
        "register_birth": (),
        "register_death": (),
        "reorder_queues": ("reference_queue",),
        "request_force_stop": (
            "signum",
            "frame",
        ),
        "request_stop": (
            "signum",
            "frame",
        ),
        "request_stop_execution": ("execution_id",),
        "run_maintenance_tasks": (),
        "serialize": (),
        "set_shutdown_requested_date": (),
        "set_state": (
            "state",
            "pipeline=None",
        ),
        "setup_work_horse_signals": (),
        "should_run_maintenance_tasks": "property",
        "shutdown_requested_date": "property",
        "state": "property",
        "stop_scheduler": (),
        "subscribe": (),
        "teardown": (),
        "unsubscribe": (),
        "validate_queues": (),
        "wait_for_horse": (),
        "work": (
            "burst=False",
            "logging_level=None",
            "date_format='%H:%M:%S'",
            "log_format='%(asctime)s %(message)s'",
            "max_jobs=None",
            "max_idle_time=None",
            "with_scheduler=False",
            "dequeue_strategy=DequeueStrategy.DEFAULT",
        ),
    },
    "Worker": {
        "execute_job": (
            "job",
            "queue",
        ),
        "fork_work_horse": (
            "job",
            "queue",
        ),
        "kill_horse": ("sig=Signals.SIGKILL",),
        "monitor_work_horse": (
            "job",
            "queue",
            "execution",
        ),
        "wait_for_horse": (),
    },
    "SimpleWorker": {
        "execute_job": (
            "job",
            "queue",
        ),
        "get_heartbeat_ttl": (
            "job",
            "working_time=0.0",
        ),
    },
    "SpawnWorker": {
        "bootstrap": (
            "logging_level='INFO'",
            "date_format='%H:%M:%S'",
            "log_format='%(asctime)s %(message)s'",
        ),
        "fork_work_horse": (
            "job",
            "queue",
        ),
    },
    "HerokuWorker": {
        "frame_properties": "attribute",
        "handle_warm_shutdown_request": (),
        "imminent_shutdown_delay": "attribute",
        "request_force_stop_sigrtmin": (
            "signum",
            "frame",
        ),
        "request_stop_sigrtmin": (
            "signum",
            "frame",
        ),
        "setup_work_horse_signals": (),
    },
    "RoundRobinWorker": {
        "reorder_queues": ("reference_queue",),
    },
    "RandomWorker": {
        "reorder_queues": ("reference_queue",),
    },
}
RQ_WORKER_INSTANCE_ATTRIBUTES = [
    "birth_date",
    "connection",
    "default_result_ttl",
    "disable_default_exception_handler",
    "executions",
    "failed_job_count",
    "hostname",
    "ip_address",
    "job_monitoring_interval",
    "last_cleaned_at",
    "last_heartbeat",
    "log",
    "log_job_description",
    "maintenance_interval",
    "name",
    "pid",
    "pubsub",
    "pubsub_thread",
    "python_version",
    "queues",
    "redis_server_version",
    "scheduler",
    "serializer",
    "successful_job_count",
    "total_working_time",
    "version",
    "worker_ttl",
]
RQ_FUNCTIONS = {
    "rq.command.handle_command": (
        "worker",
        "payload",
    ),
    "rq.command.handle_kill_worker_command": (
        "worker",
        "payload",
    ),
    "rq.command.handle_shutdown_command": ("worker",),
    "rq.command.handle_stop_execution_command": (
        "worker",
        "payload",
    ),
    "rq.command.handle_stop_job_command": (
        "worker",
        "payload",
    ),
    "rq.command.parse_payload": ("payload",),
    "rq.command.send_command": (
        "connection",
        "worker_name",
        "command",
        "**kwargs",
    ),
    "rq.command.send_kill_horse_command": (
        "connection",
        "worker_name",
    ),
    "rq.command.send_shutdown_command": (
        "connection",
        "worker_name",
    ),
    "rq.command.send_stop_execution_command": (
        "connection",
        "job_id",
        "execution_id",
    ),
    "rq.command.send_stop_job_command": (
        "connection",
        "job_id",
        "serializer=None",
    ),
}
RQ_MODULE_NAMES = {
    "rq.command": [
        "PUBSUB_CHANNEL_TEMPLATE",
        "handle_command",
        "handle_kill_worker_command",
        "handle_shutdown_command",
        "handle_stop_execution_command",
        "handle_stop_job_command",
        "parse_payload",
        "send_command",
        "send_kill_horse_command",
        "send_shutdown_command",
        "send_stop_execution_command",
        "send_stop_job_command",
    ],
    "rq.exceptions": [
        "AbandonedJobError",
        "DequeueTimeout",
        "DeserializationError",
        "DuplicateJobError",
        "DuplicateSchedulerError",
        "InvalidJobDependency",
        "InvalidJobOperation",
        "InvalidJobOperationError",
        "NoSuchGroupError",
        "NoSuchJobError",
        "SchedulerNotFound",
        "ShutDownImminentException",
        "StopRequested",
        "TimeoutFormatError",
    ],
    "rq.timeouts": [
        "BaseDeathPenalty",
        "BaseTimeoutException",
        "HorseMonitorTimeoutException",
        "JobTimeoutException",
        "TimerDeathPenalty",
        "UnixSignalDeathPenalty",
        "get_default_death_penalty_class",
    ],
    "rq.worker": [
        "BaseWorker",
        "DEFAULT_RESULT_TTL",
        "DequeueStrategy",
        "HerokuWorker",
        "RandomWorker",
        "RoundRobinWorker",
        "SHUTDOWN_SIGNAL",
        "SimpleWorker",
        "SpawnWorker",
        "Worker",
        "WorkerStatus",
        "_signames",
        "logger",
        "signal_name",
    ],
    "rq.worker.worker_classes": [
        "HerokuWorker",
        "RandomWorker",
        "RoundRobinWorker",
        "SimpleWorker",
        "SpawnWorker",
        "Worker",
    ],
}


#: (class or function, member, parameter): why jq's default differs from RQ's.
KEPT = {
    ("BaseWorker", "__init__", "maintenance_interval"): (
        "60 s, not 600: maintenance ends the jobs of dead workers, which should take a minute, not ten"
    ),
}

#: jq's class or module for RQ's.
JQ_MODULES = {
    "rq.worker": "jq.worker",
    "rq.worker.worker_classes": "jq.worker.worker_classes",
    "rq.command": "jq.command",
    "rq.exceptions": "jq.exceptions",
    "rq.timeouts": "jq.timeouts",
}


def render_default(value: object) -> str | None:
    if value is inspect.Parameter.empty:
        return None
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, type):
        return value.__name__
    return repr(value)


def parameters(func: object) -> list[tuple[str, str, str | None]]:
    """(kind, name, default) of each parameter but self/cls, as the data above writes them."""
    kinds = {
        inspect.Parameter.VAR_POSITIONAL: "*",
        inspect.Parameter.VAR_KEYWORD: "**",
        inspect.Parameter.KEYWORD_ONLY: "kw",
    }
    found = []
    for parameter in inspect.signature(func).parameters.values():  # type: ignore[arg-type]
        if parameter.name in ("self", "cls"):
            continue
        found.append((kinds.get(parameter.kind, ""), parameter.name, render_default(parameter.default)))
    return found


def parse(parts: tuple[str, ...]) -> list[tuple[str, str, str | None]]:
    """The (kind, name, default) list of a signature as the data writes it: ('a', 'b=1', '*c')."""
    found = []
    for part in parts:
        name, _, default = part.partition("=")
        kind = "**" if name.startswith("**") else "*" if name.startswith("*") else ""
        found.append((kind, name.lstrip("*"), default or None))
    return found


def compare(where: str, member: str, rq_text: tuple[str, ...], func: object) -> list[str]:
    """What differs between RQ's parameters and jq's, beyond what jq may add or relax."""
    rq, jq = parse(rq_text), parameters(func)
    problems = []
    jq_positional = [p for p in jq if p[0] != "kw"]
    for index, (kind, name, default) in enumerate(rq):
        if index >= len(jq_positional) or jq_positional[index][1] != name or jq_positional[index][0] != kind:
            got = jq_positional[index] if index < len(jq_positional) else "nothing"
            problems.append(f"{where}.{member}: parameter {index + 1} is {got}, RQ's is {kind}{name}")
            continue
        jq_default = jq_positional[index][2]
        if default is not None and jq_default != default and (where, member, name) not in KEPT:
            problems.append(f"{where}.{member}: {name} defaults to {jq_default}, RQ's to {default}")
    for kind, name, default in jq_positional[len(rq) :]:
        if kind == "" and default is None:
            problems.append(f"{where}.{member}: jq requires an extra parameter {name}")
    return problems


def jq_class(name: str) -> type:
    import jq.worker

    return getattr(jq.worker, name)


@pytest.mark.parametrize("class_name", list(RQ_WORKER_CLASSES))
def test_worker_class_members(class_name):
    cls = jq_class(class_name)
    problems = []
    for member, expected in RQ_WORKER_CLASSES[class_name].items():
        if not hasattr(cls, member):
            problems.append(f"{class_name}.{member} is missing")
            continue
        raw = inspect.getattr_static(cls, member)
        if expected == "property":
            if not isinstance(raw, property):
                problems.append(f"{class_name}.{member} is not a property")
        elif expected == "attribute":
            continue
        else:
            problems.extend(compare(class_name, member, expected, getattr(cls, member)))
    assert problems == []


def test_worker_instance_attributes(broker):
    from jq.worker import SimpleWorker

    worker = SimpleWorker([Queue(connection=broker)])
    assert [name for name in RQ_WORKER_INSTANCE_ATTRIBUTES if not hasattr(worker, name)] == []


@pytest.mark.parametrize("path", list(RQ_FUNCTIONS))
def test_functions(path):
    module_name, _, name = path.rpartition(".")
    module = importlib.import_module(JQ_MODULES[module_name])
    assert hasattr(module, name), f"{path} is missing"
    assert compare(module_name, name, RQ_FUNCTIONS[path], getattr(module, name)) == []


@pytest.mark.parametrize("module_name", list(RQ_MODULE_NAMES))
def test_module_names(module_name):
    module = importlib.import_module(JQ_MODULES[module_name])
    assert [name for name in RQ_MODULE_NAMES[module_name] if not hasattr(module, name)] == []


def test_the_comparison_finds_differences():
    """The checker itself: a renamed, reordered, required or re-defaulted parameter is found."""

    def renamed(queue, jobb): ...
    def required(job, extra): ...
    def other_default(job, ttl=5): ...
    def relaxed(job=None, extra=1, *, more=2): ...

    assert compare("X", "f", ("queue", "job"), renamed)
    assert compare("X", "f", ("job",), required)
    assert compare("X", "f", ("job", "ttl=4"), other_default)
    assert compare("X", "f", ("job",), relaxed) == []
