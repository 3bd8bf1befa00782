"""Copy the jobs in flight on an RQ 3.0 Redis into jq: ``python -m jq.migrate_rq``.

::

    python -m jq.migrate_rq --from redis://localhost:6379/0 [--to URL] [--queue NAME ...]
                            [--serializer NAME] [--rq-prefix rq] [--move] [--dry-run]

Every queued, scheduled, deferred and failed RQ job (of the ``--queue`` given, else of every
queue) becomes a jq job with the same id, function, arguments, options (timeouts, TTLs,
description, meta, retries, callbacks, ``at_front``), dependencies and due time, on the queue of
the same name. Queued jobs keep their order; a failed job keeps its traceback (its latest
result) and can be requeued on jq. RQ's side is left as it was unless ``--move`` is given: then
each job is taken off RQ as it is copied (and put back if jq refuses it).

What is not copied is reported, and makes the exit status 1: jobs an RQ worker is running or has
taken (let RQ finish them, or run this again later), jobs that wait for a job that stays on RQ,
records that cannot be read, and options or names jq refuses. Ids jq has already (copied by an
earlier run) are left alone on both sides: nothing is overwritten. Finished, canceled and stopped
jobs are history: they are counted, not copied. A store that does not answer is status 1 too; a
usage or configuration mistake is status 2.

Run it where the application's code is importable, as a worker runs: reading RQ's pickled
arguments imports their classes. Stop RQ's workers first, or use ``--move``: otherwise a job
copied while it is still on RQ can run on both.
"""

from __future__ import annotations

import argparse
import datetime
import math
import sys
import urllib.parse
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from jq.base.utils import public_module
from jq.broker import STATUS, Move, Place, PlaceKind, RecordEdit, Status, ToRegistry, Transition
from jq.compat.helpers import utcformat
from jq.compat.rq_store import RQJob, RQStore, UnreadableJobError
from jq.core.callbacks import Callback
from jq.core.dependency import Dependency
from jq.core.job import Job
from jq.core.repeat import Repeat
from jq.core.results import Result
from jq.core.retry import Retry
from jq.core.webhook import Webhook
from jq.exceptions import ConfigurationError, JQError
from jq.io.connections import resolve_broker
from jq.io.serializers import Serializer, resolve_serializer
from jq.io.signing import is_signing
from jq.queueing.queue import Queue

__all__ = ["Report", "main", "migrate"]

#: What each RQ place holds, for the report.
COPIED_KINDS = ("queued", "scheduled", "deferred", "failed")
#: RQ's history: counted, never copied.
HISTORY_KINDS = ("finished", "canceled")
# A failed job is first stored as scheduled this far ahead (never due) so that its queue becomes
# one jq knows, then moved to the failed registry in the next atomic step (see _write_failed).
_NEVER_DUE = datetime.timedelta(days=36500)


@dataclass
class _Candidate:
    """A job to copy: where RQ keeps it (``place``, with its score there) and what it becomes."""

    job_id: str
    queue: str
    kind: str
    place: tuple[str, str]
    score: float = 0.0


