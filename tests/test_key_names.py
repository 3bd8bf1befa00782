"""Names and keys: no two names share a key (issue 7, point 1), checked with hypothesis.

The rule (``jq_backends/keys.py``): a key is ``<prefix><kind>:<name>``, the kind a fixed word
without ``:``, the name always last. So a key can be read back to its (kind, name) by splitting at
the first ``:`` after the prefix, which is what makes the mapping one-to-one even for queue names
that hold ``:`` and ``.`` (RQ's queue ``a:intermediate`` shared a key with queue ``a``'s
internals). These tests check that rule on every kind, on the names the validators accept, on the
names jq derives itself (scheduler locks, cron markers), and on every key a real run writes; and
that the validators accept exactly the documented names.
"""

from __future__ import annotations

import datetime
import string
from collections.abc import Callable
from typing import Any

import fakeredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jq import Queue, Retry, SimpleWorker
from jq.broker import Place, PlaceKind, Resolution
from jq.cron import Cron, CronScheduler
from jq.exceptions import ConfigurationError
from jq.scheduler import Scheduler, scheduler_lock_name
from jq.utils import validate_job_id, validate_queue_name
from jq_backends.keys import FIXED, KINDS, KeySpace, counts_name
from jq_backends.redis import RedisBroker
from tests import fixtures

# The documented rules (docs/tutorial.md, "Names"), written independently of the validators' regexes.
JOB_ID_CHARS = frozenset(string.ascii_letters + string.digits + "_-")
QUEUE_NAME_CHARS = JOB_ID_CHARS | {".", ":"}
MAX_NAME_LENGTH = 128

PREFIXES = ("jq:", "myapp:jq:", "")


def documented(name: object, allowed: frozenset[str]) -> bool:
    """Whether ``name`` follows the documented rule for the characters ``allowed``."""
    return isinstance(name, str) and 1 <= len(name) <= MAX_NAME_LENGTH and set(name) <= allowed


def _registry(kind: PlaceKind) -> Callable[[KeySpace, str], str]:
    return lambda keys, name: keys.registry(kind, name)


# Each kind: how KeySpace builds its key, and what its name is ("job", "queue", or "any" for names
# jq does not validate: worker names, lock and marker names).
BUILDERS: dict[str, tuple[Callable[[KeySpace, str], str], str]] = {
    "job": (KeySpace.job, "job"),
    "results": (KeySpace.results, "job"),
    "dependents": (KeySpace.dependents, "job"),
    "dependencies": (KeySpace.dependencies, "job"),
    "queue": (KeySpace.queue, "queue"),
    "wake": (KeySpace.wake, "queue"),
    "workers-of": (KeySpace.workers_of, "queue"),
    **{kind.value: (_registry(kind), "queue") for kind in PlaceKind if kind is not PlaceKind.QUEUE},
    "worker": (KeySpace.worker, "any"),
    "worker-queues": (KeySpace.worker_queues, "any"),
    "commands": (KeySpace.commands, "any"),
    "lock": (KeySpace.lock, "any"),
    "marker": (KeySpace.marker, "any"),
    "group": (KeySpace.group, "any"),
    "rate-limit": (KeySpace.rate_limit, "any"),
    "rate-limit-slots": (KeySpace.rate_limit_slots, "any"),
    "rate-limit-waiting": (KeySpace.rate_limit_waiting, "any"),
    "request": (KeySpace.request, "any"),
    "totals": (KeySpace.totals, "queue"),
    "history-minutes": (KeySpace.history_minutes, "counts"),
    "history-hours": (KeySpace.history_hours, "counts"),
}


def readings(keys: KeySpace, key: str) -> list[tuple[str, str]]:
    """Every (kind, name) a key can be read as; a well-formed key has exactly one."""
    found = [(fixed, "") for fixed in FIXED if key == keys.prefix + fixed]
    for kind in KINDS:
        head = f"{keys.prefix}{kind}:"
        if key.startswith(head):
            found.append((kind, key[len(head) :]))
    return found


# Names built from pieces that look like kinds, separators and jq's own derived names, so that
# near-collisions (a name that ends where another kind begins) are what hypothesis tries first.
_PIECES = [*KINDS, *FIXED, ":", ".", "-", "_", "a", "intermediate", "scheduler", "cron", "s"]
tricky = st.lists(st.sampled_from(_PIECES), min_size=1, max_size=6).map("".join)
job_ids = st.one_of(
    st.from_regex(r"[A-Za-z0-9_-]{1,128}", fullmatch=True),
    tricky.filter(lambda name: documented(name, JOB_ID_CHARS)),
)
queue_names = st.one_of(
    st.from_regex(r"[A-Za-z0-9_.:-]{1,128}", fullmatch=True),
    tricky.filter(lambda name: documented(name, QUEUE_NAME_CHARS)),
)
# Worker names are never empty (an empty name becomes a generated one).
any_names = st.one_of(st.text(min_size=1, max_size=40), tricky)
# The name of a queue's counts of one span: the span's start (whole seconds), then the queue.
counts_names = st.tuples(st.integers(0, 2**40), queue_names).map(lambda pair: counts_name(*pair))
NAMES = {"job": job_ids, "queue": queue_names, "any": any_names, "counts": counts_names}


