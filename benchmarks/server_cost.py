"""Redis server CPU per job of jq's hot paths, per command: ``python -m benchmarks.server_cost``.

The Redis server is one thread: whatever it spends per job bounds every pool of workers sharing
it. This measures, on a private redis-server (a free loopback port, no persistence), three
phases of one queue's life, each in a fresh process:

- ``enqueue``: ``Queue.enqueue`` one job at a time;
- ``enqueue_many``: ``Queue.enqueue_many`` in batches of 1,000 (this fills the queue);
- ``drain``: one ``SimpleWorker(...).work(burst=True)`` running every job of it (no-op jobs).

For each phase it prints the server's CPU time per job (``used_cpu_user + used_cpu_sys`` of
``INFO cpu``, read before and after; its user part, which the Lua is in, beside it) and, from
``INFO commandstats`` (reset before the phase), every command's calls and microseconds per job.
Commands a script calls are counted both on their own line and inside the script's ``fcall``
(or ``evalsha``) line (Redis times a script as a whole), so the script minus the commands it
called is the time the Lua code itself takes (``lua own``).
Those are wall-clock times the server measures around each command: on a busy machine they
include moments the server was not running, so the server CPU is the figure to compare.

Server CPU is CPU time: it does not depend on what else the shared machine does, except for
cache effects, so the rounds are interleaved and medians are printed. ``--against PATH`` measures
the jq of another source tree too (``git archive main | tar -x -C /tmp/base``), interleaved with
this one, for a before/after comparison; ``--rq`` adds RQ (when installed) for reference.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# A child measuring another tree's jq (--against) imports jq from that tree: it comes first.
sys.path.insert(0, os.environ.get("JQ_SERVER_COST_TREE", str(ROOT)))

PHASES = ("enqueue", "enqueue_many", "drain")
BATCH = 1000
WARM_UP = 200  # jobs enqueued and drained first: scripts loaded, connections open


def _server_cpu(client: Any) -> tuple[float, float]:
    """The server's CPU seconds so far: (user + system, user). Its user time is what its own code
    (the Lua among it) costs; the system time is mostly the network, the same per round trip."""
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"]), float(info["used_cpu_user"])


def _commands(client: Any) -> dict[str, tuple[int, int]]:
    """(calls, µs) of each command since the last CONFIG RESETSTAT, by name."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"])) for name, v in stats.items()}