@dataclass
class Report:
    """What a run copied, counted, and could not copy."""

    dry_run: bool = False
    move: bool = False
    copied: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    history: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    #: ``(queue, job id, what it is on RQ, why it was not copied)``
    not_copied: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: Jobs jq has already (an earlier run copied them): left as they are, on both sides.
    already: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    copied_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every job that was to be copied was."""
        return not self.not_copied

    def lines(self) -> list[str]:
        """The report, as printed."""
        verb = "would copy" if self.dry_run else "moved" if self.move else "copied"
        out = []
        queues = (
            set(self.copied) | set(self.history) | set(self.already) | {entry[0] for entry in self.not_copied}
        )
        for queue in sorted(queues):
            counts = self.copied.get(queue, Counter())
            done = ", ".join(f"{counts[kind]} {kind}" for kind in COPIED_KINDS if counts[kind]) or "nothing"
            out.append(f"{queue}: {verb} {done}")
            if self.already.get(queue):
                out.append(f"  in jq already (left as they are): {len(self.already[queue])}")
            history = self.history.get(queue, Counter())
            if history:
                kept = ", ".join(f"{count} {kind}" for kind, count in sorted(history.items()))
                out.append(f"  history left on RQ (not copied): {kept}")
        if self.not_copied:
            out.append(f"not copied ({len(self.not_copied)}):")
            out += [f"  {queue} {job_id} ({what}): {why}" for queue, job_id, what, why in self.not_copied]
        total = sum(sum(counts.values()) for counts in self.copied.values())
        tail = (
            ""
            if self.move or self.dry_run
            else "; RQ's jobs were left as they were (--move takes them off RQ)"
        )
        out.append(f"{verb} {total} job{'s' if total != 1 else ''}{tail}")
        return out


def migrate(
    source: RQStore,
    target: Any,
    *,
    queues: Sequence[str] = (),
    move: bool = False,
    dry_run: bool = False,
    serializer: Any = None,
) -> Report:
    """Copy ``source``'s queued, scheduled, deferred and failed jobs (of ``queues``, else of
    every queue) into the jq store ``target`` (a URL, client or broker); see the module's doc."""
    broker = resolve_broker(target)
    run = _Run(source, broker, Report(dry_run=dry_run, move=move), move, dry_run, serializer)
    names = [name for name in source.queue_names() if not queues or name in queues]
    candidates: list[_Candidate] = []
    for name in names:
        candidates += run.survey(name)
    run.note_rate_limited(names)
    deferred = [candidate for candidate in candidates if candidate.kind == "deferred"]
    for candidate in candidates:
        if candidate.kind != "deferred":
            run.copy(candidate)
    run.copy_deferred(deferred)
    return run.report


