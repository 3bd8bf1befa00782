"""jq's rules over a store (:class:`jq.broker.rules.StoreBroker`): what the rules promise a store.

The whole broker contract runs against a ``StoreBroker`` over a checking memory store, which
fails a call that writes before refusing (a store need not roll back a block), a call that raises
after writing, a nested block, and a transaction used outside its block. Then what is specific
to the rules on a store: one block per call, the queue watch opened before the first attempt of
a blocked claim and never polled, and identity taken from the store and the key names.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import pytest

from jq.broker import (
    EXECUTION,
    STATUS,
    ClaimRequest,
    DependentsPolicy,
    EnqueueOutcome,
    EnqueueRequest,
    Move,
    Place,
    PlaceKind,
    RecordEdit,
    Settlement,
    Transition,
    WorkerUpdate,
)
from jq.broker.rules import StoreBroker
from jq.broker.store import Collection, QueueWatch, RecordKind, StoreTransaction
from jq.testing.broker_suite import BrokerContractTests
from jq.testing.helpers import LEASE, ClaimInThread, enqueue, job_fields, start_job, wait_for
from jq_backends.keys import KeySpace
from jq_backends.memory import MemoryStore

STARTED = Place(PlaceKind.STARTED, "default")


class CheckingStore(MemoryStore):
    """A memory store that counts, per thread, the blocks opened and the writes made, and fails
    a nested block or a transaction used outside its block."""

    def __init__(self) -> None:
        super().__init__("checking")
        self._local = threading.local()
        #: What happened, in order, in this store: "watch", "block", "wait", "close".
        self.events: list[str] = []

    def counter(self, name: str) -> int:
        """How many blocks (``"blocks"``) or writes (``"writes"``) this thread made."""
        return int(getattr(self._local, name, 0))

    def bump(self, name: str) -> None:
        setattr(self._local, name, self.counter(name) + 1)

    def atomic(self) -> Any:
        return _CheckedBlock(self, super().atomic())

    def watch_queues(self) -> QueueWatch:
        self.events.append("watch")
        return _LoggedWatch(self, super().watch_queues())


class _CheckedBlock(StoreTransaction):
    """Delegates to a memory transaction, counting writes and checking the block is open."""

    def __init__(self, store: CheckingStore, inner: Any) -> None:
        self._store = store
        self._inner = inner
        self._open = False

    def __enter__(self) -> _CheckedBlock:
        assert not getattr(self._store._local, "in_block", False), "blocks are never nested"
        self._store._local.in_block = True
        self._store.bump("blocks")
        self._store.events.append("block")
        self._inner.__enter__()
        self._open = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._open = False
        self._store._local.in_block = False
        self._inner.__exit__(*exc)

    def _reading(self) -> Any:
        assert self._open, "a transaction is valid only inside its block"
        return self._inner

    def _writing(self) -> Any:
        self._store.bump("writes")
        return self._reading()

    def read(self, kind: RecordKind, key: str) -> Any:
        return self._reading().read(kind, key)

    def write(
        self, kind: RecordKind, key: str, fields: Mapping[str, bytes], *, replace: bool = False
    ) -> None:
        self._writing().write(kind, key, fields, replace=replace)

    def delete(self, kind: RecordKind, key: str) -> bool:
        return bool(self._writing().delete(kind, key))

    def expire(self, kind: RecordKind, key: str, deadline: float | None) -> None:
        self._writing().expire(kind, key, deadline)

    def expiry(self, kind: RecordKind, key: str) -> Any:
        return self._reading().expiry(kind, key)

    def add(self, collection: Collection, member: str, score: float) -> None:
        self._writing().add(collection, member, score)

    def remove(self, collection: Collection, member: str) -> bool:
        return bool(self._writing().remove(collection, member))

    def score(self, collection: Collection, member: str) -> Any:
        return self._reading().score(collection, member)

    def members(self, collection: Collection, *args: Any, **kwargs: Any) -> Any:
        return self._reading().members(collection, *args, **kwargs)

    def count(self, collection: Collection) -> int:
        return int(self._reading().count(collection))


class _LoggedWatch:
    def __init__(self, store: CheckingStore, inner: QueueWatch) -> None:
        self._store = store
        self._inner = inner

    def wait(self, timeout: float) -> None:
        self._store.events.append("wait")
        self._inner.wait(timeout)

    def close(self) -> None:
        self._store.events.append("close")
        self._inner.close()


def _refused(result: object) -> bool:
    """Whether a broker method's result says it refused (False, None, or refused outcomes)."""
    if isinstance(result, EnqueueOutcome):
        return result.status is None
    if isinstance(result, list) and result and all(isinstance(r, EnqueueOutcome) for r in result):
        return all(outcome.status is None for outcome in result)
    return result is False or result is None


# Methods whose False/None result is a refusal, which must write nothing.
_REFUSING = (
    "enqueue",
    "enqueue_many",
    "update_job",
    "claim_job",
    "extend_lease",
    "transition",
    "registry_update_score",
    "register_worker",
    "heartbeat_worker",
    "acquire_lock",
    "extend_lock",
    "release_lock",
)
# Methods that refuse nothing but may raise (a worker increment on a field holding no number).
_RAISING = ("claim", "finish_and_claim")