def measure(system: str, jobs: int, url: str) -> dict[str, Any]:
    """Every phase's server cost of ``jobs`` jobs for ``system`` ("jq" or "rq"), run in this process."""
    import redis

    from benchmarks.jobs import noop

    module = importlib.import_module(system)
    client = redis.Redis.from_url(url)
    queue = module.Queue("server_cost", connection=client)
    prepare = module.Queue.prepare_data

    def enqueue(count: int) -> None:
        for _ in range(count):
            queue.enqueue(noop)

    def enqueue_many(count: int) -> None:
        for offset in range(0, count, BATCH):
            queue.enqueue_many([prepare(noop) for _ in range(min(BATCH, count - offset))])

    def drain(count: int) -> None:
        module.SimpleWorker([queue], connection=client).work(burst=True, logging_level="WARNING")

    enqueue(WARM_UP // 2)
    enqueue_many(WARM_UP // 2)
    drain(WARM_UP)
    client.flushall()
    result: dict[str, Any] = {"module": str(Path(module.__file__ or "").parent)}
    for phase, run, count in (
        ("enqueue", enqueue, max(1, jobs // 4)),  # one round trip per job: fewer of them
        ("enqueue_many", enqueue_many, jobs),
        ("drain", drain, jobs),
    ):
        client.config_resetstat()
        before, user_before = _server_cpu(client)
        run(count)
        after, user_after = _server_cpu(client)
        commands = _commands(client)
        # The measuring calls themselves (INFO, CONFIG) are no part of the phase.
        for name in ("info", "config|resetstat", "config"):
            commands.pop(name, None)
        result[phase] = {
            "jobs": count,
            "cpu": (after - before) * 1e6 / count,
            "user": (user_after - user_before) * 1e6 / count,
            "commands": {name: (calls / count, usec / count) for name, (calls, usec) in commands.items()},
        }
        if phase == "enqueue":
            client.flushall()  # the drain runs the enqueue_many phase's jobs only
    client.flushall()
    return result


def _child(system: str, jobs: int, url: str, tree: str | None) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": tree or str(ROOT)}
    env.pop("JQ_AS_RQ", None)  # RQ must be RQ, not jq under its name
    if tree:
        env["JQ_SERVER_COST_TREE"] = tree
    output = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", f"{system}:{jobs}", url],
        capture_output=True, text=True, check=True, cwd=tree or ROOT, env=env,
    ).stdout  # fmt: skip
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def _median(runs: list[dict[str, Any]], phase: str) -> tuple[float, float, dict[str, tuple[float, float]]]:
    """The median server CPU per job of ``phase`` (all, user), and each command's median (calls,
    µs) per job."""
    cpu = statistics.median(run[phase]["cpu"] for run in runs)
    user = statistics.median(run[phase]["user"] for run in runs)
    names = {name for run in runs for name in run[phase]["commands"]}
    commands = {}
    for name in names:
        calls = [run[phase]["commands"].get(name, (0.0, 0.0)) for run in runs]
        commands[name] = (statistics.median(c for c, _ in calls), statistics.median(u for _, u in calls))
    return cpu, user, commands


def report(label: str, runs: list[dict[str, Any]], lines: int = 14) -> None:
    """Print one system's medians: per phase, server CPU and commands per job."""
    print(f"\n## {label} ({runs[0]['module']}), medians of {len(runs)} rounds")
    for phase in PHASES:
        cpu, user, commands = _median(runs, phase)
        scripts = commands.get("evalsha", (0.0, 0.0))[1] + commands.get("eval", (0.0, 0.0))[1]
        scripts += commands.get("fcall", (0.0, 0.0))[1]
        called = sum(u for name, (_, u) in commands.items() if name not in ("evalsha", "eval", "fcall"))
        calls_per_job = sum(c for c, _ in commands.values())
        print(f"{phase} ({runs[0][phase]['jobs']} jobs): server CPU {cpu:.1f} µs/job (user {user:.1f}); "
              f"{calls_per_job:.1f} commands/job")  # fmt: skip
        if scripts:
            # Commands run by scripts are inside the scripts' time: the rest is the Lua itself
            # (roughly: the other commands are counted as if scripts called them all).
            print(f"    scripts {scripts:.1f} µs/job, other commands {called:.1f}, "
                  f"lua own ~{scripts - called:.1f}")  # fmt: skip
        for name, (calls, usec) in sorted(commands.items(), key=lambda item: -item[1][1])[:lines]:
            print(f"    {name:<22} {calls:8.3f} calls/job {usec:8.2f} µs/job")


def main() -> None:
    """Run the phases for each system, rounds interleaved, and print the medians."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=10000, help="jobs per phase (enqueue: a quarter)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (medians reported)")
    parser.add_argument("--against", metavar="PATH", help="also measure the jq of this source tree")
    parser.add_argument("--rq", action="store_true", help="also measure RQ")
    parser.add_argument("--lines", type=int, default=14, help="commands listed per phase")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("url", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        system, jobs = args.child.split(":")
        print(json.dumps(measure(system, int(jobs), args.url)))
        return
    from tests.redis_server import RedisServer

    cases: list[tuple[str, str, str | None]] = [("jq", "jq", None)]
    if args.against:
        cases.append((f"jq at {args.against}", "jq", str(Path(args.against).resolve())))
    if args.rq:
        cases.append(("rq", "rq", None))
    server = RedisServer().start()
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in cases}
    started = time.monotonic()
    try:
        for _ in range(args.rounds):
            for label, system, tree in cases:
                runs[label].append(_child(system, args.jobs, server.url, tree))
    finally:
        server.cleanup()
    for label, _, _ in cases:
        report(label, runs[label], args.lines)
    print(f"\n({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
