"""The store conformance suite: every documented behaviour of :class:`jq.broker.store.Store`.

A driver proves its store by running the suite against a ``store`` fixture that yields a fresh,
empty store. A store whose ``shares_across_processes`` is true also gives a ``store_opener``
fixture: a picklable callable that opens the same store again, which the suite calls in processes
it starts (with ``spawn``) to show that blocks, wake-ups and commands cross processes::

    import functools
    import pytest
    from jq.testing.store_suite import StoreContractTests

    @pytest.fixture
    def store(tmp_path):
        instance = MyStore(tmp_path / "jobs.db")
        yield instance
        instance.close()

    @pytest.fixture
    def store_opener(tmp_path):
        return functools.partial(MyStore, tmp_path / "jobs.db")

    class TestMyStore(StoreContractTests):
        pass

The store's clock must run in real time: the suite waits for one deadline a fraction of a second
ahead and for idle waits of that length, each with a bounded poll. A full run takes a few seconds,
most of it starting the processes.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
    import pytest
except ImportError as exc:  # one message that says what to install
    raise ModuleNotFoundError(
        f"jq's store conformance suite (jq.testing.store_suite) needs pytest and hypothesis, and "
        f"{exc.name} is not installed: pip install 'jq-queue[testing]'",
        name=exc.name,
    ) from exc

import math
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jq.broker.store import Collection, QueueWatch, RecordKind, SetKind, Store
from jq.testing.helpers import JOIN_TIMEOUT, run_threads, wait_for

__all__ = [
    "AtomicityContract",
    "ExpiryContract",
    "PublishContract",
    "QueueWatchContract",
    "RecordContract",
    "SetContract",
    "StoreContractTests",
]

#: A push must wake a waiting watch within this many seconds of its commit.
PROMPT = 0.5
#: The deadline of the expiry test and the length of idle waits, in seconds.
SHORT = 0.3

JOB, RESULTS, WORKER = RecordKind.JOB, RecordKind.RESULTS, RecordKind.WORKER
DEFAULT_QUEUE = Collection(SetKind.QUEUE, "default")


def dependents(job_id: str) -> Collection:
    """The ids waiting for ``job_id``: a set that belongs to its record."""
    return Collection(SetKind.DEPENDENTS, job_id)


def dependencies(job_id: str) -> Collection:
    """The unmet dependencies of ``job_id``: a set that belongs to its record."""
    return Collection(SetKind.DEPENDENCIES, job_id)


def read(store: Store, kind: RecordKind, key: str) -> dict[str, bytes] | None:
    """The record, read in a block of its own."""
    with store.atomic() as tx:
        return tx.read(kind, key)


def members(store: Store, collection: Collection) -> list[str]:
    """The whole set in ascending order, read in a block of its own."""
    with store.atomic() as tx:
        return tx.members(collection)


def write_job(store: Store, job_id: str) -> None:
    """A job record with results, one dependent and one dependency: all that belongs to a job."""
    with store.atomic() as tx:
        tx.write(JOB, job_id, {"status": b"queued"})
        tx.write(RESULTS, job_id, {"0": b"result"})
        tx.add(dependents(job_id), f"{job_id}-child", 1.0)
        tx.add(dependencies(job_id), f"{job_id}-parent", 1.0)


def job_parts(store: Store, job_id: str) -> tuple[object, ...]:
    """The job's record, results and sets, as reads see them (all None or empty when gone)."""
    with store.atomic() as tx:
        return (
            tx.read(JOB, job_id),
            tx.read(RESULTS, job_id),
            tx.members(dependents(job_id)),
            tx.count(dependencies(job_id)),
            tx.score(dependencies(job_id), f"{job_id}-parent"),
        )


#: :func:`job_parts` of a job that is gone.
GONE: tuple[object, ...] = (None, None, [], 0, None)


def increment(store: Store, key: str, times: int = 1) -> None:
    """Add one to a counter record ``times`` times, each read and written in one block."""
    for _ in range(times):
        with store.atomic() as tx:
            record = tx.read(RecordKind.MARKER, key) or {"value": b"0"}
            tx.write(RecordKind.MARKER, key, {"value": str(int(record["value"]) + 1).encode()})


def counter(store: Store, key: str) -> int:
    """The counter record's value."""
    record = read(store, RecordKind.MARKER, key)
    return 0 if record is None else int(record["value"])


