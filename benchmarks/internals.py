"""What each shortcut through a private internal (or a hand-made fast path) is worth: the CPU per
job of a producer and of a SimpleWorker, with the shortcut and without it, interleaved.

``python -m benchmarks.internals [--count N] [--rounds R] [VARIANT ...]`` starts one private
redis-server, then for each round runs every variant in a fresh process, in turn: the process
enqueues ``count`` no-op jobs one by one, then drains them with a SimpleWorker. It reports the
median over rounds of: the client's CPU µs per job (``time.process_time``), the server's CPU µs
per job (``INFO cpu``), and wall µs per job (noisy on a shared machine; for the polling wait,
whose point is wall time and which spends CPU to get it, the one that matters).

A variant turns one shortcut off (see :data:`VARIANTS`); ``base`` is the code as it is. The
ratios in docs/architecture.md ("Private internals") come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _replace(owner: Any, name: str, value: Any) -> None:
    """Set ``owner.name``, which must exist: a patch whose target is gone fails loudly."""
    if not hasattr(owner, name):
        raise AttributeError(f"{owner!r} has no {name}: this variant measures nothing any more")
    setattr(owner, name, value)


def _no_poll() -> None:
    os.environ["JQ_REDIS_POLL_US"] = "0"


def _no_fresh() -> None:
    from jq_backends.redis.queues import RedisQueues

    _replace(RedisQueues, "_fresh", lambda self, requests: False)


def _std_uuid() -> None:
    import uuid

    import jq.core.job

    _replace(jq.core.job, "new_job_id", lambda: str(uuid.uuid4()))


def _plain_timestamp() -> None:
    import jq.core.lifecycle
    import jq.core.rate_limit
    from jq.base.utils import format_timestamp, now

    def stamp() -> str:
        return format_timestamp(now())

    _replace(jq.core.lifecycle, "now_timestamp", stamp)
    _replace(jq.core.rate_limit, "now_timestamp", stamp)


def _redis_py_pack() -> None:
    from jq_backends.redis.hot_connection import HotConnection

    _replace(HotConnection, "_pack", lambda self, connection, args: connection.pack_command(*args))


#: Each variant: what it turns off, by patching the module that has it before the run.
VARIANTS: dict[str, Callable[[], None]] = {
    "base": lambda: None,
    "no_poll": _no_poll,
    "no_fresh": _no_fresh,
    "std_uuid": _std_uuid,
    "plain_timestamp": _plain_timestamp,
    "redis_py_pack": _redis_py_pack,
}


def _callgrind(command: str) -> None:
    """Under ``valgrind --tool=callgrind`` (the ``--callgrind`` option): zero the counts before a
    phase (``-z``), dump them after it (``-d``, one file per phase). The driver runs
    callgrind_control: a process under valgrind that forks with threads running may hang."""
    folder = os.environ.get("JQ_BENCH_CALLGRIND")
    if folder:
        with open(os.path.join(folder, "request"), "w") as request:
            request.write(f"{command} {os.getpid()}\n")
        with open(os.path.join(folder, "done")) as done:
            done.read()


def _server_cpu(client: Any) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def run_one(variant: str, url: str, count: int) -> dict[str, float]:
    """One measurement in this process: enqueue ``count`` jobs, then drain them."""
    VARIANTS[variant]()
    import redis

    import jq
    from benchmarks.jobs import noop

    client = redis.Redis.from_url(url)
    client.flushall()
    queue = jq.Queue("bench", connection=client)
    queue.enqueue(noop)  # warm up: scripts loaded, connection held
    client.flushall()
    out: dict[str, float] = {}
    _callgrind("-z")
    server, cpu, wall = _server_cpu(client), time.process_time(), time.perf_counter()
    for _ in range(count):
        queue.enqueue(noop)
    out["enqueue_cpu_us"] = (time.process_time() - cpu) / count * 1e6
    out["enqueue_wall_us"] = (time.perf_counter() - wall) / count * 1e6
    out["enqueue_server_us"] = (_server_cpu(client) - server) / count * 1e6
    _callgrind("-d")
    worker = jq.SimpleWorker([queue], connection=client)
    _callgrind("-z")
    server, cpu, wall = _server_cpu(client), time.process_time(), time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    out["drain_cpu_us"] = (time.process_time() - cpu) / count * 1e6
    out["drain_wall_us"] = (time.perf_counter() - wall) / count * 1e6
    out["drain_server_us"] = (_server_cpu(client) - server) / count * 1e6
    _callgrind("-d")
    if len(queue) != 0:
        raise RuntimeError("the worker left jobs on the queue")
    return out


def _serve_callgrind(folder: str) -> None:
    """Run the callgrind_control commands the measured process asks for (see _callgrind)."""
    while True:
        with open(os.path.join(folder, "request")) as request:
            line = request.read().strip()
        if line == "stop":
            return
        command, pid = line.split()
        subprocess.run(["callgrind_control", command, pid], capture_output=True, check=True)
        with open(os.path.join(folder, "done"), "w") as done:
            done.write("ok")


def _instructions(command: list[str], count: int) -> dict[str, float]:
    """Run ``command`` under callgrind: instructions per job of its enqueue and drain phases."""
    with tempfile.TemporaryDirectory() as folder:
        os.mkfifo(os.path.join(folder, "request"))
        os.mkfifo(os.path.join(folder, "done"))
        server = threading.Thread(target=_serve_callgrind, args=(folder,), daemon=True)
        server.start()
        env = dict(os.environ, JQ_BENCH_CALLGRIND=folder, PYTHONHASHSEED="0", JQ_REDIS_POLL_US="0")
        out = f"--callgrind-out-file={folder}/cg.%p"
        valgrind = ["valgrind", "--tool=callgrind", out, *command]
        subprocess.run(valgrind, cwd=ROOT, env=env, capture_output=True, check=True)
        with open(os.path.join(folder, "request"), "w") as request:
            request.write("stop\n")
        server.join()
        totals = []
        for phase in (1, 2):
            (dump,) = Path(folder).glob(f"cg.*.{phase}")
            line = next(line for line in dump.read_text().splitlines() if line.startswith("summary:"))
            totals.append(int(line.split()[1]) / count)
    return {"enqueue_instructions": totals[0], "drain_instructions": totals[1]}


def main() -> None:
    """Run the rounds and print the medians and each variant's change against ``base``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--url", help="a redis-server to use (default: start a private one)")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="count the client's instructions per job under valgrind instead (polling off)",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one variant here
    parser.add_argument("variants", nargs="*", default=list(VARIANTS))
    options = parser.parse_args()
    if options.one:
        print(json.dumps(run_one(options.one, options.url, options.count)))
        return
    variants = ["base", *(name for name in options.variants if name != "base")]
    server = None
    url = options.url
    if url is None:
        from tests.redis_server import RedisServer

        server = RedisServer().start()
        url = server.url
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    try:
        for round_number in range(options.rounds):
            # Each round in a different order, so that no variant always runs first.
            order = variants[round_number % len(variants) :] + variants[: round_number % len(variants)]
            for name in order:
                command = [sys.executable, "-m", "benchmarks.internals", "--one", name, "--url", url]
                command += ["--count", str(options.count)]
                if options.callgrind:
                    results[name].append(_instructions(command, options.count))
                    continue
                done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
                results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        if server is not None:
            server.cleanup()
    base = {key: statistics.median(r[key] for r in results["base"]) for key in results["base"][0]}
    print(f"{options.count} jobs, {options.rounds} rounds, medians (µs per job; change against base)")
    for name in variants:
        medians = {key: statistics.median(r[key] for r in results[name]) for key in base}
        cells = [
            f"{key}={value:.1f} ({(value / base[key] - 1) * 100:+.1f}%)" for key, value in medians.items()
        ]
        print(f"{name:16} " + " ".join(cells), flush=True)


if __name__ == "__main__":
    main()
