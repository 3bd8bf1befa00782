"""The soak: thousands of jobs through killed workers and restarted Redis; nothing lost, nothing
run twice.

``python -m benchmarks.soak`` (``--quick``: a smaller run in under a minute). It starts its own
redis-server on a free loopback port, persisting every write (``appendonly yes``,
``appendfsync always``, in its own temporary directory), enqueues a mix of jobs (no-ops, sleeps
of 50-500 ms, some with ``Retry(max=2)``, some failing once by design under their Retry, a few
failing always, a few depending on earlier jobs), and runs four ``jqueue worker`` processes
(``Worker`` reusing its horse, ``Worker`` forking one per job, two ``SimpleWorker``) with
``worker_ttl=5``. During the run it SIGKILLs a random worker ``--kills`` times (starting a
replacement each time) and restarts redis-server ``--restarts`` times (SIGTERM, then a new
server on the same port and data directory), at moments drawn with ``--seed``: each event
fires when a drawn share of the jobs has ended.

Every execution is counted outside Redis (see :mod:`benchmarks.soak_jobs`). At the end the soak
reads every job's record and reports, per job:

- lost: never ended (its record not finished or failed by the deadline);
- ended more than once (more than one ``on_success``/``on_failure``);
- ran more than once, each later execution classified by what preceded it: the earlier
  execution's worker was SIGKILLed before the job's outcome was recorded, so the job was run
  again under its Retry (at-least-once, as documented); the earlier execution raised and its
  Retry ran it again (by design); the earlier execution was still alive when the next began (a
  real duplicate); or none of these (an unexplained re-run);
- jobs left started, queued or deferred; and how the failed ones failed.

It exits with status 1 when a job is lost, really duplicated, re-run without a cause, or ended
twice, and keeps its directory (logs, Redis data) for the post-mortem; else status 0.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `tests` and the working tree importable
    sys.path.insert(0, str(ROOT))

from tests.redis_server import RedisServer  # noqa: E402  (after the path is set)

QUEUE = "soak"
WORKER_TTL = 5
#: How each of the four worker slots runs its jobs (a replacement keeps its slot's kind).
WORKER_KINDS: tuple[tuple[str, ...], ...] = (
    ("-w", "jq.Worker", "--reuse-horse"),
    ("-w", "jq.Worker", "--fork-per-job"),
    ("-w", "jq.SimpleWorker"),
    ("-w", "jq.SimpleWorker"),
)


def now_ns() -> int:
    """The machine's monotonic clock, the one the jobs' log lines carry."""
    return time.monotonic_ns()


def wait_until(predicate: object, timeout: float, what: str) -> None:
    """Poll ``predicate`` until true; raise ``TimeoutError`` naming ``what`` past ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


# -- the jobs -----------------------------------------------------------------------------------


@dataclass
class Planned:
    """One job the soak enqueues."""

    job_id: str
    kind: str  # noop, sleep, retry, fail-first, always-fail, dependent
    seconds: float = 0.0
    retry: bool = False
    parents: tuple[str, ...] = ()


def plan_jobs(count: int, rng: random.Random) -> list[Planned]:
    """The mix: 40% no-ops, 35% sleeps, 12% sleeps with Retry(max=2), 5% failing once under
    Retry(max=2), 1% failing always, 7% depending on one or two earlier jobs (allow_failure)."""
    jobs: list[Planned] = []
    for number in range(count):
        job_id = f"soak-{number:05d}"
        draw = rng.random()
        seconds = round(rng.uniform(0.05, 0.5), 3)
        if draw < 0.40 or number < 10:
            jobs.append(Planned(job_id, "noop"))
        elif draw < 0.75:
            jobs.append(Planned(job_id, "sleep", seconds))
        elif draw < 0.87:
            jobs.append(Planned(job_id, "retry", seconds, retry=True))
        elif draw < 0.92:
            jobs.append(Planned(job_id, "fail-first", seconds, retry=True))
        elif draw < 0.93:
            jobs.append(Planned(job_id, "always-fail"))
        else:
            parents = tuple(sorted({rng.randrange(number) for _ in range(rng.randint(1, 2))}))
            jobs.append(
                Planned(job_id, "dependent", seconds, parents=tuple(f"soak-{p:05d}" for p in parents))
            )
    return jobs