@st.composite
def kinds_and_names(draw: st.DrawFn) -> tuple[str, str]:
    """A kind and a name of the sort that kind takes."""
    kind = draw(st.sampled_from(sorted(BUILDERS)))
    return kind, draw(NAMES[BUILDERS[kind][1]])


def test_the_table_covers_every_kind_and_every_key_method() -> None:
    assert set(BUILDERS) == set(KINDS)
    assert len(KINDS) == len(set(KINDS))
    # A new KeySpace method must be added to BUILDERS (or to the helpers here) to be checked.
    methods = {name for name, value in vars(KeySpace).items() if not name.startswith("_") and callable(value)}
    helpers = {"place", "registry", "template", "fixed", "worker_name", "counts", "job_data"}
    builders = {"job", "results", "dependents", "dependencies", "queue", "wake", "workers_of",
                "worker", "worker_queues", "commands", "lock", "marker", "group", "rate_limit",
                "rate_limit_slots", "rate_limit_waiting", "request", "totals", "history_minutes",
                "history_hours"}  # fmt: skip
    assert methods == helpers | builders


def test_fixed_keys_and_registries_are_the_properties_and_places() -> None:
    """The builders the Redis driver's hot calls and script constants use name the same keys as
    the named ones."""
    keys = KeySpace("p:")
    for word in FIXED:
        assert keys.fixed(word) == getattr(keys, word.replace("-", "_"))
    with pytest.raises(ValueError, match="unknown fixed key"):
        keys.fixed("job")
    for kind in PlaceKind:
        assert keys.registry(kind, "q:1") == keys.place(Place(kind, "q:1"))
    assert keys.registry(PlaceKind.QUEUE, "q:1") == keys.queue("q:1")


def test_no_kind_or_fixed_key_holds_the_separator() -> None:
    """What makes reading back unambiguous: the first ``:`` after the prefix ends the kind."""
    assert not any(":" in kind for kind in KINDS)
    assert not any(":" in fixed for fixed in FIXED)
    assert not set(FIXED) & set(KINDS)


@pytest.mark.parametrize("prefix", PREFIXES)
@settings(max_examples=400)
@given(pair=kinds_and_names())
def test_every_key_reads_back_to_exactly_its_kind_and_name(prefix: str, pair: tuple[str, str]) -> None:
    keys = KeySpace(prefix)
    kind, name = pair
    build, _ = BUILDERS[kind]
    key = build(keys, name)
    assert readings(keys, key) == [(kind, name)]
    assert keys.template(kind) + name == key, "scripts append names to templates"
    if kind == "worker":
        assert keys.worker_name(key) == name


@settings(max_examples=400)
@given(first=kinds_and_names(), second=kinds_and_names())
def test_two_different_names_never_share_a_key(first: tuple[str, str], second: tuple[str, str]) -> None:
    keys = KeySpace()
    first_key = BUILDERS[first[0]][0](keys, first[1])
    second_key = BUILDERS[second[0]][0](keys, second[1])
    assert (first_key == second_key) == (first == second)
    assert first_key not in {keys.queues, keys.workers, keys.suspended, keys.groups, keys.rate_limits}


def queue_owned_keys(keys: KeySpace, queue: str) -> set[str]:
    """Every key a queue owns, including jq's derived ones (its scheduler's lock)."""
    owned = {keys.queue(queue), keys.wake(queue), keys.workers_of(queue), keys.totals(queue)}
    owned |= {keys.registry(kind, queue) for kind in PlaceKind}
    owned |= {keys.counts(resolution, 86400, queue) for resolution in Resolution}
    owned.add(keys.lock(scheduler_lock_name(queue)))
    return owned


def job_owned_keys(keys: KeySpace, job_id: str) -> set[str]:
    """Every key a job owns."""
    return {keys.job(job_id), keys.results(job_id), keys.dependents(job_id), keys.dependencies(job_id)}