class _Run:
    """One migration: the source, the target, and what was done so far."""

    def __init__(
        self, source: RQStore, broker: Any, report: Report, move: bool, dry_run: bool, serializer: Any
    ) -> None:
        self.source = source
        self.broker = broker
        self.report = report
        self.move = move
        self.dry_run = dry_run
        self.serializer = serializer
        self.loaded: dict[str, RQJob | None] = {}
        self.done: set[str] = set()

    # -- what RQ holds ----------------------------------------------------------------------------

    def survey(self, name: str) -> list[_Candidate]:
        """The jobs of queue ``name`` to copy, in copy order; what stays on RQ is reported."""
        source = self.source
        found = [_Candidate(job_id, name, "queued", ("queue", name)) for job_id in source.queued_ids(name)]
        found += [
            _Candidate(i, name, "queued", ("ready", name), s) for i, s in source.registry("ready", name)
        ]
        for kind in ("scheduled", "failed", "deferred"):
            found += [_Candidate(i, name, kind, (kind, name), s) for i, s in source.registry(kind, name)]
        for job_id in source.taken_ids(name):
            self.left(name, job_id, "started", "an RQ worker took it off the queue: let RQ run it")
        for job_id, _score in source.registry("started", name):
            if source.status(job_id) == "started":  # else a stale entry: the job is elsewhere
                self.left(name, job_id, "started", "running on an RQ worker: let RQ finish it")
        for kind in HISTORY_KINDS:
            if count := source.count(kind, name):
                self.report.history[name][kind] += count
        return found

    def note_rate_limited(self, names: Sequence[str]) -> None:
        """Report the rate-limited jobs of those queues (jq has no rate limits to wait under)."""
        for job_id in self.source.rate_limited_ids():
            origin = self.source.client.hget(self.source.keys.job(job_id), "origin")
            name = origin.decode() if isinstance(origin, bytes) else str(origin or "")
            if name in names:
                self.left(
                    name,
                    job_id,
                    "rate_limited",
                    "waiting for a rate-limit slot: RQ keeps its limit, not its window",
                )

    def left(self, queue: str, job_id: str, what: str, why: str) -> None:
        """Report a job that is not copied."""
        self.report.not_copied.append((queue, job_id, what, why))

    def load(self, candidate: _Candidate) -> RQJob | None:
        """The RQ job, if it can be read and is what its place says (else reported, or None for
        a stale entry RQ itself would skip)."""
        key = f"{candidate.place}{candidate.job_id}"
        if key not in self.loaded:
            try:
                job: RQJob | None = self.source.load(candidate.job_id)
            except UnreadableJobError as exc:
                self.left(candidate.queue, candidate.job_id, candidate.kind, str(exc))
                job = None
            expected = {"queued": ("queued", "ready_to_enqueue")}.get(candidate.kind, (candidate.kind,))
            if job is not None and job.status not in expected:
                job = None  # a stale entry: the job is somewhere else now, and found there
            self.loaded[key] = job
        return self.loaded[key]

    # -- copying ------------------------------------------------------------------------------------

    def copy(self, candidate: _Candidate) -> bool:
        """Copy one job (and with ``move``, take it off RQ); whether it was copied."""
        rq_job = self.load(candidate)
        if rq_job is None:
            return False
        if candidate.job_id in self.done:
            return False  # listed twice on RQ (a stale entry): copied once
        if Job.exists(candidate.job_id, connection=self.broker):
            self.report.already[candidate.queue].append(candidate.job_id)
            return False
        try:  # jq refuses some names RQ takes (docs/moving-from-rq.md): the job says so
            queue = Queue(candidate.queue, connection=self.broker, serializer=self.serializer)
            job = _build(queue, rq_job, candidate, self.source.remaining_ttl(candidate.job_id))
        except (JQError, ValueError, TypeError) as exc:
            self.left(candidate.queue, candidate.job_id, candidate.kind, f"jq refuses it: {exc}")
            return False
        if not self.dry_run:
            if self.move and not self.source.take(candidate.job_id, candidate.place):
                self.left(candidate.queue, candidate.job_id, candidate.kind, "it changed on RQ while copying")
                return False
            try:
                self._write(queue, job, rq_job, candidate)
            except Exception as exc:
                if self.move:
                    self.source.put_back(candidate.job_id, candidate.place, candidate.score)
                self.left(candidate.queue, candidate.job_id, candidate.kind, f"{type(exc).__name__}: {exc}")
                return False
            if self.move:
                self.source.delete(rq_job)
        self.done.add(candidate.job_id)
        self.report.copied[candidate.queue][candidate.kind] += 1
        self.report.copied_ids.append(candidate.job_id)
        return True

    def copy_deferred(self, deferred: list[_Candidate]) -> None:
        """Copy deferred jobs, each after the jobs it waits for; one that waits for a job staying
        on RQ (running there, or not copied) is not copied: jq would take it for met."""
        pending = {candidate.job_id: candidate for candidate in deferred}
        waits: dict[str, list[str]] = {}
        for candidate in deferred:
            rq_job = self.load(candidate)
            if rq_job is None:
                del pending[candidate.job_id]
            else:
                waits[candidate.job_id] = rq_job.dependency_ids
        progress = True
        while pending and progress:
            progress = False
            for job_id, candidate in list(pending.items()):
                blocker = self._blocker(waits[job_id], pending)
                if blocker == "":
                    continue  # waits for a deferred job not copied yet
                del pending[job_id]
                progress = True
                if blocker is None:
                    self.copy(candidate)
                else:
                    self.left(candidate.queue, job_id, "deferred", blocker)
        for job_id, candidate in pending.items():
            self.left(candidate.queue, job_id, "deferred", "its dependencies wait for one another")

    def _blocker(self, dependency_ids: list[str], pending: dict[str, _Candidate]) -> str | None:
        """Why a deferred job cannot be copied yet: None (it can), ``""`` (after a pending one),
        or the reason it cannot be."""
        blocker: str | None = None
        for dependency in dependency_ids:
            if dependency in self.done or Job.exists(dependency, connection=self.broker):
                continue  # jq has it: jq decides whether the job waits
            if dependency in pending:
                blocker = ""
                continue
            status = self.source.status(dependency)
            if status not in (None, "finished"):  # gone or finished: met, as on RQ
                return f"waits for job {dependency}, which stays on RQ ({status})"
        return blocker

    def _write(self, queue: Queue, job: Job, rq_job: RQJob, candidate: _Candidate) -> None:
        if candidate.kind == "queued":
            # Its dependencies were met on RQ: queued as it is, behind what jq's queue holds.
            queue._enqueue_job(
                job, at_front=candidate.place[0] == "ready" and rq_job.flag("enqueue_at_front")
            )
        elif candidate.kind == "scheduled":
            queue.schedule_job(job, datetime.datetime.fromtimestamp(candidate.score, datetime.timezone.utc))
        elif candidate.kind == "deferred":
            queue.enqueue_job(job)
        else:
            self._write_failed(queue, job, rq_job, candidate.score)

    def _write_failed(self, queue: Queue, job: Job, rq_job: RQJob, expires: float) -> None:
        """Store a failed job: in jq's failed registry until RQ's entry would have expired, its
        traceback as its latest result."""
        failure = self.source.latest_failure(rq_job.id)
        exc_string, worker_name = failure or ("(RQ kept no traceback for this failure)", "")
        # RQ scores a failed entry by its expiry; a negative score is a failure_ttl of -1.
        ttl = -1 if expires < 0 else max(1, math.ceil(expires - self.broker.now()))
        # Enqueued first (never due), so jq knows the queue as RQ did; then moved, atomically.
        # (Deferred instead if jq has a dependency it has not met: it then stops waiting for it.)
        queue.schedule_job(job, datetime.datetime.now(datetime.timezone.utc) + _NEVER_DUE)
        placed = job.get_status(refresh=False)
        ended_at = rq_job.moment("ended_at") or datetime.datetime.now(datetime.timezone.utc)
        place = queue.name
        moved = self.broker.transition(
            Transition(
                job.id,
                Move(
                    Place(PlaceKind(placed.value), place),
                    ToRegistry(
                        Place(PlaceKind.FAILED, place), math.inf if ttl == -1 else self.broker.now() + ttl
                    ),
                ),
                RecordEdit(
                    {
                        STATUS: Status.FAILED.stored,
                        "ended_at": utcformat(ended_at).encode(),
                        "exc_info": exc_string.encode(),
                    },
                    record_ttl=-1 if ttl == -1 else ttl,
                ),
                leave_dependencies=True,
            )
        )
        if not moved:
            raise JQError("the job changed on jq while it was being stored")
        Result.create_failure(job, ttl, exc_string, worker_name=worker_name)