def enqueue_all(url: str, jobs: list[Planned], log: str) -> None:
    """Enqueue every planned job (the parents of a dependent come before it)."""
    from jq import Callback, Queue, Retry
    from jq.job import Dependency

    queue = Queue(QUEUE, connection=url)
    success = Callback("benchmarks.soak_jobs.on_success")
    failure = Callback("benchmarks.soak_jobs.on_failure")
    for job in jobs:
        options: dict[str, object] = {"job_id": job.job_id, "on_success": success, "on_failure": failure}
        if job.retry:
            options["retry"] = Retry(max=2)
        if job.parents:
            options["depends_on"] = Dependency(jobs=list(job.parents), allow_failure=True)
        if job.kind == "always-fail":
            queue.enqueue("benchmarks.soak_jobs.always_fail", log, **options)
        else:
            queue.enqueue("benchmarks.soak_jobs.work", log, job.seconds, job.kind == "fail-first", **options)


# -- the processes ------------------------------------------------------------------------------


@dataclass
class WorkerProcess:
    """One ``jqueue worker`` process, leading a session of its own (its horses, warden and lease
    pulse are in it)."""

    slot: int
    name: str
    process: subprocess.Popen[bytes]
    started_ns: int
    killed_ns: int | None = None


@dataclass
class Event:
    """A fault the soak caused."""

    kind: str  # kill, restart
    at_ns: int
    detail: str
    back_ns: int | None = None  # restart: when the new server answered


@dataclass
class Soak:
    """The run's processes and what was done to them."""

    directory: Path
    url: str = ""
    workers: list[WorkerProcess] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    serial: int = 0
    plan: list[Planned] = field(default_factory=list)
    #: (how many jobs have ended when it fires, "kill" or "restart"), in order; what is left
    #: when the run ends did not fire.
    schedule: list[tuple[int, str]] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)
    drained_s: float = 0.0
    crashed: list[str] = field(default_factory=list)

    def start_worker(self, slot: int) -> WorkerProcess:
        self.serial += 1
        name = f"soak-{slot}-{self.serial}"
        env = dict(os.environ)
        env.pop("JQ_URL", None)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        args = [sys.executable, "-m", "jq", "worker", "-u", self.url, "-n", name,
                "--worker-ttl", str(WORKER_TTL), "--maintenance-interval", "1",
                "--results-ttl", "3600", *WORKER_KINDS[slot], QUEUE]  # fmt: skip
        with open(self.directory / f"worker-{name}.log", "wb") as output:
            process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        worker = WorkerProcess(slot, name, process, now_ns())
        self.workers.append(worker)
        return worker

    def live_workers(self) -> list[WorkerProcess]:
        return [w for w in self.workers if w.killed_ns is None and w.process.poll() is None]

    def kill_one(self, rng: random.Random) -> None:
        victim = rng.choice(self.live_workers())
        victim.killed_ns = now_ns()
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(timeout=30)
        replacement = self.start_worker(victim.slot)
        detail = f"{victim.name} (pid {victim.process.pid}) -> {replacement.name}"
        self.events.append(Event("kill", victim.killed_ns, detail))

    def stop_all(self) -> None:
        """SIGTERM every worker's session, then SIGKILL what is left of it."""
        for worker in self.workers:
            if worker.process.poll() is None:
                _signal_group(worker.process.pid, signal.SIGTERM)
        for worker in self.workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=20)
            _signal_group(worker.process.pid, signal.SIGKILL)
            if worker.process.poll() is None:
                worker.process.wait(timeout=10)


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


# -- the log ------------------------------------------------------------------------------------


@dataclass
class Line:
    event: str
    job_id: str
    pid: int
    ppid: int
    sid: int
    at_ns: int
    detail: str


def read_lines(path: Path, offset: int = 0) -> tuple[list[Line], int]:
    """The whole lines of the log from ``offset``, and the offset after them."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    lines = []
    for raw in data[:end].decode().splitlines():
        event, job_id, pid, ppid, sid, at_ns, *rest = raw.split(" ", 6)
        lines.append(Line(event, job_id, int(pid), int(ppid), int(sid), int(at_ns), " ".join(rest).strip()))
    return lines, offset + end


@dataclass
class Execution:
    start: Line
    end: Line | None = None


def executions_of(lines: list[Line]) -> list[Execution]:
    """A job's executions in start order, each with its end line when it wrote one."""
    runs: list[Execution] = []
    for line in lines:
        if line.event == "start":
            runs.append(Execution(line))
        elif line.event == "end":
            for run in reversed(runs):
                if run.start.pid == line.pid and run.end is None:
                    run.end = line
                    break
    return runs