@settings(max_examples=400)
@given(first=queue_names, second=queue_names, job_id=job_ids)
def test_distinct_queues_share_no_key_with_each_other_or_with_jobs(
    first: str, second: str, job_id: str
) -> None:
    keys = KeySpace()
    if first != second:
        assert not queue_owned_keys(keys, first) & queue_owned_keys(keys, second)
    assert not queue_owned_keys(keys, first) & job_owned_keys(keys, job_id)


def test_queue_a_and_queue_a_intermediate_are_apart() -> None:
    """RQ's own collision, spelled out."""
    keys = KeySpace()
    assert not queue_owned_keys(keys, "a") & queue_owned_keys(keys, "a:intermediate")
    assert keys.queue("a:intermediate") == "jq:queue:a:intermediate"
    assert readings(keys, "jq:queue:a:intermediate") == [("queue", "a:intermediate")]


@settings(max_examples=300)
@given(first=queue_names, second=queue_names)
def test_scheduler_lock_names_are_one_per_queue(first: str, second: str) -> None:
    assert (scheduler_lock_name(first) == scheduler_lock_name(second)) == (first == second)


@settings(max_examples=1000)
@given(
    name=st.one_of(
        st.text(max_size=140),
        st.text(
            alphabet=[*sorted(QUEUE_NAME_CHARS), "\n", " ", "é", "{", "}", "/", "\x00", "٣"], max_size=140
        ),
        st.from_regex(r"[A-Za-z0-9_.:-]{120,135}", fullmatch=True),
        tricky,
    )
)
def test_the_validators_accept_exactly_the_documented_names(name: str) -> None:
    for validate, allowed in ((validate_job_id, JOB_ID_CHARS), (validate_queue_name, QUEUE_NAME_CHARS)):
        try:
            accepted = validate(name) == name
        except ConfigurationError:
            accepted = False
        assert accepted == documented(name, allowed), (validate.__name__, name)


@given(value=st.one_of(st.none(), st.integers(), st.floats(), st.binary(min_size=1), st.lists(st.text())))
def test_the_validators_refuse_anything_but_text(value: Any) -> None:
    for validate in (validate_job_id, validate_queue_name):
        with pytest.raises(ConfigurationError):
            validate(value)


def test_every_key_a_real_run_writes_reads_back_to_one_name() -> None:
    """Queues ``a`` and ``a:intermediate``, jobs in every place, a worker, a scheduler, a cron."""
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    broker = RedisBroker(client)
    keys = KeySpace()
    plain, tricky_queue = Queue("a", connection=broker), Queue("a:intermediate", connection=broker)
    parent = plain.enqueue(fixtures.add, 1, 2, job_id="parent")
    plain.enqueue(fixtures.add, 3, 4, job_id="child", depends_on=parent)
    tricky_queue.enqueue(fixtures.div_by_zero, 1, job_id="fails", retry=Retry(max=1, interval=3600))
    tricky_queue.enqueue_in(datetime.timedelta(hours=1), fixtures.add, 5, 6, job_id="later")
    waiting = tricky_queue.enqueue(fixtures.add, 7, 8, job_id="waits", depends_on="later")
    cron = Cron()
    cron.register(fixtures.add, interval=60, args=(1, 1), queue="a:intermediate", name="cron:a b")
    CronScheduler(cron, broker).tick()
    Scheduler(["a", "a:intermediate"], connection=broker, name="sched").tick()
    SimpleWorker([plain, tricky_queue], connection=broker, name="w:1").work(burst=True)
    waiting.cancel()

    written = {key.decode() for key in client.keys("*")}
    assert written
    for key in written:
        [(kind, name)] = readings(keys, key)
        what = BUILDERS[kind][1] if kind in BUILDERS else "fixed"
        if what == "job":
            validate_job_id(name)
        elif what == "queue":
            validate_queue_name(name)
        elif what == "counts":
            start, _, queue = name.partition(":")
            assert start.isdigit()
            validate_queue_name(queue)
    assert keys.registry(PlaceKind.SCHEDULED, "a:intermediate") in written  # the retried job
    assert keys.registry(PlaceKind.CANCELED, "a:intermediate") in written
    assert keys.marker("cron:cron:a b") in written
    assert keys.lock(scheduler_lock_name("a:intermediate")) in written
    assert keys.totals("a:intermediate") in written  # the history of the failed job's retry
    assert plain.job_ids == [] and "child" in plain.finished_job_registry.get_job_ids()


def test_a_jobs_data_keys_are_its_record_results_dependents_and_dependencies() -> None:
    keys = KeySpace("{app}:")
    assert keys.job_data("j1") == [
        keys.job("j1"),
        keys.results("j1"),
        keys.dependents("j1"),
        keys.dependencies("j1"),
    ]