class InThread:
    """Runs ``target()`` in a daemon thread; :meth:`result` joins it with a bound."""

    def __init__(self, target: Callable[[], float]) -> None:
        self._outcome: list[float] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(target,), daemon=True)
        self._thread.start()

    def _run(self, target: Callable[[], float]) -> None:
        try:
            self._outcome.append(target())
        except BaseException as exc:  # handed to the test thread by result()
            self._error.append(exc)

    def result(self) -> float:
        """What ``target`` returned (re-raising what it raised); fails if it has not returned."""
        self._thread.join(JOIN_TIMEOUT)
        assert not self._thread.is_alive(), "the thread did not finish in time"
        if self._error:
            raise self._error[0]
        return self._outcome[0]


def wait_for_push(store: Store, watch: QueueWatch, collection: Collection = DEFAULT_QUEUE) -> float:
    """Wait on ``watch`` until ``collection`` has a member; when (monotonic) the wait returned.

    The contract allows a wait to return early without a push, so one that finds the set still
    empty waits again.
    """
    deadline = time.monotonic() + JOIN_TIMEOUT
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no wait returned after the push"
        watch.wait(remaining)
        returned = time.monotonic()
        with store.atomic() as tx:
            if tx.count(collection):
                return returned


def timed_wait(watch: QueueWatch, timeout: float) -> tuple[float, float]:
    """Run ``watch.wait(timeout)``: the real time and the CPU time (of this process) it took."""
    started, cpu = time.monotonic(), time.process_time()
    watch.wait(timeout)
    return time.monotonic() - started, time.process_time() - cpu


def opener_of(store: Store, request: pytest.FixtureRequest) -> Callable[[], Store]:
    """The ``store_opener`` fixture of a shared store; skips the test for a store of one process."""
    if not store.shares_across_processes:
        pytest.skip("this store is not shared across processes")
    try:
        opener: Callable[[], Store] = request.getfixturevalue("store_opener")
    except pytest.FixtureLookupError:
        pytest.fail(
            "a store shared across processes proves it: give the suite a `store_opener` fixture "
            "returning a picklable callable that opens the same store (see jq.testing.store_suite)"
        )
    return opener


# -- what the suite runs in other processes (module functions: ``spawn`` imports them by name) ----


def spawn(target: Callable[..., None], *args: object) -> multiprocessing.process.BaseProcess:
    """Start ``target(*args)`` in a fresh interpreter (``spawn``: no state copied by a fork)."""
    process = multiprocessing.get_context("spawn").Process(target=target, args=args, daemon=True)
    process.start()
    return process


def join(process: multiprocessing.process.BaseProcess) -> None:
    """Join a process started by :func:`spawn` with a bound; fail unless it exited with 0."""
    process.join(JOIN_TIMEOUT)
    if process.is_alive():
        process.kill()
        pytest.fail("a process did not finish in time")
    assert process.exitcode == 0, f"the process exited with {process.exitcode} (its error is above)"


def _increment_in_process(opener: Callable[[], Store], key: str, times: int) -> None:
    store = opener()
    try:
        increment(store, key, times)
    finally:
        store.close()


def _push_in_process(opener: Callable[[], Store], stamps: multiprocessing.Queue[float]) -> None:
    store = opener()
    try:
        with store.atomic() as tx:
            tx.add(DEFAULT_QUEUE, "from-a-process", 1.0)
        stamps.put(time.monotonic())  # CLOCK_MONOTONIC is one clock for the whole machine
    finally:
        store.close()


def _publish_in_process(
    opener: Callable[[], Store], channel: str, counts: multiprocessing.Queue[int]
) -> None:
    store = opener()
    try:
        counts.put(store.publish(channel, b"from-a-process"))
    finally:
        store.close()


# -- the contract ------------------------------------------------------------------------------