# -- the verdict --------------------------------------------------------------------------------


#: Why a job ran again (see :func:`classify`).
AFTER_KILL = "re-run after its worker was SIGKILLed (at-least-once)"
AFTER_RAISE = "retried after raising (by design)"
DUPLICATE = "real duplicate"
UNEXPLAINED = "unexplained re-run"


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    ended_twice: list[str] = field(default_factory=list)
    reruns: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[str] = field(default_factory=Counter)
    failure_reasons: Counter[str] = field(default_factory=Counter)
    no_callback: list[str] = field(default_factory=list)
    dependents_early: list[str] = field(default_factory=list)
    #: Seconds from a kill to the end of its job as abandoned, and to the start of its re-run.
    kill_to_abandoned: list[float] = field(default_factory=list)
    kill_to_rerun: list[float] = field(default_factory=list)
    #: Failed as abandoned though they never started: claimed ahead by a killed SimpleWorker.
    abandoned_unstarted: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        bad = (DUPLICATE, UNEXPLAINED)
        return bool(
            self.lost or self.ended_twice or any(self.reruns[k] for k in bad) or self.dependents_early
        )


def killer_of(run: Execution, workers: list[WorkerProcess]) -> WorkerProcess | None:
    """The killed worker that ran this execution (the job's process is the worker, or its horse
    in the worker's session), when one was."""
    start = run.start
    for worker in workers:
        if worker.killed_ns is None or not worker.started_ns <= start.at_ns <= worker.killed_ns:
            continue
        if worker.process.pid in (start.pid, start.ppid, start.sid):
            return worker
    return None


def judge(plan: list[Planned], by_job: dict[str, list[Line]], records: dict[str, tuple[str, str]],
          workers: list[WorkerProcess]) -> Verdict:  # fmt: skip
    """Compare what each job's log says ran and ended with its record."""
    verdict = Verdict()
    for job in plan:
        lines = by_job.get(job.job_id, [])
        status, reason = records.get(job.job_id, ("missing", ""))
        verdict.statuses[status] += 1
        if status == "failed":
            verdict.failure_reasons[f"{job.kind}: {reason}"] += 1
        ends = [line for line in lines if line.event in ("success", "failure")]
        if status not in ("finished", "failed"):
            verdict.lost.append(job.job_id)
        elif not ends:
            verdict.no_callback.append(job.job_id)
        if len(ends) > 1:
            verdict.ended_twice.append(job.job_id)
        runs = executions_of(lines)
        for before, after in itertools.pairwise(runs):
            why = classify(before, after, ends, workers)
            verdict.reruns[why].append(job.job_id)
            killer = killer_of(before, workers)
            if why == AFTER_KILL and killer is not None and killer.killed_ns is not None:
                verdict.kill_to_rerun.append((after.start.at_ns - killer.killed_ns) / 1e9)
        if status == "failed" and "AbandonedJobError" in reason:
            if not runs:
                verdict.abandoned_unstarted.append(job.job_id)
            # The reason names the worker whose lease ran out.
            named = [w for w in workers if f"worker {w.name} " in reason and w.killed_ns is not None]
            failure = next((line for line in ends if line.event == "failure"), None)
            if named and failure is not None:
                verdict.kill_to_abandoned.append((failure.at_ns - (named[0].killed_ns or 0)) / 1e9)
        if job.parents and runs:
            for parent in job.parents:
                parent_ends = [r.end.at_ns for r in executions_of(by_job.get(parent, [])) if r.end]
                if parent_ends and runs[0].start.at_ns < min(parent_ends):
                    verdict.dependents_early.append(f"{job.job_id} (parent {parent})")
    return verdict


def classify(before: Execution, after: Execution, ends: list[Line], workers: list[WorkerProcess]) -> str:
    """Why the job ran again: what its previous execution was when the next one began. An
    execution that wrote no end line and whose worker the soak did not kill counts as alive (a
    real duplicate): nothing known ended it."""
    killer = killer_of(before, workers)
    killed_ns = killer.killed_ns if killer is not None else None
    before_end = before.end.at_ns if before.end is not None else None
    alive = (before_end is None or before_end > after.start.at_ns) and (
        killed_ns is None or killed_ns > after.start.at_ns
    )
    if alive:
        return DUPLICATE
    if before.end is not None and before.end.detail.startswith("raised:"):
        return AFTER_RAISE
    # Killed before the job's outcome was recorded: the job did not end between the two.
    if (
        killed_ns is not None
        and killed_ns < after.start.at_ns
        and not any(before.start.at_ns < line.at_ns < killed_ns for line in ends)
    ):
        return AFTER_KILL
    return UNEXPLAINED