class CheckingBroker(StoreBroker):
    """A StoreBroker whose refusals and errors are checked to leave the store as it was."""

    store: CheckingStore


def _checked(name: str, refuses: bool) -> Callable[..., Any]:
    method = getattr(StoreBroker, name)

    @functools.wraps(method)
    def checked(self: CheckingBroker, *args: Any, **kwargs: Any) -> Any:
        before = self.store.counter("writes")
        try:
            result = method(self, *args, **kwargs)
        except Exception:
            assert self.store.counter("writes") == before, f"{name} raised after writing"
            raise
        if refuses and _refused(result):
            assert self.store.counter("writes") == before, f"{name} refused after writing"
        return result

    return checked


for _name in _REFUSING + _RAISING:
    setattr(CheckingBroker, _name, _checked(_name, _name in _REFUSING))


@pytest.fixture
def broker() -> Iterator[CheckingBroker]:
    instance = CheckingBroker(CheckingStore(), KeySpace())
    yield instance
    instance.close()


class TestStoreBrokerContract(BrokerContractTests):
    """The whole broker contract, on the rules over a checking store."""


class TestStoreBroker:
    """What the rules promise a store beyond the broker contract."""

    def test_each_call_is_one_block(self, broker: CheckingBroker) -> None:
        def blocks(call: Callable[[], object]) -> int:
            before = broker.store.counter("blocks")
            call()
            return broker.store.counter("blocks") - before

        many = [EnqueueRequest(f"m{n}", "default", job_fields(), depends_on=["j1"]) for n in range(5)]
        assert blocks(lambda: enqueue(broker, "j1")) == 1
        assert blocks(lambda: broker.enqueue_many(many)) == 1
        assert blocks(lambda: broker.claim(["default"], {EXECUTION: b"e1"}, LEASE, wait=5)) == 1
        done = Transition("j1", Move(STARTED), RecordEdit({STATUS: b"finished"}), execution_id="e1")
        claim = ClaimRequest(["default"], {EXECUTION: b"e2"}, LEASE)
        done = replace(done, settlement=Settlement(DependentsPolicy.FINISHED))
        assert blocks(lambda: broker.finish_and_claim(done, claim)) == 1
        assert broker.queue_job_ids("default") == [f"m{n}" for n in range(1, 5)]

    def test_a_refused_transition_leaves_the_store_as_it_was(self, broker: CheckingBroker) -> None:
        enqueue(broker, "j1")
        start_job(broker, "j1", execution="e1")
        broker.register_worker("w1", {"state": b"idle"}, ["default"], ttl=60)
        before = broker.store.snapshot()
        stale = Transition("j1", Move(STARTED), RecordEdit({STATUS: b"failed"}), execution_id="old")
        assert not broker.transition(replace(stale, worker=WorkerUpdate("w1", {"state": b"x"})))
        with pytest.raises(ValueError, match="not a number"):
            broker.transition(
                replace(stale, execution_id="e1", worker=WorkerUpdate("w1", increments={"state": 1}))
            )
        assert broker.store.snapshot() == before

    def test_a_blocked_claim_waits_on_the_watch_without_polling(self, broker: CheckingBroker) -> None:
        waiter = ClaimInThread(broker, ["default"], wait=30)
        assert wait_for(lambda: "wait" in broker.store.events, timeout=10)
        time.sleep(0.3)  # a polling claimer would try again meanwhile
        assert broker.store.events == ["watch", "block", "wait"], "the watch comes before the first attempt"
        enqueue(broker, "j1")
        claimed = waiter.result(timeout=10)
        assert claimed is not None and claimed.job_id == "j1"
        assert broker.store.events == ["watch", "block", "wait", "block", "block", "close"]

    def test_a_claim_that_times_out_closes_its_watch(self, broker: CheckingBroker) -> None:
        assert broker.claim(["default"], {EXECUTION: b"e"}, LEASE, wait=0.2) is None
        assert broker.store.events[0] == "watch" and broker.store.events[-1] == "close"
        broker.store.events.clear()
        assert broker.claim(["default"], {EXECUTION: b"e"}, LEASE) is None
        assert broker.store.events == ["block"], "a claim that does not wait opens no watch"

    def test_identity_comes_from_the_store_and_the_key_names(self) -> None:
        store = MemoryStore("here")
        broker = StoreBroker(store, KeySpace("app:"))
        assert (broker.url, broker.connection, broker.store) == ("memory://here", broker, store)
        assert broker.shares_across_processes is False
        assert broker.transient_errors == ()
        assert broker.job_key("j") == "app:job:j"
        assert broker.results_key("j") == "app:results:j"
        assert broker.place_key(STARTED) == "app:started:default"
        assert broker.worker_name_from_key(broker.worker_key("w")) == "w"
        assert broker.queues_key() == "app:queues"
        assert broker.supports_groups and broker.supports_rate_limits
        broker.ping()

    def test_commands_use_the_channel_the_key_names_give(self) -> None:
        store = MemoryStore()
        broker = StoreBroker(store, KeySpace("app:"))
        got: list[bytes] = []
        subscription = store.subscribe("app:commands:w1", got.append)
        assert broker.publish_command("w1", b"stop") == 1
        assert broker.publish_command("w2", b"stop") == 0
        subscription.close()
        assert got == [b"stop"]
