"""Job functions for tests: importable by name, so workers (and work horses) can run them."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any

from jq import get_current_job


def say_hello(name: str = "Stranger") -> str:
    """A greeting."""
    return f"Hi there, {name}!"


def add(x: int, y: int) -> int:
    """Sum."""
    return x + y


def echo(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Return the arguments."""
    return args, kwargs


def no_return() -> None:
    """Return nothing."""


def div_by_zero(x: int) -> float:
    """Fail with ZeroDivisionError."""
    return x / 0


def raise_value_error(message: str = "bad value") -> None:
    """Fail with ValueError."""
    raise ValueError(message)


def sleep_for(seconds: float) -> float:
    """Sleep, then return the seconds slept."""
    time.sleep(seconds)
    return seconds


def busy_loop(seconds: float) -> int:
    """Run Python bytecode for a while (a timer death penalty can interrupt it)."""
    deadline = time.monotonic() + seconds
    count = 0
    while time.monotonic() < deadline:
        count += 1
    return count


def ignore_alarm_and_sleep(seconds: float) -> str:
    """Ignore SIGALRM (so the signal death penalty cannot stop it) and sleep."""
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(seconds)
    return "survived"


def current_job_id() -> str | None:
    """The id get_current_job() sees."""
    job = get_current_job()
    return job.id if job is not None else None


def save_progress(value: Any) -> str:
    """Store progress in meta from inside the job."""
    job = get_current_job()
    assert job is not None
    job.meta["progress"] = value
    job.save_meta()
    return "saved"


def kill_own_horse(signum: int = signal.SIGKILL) -> None:
    """Kill the process running the job."""
    os.kill(os.getpid(), signum)


def exit_process(code: int = 0) -> None:
    """Leave the process without recording anything."""
    os._exit(code)


def return_unserializable() -> Any:
    """Return something pickle cannot store."""
    import threading

    return threading.Lock()