def read_records(url: str, job_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Each job's status and, when failed, the last line of its exc_info."""
    from jq.job import Job

    records: dict[str, tuple[str, str]] = {}
    for start in range(0, len(job_ids), 200):
        chunk = job_ids[start : start + 200]
        for job_id, job in zip(chunk, Job.fetch_many(chunk, connection=url), strict=True):
            if job is None:
                records[job_id] = ("missing", "")
                continue
            status = str(job.get_status(refresh=False).value)
            reason = ""
            if status == "failed":
                exc = job.exc_info or ""
                reason = (exc.strip().splitlines() or ["(no exc_info)"])[-1][:100]
            records[job_id] = (status, reason)
    return records


# -- the run ------------------------------------------------------------------------------------


def drive(soak: Soak, server: RedisServer, log: Path, rng: random.Random, deadline_s: float) -> None:
    """Start the workers, fire the faults as their moments come, and wait (at most
    ``deadline_s``) until every job has ended."""
    started = now_ns()
    for slot in range(len(WORKER_KINDS)):
        soak.start_worker(slot)
    offset = 0
    deadline = time.monotonic() + deadline_s
    while len(soak.ended) < len(soak.plan) and time.monotonic() < deadline:
        lines, offset = read_lines(log, offset)
        soak.ended.update(line.job_id for line in lines if line.event in ("success", "failure"))
        while soak.schedule and len(soak.ended) >= soak.schedule[0][0]:
            _, fault = soak.schedule.pop(0)
            if fault == "kill":
                soak.kill_one(rng)
            else:
                at = now_ns()
                server.stop()
                server.start()
                soak.events.append(Event("restart", at, f"redis-server :{server.port}", back_ns=now_ns()))
            event = soak.events[-1]
            print(f"  {len(soak.ended)} ended: {event.kind} {event.detail}", flush=True)
        time.sleep(0.05)  # polling the log for progress, with the deadline above
    soak.drained_s = (now_ns() - started) / 1e9
    soak.crashed = [w.name for w in soak.workers if w.killed_ns is None and w.process.poll() is not None]
    # Stop the workers (a warm shutdown lets a running job end) before reading the whole log: an
    # execution that would come late, a duplicate, is in it then.
    soak.stop_all()


def write_events(soak: Soak) -> None:
    """What the soak did, for a post-mortem beside the execution log (same clock)."""
    with open(soak.directory / "events.txt", "w") as out:
        for worker in soak.workers:
            out.write(f"worker {worker.name} pid {worker.process.pid} started {worker.started_ns} "
                      f"killed {worker.killed_ns}\n")  # fmt: skip
        for event in soak.events:
            out.write(f"{event.kind} at {event.at_ns} back {event.back_ns} {event.detail}\n")


def run(args: argparse.Namespace) -> int:
    """One soak; 0 when nothing was lost or run twice, else 1."""
    rng = random.Random(args.seed)
    directory = Path(tempfile.mkdtemp(prefix="jq-soak-"))
    log = directory / "executions.log"
    server = RedisServer(extra_args=("--appendonly", "yes", "--appendfsync", "always"))
    soak = Soak(directory)
    ok = False
    try:
        server.start()
        soak.url = server.url
        soak.plan = plan_jobs(args.jobs, rng)
        began = time.monotonic()
        enqueue_all(soak.url, soak.plan, str(log))
        print(f"enqueued {len(soak.plan)} jobs in {time.monotonic() - began:.1f}s on redis-server "
              f":{server.port} ({directory})", flush=True)  # fmt: skip
        faults = ["kill"] * args.kills + ["restart"] * args.restarts
        rng.shuffle(faults)
        moments = sorted(rng.uniform(0.05, 0.85) for _ in faults)
        soak.schedule = [(int(m * len(soak.plan)), f) for m, f in zip(moments, faults, strict=True)]
        drive(soak, server, log, rng, args.deadline)
        write_events(soak)
        lines, _ = read_lines(log)
        by_job: dict[str, list[Line]] = defaultdict(list)
        for line in lines:
            by_job[line.job_id].append(line)
        records = read_records(soak.url, [job.job_id for job in soak.plan])
        verdict = judge(soak.plan, by_job, records, soak.workers)
        report(args, verdict, soak, lines)
        ok = not verdict.failed and not soak.crashed and not soak.schedule
        return 0 if ok else 1
    finally:
        soak.stop_all()
        server.stop(kill=True)
        if (ok and not args.keep) or not soak.plan:  # nothing to inspect when nothing ran
            shutil.rmtree(directory, ignore_errors=True)
            shutil.rmtree(server.workdir, ignore_errors=True)
        else:
            print(f"kept for inspection: {directory} (logs, events.txt), {server.workdir} (Redis data)")


def _seconds(values: list[float]) -> str:
    if not values:
        return "-"
    return f"median {statistics.median(values):.1f}s, max {max(values):.1f}s (n={len(values)})"


def report(args: argparse.Namespace, verdict: Verdict, soak: Soak, lines: list[Line]) -> None:
    """Print the figures."""
    plan = soak.plan
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(Counter(job.kind for job in plan).items()))
    print()
    print(f"soak: {len(plan)} jobs ({kinds}), seed {args.seed}")
    print(f"  {len(soak.workers)} worker processes over the run, {args.kills} SIGKILLed, "
          f"redis-server restarted {args.restarts} times")  # fmt: skip
    ended = f"{len(soak.ended)} of {len(plan)} jobs ended"
    print(f"  {ended} in {soak.drained_s:.1f}s after the workers started (deadline {args.deadline:.0f}s)")
    print(f"  records: {', '.join(f'{n} {s}' for s, n in sorted(verdict.statuses.items()))}")
    for reason, count in sorted(verdict.failure_reasons.items()):
        print(f"    failed, {count} x {reason}")
    executions = sum(1 for line in lines if line.event == "start")
    print(f"  executions: {executions}")
    print(f"  lost (never ended): {len(verdict.lost)} {verdict.lost[:20]}")
    print(f"  ended more than once: {len(verdict.ended_twice)} {verdict.ended_twice[:20]}")
    reasons = (AFTER_KILL, AFTER_RAISE, DUPLICATE, UNEXPLAINED)
    for reason in reasons:
        jobs = verdict.reruns.get(reason, [])
        print(f"  ran again, {reason}: {len(jobs)} {jobs[:20] if reason in reasons[2:] else ''}".rstrip())
    print(f"  ended without a callback line (killed between record and callback): {len(verdict.no_callback)}")
    print(f"  dependents started before a parent's function ended: {len(verdict.dependents_early)}")
    print(f"  failed as abandoned without having started (claimed ahead, then the worker was killed): "
          f"{len(verdict.abandoned_unstarted)} {verdict.abandoned_unstarted[:20]}")  # fmt: skip
    print(f"  a killed worker's job ended as abandoned: {_seconds(verdict.kill_to_abandoned)} after the kill")
    print(f"  a killed worker's job re-run under its Retry (from the back of the queue): "
          f"{_seconds(verdict.kill_to_rerun)} after the kill")  # fmt: skip
    for event in soak.events:
        if event.kind == "restart" and event.back_ns is not None:
            after = [line.at_ns for line in lines if line.at_ns > event.back_ns]
            resumed = f"{(min(after) - event.back_ns) / 1e9:.2f}s" if after else "never"
            print(f"  redis restart: down {(event.back_ns - event.at_ns) / 1e9:.2f}s, "
                  f"first job line {resumed} after it answered")  # fmt: skip
    if soak.crashed:
        print(f"  workers that exited by themselves: {soak.crashed}")
    if soak.schedule:
        print(f"  faults not fired (the jobs ended first): {soak.schedule}")
    print("FAILED" if verdict.failed or soak.crashed or soak.schedule else "OK")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000, help="jobs to enqueue (default 2000)")
    parser.add_argument("--kills", type=int, default=12, help="workers to SIGKILL (default 12)")
    parser.add_argument("--restarts", type=int, default=2, help="redis-server restarts (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the job mix and fault moments")
    parser.add_argument("--deadline", type=float, default=900, help="seconds for every job to end")
    parser.add_argument("--quick", action="store_true", help="200 jobs, 3 kills, 1 restart, 50 s deadline")
    parser.add_argument("--keep", action="store_true", help="keep the logs and Redis data when all is well")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.kills, args.restarts, args.deadline = 200, 3, 1, 50.0
    if args.jobs < 20 or args.kills < 0 or args.restarts < 0:
        parser.error("--jobs must be at least 20, --kills and --restarts at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        return run(args)
    except RuntimeError as error:  # redis-server missing or not starting: say so, no traceback
        print(f"soak: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
