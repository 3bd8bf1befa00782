"""One measurement of one peer library, in a fresh process: ``python -m benchmarks.peer_measure
LIBRARY MEASURE COUNT URL`` prints ``{"values": {...}}`` on its last line.

The store is emptied before each measurement by the caller (``benchmarks/peers.py``).
"""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TypeVar

from benchmarks.peer_systems import PEERS, Peer
from benchmarks.peer_tasks import STAMPS
from benchmarks.polling import poll_until

LATENCY_RATE = 150.0  # jobs per second, as in benchmarks/measure.py
#: Jobs sent to an idle worker before the latency run, to see it ready and warm all its threads
#: or child processes; their stamps are not counted.
WARM_UP = 8
POLL = 0.005  # seconds between completion checks: small next to any measured interval

T = TypeVar("T")


def _wait(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``check`` every :data:`POLL` seconds (see :func:`benchmarks.polling.poll_until`)."""
    return poll_until(check, timeout, what, POLL)


def enqueue(peer: Peer, count: int) -> dict[str, float]:
    """Jobs enqueued per second, one by one."""
    started = time.perf_counter()
    for _ in range(count):
        peer.send_noop()
    return {"enqueue": count / (time.perf_counter() - started)}


def enqueue_bulk(peer: Peer, count: int) -> dict[str, float]:
    """Jobs enqueued per second with the library's many-at-once API, 1,000 per call."""
    started = time.perf_counter()
    peer.send_many_noops(count)
    return {"enqueue_bulk": count / (time.perf_counter() - started)}


def drain(peer: Peer, count: int) -> dict[str, float]:
    """Jobs per second one worker process runs from a full queue, and its start-up time.

    The queue holds ``stamp("first")``, ``count - 2`` noops and ``stamp("last")`` before the worker
    starts. The drain is timed from the first job's start to the moment all ``count`` jobs had
    finished, so the interpreter's and the library's start-up are reported apart ("startup": from
    launching the worker process to the first job's start).
    """
    peer.send_stamp("first")
    for _ in range(count - 2):
        peer.send_noop()
    peer.send_stamp("last")
    launched = time.time()
    worker = peer.start_worker()
    try:
        finished = _wait(lambda: _finished(peer, worker, count), 600, f"{peer.name} drain of {count} jobs")
    finally:
        peer.stop_worker(worker)
    first = peer.stamps()["first"]
    return {"drain": count / (finished - first), "startup": first - launched}


def _alive(peer: Peer, worker: subprocess.Popen[bytes]) -> None:
    """Fail at once, with the worker's output, if the worker process has exited."""
    if worker.poll() is not None:
        raise RuntimeError(f"{peer.name} worker exited early:\n{peer.worker_output()}")


def _finished(peer: Peer, worker: subprocess.Popen[bytes], count: int) -> float | None:
    """``peer.finished_at(count)`` while the worker lives."""
    _alive(peer, worker)
    return peer.finished_at(count)


def latency(peer: Peer, count: int) -> dict[str, float]:
    """ms from enqueue to job start (p50 and p99), one idle worker process, jobs at 150/s.

    Each job is ``stamp(i)``: its start time from inside the job, against ``time.time()`` read
    just before the enqueue call.
    """
    worker = peer.start_worker()
    try:
        for index in range(WARM_UP):
            peer.send_stamp(f"warm-up-{index}")
        _wait(lambda: _ready(peer, worker), 120, f"{peer.name} worker start-up")
        interval = 1 / LATENCY_RATE
        sent: list[float] = []
        next_at = time.perf_counter()
        for index in range(count):
            next_at += interval
            pause = next_at - time.perf_counter()
            if pause > 0:
                time.sleep(pause)  # the producer's pace is the measured scenario
            sent.append(time.time())
            peer.send_stamp(str(index))
        stamps = _wait(lambda: _all_stamped(peer, worker, count), 120, f"{peer.name} latency jobs")
    finally:
        peer.stop_worker(worker)
    values = sorted(stamps[str(index)] - at for index, at in enumerate(sent))
    return {
        "latency_p50": statistics.median(values) * 1000,
        "latency_p99": values[min(len(values) - 1, int(len(values) * 0.99))] * 1000,
    }


def _ready(peer: Peer, worker: subprocess.Popen[bytes]) -> float | None:
    """A value (not None) once every warm-up job has run."""
    _alive(peer, worker)
    return 1.0 if len(peer.stamps()) >= WARM_UP else None


def _all_stamped(peer: Peer, worker: subprocess.Popen[bytes], count: int) -> dict[str, float] | None:
    """Every stamp once all ``count`` latency jobs (and the warm-up) have started, else None."""
    _alive(peer, worker)
    if int(peer.client.hlen(STAMPS)) < WARM_UP + count:
        return None
    return peer.stamps()


#: Each measure and the values it reports.
MEASURES: dict[str, Callable[[Peer, int], dict[str, float]]] = {
    "enqueue": enqueue,
    "enqueue_bulk": enqueue_bulk,
    "drain": drain,
    "latency": latency,
}


def main(argv: list[str]) -> None:
    """Run one measure and print its JSON result."""
    logging.disable(logging.WARNING)
    library, measure, count, url = argv[0], argv[1], int(argv[2]), argv[3]
    values = MEASURES[measure](PEERS[library](url), count)
    print(json.dumps({"values": values}))


if __name__ == "__main__":
    main(sys.argv[1:])