def write_pid_and_sleep(path: str, seconds: float) -> None:
    """Record the work horse's pid, then sleep."""
    with open(path, "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(seconds)


class Number:
    """An object whose method is enqueued."""

    def __init__(self, value: int) -> None:
        self.value = value

    def div(self, y: int) -> float:
        """value / y."""
        return self.value / y


class CallableObject:
    """An enqueued callable instance."""

    def __call__(self, x: int) -> int:
        return x * 2


# Exception handlers and callbacks record what they saw here (in-process workers only).
SEEN: list[Any] = []


def record_handler(job: Any, exc_type: type, exc_value: BaseException, tb: Any) -> None:
    """An exception handler that records its call and passes on (returns None)."""
    SEEN.append(("record", job.id, exc_type))


def stop_handler(job: Any, *exc_info: Any) -> bool:
    """An exception handler that stops the chain."""
    SEEN.append(("stop", job.id))
    return False


def raising_handler(job: Any, *exc_info: Any) -> None:
    """An exception handler that itself raises."""
    SEEN.append(("raising", job.id))
    raise RuntimeError("handler broke")


def on_success_record(job: Any, connection: Any, result: Any) -> None:
    """Success callback."""
    SEEN.append(("success", job.id, result))


def on_failure_record(job: Any, connection: Any, exc_type: type, exc_value: BaseException, tb: Any) -> None:
    """Failure callback."""
    SEEN.append(("failure", job.id, exc_type))


def on_success_raise(job: Any, connection: Any, result: Any) -> None:
    """A success callback that raises."""
    raise RuntimeError("callback broke")


def pid_of_runner() -> int:
    """The pid of the process running the job."""
    return os.getpid()


def sleep_then_kill_own_horse(seconds: float) -> None:
    """Sleep, then SIGKILL the process running the job (its work horse)."""
    time.sleep(seconds)
    os.kill(os.getpid(), signal.SIGKILL)


def worker_record_field(field: str) -> str:
    """A field of the record of the worker running this job, as stored (bytes as text)."""
    job = get_current_job()
    assert job is not None and job.worker_name is not None
    record = job.broker.load_workers([job.worker_name])[0]
    assert record is not None
    return record[field].decode()


def record_run(list_key: str, seconds: float = 0.0) -> str:
    """Append the job's id to a Redis list (counts executions across processes), then sleep."""
    job = get_current_job()
    assert job is not None
    job.connection.rpush(list_key, job.id)
    time.sleep(seconds)
    return job.id


def spawn_grandchild_and_sleep(path: str, seconds: float) -> None:
    """Start a child process (a grandchild of the worker), record its pid, then sleep."""
    import subprocess

    child = subprocess.Popen(["sleep", "600"])
    with open(path, "w") as handle:
        handle.write(str(child.pid))
    time.sleep(seconds)


def segfault() -> None:
    """Crash the process with SIGSEGV."""
    import ctypes

    ctypes.string_at(0)


def mark_started_and_sleep(path: str, seconds: float) -> str:
    """Write the runner's pid to ``path`` (a sign the job started), then sleep."""
    with open(path, "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(seconds)
    return "slept"


def spawn_then_ignore_alarm(path: str, seconds: float) -> str:
    """Start a grandchild, ignore SIGALRM (so the death penalty cannot stop us) and sleep."""
    import subprocess

    child = subprocess.Popen(["sleep", "600"])
    with open(path, "w") as handle:
        handle.write(str(child.pid))
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(seconds)
    return "survived"


def sleep_in_callback(job: Any, connection: Any, result: Any) -> None:
    """A success callback that runs past its timeout."""
    SEEN.append(("slow-callback-started", job.id))
    time.sleep(30)
    SEEN.append(("slow-callback-finished", job.id))


def on_stopped_record(job: Any, connection: Any) -> None:
    """Stopped callback."""
    SEEN.append(("stopped", job.id))


def fail_once_then_succeed(key: str) -> str:
    """Fails on its first run (per key, tracked in Redis or memory meta), then succeeds."""
    job = get_current_job()
    assert job is not None
    attempts = job.meta.get("attempts", 0) + 1
    job.meta["attempts"] = attempts
    job.save_meta()
    if attempts == 1:
        raise RuntimeError(f"first attempt of {key} fails")
    return f"{key} done after {attempts} attempts"


def on_failure_raise(job: Any, connection: Any, exc_type: type, exc_value: BaseException, tb: Any) -> None:
    """A failure callback that raises (recorded in SEEN and, on a store shared across processes,
    in the Redis list ``failure-callback``)."""
    SEEN.append(("failure-raising", job.id))
    if job.broker.shares_across_processes:
        job.connection.rpush("failure-callback", f"raising {job.id}")
    raise RuntimeError("failure callback broke")


def sleep_in_failure_callback(job: Any, connection: Any, *exc_info: Any) -> None:
    """A failure callback that runs past its timeout: records its start (and its end, if reached)
    in SEEN and, when it runs in a work horse, in the Redis list ``failure-callback``."""
    SEEN.append(("slow-failure-started", job.id))
    if job.broker.shares_across_processes:
        job.connection.rpush("failure-callback", f"started {job.id}")
    time.sleep(30)
    SEEN.append(("slow-failure-finished", job.id))
    if job.broker.shares_across_processes:
        job.connection.rpush("failure-callback", f"finished {job.id}")


def on_failure_push(job: Any, connection: Any, exc_type: type, exc_value: BaseException, tb: Any) -> None:
    """A failure callback that records itself in the Redis list ``failure-callbacks`` (seen
    across processes)."""
    connection.rpush("failure-callbacks", f"{job.id} {exc_type.__name__}")


def mark_started_and_nap(path: str, seconds: float) -> str:
    """Write the runner's pid to ``path``, then sleep in short naps: unlike one long sleep, a
    stop-job command interrupts it in a SimpleWorker too."""
    with open(path, "w") as handle:
        handle.write(str(os.getpid()))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return "napped"


def on_stopped_push(job: Any, connection: Any) -> None:
    """A stopped callback that records itself in the Redis list ``stopped-callbacks``."""
    connection.rpush("stopped-callbacks", job.id)


def stop_self() -> None:
    """End the job as stopped, as a stop-job command would (its on_stopped callback runs)."""
    from jq.exceptions import JobStopped

    raise JobStopped("stopped by the job itself")


def enqueue_follow_up(is_async: bool) -> str:
    """Enqueue ``add(1, 2)`` as job ``follow-up`` on this job's queue, waiting for this job to end
    (a synchronous queue with ``is_async=False``)."""
    from jq import Queue

    job = get_current_job()
    assert job is not None
    queue = Queue(job.origin, connection=job.broker, is_async=is_async)
    follow_up = queue.enqueue(add, 1, 2, job_id="follow-up", depends_on=job)
    return follow_up.get_status(refresh=False).value


def enqueue_limited_follow_up(key: str) -> str:
    """Enqueue ``add(1, 2)`` as job ``limited-follow-up`` on this job's queue with
    ``is_async=False``, limited by ``key`` to 1 (the limit this job holds too); its status then."""
    from jq import Queue, RateLimit

    job = get_current_job()
    assert job is not None
    queue = Queue(job.origin, connection=job.broker, is_async=False)
    follow_up = queue.enqueue(add, 1, 2, job_id="limited-follow-up", rate_limit=RateLimit(key, 1))
    return follow_up.get_status(refresh=False).value


def record_span(list_key: str, seconds: float) -> str:
    """Push ``start`` and then ``end`` (with times) to a Redis list around a sleep: which jobs
    ran at the same time, across processes."""
    job = get_current_job()
    assert job is not None
    job.connection.rpush(list_key, f"start {time.time()!r} {job.id}")
    time.sleep(seconds)
    job.connection.rpush(list_key, f"end {time.time()!r} {job.id}")
    return job.id


def run_sync_job_then_sleep(seconds: float) -> str:
    """Run ``add(1, 1)`` with ``is_async=False`` on queue ``inner``, then sleep (an outer job
    whose own timeout must still hold)."""
    from jq import Queue

    job = get_current_job()
    assert job is not None
    inner = Queue("inner", connection=job.broker, is_async=False).enqueue(add, 1, 1, job_id="inner")
    time.sleep(seconds)
    return inner.get_status(refresh=False).value


def write_file(path: str, text: str, mtime_ns: int | None = None) -> None:
    """Write ``text`` to ``path`` (a job module, from inside a work horse), with this mtime when
    given (nanoseconds)."""
    with open(path, "w") as handle:
        handle.write(text)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def return_retry(max: int = 2, interval: int | list[int] = 0) -> Any:
    """Ask to be run again, every time: RQ's documented ``return Retry(...)``."""
    from jq import Retry

    job = get_current_job()
    SEEN.append(("asked-retry", job.id if job is not None else None))
    return Retry(max=max, interval=interval)


def retry_once_then_succeed(key: str) -> Any:
    """Return ``Retry(max=3, interval=60)`` on the first run (counted in meta), then succeed."""
    from jq import Retry

    job = get_current_job()
    assert job is not None
    runs = job.meta.get("runs", 0) + 1
    job.meta["runs"] = runs
    job.save_meta()
    if runs == 1:
        return Retry(max=3, interval=60)
    return f"{key} done after {runs} runs"


def on_success_record_then_raise(job: Any, connection: Any, result: Any) -> None:
    """A success callback that records its call, then raises."""
    SEEN.append(("success-raising", job.id, result))
    raise RuntimeError("success callback broke")


def fail_until_flag(key: str) -> str:
    """Fail while the Redis key ``key`` is unset (its connection is the job's), then succeed:
    a job that fails, is fixed, requeued and succeeds, across processes."""
    job = get_current_job()
    assert job is not None
    if not job.connection.get(key):
        raise RuntimeError(f"{key} is not set yet")
    return f"{key} was set"


def sleep_until_shutdown(list_key: str, seconds: float) -> str:
    """Sleep; if a ShutDownImminentException comes, record its extra_info's keys in a Redis list
    and let it go on (HerokuWorker's imminent shutdown)."""
    from jq.exceptions import ShutDownImminentException

    job = get_current_job()
    assert job is not None
    job.connection.set(f"{list_key}:pid", os.getpid())
    job.connection.rpush(list_key, "started")
    try:
        time.sleep(seconds)
    except ShutDownImminentException as error:
        job.connection.rpush(list_key, ",".join(sorted(error.extra_info)))
        raise
    return "slept"


def seen_length() -> int:
    """How many entries SEEN has in the process running the job."""
    return len(SEEN)


# -- async def jobs --------------------------------------------------------------------------------


async def async_add(x: int, y: int) -> int:
    """Sum, after giving the event loop a turn."""
    import asyncio

    await asyncio.sleep(0)
    return x + y


async def async_raise(message: str = "async failure") -> None:
    """Fail with ValueError from a coroutine."""
    import asyncio

    await asyncio.sleep(0)
    raise ValueError(message)


async def async_sleep_noting_cancel(seconds: float) -> str:
    """Sleep on the event loop; if the task is cancelled, say so in the job's meta (so a finally
    block of a timed-out job is seen to run), then let the cancellation go on."""
    import asyncio

    job = get_current_job()
    assert job is not None
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        job.meta["cancelled"] = True
        job.save_meta()
        raise
    return "slept"


async def async_block_the_loop(seconds: float) -> str:
    """A coroutine that blocks its event loop (no cancellation can reach it)."""
    time.sleep(seconds)
    return "blocked"


async def async_job_info() -> tuple[str | None, int, bool]:
    """The current job's id, the pid running the coroutine, and whether a loop runs it."""
    import asyncio

    job = get_current_job()
    return (job.id if job else None, os.getpid(), asyncio.get_running_loop().is_running())


class AsyncNumber:
    """An object with an async method and an async __call__."""

    def __init__(self, value: int) -> None:
        self.value = value

    async def times(self, factor: int) -> int:
        """value * factor."""
        return self.value * factor

    async def __call__(self, extra: int) -> int:
        return self.value + extra


async def async_on_success(job: Any, connection: Any, result: Any) -> None:
    """An async def success callback: records its call in the job's meta."""
    import asyncio

    await asyncio.sleep(0)
    job.meta["async_callback"] = result
    job.save_meta()


def mark_started_and_sleep_once(path: str, seconds: float) -> str:
    """The first run writes its runner's pid to ``path`` and sleeps; a later run returns at once."""
    if os.path.exists(path):
        return "ran again"
    return mark_started_and_sleep(path, seconds)


def note_run_and_sleep(path: str, tag: str, seconds: float) -> str:
    """Append ``tag`` and a newline to ``path`` (one run of the job, counted by the test), then
    sleep ``seconds``."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{tag}\n".encode())
    finally:
        os.close(fd)
    time.sleep(seconds)
    return tag


def record_run_until_released(path: str, release: str, timeout: float = 60.0) -> str:
    """Append the job's id to ``path`` (counts executions across processes, on any store), then
    wait until the file ``release`` exists (at most ``timeout`` seconds)."""
    job = get_current_job()
    assert job is not None
    with open(path, "a") as handle:
        handle.write(job.id + "\n")
    deadline = time.monotonic() + timeout
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.05)
    return job.id


def raise_keyboard_interrupt() -> None:
    """Raise KeyboardInterrupt, as Ctrl+C in a job's code would."""
    raise KeyboardInterrupt


def on_success_exit(job: Any, connection: Any, result: Any) -> None:
    """An ``on_success`` callback that ends the process (``sys.exit(0)``)."""
    sys.exit(0)


def on_failure_exit(job: Any, connection: Any, *exc_info: Any) -> None:
    """An ``on_failure`` callback that ends the process (``sys.exit(0)``)."""
    sys.exit(0)


def hold_the_gil(path: str, seconds: int) -> str:
    """Append a line to the file at ``path`` (counts executions across processes), then hold the
    GIL for ``seconds`` (a C call that does not release it, as a catastrophic regular expression
    does): no other thread of the process runs meanwhile, nor do Python signal handlers."""
    import ctypes

    with open(path, "a") as handle:
        handle.write(f"{os.getpid()}\n")
    ctypes.PyDLL(None).sleep(seconds)
    return "held"


# -- jobs that run at the same time (workers with concurrency) -------------------------------------

# Gates shared by the jobs of one process, by name: created by the first job that asks.
_GATES_LOCK = threading.Lock()
_THREAD_BARRIERS: dict[str, Any] = {}
_ASYNC_GATES: dict[str, list[Any]] = {}
_RELEASES: dict[str, Any] = {}
_ACTIVE: dict[str, list[int]] = {}


def thread_barrier(name: str, parties: int, timeout: float = 20.0) -> int:
    """Wait at the threading.Barrier ``name`` until ``parties`` jobs wait there: only jobs running
    at the same time get through (BrokenBarrierError after ``timeout`` seconds otherwise)."""
    with _GATES_LOCK:
        barrier = _THREAD_BARRIERS.setdefault(name, threading.Barrier(parties, timeout=timeout))
    return int(barrier.wait())


def thread_barrier_then_fail(name: str, parties: int, timeout: float = 20.0) -> None:
    """:func:`thread_barrier`, then raise ValueError: a job that fails with the others it ran with."""
    thread_barrier(name, parties, timeout)
    raise ValueError("failed at the barrier")


async def async_gate(name: str, parties: int, timeout: float = 20.0) -> str:
    """Await the gate ``name`` (an asyncio.Event of the running loop) until ``parties`` jobs are at
    it: only tasks running at the same time get through (TimeoutError after ``timeout`` seconds)."""
    import asyncio

    with _GATES_LOCK:
        gate = _ASYNC_GATES.setdefault(name, [0, asyncio.Event()])
        gate[0] += 1
        if gate[0] >= parties:
            gate[1].set()
    await asyncio.wait_for(gate[1].wait(), timeout)
    return "through"


def release_event(name: str) -> Any:
    """The threading.Event ``name`` that holds the jobs below until the test sets it."""
    with _GATES_LOCK:
        return _RELEASES.setdefault(name, threading.Event())


def active_peak(name: str) -> tuple[int, int]:
    """(jobs of ``name`` running now, the most that ran at once)."""
    with _GATES_LOCK:
        active, peak = _ACTIVE.setdefault(name, [0, 0])
        return active, peak


def count_while_held(name: str, timeout: float = 30.0) -> int:
    """Count itself as running under ``name`` (see :func:`active_peak`) until the event ``name``
    is set, in short naps (Python code: a stop reaches it)."""
    with _GATES_LOCK:
        counter = _ACTIVE.setdefault(name, [0, 0])
        counter[0] += 1
        counter[1] = max(counter[1], counter[0])
    try:
        release = release_event(name)
        deadline = time.monotonic() + timeout
        while not release.is_set() and time.monotonic() < deadline:
            release.wait(0.01)
        return counter[1]
    finally:
        with _GATES_LOCK:
            counter[0] -= 1


def block_until_released(name: str, timeout: float = 30.0) -> str:
    """Wait for the event ``name`` in one blocking call: no exception raised into the thread (a
    timer death penalty, a stop) reaches it before the call returns."""
    release_event(name).wait(timeout)
    return "released"


async def async_hold(name: str, timeout: float = 30.0) -> str:
    """Hold on the event loop until the event ``name`` is set (looked at between short sleeps: a
    cancellation reaches it); notes a cancellation in the job's meta."""
    import asyncio

    job = get_current_job()
    assert job is not None
    with _GATES_LOCK:
        counter = _ACTIVE.setdefault(name, [0, 0])
        counter[0] += 1
        counter[1] = max(counter[1], counter[0])
    try:
        release = release_event(name)
        deadline = time.monotonic() + timeout
        while not release.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    except asyncio.CancelledError:
        job.meta["cancelled"] = True
        job.save_meta()
        raise
    finally:
        with _GATES_LOCK:
            counter[0] -= 1
    return "released"


def reset_gates() -> None:
    """Forget every gate, barrier, event and counter above (between tests)."""
    with _GATES_LOCK:
        for barrier in _THREAD_BARRIERS.values():
            barrier.abort()
        for event in _RELEASES.values():
            event.set()
        _THREAD_BARRIERS.clear()
        _ASYNC_GATES.clear()
        _RELEASES.clear()
        _ACTIVE.clear()


def redis_barrier(key: str, parties: int, timeout: float = 20.0) -> int:
    """Count this job in the Redis key ``key`` and wait until ``parties`` jobs have (across
    processes): only jobs running at the same time get through."""
    job = get_current_job()
    assert job is not None
    job.connection.incr(key)
    deadline = time.monotonic() + timeout
    while int(job.connection.get(key) or 0) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {job.connection.get(key)} of {parties} jobs at the barrier")
        time.sleep(0.01)
    return parties


async def async_redis_barrier(key: str, parties: int, timeout: float = 20.0) -> int:
    """:func:`redis_barrier` for the event loop (the store's calls are quick; the wait yields)."""
    import asyncio

    job = get_current_job()
    assert job is not None
    job.connection.incr(key)
    deadline = time.monotonic() + timeout
    while int(job.connection.get(key) or 0) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {job.connection.get(key)} of {parties} jobs at the barrier")
        await asyncio.sleep(0.01)
    return parties


async def async_mark_started_and_sleep(path: str, seconds: float) -> str:
    """Append the job's id to ``path`` (a sign it started, across processes), then sleep on the
    event loop."""
    import asyncio

    job = get_current_job()
    assert job is not None
    with open(path, "a") as handle:
        handle.write(job.id + "\n")
    await asyncio.sleep(seconds)
    return "slept"


def append_id_and_sleep(path: str, seconds: float) -> str:
    """Append the job's id to ``path`` (a sign it started, across processes), then sleep in one
    blocking call."""
    job = get_current_job()
    assert job is not None
    with open(path, "a") as handle:
        handle.write(job.id + "\n")
    time.sleep(seconds)
    return "slept"


def note_run_at(path: str, tag: str) -> str:
    """Append ``tag`` and the time (``time.time()``) as one line to ``path``: one run of the job,
    counted and timed by a failover test across processes."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{tag} {time.time():.6f}\n".encode())
    finally:
        os.close(fd)
    return tag


def fork_paused_child() -> int:
    """Fork a child that does nothing until a signal ends it; its pid (the caller ends it)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            signal.pause()
        finally:
            os._exit(0)
    return pid


def fork_lingering_child(path: str) -> int:
    """Fork a child that outlives the job (it waits for a signal), as a job that starts a
    background process by fork does; write its pid to the file at ``path`` for the test to end it."""
    pid = fork_paused_child()
    with open(path, "w") as handle:
        handle.write(str(pid))
    return pid