def _build(queue: Queue, rq_job: RQJob, candidate: _Candidate, remaining_ttl: int | None) -> Job:
    """The jq job for an RQ job: its call, options and dependencies checked; nothing written."""
    func: Any = rq_job.func_name
    if rq_job.instance is not None:
        func = getattr(rq_job.instance, rq_job.func_name)
    if rq_job.text("rate_limit_key"):
        raise ValueError(
            "it is rate-limited on RQ, and RQ's record keeps its limit's key, not its limit and window"
        )
    callbacks: dict[str, Any] = {}
    for kind in ("success", "failure", "stopped"):
        found = rq_job.callback(kind)
        if found is not None:
            callbacks[f"on_{kind}"] = Callback(found[0], timeout=found[1])
    retries_left = rq_job.number("retries_left")
    retry = None
    if retries_left:
        retry = Retry(max=retries_left, interval=rq_job.json("retry_intervals") or 0)
    repeat = None
    if rq_job.number("repeats_left"):
        repeat = Repeat(
            times=rq_job.number("repeats_left") or 0, interval=rq_job.json("repeat_intervals") or 0
        )
    webhooks = None
    if rq_job.json("webhooks"):
        webhooks = [Webhook.from_dict(item) for item in rq_job.json("webhooks")]
    dependencies: Any = rq_job.dependency_ids or None
    if dependencies and rq_job.flag("allow_dependency_failures"):
        dependencies = Dependency(jobs=dependencies, allow_failure=True)
    job = queue.create_job(
        func,
        args=list(rq_job.args),
        kwargs=rq_job.kwargs,
        timeout=rq_job.number("timeout"),
        result_ttl=rq_job.number("result_ttl"),
        ttl=remaining_ttl if candidate.kind in ("queued", "scheduled", "deferred") else rq_job.number("ttl"),
        failure_ttl=rq_job.number("failure_ttl"),
        description=rq_job.text("description"),
        depends_on=dependencies,
        job_id=rq_job.id,
        meta=rq_job.meta or None,
        retry=retry,
        repeat=repeat,
        webhooks=webhooks,
        group_id=rq_job.text("group_id"),
        **callbacks,
    )
    job.created_at = rq_job.moment("created_at") or job.created_at
    job.enqueue_at_front = rq_job.flag("enqueue_at_front")
    job.enqueue_at_front_on_retry = rq_job.flag("enqueue_at_front_on_retry")
    return job


