"""Every command and option of RQ 3.0's ``rq`` is one of ``jqueue``'s, with RQ's spellings; RQ's
click commands are importable and callable under RQ's names; ``rq``'s scripts stay RQ's.

RQ's commands and options are kept here as data (from RQ 3.0's ``rq/cli/cli.py``, ``workers.py``,
``cli_cron.py`` and ``helpers.py``), so this test fails when one of them goes missing.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import subprocess
import sys
from typing import Any

import click
import pytest
from click.testing import CliRunner

from jq import Queue
from jq.cli import cli
from jq_backends.redis import RedisBroker
from tests import fixtures
from tests.test_cli import ROOT, cli_env, jqueue_many

#: RQ's shared options: every ``rq`` command takes them.
RQ_SHARED = (
    "--url", "-u", "--config", "-c", "--worker-class", "-w", "--job-class", "-j", "--queue-class",
    "--connection-class", "--path", "-P", "--serializer", "-S",
)  # fmt: skip

#: Each command of RQ 3.0 with its own options.
RQ_COMMANDS: dict[str, tuple[str, ...]] = {
    "worker": (
        "--burst", "-b", "--logging_level", "--log-format", "--date-format", "--name", "-n",
        "--results-ttl", "--worker-ttl", "--maintenance-interval", "--job-monitoring-interval",
        "--disable-job-desc-logging", "--verbose", "-v", "--quiet", "-q", "--exception-handler",
        "--pid", "--disable-default-exception-handler", "-d", "--max-jobs", "--max-idle-time",
        "--with-scheduler", "-s", "--dequeue-strategy", "-ds",
    ),
    "worker-pool": (
        "--burst", "-b", "--logging-level", "-l", "--exception-handler", "--verbose", "-v", "--quiet",
        "-q", "--log-format", "--date-format", "--num-workers", "-n",
    ),
    "info": (
        "--interval", "-i", "--raw", "-r", "--only-queues", "-Q", "--only-workers", "-W", "--by-queue",
        "-R",
    ),
    "enqueue": (
        "--queue", "-q", "--timeout", "--result-ttl", "--ttl", "--failure-ttl", "--description",
        "--depends-on", "--job-id", "--at-front", "--retry-max", "--retry-interval", "--schedule-in",
        "--schedule-at", "--quiet",
    ),
    "requeue": ("--all", "-a", "--queue"),
    "empty": ("--all", "-a"),
    "suspend": ("--duration",),
    "resume": (),
    "cron": ("--logging-level", "-l"),
}  # fmt: skip

#: A value each option that takes one is given (flags take none).
VALUES = {
    "--url": "memory://", "-u": "memory://", "--config": "settings", "-c": "settings",
    "--worker-class": "jq.Worker", "-w": "jq.Worker", "--job-class": "jq.job.Job", "-j": "jq.job.Job",
    "--queue-class": "jq.Queue", "--connection-class": "redis.Redis", "--path": ".", "-P": ".",
    "--serializer": "json", "-S": "json", "--logging_level": "DEBUG", "--logging-level": "WARNING",
    "-l": "ERROR", "--log-format": "%(message)s", "--date-format": "%H:%M", "--name": "w", "-n": "2",
    "--results-ttl": "500", "--worker-ttl": "420", "--maintenance-interval": "600",
    "--job-monitoring-interval": "30", "--exception-handler": "app.handler", "--pid": "w.pid",
    "--max-jobs": "10", "--max-idle-time": "60", "--dequeue-strategy": "round_robin", "-ds": "random",
    "--num-workers": "3", "--interval": "0.5", "-i": "1", "--queue": "low", "-q": "low",
    "--timeout": "30", "--result-ttl": "60", "--ttl": "90", "--failure-ttl": "120",
    "--description": "text", "--depends-on": "some-id", "--job-id": "my-id", "--retry-max": "2",
    "--retry-interval": "5", "--schedule-in": "10s", "--schedule-at": "2030-01-31T09:30:00",
    "--duration": "300",
}  # fmt: skip

#: What a command needs besides options.
ARGUMENTS = {"enqueue": ("app.tasks.f",), "cron": ("cron_config",)}


def cases() -> list[tuple[str, str]]:
    return [
        (command, option) for command, options in RQ_COMMANDS.items() for option in (*options, *RQ_SHARED)
    ]


def test_every_rq_command_is_a_jqueue_command():
    assert set(RQ_COMMANDS) <= set(cli.commands)


@pytest.mark.parametrize(("command", "option"), cases())
def test_every_rq_option_is_accepted(command, option):
    cmd = cli.commands[command]
    params = {name: param for param in cmd.params for name in (*param.opts, *param.secondary_opts)}
    assert option in params, f"jqueue {command} has no {option}"
    # The same short name may be a flag in one command and take a value in another (-q, -n).
    takes_value = not getattr(params[option], "is_flag", False)
    given = [option, VALUES[option]] if takes_value else [option]
    # Parsing alone (callbacks and checks included): nothing runs, nothing connects.
    ctx = cmd.make_context(command, [*ARGUMENTS.get(command, ()), *given])
    assert ctx.params is not None


def test_help_lists_every_rq_option():
    commands = list(RQ_COMMANDS)
    for command, done in zip(
        commands, jqueue_many([(command, "--help") for command in commands]), strict=True
    ):
        assert done.returncode == 0, done.stderr
        for option in (*RQ_COMMANDS[command], *RQ_SHARED):
            # click lists each spelling of an option, followed by ", ", its metavar or a line end.
            listed = re.search(rf"(?<![\w-]){re.escape(option)}(?=[, \n])", done.stdout)
            assert listed is not None, (command, option)


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        ("enqueue", "queue", "default"),
        ("enqueue", "retry_max", 0),
        ("enqueue", "retry_interval", (0,)),
        ("requeue", "queue", "default"),  # RQ requires --queue; jq reads 'default' without one
        ("worker", "dequeue_strategy", "default"),
        ("worker", "log_format", "%(asctime)s %(message)s"),
        ("worker", "date_format", "%H:%M:%S"),
        ("worker-pool", "num_workers", 2),  # RQ's documented default (its code says 1)
    ],
)
def test_rq_defaults(command, option, value):
    ctx = cli.commands[command].make_context(command, list(ARGUMENTS.get(command, ())))
    assert ctx.params[option] == value


# -- RQ's click commands, called by code written for RQ (Flask-RQ2) -----------------------------------------


def test_rq_modules_hold_the_commands():
    from jq.cli import cli as group  # RQ's `from rq.cli import cli`
    from jq.cli import cli_cron, workers

    cli_module = importlib.import_module("jq.cli.cli")
    assert group is cli
    for name in ("empty", "requeue", "info", "suspend", "resume", "enqueue"):
        assert getattr(cli_module, name) is cli.commands[name]
        assert getattr(group, name) is cli.commands[name]
    assert cli_module.main is cli
    assert workers.worker is cli.commands["worker"]
    assert workers.worker_pool is cli.commands["worker-pool"]
    assert cli_cron.cron is cli.commands["cron"]


def flask_rq2_like_group(url: str) -> click.Group:
    """Commands that call jq's as Flask-RQ2 calls RQ's (``ctx.invoke(rq_cli.<command>, ...)``,
    with RQ's parameter names and values as its own options give them)."""
    from jq.cli import cli as rq_cli

    shared: dict[str, Any] = {
        "url": url,
        "config": None,
        "worker_class": "jq.SimpleWorker",
        "job_class": "jq.job.Job",
        "queue_class": "jq.Queue",
        "connection_class": "redis.Redis",
    }

    @click.group()
    def group() -> None:
        """Flask-RQ2's ``flask rq`` group, in short."""

    @group.command()
    @click.pass_context
    def empty(ctx: click.Context) -> None:
        ctx.invoke(rq_cli.empty, all=False, queues=("default",), **shared)

    @group.command()
    @click.pass_context
    def requeue(ctx: click.Context) -> None:
        ctx.invoke(rq_cli.requeue, all=True, job_ids=(), **shared)

    @group.command()
    @click.pass_context
    def info(ctx: click.Context) -> None:
        ctx.invoke(rq_cli.info, path=".", interval=None, raw=True, only_queues=True, only_workers=False,
                   by_queue=False, queues=(), **shared)  # fmt: skip

    @group.command()
    @click.pass_context
    def worker(ctx: click.Context) -> None:
        ctx.invoke(rq_cli.worker, burst=True, logging_level="INFO", name=None, path=".", results_ttl="600",
                   worker_ttl=None, verbose=False, quiet=False, sentry_dsn=None, exception_handler=(),
                   pid=None, queues=("default",), **shared)  # fmt: skip

    @group.command()
    @click.pass_context
    def suspend(ctx: click.Context) -> None:
        ctx.invoke(rq_cli.suspend, duration=60, **shared)

    @group.command()
    @click.pass_context
    def resume(ctx: click.Context) -> None:
        ctx.invoke(rq_cli.resume, **shared)

    return group


def test_commands_called_with_rqs_names_and_values(redis_server, redis_client):
    group = flask_rq2_like_group(redis_server.url)
    runner = CliRunner()
    queue = Queue(connection=redis_client)
    job = queue.enqueue(fixtures.add, 20, 22)

    shown = runner.invoke(group, ["info"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("queue default 1, 0 executing")
    ran = runner.invoke(group, ["worker"])
    assert ran.exit_code == 0, ran.output
    assert job.result == 42
    assert 500 < redis_client.ttl(job.key) <= 600  # results_ttl="600", read as --results-ttl 600
    failed = queue.enqueue(fixtures.div_by_zero, 1)
    runner.invoke(group, ["worker"])
    assert failed.get_status() == "failed"
    requeued = runner.invoke(group, ["requeue"])
    assert requeued.exit_code == 0, requeued.output
    assert failed.get_status() == "queued"
    emptied = runner.invoke(group, ["empty"])
    assert emptied.exit_code == 0, emptied.output
    assert queue.count == 0
    broker = RedisBroker(redis_client)
    assert runner.invoke(group, ["suspend"]).exit_code == 0
    assert 0 < redis_client.ttl(broker.keys.suspended) <= 60
    assert runner.invoke(group, ["resume"]).exit_code == 0
    assert not broker.is_suspended()


# -- console scripts -------------------------------------------------------------------------------------


def test_no_script_shadows_rqs_own():
    scripts = {
        entry.name
        for entry in importlib.metadata.distribution("jq-queue").entry_points
        if entry.group == "console_scripts"
    }
    assert scripts == {"jqueue"}  # never rq, rqinfo or rqworker: they are RQ's when both are installed


def test_rq_cli_through_the_shim(redis_server, redis_client):
    job = Queue(connection=redis_client).enqueue(fixtures.add, 1, 2)
    shim = [sys.executable, "-m", "jq.rq_shim", "-m", "rq.cli"]
    worker = subprocess.run(
        [*shim, "worker", "-u", redis_server.url, "--burst", "-w", "rq.worker.SimpleWorker"],
        cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert worker.returncode == 0, worker.stderr
    assert job.result == 3
    enqueued = subprocess.run(
        [*shim, "enqueue", "-u", redis_server.url, "tests.fixtures.add", ":1", ":2"],
        cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert enqueued.stdout.startswith("Enqueued tests.fixtures.add(1, 2) with job-id '"), enqueued.stderr
