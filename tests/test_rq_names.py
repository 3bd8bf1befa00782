"""After ``jq.install_as_rq()``, every public module of RQ 3.0 and every public name in it resolves
to jq's module and jq's object (issue 12, stream A).

The lists below are data: the modules and names RQ 3.0.0 defines or exports, as the audit
(/work/audit/rq_api_gap.md, section 1) lists them, written out here so that this test does not
depend on the rq installed next to it. Names a module only imports from elsewhere are left out,
except for the packages ``rq``, ``rq.cli`` and ``rq.worker``, whose imports are their API.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

RQ_PUBLIC_NAMES: dict[str, tuple[str, ...]] = {
    "rq": (
        "Callback",
        "Retry",
        "cancel_job",
        "get_current_job",
        "requeue_job",
        "Queue",
        "RateLimit",
        "SimpleWorker",
        "SpawnWorker",
        "Worker",
        "Repeat",
        "Webhook",
        "VERSION",
        "__version__",
    ),
    "rq.callbacks": (
        "Callback",
        "execute_success_callback",
        "execute_failure_callback",
        "execute_stopped_callback",
    ),
    "rq.cli": ("main", "info", "cron", "worker"),
    "rq.cli.__main__": ("main",),
    "rq.cli.cli": ("main", "empty", "requeue", "info", "suspend", "resume", "enqueue"),
    "rq.cli.cli_cron": ("cron",),
    "rq.cli.helpers": (
        "red",
        "green",
        "yellow",
        "read_config_file",
        "get_redis_from_config",
        "pad",
        "get_scale",
        "state_symbol",
        "show_queues",
        "show_workers",
        "show_both",
        "refresh",
        "setup_loghandlers_from_args",
        "ParsingMode",
        "parse_function_arg",
        "parse_function_args",
        "parse_schedule",
        "CliConfig",
        "shared_options",
        "pass_cli_config",
    ),
    "rq.cli.workers": ("worker", "worker_pool"),
    "rq.command": (
        "PUBSUB_CHANNEL_TEMPLATE",
        "send_command",
        "parse_payload",
        "send_shutdown_command",
        "send_kill_horse_command",
        "send_stop_execution_command",
        "send_stop_job_command",
        "handle_command",
        "handle_shutdown_command",
        "handle_kill_worker_command",
        "handle_stop_execution_command",
        "handle_stop_job_command",
    ),
    "rq.connections": (
        "NoRedisConnectionException",
        "REDIS_RUNTIME_CONNECTION_KWARGS",
        "get_connection_kwargs",
        "parse_connection",
    ),
    "rq.contrib": (),
    "rq.cron": (
        "get_cron_job_history_key",
        "get_cron_job_ids",
        "CronJob",
        "CronScheduler",
        "register",
        "create_cron",
    ),
    "rq.cron_job_registry": ("get_registry_key", "add", "get_names", "remove_stale_entries"),
    "rq.cron_scheduler_registry": ("get_registry_key", "register", "unregister", "get_keys", "cleanup"),
    "rq.decorators": ("job",),
    "rq.defaults": (
        "RQ_KEY_PREFIX",
        "FORMAT_KEY_PREFIX",
        "DEFAULT_JOB_CLASS",
        "DEFAULT_QUEUE_CLASS",
        "DEFAULT_WORKER_CLASS",
        "DEFAULT_SERIALIZER_CLASS",
        "DEFAULT_CONNECTION_CLASS",
        "DEFAULT_WORKER_TTL",
        "DEFAULT_JOB_MONITORING_INTERVAL",
        "DEFAULT_RESULT_TTL",
        "DEFAULT_FAILURE_TTL",
        "DEFAULT_CRON_JOB_HISTORY_LIMIT",
        "DEFAULT_CRON_JOB_HISTORY_TTL",
        "DEFAULT_CRON_SCHEDULER_TTL",
        "DEFAULT_SCHEDULER_FALLBACK_PERIOD",
        "DEFAULT_MAINTENANCE_TASK_INTERVAL",
        "CALLBACK_TIMEOUT",
        "DEFAULT_LOGGING_DATE_FORMAT",
        "DEFAULT_LOGGING_FORMAT",
        "DEFAULT_DEATH_PENALTY_CLASS",
        "UNSERIALIZABLE_RETURN_VALUE_PAYLOAD",
    ),
    "rq.dependency": ("Dependency",),
    "rq.exceptions": (
        "NoSuchJobError",
        "NoSuchGroupError",
        "DeserializationError",
        "InvalidJobDependency",
        "DuplicateJobError",
        "InvalidJobOperationError",
        "InvalidJobOperation",
        "DequeueTimeout",
        "ShutDownImminentException",
        "TimeoutFormatError",
        "AbandonedJobError",
        "SchedulerNotFound",
        "DuplicateSchedulerError",
        "StopRequested",
    ),
    "rq.executions": (
        "WORKER_EXECUTIONS_KEY_TEMPLATE",
        "Execution",
        "ExecutionRegistry",
        "prepare_execution",
        "cleanup_execution",
    ),
    "rq.group": ("Group",),
    "rq.intermediate_queue": ("IntermediateQueue",),
    "rq.job": (
        "JOB_ID_PATTERN",
        "JobStatus",
        "parse_job_id",
        "validate_job_id",
        "Dependency",
        "UNEVALUATED",
        "cancel_job",
        "get_current_job",
        "requeue_job",
        "Job",
        "Retry",
    ),
    "rq.job_lifecycle": ("call_exception_handlers", "format_exc_info", "record_job_failure"),
    "rq.local": ("release_local", "Local", "LocalStack", "LocalManager", "LocalProxy"),
    "rq.logutils": (
        "colorizer",
        "make_colorizer",
        "green",
        "yellow",
        "blue",
        "red",
        "ColorizingStreamHandler",
        "setup_loghandlers",
    ),
    "rq.maintenance": ("clean_intermediate_queue",),
    "rq.queue": ("EnqueueData", "EnqueueArgs", "Queue"),
    "rq.rate_limit": (
        "RateLimit",
        "ACQUIRE_AND_ENQUEUE_SCRIPT",
        "RELEASE_AND_ENQUEUE_SCRIPT",
        "RELEASE_STALE_AND_ENQUEUE_SCRIPT",
        "CLEANUP_REGISTRY_SCRIPT",
        "RateLimitRegistry",
        "release_slot",
    ),
    "rq.registry": (
        "BaseRegistry",
        "StartedJobRegistry",
        "FinishedJobRegistry",
        "FailedJobRegistry",
        "DeferredJobRegistry",
        "ReadyJobRegistry",
        "ScheduledJobRegistry",
        "CanceledJobRegistry",
        "clean_registries",
    ),
    "rq.repeat": ("Repeat",),
    "rq.results": ("Result",),
    "rq.scheduler": (
        "ForkProcess",
        "SCHEDULER_KEY_TEMPLATE",
        "SCHEDULER_LOCKING_KEY_TEMPLATE",
        "SchedulerStatus",
        "RQScheduler",
        "run",
    ),
    "rq.scripts": (
        "UNIQUE_ENQUEUE_SCRIPT",
        "get_unique_enqueue_script",
        "save_unique_job",
        "UNIQUE_SCHEDULE_SCRIPT",
        "get_unique_schedule_script",
        "schedule_unique_job",
        "ACQUIRE_OR_REFRESH_LOCK_SCRIPT",
        "acquire_or_refresh_lock",
        "RELEASE_LOCK_SCRIPT",
        "release_lock",
    ),
    "rq.serializers": (
        "Serializer",
        "DefaultSerializer",
        "PickleSerializer",
        "JSONSerializer",
        "SERIALIZER_ALIASES",
        "resolve_serializer",
    ),
    "rq.suspension": ("WORKERS_SUSPENDED", "is_suspended", "suspend", "resume"),
    "rq.timeouts": (
        "BaseTimeoutException",
        "JobTimeoutException",
        "HorseMonitorTimeoutException",
        "BaseDeathPenalty",
        "UnixSignalDeathPenalty",
        "TimerDeathPenalty",
        "get_default_death_penalty_class",
    ),
    "rq.types": ("FunctionReferenceType", "JobDependencyType", "SuccessCallbackType", "FailureCallbackType"),
    "rq.utils": (
        "Platform",
        "get_platform",
        "resolve_function_reference",
        "compact",
        "as_text",
        "decode_redis_hash",
        "NOT_JSON_SERIALIZABLE",
        "safe_json_dumps",
        "import_attribute",
        "import_worker_class",
        "import_job_class",
        "import_queue_class",
        "normalize_config_path",
        "validate_absolute_path",
        "now",
        "utcformat",
        "utcparse",
        "is_nonstring_iterable",
        "ensure_job_list",
        "current_timestamp",
        "backend_class",
        "str_to_date",
        "parse_timeout",
        "get_version",
        "ceildiv",
        "split_list",
        "missing_keys",
        "truncate_long_string",
        "get_call_string",
        "parse_names",
        "get_connection_from_queues",
        "parse_composite_key",
    ),
    "rq.version": ("VERSION",),
    "rq.webhook": ("Webhook",),
    "rq.worker": (
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
        "signal_name",
    ),
    "rq.worker.base": ("signal_name", "SHUTDOWN_SIGNAL", "DequeueStrategy", "WorkerStatus", "BaseWorker"),
    "rq.worker.worker_classes": (
        "Worker",
        "SpawnWorker",
        "SimpleWorker",
        "HerokuWorker",
        "RoundRobinWorker",
        "RandomWorker",
    ),
    "rq.worker_pool": ("ForkProcess", "WorkerData", "WorkerPool", "run_worker"),
    "rq.worker_registration": (
        "WORKERS_BY_QUEUE_KEY",
        "REDIS_WORKER_KEYS",
        "MAX_KEYS",
        "register",
        "unregister",
        "get_keys",
        "clean_worker_registry",
    ),
}


# Run in a fresh interpreter: reads the lists as JSON on stdin, prints what does not resolve.
CHECK = textwrap.dedent(
    """
    import importlib, json, sys
    import jq
    jq.install_as_rq()
    wanted = json.load(sys.stdin)
    problems = {}
    for rq_name, names in wanted.items():
        jq_name = "jq" + rq_name[2:]
        try:
            module = importlib.import_module(rq_name)
        except ImportError as error:
            problems[rq_name] = f"module does not import: {error}"
            continue
        if module is not importlib.import_module(jq_name):
            problems[rq_name] = f"is {module!r}, not jq's module {jq_name}"
            continue
        for name in names:
            try:
                value = getattr(module, name)
            except AttributeError:
                problems[f"{rq_name}.{name}"] = "missing"
                continue
            home = getattr(value, "__module__", None)
            if isinstance(home, str) and home.split(".")[0] == "rq":
                problems[f"{rq_name}.{name}"] = f"comes from {home}"
    json.dump(problems, sys.stdout)
    """
)


def unresolved() -> dict[str, str]:
    """What does not resolve to jq after install_as_rq(), by dotted name, with why."""
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        check=False,
        input=json.dumps(RQ_PUBLIC_NAMES),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    problems: dict[str, str] = json.loads(done.stdout)
    return problems


def test_the_lists_cover_rq_3_0s_modules():
    assert len(RQ_PUBLIC_NAMES) == 45
    assert {"rq.cli", "rq.contrib", "rq.worker.worker_classes", "rq.executions", "rq.cli.helpers"} <= set(
        RQ_PUBLIC_NAMES
    )


def test_every_rq_module_and_public_name_resolves_to_jq():
    problems = unresolved()
    assert problems == {}