class RecordContract:
    """Records: fields by kind and key, merged or replaced; deleting a job deletes what it owns."""

    def test_a_missing_record_reads_as_none(self, store: Store) -> None:
        assert read(store, JOB, "j1") is None

    def test_written_fields_read_back_as_written(self, store: Store) -> None:
        fields = {"status": b"queued", "data": bytes(range(256)), "empty": b"", "naïve ✓": b"\x00"}
        with store.atomic() as tx:
            tx.write(JOB, "j1", fields)
        assert read(store, JOB, "j1") == fields
        assert isinstance(store.url, str) and store.url
        store.ping()

    def test_a_read_is_a_copy(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.write(JOB, "j1", {"a": b"1"})
            first = tx.read(JOB, "j1")
            assert first is not None
            first["a"] = b"changed"
            first["b"] = b"added"
        assert read(store, JOB, "j1") == {"a": b"1"}

    def test_a_write_merges_its_fields_into_the_record(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.write(JOB, "j1", {"a": b"1", "b": b"2"})
        with store.atomic() as tx:
            tx.write(JOB, "j1", {"b": b"two", "c": b"3"})
        assert read(store, JOB, "j1") == {"a": b"1", "b": b"two", "c": b"3"}

    def test_a_replace_drops_the_fields_it_does_not_write(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.write(JOB, "j1", {"a": b"1", "b": b"2"})
        with store.atomic() as tx:
            tx.write(JOB, "j1", {"b": b"two"}, replace=True)
        assert read(store, JOB, "j1") == {"b": b"two"}

    def test_a_replace_with_no_fields_leaves_no_record_and_keeps_what_belongs_to_it(
        self, store: Store
    ) -> None:
        write_job(store, "j1")
        with store.atomic() as tx:
            tx.write(JOB, "j1", {}, replace=True)
            assert tx.read(JOB, "j1") is None
            assert tx.expiry(JOB, "j1") is None
        assert job_parts(store, "j1") == (None, {"0": b"result"}, ["j1-child"], 1, 1.0)

    def test_writing_no_fields_makes_no_record(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.write(JOB, "j1", {})
            tx.write(JOB, "j2", {}, replace=True)
        assert read(store, JOB, "j1") is None
        assert read(store, JOB, "j2") is None

    def test_a_block_reads_its_own_writes(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.write(JOB, "j1", {"a": b"1"})
            assert tx.read(JOB, "j1") == {"a": b"1"}
            tx.add(DEFAULT_QUEUE, "j1", 1.0)
            assert tx.members(DEFAULT_QUEUE) == ["j1"]
            assert tx.delete(JOB, "j1") is True
            assert tx.read(JOB, "j1") is None

    def test_kinds_and_keys_name_separate_records(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.write(JOB, "x", {"kind": b"job"})
            tx.write(WORKER, "x", {"kind": b"worker"})
            tx.write(JOB, "x:y", {"kind": b"other job"})
        with store.atomic() as tx:
            assert tx.delete(WORKER, "x") is True
        assert read(store, JOB, "x") == {"kind": b"job"}
        assert read(store, WORKER, "x") is None
        assert read(store, JOB, "x:y") == {"kind": b"other job"}

    def test_delete_says_whether_there_was_a_record(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.write(RecordKind.LOCK, "l1", {"token": b"t"})
        with store.atomic() as tx:
            assert tx.delete(RecordKind.LOCK, "l1") is True
            assert tx.delete(RecordKind.LOCK, "l1") is False
            assert tx.delete(RecordKind.LOCK, "never") is False
        assert read(store, RecordKind.LOCK, "l1") is None

    def test_deleting_a_job_deletes_what_belongs_to_it_and_nothing_else(self, store: Store) -> None:
        write_job(store, "j1")
        write_job(store, "j2")
        with store.atomic() as tx:
            tx.write(WORKER, "j1", {"name": b"j1"})
            tx.add(Collection(SetKind.QUEUE, "j1"), "j1", 1.0)
            tx.add(Collection(SetKind.GROUP, "j1"), "j1", 1.0)
        with store.atomic() as tx:
            assert tx.delete(JOB, "j1") is True
        assert job_parts(store, "j1") == GONE
        assert job_parts(store, "j2") == ({"status": b"queued"}, {"0": b"result"}, ["j2-child"], 1, 1.0)
        assert read(store, WORKER, "j1") == {"name": b"j1"}
        assert members(store, Collection(SetKind.QUEUE, "j1")) == ["j1"]
        assert members(store, Collection(SetKind.GROUP, "j1")) == ["j1"]

    def test_deleting_what_belongs_to_a_job_leaves_the_job(self, store: Store) -> None:
        write_job(store, "j1")
        with store.atomic() as tx:
            assert tx.delete(RESULTS, "j1") is True
            assert tx.remove(dependents("j1"), "j1-child") is True
        assert job_parts(store, "j1") == ({"status": b"queued"}, None, [], 1, 1.0)


class ExpiryContract:
    """Expiry: a record past its deadline is gone for every read, with all that belongs to it."""

    def test_a_record_expires_only_once_told_to(self, store: Store) -> None:
        deadline = store.now() + 3600
        with store.atomic() as tx:
            tx.write(WORKER, "w1", {"a": b"1"})
            assert tx.expiry(WORKER, "w1") is None
            tx.expire(WORKER, "w1", deadline)
        with store.atomic() as tx:
            assert tx.expiry(WORKER, "w1") == deadline
            tx.expire(WORKER, "w1", deadline + 10)
            assert tx.expiry(WORKER, "w1") == deadline + 10
            tx.expire(WORKER, "w1", None)
        with store.atomic() as tx:
            assert tx.expiry(WORKER, "w1") is None
            assert tx.read(WORKER, "w1") == {"a": b"1"}

    def test_expire_without_a_record_does_nothing(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.expire(WORKER, "w1", store.now() - 10)
            tx.expire(RecordKind.LOCK, "l1", store.now() + 3600)
            assert tx.expiry(RecordKind.LOCK, "l1") is None
            assert tx.read(RecordKind.LOCK, "l1") is None
        with store.atomic() as tx:
            tx.write(RecordKind.LOCK, "l1", {"token": b"t"})
        with store.atomic() as tx:
            assert tx.expiry(RecordKind.LOCK, "l1") is None

    def test_a_deadline_already_reached_makes_the_record_absent_at_once(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.write(WORKER, "w1", {"a": b"1"})
            tx.write(WORKER, "w2", {"a": b"2"})
        with store.atomic() as tx:
            tx.expire(WORKER, "w1", store.now() - 1)
            assert tx.read(WORKER, "w1") is None
            assert tx.expiry(WORKER, "w1") is None
        with store.atomic() as tx:
            assert tx.read(WORKER, "w1") is None
            assert tx.delete(WORKER, "w1") is False
            assert tx.read(WORKER, "w2") == {"a": b"2"}

    def test_writes_keep_the_expiry(self, store: Store) -> None:
        deadline = store.now() + 3600
        with store.atomic() as tx:
            tx.write(JOB, "j1", {"a": b"1"})
            tx.expire(JOB, "j1", deadline)
        with store.atomic() as tx:
            tx.write(JOB, "j1", {"b": b"2"})
            assert tx.expiry(JOB, "j1") == deadline
        with store.atomic() as tx:
            tx.write(JOB, "j1", {"c": b"3"}, replace=True)
        with store.atomic() as tx:
            assert tx.expiry(JOB, "j1") == deadline
            assert tx.read(JOB, "j1") == {"c": b"3"}

    def test_a_record_written_after_it_expired_is_a_new_one(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.write(JOB, "j1", {"old": b"1"})
            tx.expire(JOB, "j1", store.now() - 1)
        with store.atomic() as tx:
            tx.write(JOB, "j1", {"new": b"1"})
        with store.atomic() as tx:
            assert tx.read(JOB, "j1") == {"new": b"1"}
            assert tx.expiry(JOB, "j1") is None

    def test_an_expired_job_takes_what_belongs_to_it(self, store: Store) -> None:
        write_job(store, "j1")
        write_job(store, "j2")
        with store.atomic() as tx:
            tx.expire(JOB, "j1", store.now() - 1)
            assert tx.read(RESULTS, "j1") is None
            assert tx.members(dependents("j1")) == []
        assert job_parts(store, "j1") == GONE
        assert job_parts(store, "j2") == ({"status": b"queued"}, {"0": b"result"}, ["j2-child"], 1, 1.0)

    def test_records_go_when_the_clock_reaches_their_deadline(self, store: Store) -> None:
        """One short real deadline shared by a job (and what belongs to it, some of it added after
        the deadline was set), a worker, and two jobs whose deadline was then removed or moved:
        what belongs to them stays with them."""
        for job_id in ("j1", "kept", "moved"):
            write_job(store, job_id)
        deadline = store.now() + SHORT
        with store.atomic() as tx:
            for job_id in ("j1", "kept", "moved"):
                tx.expire(JOB, job_id, deadline)
            tx.write(WORKER, "w1", {"a": b"1"})
            tx.expire(WORKER, "w1", deadline)
            tx.add(dependents("j1"), "added-later", 2.0)
            tx.write(RESULTS, "j1", {"1": b"later"})
        with store.atomic() as tx:
            tx.expire(JOB, "kept", None)
            tx.expire(JOB, "moved", deadline + 3600)
            assert tx.read(WORKER, "w1") == {"a": b"1"}
        assert job_parts(store, "j1")[2] == ["j1-child", "added-later"]
        assert wait_for(lambda: store.now() > deadline, timeout=SHORT + 5), "the store's clock stands still"
        assert job_parts(store, "j1") == GONE
        assert read(store, WORKER, "w1") is None
        for job_id in ("kept", "moved"):
            whole = ({"status": b"queued"}, {"0": b"result"}, [f"{job_id}-child"], 1, 1.0)
            assert job_parts(store, job_id) == whole


# Scores that tie often, and the members whose order breaks the ties (code point order).
_SCORES = st.one_of(st.sampled_from([-1.5, 0.0, 1.0, 2.0, 1e12, math.inf]), st.floats(-1e6, 1e6))
_MEMBERS = st.text(alphabet="aAbz09-:é€😀", min_size=1, max_size=4)


def zrange(
    scores: dict[str, float], start: int, end: int, max_score: float | None, reverse: bool
) -> list[str]:
    """What :meth:`~jq.broker.store.StoreTransaction.members` returns, by Redis's ZRANGE rules."""
    ranked = sorted(
        (score, member) for member, score in scores.items() if max_score is None or score <= max_score
    )
    if reverse:
        ranked.reverse()
    start += len(ranked) if start < 0 else 0
    end += len(ranked) if end < 0 else 0
    return [member for _, member in ranked[max(start, 0) : end + 1]] if end >= 0 else []


class SetContract:
    """Sets: members by ``(score, member)``, ranked as Redis's ZRANGE ranks them."""

    def test_a_missing_set_is_empty(self, store: Store) -> None:
        with store.atomic() as tx:
            assert tx.members(DEFAULT_QUEUE) == []
            assert tx.members(DEFAULT_QUEUE, -1, -1, reverse=True) == []
            assert tx.count(DEFAULT_QUEUE) == 0
            assert tx.score(DEFAULT_QUEUE, "j1") is None
            assert tx.remove(DEFAULT_QUEUE, "j1") is False

    def test_members_have_the_score_they_were_added_with(self, store: Store) -> None:
        scores = {"a": 0.1, "b": -3.5, "c": 1_700_000_000.123456, "d": 2.0**53, "e": math.inf}
        with store.atomic() as tx:
            for member, score in scores.items():
                tx.add(DEFAULT_QUEUE, member, score)
        with store.atomic() as tx:
            assert {member: tx.score(DEFAULT_QUEUE, member) for member in scores} == scores
            assert tx.count(DEFAULT_QUEUE) == 5
            assert tx.members(DEFAULT_QUEUE) == ["b", "a", "c", "d", "e"]

    def test_adding_a_member_again_changes_its_score(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.add(DEFAULT_QUEUE, "a", 1.0)
            tx.add(DEFAULT_QUEUE, "b", 2.0)
        with store.atomic() as tx:
            tx.add(DEFAULT_QUEUE, "a", 3.0)
        with store.atomic() as tx:
            assert tx.score(DEFAULT_QUEUE, "a") == 3.0
            assert tx.count(DEFAULT_QUEUE) == 2
            assert tx.members(DEFAULT_QUEUE) == ["b", "a"]

    def test_remove_says_whether_the_member_was_there(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.add(DEFAULT_QUEUE, "a", 1.0)
            tx.add(DEFAULT_QUEUE, "b", 2.0)
        with store.atomic() as tx:
            assert tx.remove(DEFAULT_QUEUE, "a") is True
            assert tx.remove(DEFAULT_QUEUE, "a") is False
            assert tx.score(DEFAULT_QUEUE, "a") is None
        assert members(store, DEFAULT_QUEUE) == ["b"]

    def test_ties_are_ordered_by_member_and_reversed_with_the_scores(self, store: Store) -> None:
        with store.atomic() as tx:
            for member in ("c", "a", "b"):
                tx.add(DEFAULT_QUEUE, member, 1.0)
            tx.add(DEFAULT_QUEUE, "z", 0.0)
            tx.add(DEFAULT_QUEUE, "0", 2.0)
        with store.atomic() as tx:
            assert tx.members(DEFAULT_QUEUE) == ["z", "a", "b", "c", "0"]
            assert tx.members(DEFAULT_QUEUE, reverse=True) == ["0", "c", "b", "a", "z"]

    def test_ranks_are_inclusive_and_negative_ranks_count_from_the_end(self, store: Store) -> None:
        with store.atomic() as tx:
            for position, member in enumerate("abcde"):
                tx.add(DEFAULT_QUEUE, member, float(position))
        cases = {
            (0, 0): ["a"],
            (1, 2): ["b", "c"],
            (-2, -1): ["d", "e"],
            (0, -1): ["a", "b", "c", "d", "e"],
            (-100, 1): ["a", "b"],
            (3, 100): ["d", "e"],
            (5, 10): [],
            (2, 1): [],
            (-1, -2): [],
            (0, -6): [],
        }
        with store.atomic() as tx:
            for (start, end), expected in cases.items():
                assert tx.members(DEFAULT_QUEUE, start, end) == expected, (start, end)
            assert tx.members(DEFAULT_QUEUE, 0, 1, reverse=True) == ["e", "d"]
            assert tx.members(DEFAULT_QUEUE, -1, -1, reverse=True) == ["a"]

    def test_max_score_ranks_only_the_members_at_or_below_it(self, store: Store) -> None:
        with store.atomic() as tx:
            for position, member in enumerate("abcde"):
                tx.add(DEFAULT_QUEUE, member, float(position))
        with store.atomic() as tx:
            assert tx.members(DEFAULT_QUEUE, max_score=2.0) == ["a", "b", "c"]
            assert tx.members(DEFAULT_QUEUE, -1, -1, max_score=2.0) == ["c"]
            assert tx.members(DEFAULT_QUEUE, 0, 0, max_score=2.5, reverse=True) == ["c"]
            assert tx.members(DEFAULT_QUEUE, max_score=-1.0) == []
            assert tx.members(DEFAULT_QUEUE, 0, 0, max_score=math.inf, reverse=True) == ["e"]

    def test_an_emptied_set_is_no_set(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.add(DEFAULT_QUEUE, "a", 1.0)
        with store.atomic() as tx:
            tx.remove(DEFAULT_QUEUE, "a")
        with store.atomic() as tx:
            assert (tx.count(DEFAULT_QUEUE), tx.members(DEFAULT_QUEUE)) == (0, [])
            tx.add(DEFAULT_QUEUE, "b", 5.0)
        assert members(store, DEFAULT_QUEUE) == ["b"]

    def test_kinds_and_names_are_separate_sets(self, store: Store) -> None:
        sets = [
            DEFAULT_QUEUE,
            Collection(SetKind.QUEUE, "other"),
            Collection(SetKind.STARTED, "default"),
            Collection(SetKind.QUEUES),
            Collection(SetKind.WORKERS),
        ]
        with store.atomic() as tx:
            for index, collection in enumerate(sets):
                tx.add(collection, f"m{index}", float(index))
        with store.atomic() as tx:
            assert [tx.members(collection) for collection in sets] == [[f"m{n}"] for n in range(5)]

    # The suite is a mixin: each store's test class runs this one function (differing executors).
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
    )
    @given(
        scores=st.dictionaries(_MEMBERS, _SCORES, max_size=8),
        start=st.integers(-10, 10),
        end=st.integers(-10, 10),
        max_score=st.none() | _SCORES,
        reverse=st.booleans(),
    )
    def test_members_rank_as_redis_zrange_ranks(
        self,
        store: Store,
        scores: dict[str, float],
        start: int,
        end: int,
        max_score: float | None,
        reverse: bool,
    ) -> None:
        collection = Collection(SetKind.FINISHED, uuid.uuid4().hex)  # a new set for each example
        with store.atomic() as tx:
            for member, score in scores.items():
                tx.add(collection, member, score)
        with store.atomic() as tx:
            got = tx.members(collection, start, end, max_score=max_score, reverse=reverse)
            assert tx.count(collection) == len(scores)
        assert got == zrange(scores, start, end, max_score, reverse)


class AtomicityContract:
    """Blocks are serializable: concurrent read-modify-write blocks lose no update."""

    def test_a_block_s_writes_are_seen_by_later_blocks_of_any_thread(self, store: Store) -> None:
        with store.atomic() as tx:
            tx.write(JOB, "j1", {"a": b"1"})
        seen: list[object] = []
        run_threads(1, lambda _: seen.append(read(store, JOB, "j1")))
        assert seen == [{"a": b"1"}]

    def test_an_exception_leaves_the_block_and_the_store_usable(self, store: Store) -> None:
        class Refused(Exception):
            pass

        with pytest.raises(Refused), store.atomic() as tx:
            tx.read(JOB, "j1")
            raise Refused
        run_threads(1, lambda _: increment(store, "after"))  # the block held nothing back
        increment(store, "after")
        assert counter(store, "after") == 2

    def test_threads_incrementing_a_counter_lose_no_update(self, store: Store) -> None:
        run_threads(8, lambda _: increment(store, "count", 25))
        assert counter(store, "count") == 200

    def test_threads_taking_the_first_member_each_take_a_different_one(self, store: Store) -> None:
        ids = [f"j{n:03}" for n in range(120)]
        with store.atomic() as tx:
            for position, job_id in enumerate(ids):
                tx.add(DEFAULT_QUEUE, job_id, float(position))
        taken: list[str] = []

        def work(_: int) -> None:
            while True:
                with store.atomic() as tx:
                    first = tx.members(DEFAULT_QUEUE, 0, 0)
                    if not first:
                        return
                    assert tx.remove(DEFAULT_QUEUE, first[0])
                taken.append(first[0])

        run_threads(6, work)
        assert sorted(taken) == ids

    def test_processes_incrementing_a_counter_lose_no_update(
        self, store: Store, request: pytest.FixtureRequest
    ) -> None:
        opener = opener_of(store, request)
        processes = [spawn(_increment_in_process, opener, "count", 40) for _ in range(2)]
        run_threads(2, lambda _: increment(store, "count", 40))
        for process in processes:
            join(process)
        assert counter(store, "count") == 160


class QueueWatchContract:
    """A watch wakes promptly on a push committed after it began, and otherwise sleeps."""

    @staticmethod
    def claimer(store: Store, watching: threading.Barrier) -> InThread:
        """A thread that starts a watch, meets the others at ``watching``, then waits for a push."""

        def claim() -> float:
            watch = store.watch_queues()
            try:
                watching.wait(JOIN_TIMEOUT)
                return wait_for_push(store, watch)
            finally:
                watch.close()

        return InThread(claim)

    def test_a_push_from_another_thread_wakes_a_waiting_watch_promptly(self, store: Store) -> None:
        watching = threading.Barrier(2)
        claimer = self.claimer(store, watching)
        watching.wait(JOIN_TIMEOUT)
        time.sleep(0.1)  # lets the push usually land while the claimer waits; right either way
        with store.atomic() as tx:
            tx.add(DEFAULT_QUEUE, "j1", 1.0)
        pushed = time.monotonic()
        assert claimer.result() - pushed < PROMPT

    def test_a_push_before_the_wait_is_not_missed(self, store: Store) -> None:
        watch = store.watch_queues()
        try:
            with store.atomic() as tx:
                tx.add(DEFAULT_QUEUE, "j1", 1.0)
            pushed = time.monotonic()
            assert wait_for_push(store, watch) - pushed < PROMPT
        finally:
            watch.close()

    def test_one_push_wakes_every_watch(self, store: Store) -> None:
        watching = threading.Barrier(3)
        claimers = [self.claimer(store, watching) for _ in range(2)]
        watching.wait(JOIN_TIMEOUT)
        time.sleep(0.1)  # lets the push usually land while the claimers wait; right either way
        with store.atomic() as tx:
            tx.add(DEFAULT_QUEUE, "j1", 1.0)
        pushed = time.monotonic()
        assert max(claimer.result() for claimer in claimers) - pushed < PROMPT

    def test_a_wait_with_no_push_lasts_its_timeout_without_spinning(self, store: Store) -> None:
        """The contract lets a wait return early; one that always did would make every idle worker
        spin, so the suite holds a wait with nothing to report to about its timeout."""
        watch = store.watch_queues()
        try:
            with store.atomic() as tx:  # adds to other sets are not pushes
                tx.add(Collection(SetKind.STARTED, "default"), "j1", 1.0)
            elapsed, cpu = timed_wait(watch, SHORT)
        finally:
            watch.close()
        assert 0.9 * SHORT <= elapsed < SHORT + 1.0
        assert cpu < elapsed / 2

    def test_after_a_wake_the_watch_waits_for_the_next_push(self, store: Store) -> None:
        watch = store.watch_queues()
        try:
            with store.atomic() as tx:
                tx.add(DEFAULT_QUEUE, "j1", 1.0)
                tx.add(Collection(SetKind.QUEUE, "other"), "j2", 1.0)
            wait_for_push(store, watch)
            elapsed, _ = timed_wait(watch, SHORT)
        finally:
            watch.close()
        assert 0.9 * SHORT <= elapsed < SHORT + 1.0

    def test_a_push_from_another_process_wakes_the_watch_promptly(
        self, store: Store, request: pytest.FixtureRequest
    ) -> None:
        opener = opener_of(store, request)
        stamps: multiprocessing.Queue[float] = multiprocessing.get_context("spawn").Queue()
        watch = store.watch_queues()
        try:
            process = spawn(_push_in_process, opener, stamps)
            returned = wait_for_push(store, watch)
            join(process)
        finally:
            watch.close()
        assert returned - stamps.get(timeout=JOIN_TIMEOUT) < PROMPT


class PublishContract:
    """Commands: a payload reaches the live subscriptions of its channel, and only those."""

    def test_a_payload_reaches_the_subscribers_of_its_channel_only(self, store: Store) -> None:
        got: dict[str, list[bytes]] = {"a1": [], "a2": [], "b": []}
        subscriptions = [
            store.subscribe("a", got["a1"].append),
            store.subscribe("a", got["a2"].append),
            store.subscribe("b", got["b"].append),
        ]
        try:
            assert store.publish("a", b"for a") == 2
            assert store.publish("b", b"for b") == 1
            assert wait_for(lambda: got["a1"] and got["a2"] and got["b"], timeout=JOIN_TIMEOUT)
            assert store.publish("c", b"nobody") == 0
        finally:
            for subscription in subscriptions:
                subscription.close()
        assert got == {"a1": [b"for a"], "a2": [b"for a"], "b": [b"for b"]}

    def test_payloads_arrive_intact_one_call_at_a_time(self, store: Store) -> None:
        payloads = [b"", bytes(range(256)) * 16, *(str(n).encode() for n in range(12))]
        got: list[bytes] = []
        overlapped: list[bool] = []
        running = threading.Lock()

        def handler(payload: bytes) -> None:
            overlapping = not running.acquire(blocking=False)
            time.sleep(0.002)  # widens the window in which an overlapping call would be caught
            overlapped.append(overlapping)
            got.append(payload)
            if not overlapping:
                running.release()

        subscription = store.subscribe("w1", handler)
        try:
            assert [store.publish("w1", payload) for payload in payloads] == [1] * len(payloads)
            assert wait_for(lambda: len(got) == len(payloads), timeout=JOIN_TIMEOUT)
        finally:
            subscription.close()
        assert sorted(got) == sorted(payloads)
        assert not any(overlapped), "two calls of one subscription's handler overlapped"

    def test_a_closed_subscription_receives_nothing(self, store: Store) -> None:
        closed: list[bytes] = []
        live: list[bytes] = []
        store.subscribe("w1", closed.append).close()
        subscription = store.subscribe("w1", live.append)
        try:
            # The store may count a closed subscription for a moment; never deliver to it.
            assert wait_for(lambda: store.publish("w1", b"probe") == 1, timeout=JOIN_TIMEOUT)
            assert wait_for(lambda: live, timeout=JOIN_TIMEOUT)
        finally:
            subscription.close()
        assert closed == []

    def test_a_failing_handler_keeps_its_subscription(self, store: Store) -> None:
        got: list[bytes] = []

        def handler(payload: bytes) -> None:
            got.append(payload)
            if payload == b"first":
                raise RuntimeError("a handler fails")

        subscription = store.subscribe("w1", handler)
        try:
            store.publish("w1", b"first")
            assert wait_for(lambda: got, timeout=JOIN_TIMEOUT)
            store.publish("w1", b"second")
            assert wait_for(lambda: len(got) == 2, timeout=JOIN_TIMEOUT)
        finally:
            subscription.close()
        assert got == [b"first", b"second"]

    def test_a_payload_published_in_another_process_arrives(
        self, store: Store, request: pytest.FixtureRequest
    ) -> None:
        opener = opener_of(store, request)
        got: list[bytes] = []
        counts: multiprocessing.Queue[int] = multiprocessing.get_context("spawn").Queue()
        subscription = store.subscribe("w1", got.append)
        try:
            join(spawn(_publish_in_process, opener, "w1", counts))
            assert wait_for(lambda: got, timeout=JOIN_TIMEOUT)
        finally:
            subscription.close()
        assert (got, counts.get(timeout=JOIN_TIMEOUT)) == ([b"from-a-process"], 1)


class StoreContractTests(
    RecordContract,
    ExpiryContract,
    SetContract,
    AtomicityContract,
    QueueWatchContract,
    PublishContract,
):
    """The whole store contract; needs a ``store`` fixture (and ``store_opener`` for a shared
    store, see the module)."""