def _jq_name(name: str | None) -> str | None:
    """RQ's serializer names (``rq.serializers.JSONSerializer``) are jq's: the formats are the
    same."""
    return "jq." + name[3:] if name and name.startswith("rq.") else name


def _redacted(url: str) -> str:
    """``url`` without its password."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _reading_serializer(name: str | None) -> Serializer:
    """The serializer that reads RQ's data, never the signing wrapper ``JQ_SIGNING_KEYS`` adds
    (RQ signs nothing)."""
    serializer = resolve_serializer(_jq_name(name))
    return serializer.serializer if is_signing(serializer) else serializer


def parse_args(argv: Sequence[str] | None, prog: str = "python -m jq.migrate_rq") -> argparse.Namespace:
    """The command line (see the module's doc); ``prog`` is how its help names the command."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Copy the queued, scheduled, deferred and failed jobs of an RQ Redis into jq.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Examples:\n"
            f"  {prog} --from redis://localhost:6379/0 --dry-run\n"
            f"  {prog} --from redis://old-host:6379/0 --to redis://localhost:6379/0\n"
            f"  {prog} --from redis://localhost:6379/0 --queue default --move"
        ),
    )
    parser.add_argument(
        "--from", dest="source", required=True, metavar="URL", help="RQ's Redis (redis://...)"
    )
    parser.add_argument("--to", dest="target", metavar="URL", help="jq's store (default: the same Redis)")
    parser.add_argument(
        "--queue", "-q", dest="queues", action="append", default=[], metavar="NAME",
        help="copy this queue's jobs only (repeat for more; default: every queue)",
    )  # fmt: skip
    parser.add_argument(
        "--serializer", "-S", metavar="NAME",
        help="the serializer RQ used, which jq uses too: pickle (default), json, or a dotted path",
    )  # fmt: skip
    parser.add_argument("--rq-prefix", default="rq", metavar="PREFIX", help="RQ's key prefix (RQ_KEY_PREFIX)")
    parser.add_argument("--move", action="store_true", help="take each job off RQ as it is copied")
    parser.add_argument("--dry-run", action="store_true", help="report what would be copied; write nothing")
    return parser.parse_args(argv)


def _rq_client(url: str) -> redis.Redis:
    """A client of RQ's Redis at ``url``; a URL redis-py cannot read is a ConfigurationError."""
    try:
        return redis.Redis.from_url(url)
    except ValueError as exc:  # redis-py's word for a scheme it has no use for, a bad port...
        raise ConfigurationError(
            f"--from {_redacted(url)!r} is not a Redis URL ({exc}): RQ's Redis is named as "
            "redis://host:port/db, rediss://... (TLS) or unix:///path/redis.sock?db=0"
        ) from None


def main(
    argv: Sequence[str] | None = None,
    out: Callable[[str], object] = print,
    prog: str = "python -m jq.migrate_rq",
) -> int:
    """Run the command; 0 when every job to copy was copied, 1 when some were not (or a store
    did not answer), 2 for a usage or configuration mistake."""
    args = parse_args(argv, prog)
    try:
        serializer = _reading_serializer(args.serializer)
        client = _rq_client(args.source)
        target = args.target or args.source
        report = migrate(
            RQStore(client, serializer, prefix=args.rq_prefix),
            target,
            queues=args.queues,
            move=args.move,
            dry_run=args.dry_run,
            serializer=_jq_name(args.serializer),
        )
    except JQError as exc:
        print(f"jq.migrate_rq: {exc}", file=sys.stderr)
        return 2
    except redis.RedisError as exc:  # a store that does not answer: nothing was done wrong
        print(f"jq.migrate_rq: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    target = _redacted(args.target or args.source)
    out(f"RQ at {_redacted(args.source)} (keys {args.rq_prefix}:*) -> jq at {target}")
    for line in report.lines():
        out(line)
    return 0 if report.ok else 1


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.migrate_rq", Report)
