"""Every key name jq stores data under, built in this one module.

Both drivers name their keys the same way, so ``job.key`` means the same thing on Redis and in
memory. The layout is ``<prefix><kind>:<name>`` where ``kind`` is one fixed word from
:class:`KeySpace` and ``name`` (a job id, queue name or worker name) is always the *last*
component. Because no kind is a prefix of another kind followed by ``:``, two different
(kind, name) pairs never map to the same key, even when a name contains ``:``.

============================== ==========================================================
``jq:job:<id>``                 the job record (a hash of readable fields)
``jq:results:<id>``             the job's result entries, newest first (a list)
``jq:dependents:<id>``          ids of jobs waiting on this one (a set)
``jq:dependencies:<id>``        ids of this job's unmet dependencies (a set)
``jq:queue:<name>``             the queue's job ids, front first (a list)
``jq:wake:<name>``              a token that wakes blocked claimers (a list of at most one)
``jq:queues``                   the names of known queues (a set)
``jq:<registry>:<name>``        a registry of the queue: started, finished, failed, deferred,
                                scheduled, canceled, rate_limited (sorted sets scored by time)
``jq:worker:<name>``            a worker's record (a hash)
``jq:workers``                  the names of registered workers (a set)
``jq:workers-of:<queue>``       the names of workers listening to a queue (a set)
``jq:worker-queues:<name>``     the queues a worker listens to (a set; lets it leave each index)
``jq:commands:<name>``          the pub/sub channel of a worker's commands
``jq:suspended``                present while workers are suspended (a string, maybe expiring)
``jq:lock:<name>``              a lock: its holder's token (an expiring string)
``jq:marker:<name>``            a marker for ``EnqueueRequest.once`` (a number, e.g. a cron tick)
``jq:group:<name>``             the ids of a job group's jobs (a set)
``jq:groups``                   the names of the groups (a set)
``jq:rate-limit:<key>``         a rate limit's settings: ``concurrency``, and ``seq``, the
                                number of the last job that joined its line (a hash)
``jq:rate-limit-slots:<key>``   the ids holding a slot, scored by when they took it (or, for a
                                job canceled while it ran, its lease deadline) (a sorted set)
``jq:rate-limit-waiting:<key>`` the ids waiting for a slot, scored by their place in line
``jq:rate-limits``              the rate-limit keys with slots held or jobs waiting (a set)
``jq:totals:<queue>``           the queue's history: its totals by function since its first
                                outcome (a hash; see jq.broker.history)
``jq:history-minutes:<h>:<q>``  queue q's counts per minute of the hour starting at h (Unix
                                seconds), expiring a day after that hour (a hash)
``jq:history-hours:<d>:<q>``    queue q's counts per hour of the day starting at d, expiring
                                30 days after that day (a hash)
``jq:request:<session>``        the reply to the last script call of one caller's session (a
                                thread of a Redis driver's process), under the call's number:
                                a re-sent copy of the call gets it instead of running again (a
                                string, expiring; see jq_backends.redis.scripts)
============================== ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from jq.broker import Place, PlaceKind, Resolution

DEFAULT_PREFIX = "jq:"

# The fixed word of each kind of key, spelled here once: ``<prefix><kind>:<name>``. The Redis
# driver's scripts get the same words as key templates (K_JOB is "jq:job:", see
# jq_backends.redis.scripts); a registry's word is its PlaceKind's value.
JOB: Final = "job"
RESULTS: Final = "results"
DEPENDENTS: Final = "dependents"
DEPENDENCIES: Final = "dependencies"
QUEUE: Final = PlaceKind.QUEUE.value
WAKE: Final = "wake"
WORKER: Final = "worker"
WORKERS_OF: Final = "workers-of"
WORKER_QUEUES: Final = "worker-queues"
COMMANDS: Final = "commands"
LOCK: Final = "lock"
MARKER: Final = "marker"
GROUP: Final = "group"
RATE_LIMIT: Final = "rate-limit"
RATE_LIMIT_SLOTS: Final = "rate-limit-slots"
RATE_LIMIT_WAITING: Final = "rate-limit-waiting"
REQUEST: Final = "request"
TOTALS: Final = "totals"
HISTORY_MINUTES: Final = "history-minutes"
HISTORY_HOURS: Final = "history-hours"

# The fixed kinds. Kept in one tuple so a test can check that none is a prefix of another.
KINDS: tuple[str, ...] = (
    JOB,
    RESULTS,
    DEPENDENTS,
    DEPENDENCIES,
    QUEUE,
    WAKE,
    WORKER,
    WORKERS_OF,
    WORKER_QUEUES,
    COMMANDS,
    LOCK,
    MARKER,
    GROUP,
    RATE_LIMIT,
    RATE_LIMIT_SLOTS,
    RATE_LIMIT_WAITING,
    REQUEST,
    TOTALS,
    HISTORY_MINUTES,
    HISTORY_HOURS,
    *(kind.value for kind in PlaceKind if kind is not PlaceKind.QUEUE),
)

# Keys without a name part: ``<prefix><word>``.
QUEUES: Final = "queues"
WORKERS: Final = "workers"
SUSPENDED: Final = "suspended"
GROUPS: Final = "groups"
RATE_LIMITS: Final = "rate-limits"
FIXED: tuple[str, ...] = (QUEUES, WORKERS, SUSPENDED, GROUPS, RATE_LIMITS)

# The fields of a rate limit's settings (the hash at ``rate-limit:<key>``): the concurrency last
# asked for, and the number of the last job that joined its line.
RATE_LIMIT_CONCURRENCY_FIELD: Final = "concurrency"
RATE_LIMIT_SEQ_FIELD: Final = "seq"


def counts_name(start: int, queue: str) -> str:
    """The name of a queue's record of counts whose span starts at ``start`` (Unix seconds): a
    whole number, so the queue's name, last, is all that follows it."""
    return f"{int(start)}:{queue}"


