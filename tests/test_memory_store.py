"""The memory driver's store (:class:`jq_backends.memory.MemoryStore`): its ordered sets against a
plain model, what belongs to a job's record, and its queue watch."""

from __future__ import annotations

import random
import threading
import time

import pytest

from jq.broker.store import Collection, RecordKind, SetKind
from jq_backends.memory import MemoryStore
from jq_backends.memory._scored import ScoredSet

QUEUE = Collection(SetKind.QUEUE, "q")


def _ranked(
    model: dict[str, float], start: int, end: int, max_score: float | None, reverse: bool
) -> list[str]:
    items = sorted(
        (score, member) for member, score in model.items() if max_score is None or score <= max_score
    )
    if reverse:
        items.reverse()
    n = len(items)
    first, last = max(start + n if start < 0 else start, 0), min(end + n if end < 0 else end, n - 1)
    return [member for _, member in items[first : last + 1]] if first <= last else []


@pytest.mark.parametrize("seed", range(20))
def test_a_scored_set_reads_as_a_sorted_model_does(seed: int) -> None:
    rnd = random.Random(seed)
    members, model = ScoredSet(), {}
    for _ in range(500):
        member = f"m{rnd.randrange(50)}"
        roll = rnd.random()
        if roll < 0.45:
            score = float(rnd.randrange(-10, 10))
            members.add(member, score)
            model[member] = score
        elif roll < 0.8:
            first = members.members(0, 0, None, False)
            if first and rnd.random() < 0.7:
                member = first[0]  # mostly queue pops, which move the head
            assert members.remove(member) == (member in model)
            model.pop(member, None)
        else:
            start, end = rnd.randrange(-6, 6), rnd.randrange(-6, 6)
            bound = rnd.choice([None, float(rnd.randrange(-10, 10))])
            reverse = rnd.random() < 0.5
            assert members.members(start, end, bound, reverse) == _ranked(model, start, end, bound, reverse)
        assert len(members) == len(model)
        assert all(members.score(member) == score for member, score in model.items())


def test_what_belongs_to_a_job_expires_and_goes_with_its_record() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    dependents = Collection(SetKind.DEPENDENTS, "j")
    with store.atomic() as tx:
        tx.write(RecordKind.JOB, "j", {"status": b"queued"})
        tx.write(RecordKind.RESULTS, "j", {"0": b"r"})
        tx.add(dependents, "child", 0.0)
        tx.expire(RecordKind.JOB, "j", 1010.0)
        tx.write(RecordKind.WORKER, "j", {"state": b"idle"})  # another kind, same key: not the job's
    now[0] = 1010.0
    with store.atomic() as tx:
        assert tx.read(RecordKind.JOB, "j") is None
        assert tx.read(RecordKind.RESULTS, "j") is None
        assert tx.count(dependents) == 0
        assert tx.read(RecordKind.WORKER, "j") == {"state": b"idle"}
        tx.write(RecordKind.JOB, "j", {"status": b"queued"})
        assert tx.expiry(RecordKind.JOB, "j") is None, "a new record has no expiry"
        tx.add(dependents, "child", 0.0)
        tx.write(RecordKind.JOB, "j", {}, replace=True)
        assert tx.read(RecordKind.JOB, "j") is None, "a record with no fields is no record"
        assert tx.members(dependents) == ["child"], "what belongs to it stays"
        assert not tx.delete(RecordKind.JOB, "j")
        assert tx.count(dependents) == 0


def test_the_watch_wakes_for_a_push_and_only_for_one() -> None:
    store = MemoryStore()
    watch = store.watch_queues()
    with store.atomic() as tx:
        tx.add(Collection(SetKind.FINISHED, "q"), "j", 1.0)
    started = time.monotonic()
    watch.wait(0.2)
    assert time.monotonic() - started >= 0.15, "a registry write is no push"
    with store.atomic() as tx:
        tx.add(QUEUE, "j", 0.0)  # committed before the wait: not missed
    started = time.monotonic()
    watch.wait(30)
    assert time.monotonic() - started < 10

    woken = threading.Event()

    def waiter() -> None:
        watch.wait(30)
        woken.set()

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    assert not woken.wait(0.2)
    with store.atomic() as tx:
        tx.add(QUEUE, "k", 1.0)
    assert woken.wait(10)
    thread.join(10)
    watch.close()


def test_a_memory_broker_names_its_keys_under_jq_key_prefix(monkeypatch):
    """As the other drivers: a prefix given, else JQ_KEY_PREFIX, else jq:."""
    from jq_backends.memory import MemoryBroker

    assert MemoryBroker().job_key("x") == "jq:job:x"
    monkeypatch.setenv("JQ_KEY_PREFIX", "{app}:")
    assert MemoryBroker().job_key("x") == "{app}:job:x"
    assert MemoryBroker(prefix="mine:").queue_key("q") == "mine:queue:q"