@dataclass(frozen=True, slots=True)
class KeySpace:
    """Builds key names under one prefix (``jq:`` unless configured)."""

    prefix: str = DEFAULT_PREFIX

    def job(self, job_id: str) -> str:
        """The job record."""
        return f"{self.prefix}{JOB}:{job_id}"

    def results(self, job_id: str) -> str:
        """The job's result entries."""
        return f"{self.prefix}{RESULTS}:{job_id}"

    def dependents(self, job_id: str) -> str:
        """Jobs waiting for this one."""
        return f"{self.prefix}{DEPENDENTS}:{job_id}"

    def dependencies(self, job_id: str) -> str:
        """This job's unmet dependencies."""
        return f"{self.prefix}{DEPENDENCIES}:{job_id}"

    def job_data(self, job_id: str) -> list[str]:
        """The keys that live and die with a job, in the order the scripts take them: its record,
        its results, the jobs waiting for it, its unmet dependencies."""
        return [self.job(job_id), self.results(job_id), self.dependents(job_id), self.dependencies(job_id)]

    def queue(self, name: str) -> str:
        """The queue's list of job ids."""
        return f"{self.prefix}{QUEUE}:{name}"

    def wake(self, name: str) -> str:
        """The queue's wake-up token for blocked claimers."""
        return f"{self.prefix}{WAKE}:{name}"

    def place(self, place: Place) -> str:
        """A queue or one of its registries (a queue's word is its PlaceKind's value too)."""
        return f"{self.prefix}{place.kind.value}:{place.queue}"

    def registry(self, kind: PlaceKind, queue: str) -> str:
        """One registry of a queue (or with ``PlaceKind.QUEUE`` the queue itself)."""
        return f"{self.prefix}{kind.value}:{queue}"

    @property
    def queues(self) -> str:
        """The set of known queue names."""
        return f"{self.prefix}{QUEUES}"

    def worker(self, name: str) -> str:
        """A worker's record."""
        return f"{self.prefix}{WORKER}:{name}"

    @property
    def workers(self) -> str:
        """The set of registered worker names."""
        return f"{self.prefix}{WORKERS}"

    def workers_of(self, queue: str) -> str:
        """The set of names of workers that listen to a queue."""
        return f"{self.prefix}{WORKERS_OF}:{queue}"

    def worker_queues(self, name: str) -> str:
        """The set of queues a worker listens to, so unregistering can leave each index."""
        return f"{self.prefix}{WORKER_QUEUES}:{name}"

    def commands(self, name: str) -> str:
        """The channel a worker receives its commands on."""
        return f"{self.prefix}{COMMANDS}:{name}"

    def lock(self, name: str) -> str:
        """A lock, holding its holder's token."""
        return f"{self.prefix}{LOCK}:{name}"

    def marker(self, name: str) -> str:
        """A marker for enqueue-once requests."""
        return f"{self.prefix}{MARKER}:{name}"

    def group(self, name: str) -> str:
        """The ids of a job group's jobs."""
        return f"{self.prefix}{GROUP}:{name}"

    @property
    def groups(self) -> str:
        """The set of group names."""
        return f"{self.prefix}{GROUPS}"

    def rate_limit(self, key: str) -> str:
        """A rate limit's settings (its concurrency and line counter)."""
        return f"{self.prefix}{RATE_LIMIT}:{key}"

    def rate_limit_slots(self, key: str) -> str:
        """The ids holding a slot of a rate limit."""
        return f"{self.prefix}{RATE_LIMIT_SLOTS}:{key}"

    def rate_limit_waiting(self, key: str) -> str:
        """The ids waiting for a slot of a rate limit, in line."""
        return f"{self.prefix}{RATE_LIMIT_WAITING}:{key}"

    def request(self, session: str) -> str:
        """The reply to the last script call of a caller's session (Redis driver)."""
        return f"{self.prefix}{REQUEST}:{session}"

    def totals(self, queue: str) -> str:
        """A queue's totals of outcomes by function (its history's counters)."""
        return f"{self.prefix}{TOTALS}:{queue}"

    def history_minutes(self, name: str) -> str:
        """A queue's counts per minute of one hour; ``name`` is :func:`counts_name`'s."""
        return f"{self.prefix}{HISTORY_MINUTES}:{name}"

    def history_hours(self, name: str) -> str:
        """A queue's counts per hour of one day; ``name`` is :func:`counts_name`'s."""
        return f"{self.prefix}{HISTORY_HOURS}:{name}"

    def counts(self, resolution: Resolution, start: int, queue: str) -> str:
        """A queue's counts per minute of the hour (or per hour of the day) starting at ``start``."""
        name = counts_name(start, queue)
        return self.history_minutes(name) if resolution is Resolution.MINUTE else self.history_hours(name)

    @property
    def rate_limits(self) -> str:
        """The set of rate-limit keys in use."""
        return f"{self.prefix}{RATE_LIMITS}"

    @property
    def suspended(self) -> str:
        """Present while every worker is suspended."""
        return f"{self.prefix}{SUSPENDED}"

    def fixed(self, word: str) -> str:
        """The key of a word without a name part (``queues`` gives ``jq:queues``), for code that
        lists them all (the Redis driver's script constants)."""
        if word not in FIXED:
            raise ValueError(f"unknown fixed key {word!r}; expected one of {', '.join(FIXED)}")
        return f"{self.prefix}{word}"

    def template(self, kind: str) -> str:
        """The key of ``kind`` without its name (``jq:job:``): name + template = key.

        For scripts that only learn ids at run time (a job's dependents): they get the template and
        append the id, so that no script ever spells a key name or the prefix itself.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown key kind {kind!r}; expected one of {', '.join(KINDS)}")
        return f"{self.prefix}{kind}:"

    def worker_name(self, key: str) -> str | None:
        """The name inside a :meth:`worker` key, or None if ``key`` is not one."""
        head = f"{self.prefix}{WORKER}:"
        if key.startswith(head) and len(key) > len(head):
            return key[len(head) :]
        return None
