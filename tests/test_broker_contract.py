"""The broker conformance suite against every driver, and what only the memory driver promises."""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest

from jq.broker import (
    EXECUTION,
    KEEP,
    STATUS,
    Cancellation,
    ClaimRequest,
    DependentsPolicy,
    Move,
    Place,
    PlaceKind,
    RecordEdit,
    ResultEntry,
    Settlement,
    ToQueue,
    ToRegistry,
    Transition,
    WorkerUpdate,
    settlement_for,
)
from jq.plugins import ENTRY_POINT_GROUP, PluginManager
from jq.testing.broker_suite import BrokerContractTests
from jq.testing.helpers import LEASE, enqueue, job_fields
from jq_backends.memory import MemoryBroker, plugin


class TestBrokerContract(BrokerContractTests):
    """Each driver (memory, Redis on fakeredis, Redis on a real server) passes the whole contract."""


class TestMemoryDriver:
    """What only the memory driver promises: named stores, ``memory://`` URLs, an injected clock."""

    @pytest.fixture(autouse=True)
    def _forget_named_stores(self) -> Iterator[None]:
        yield
        for name in ("default", "fast", "shared", "other"):
            MemoryBroker.forget(name)

    def test_identity(self) -> None:
        broker = MemoryBroker("fast", prefix="app:")
        assert broker.url == "memory://fast"
        assert broker.connection is broker
        assert broker.shares_across_processes is False
        assert broker.job_key("j1") == "app:job:j1"
        assert broker.worker_name_from_key("app:worker:w1") == "w1"
        assert MemoryBroker().url == "memory://default"

    def test_named_returns_one_store_per_name_across_threads(self) -> None:
        seen: list[MemoryBroker] = []
        threads = [
            threading.Thread(target=lambda: seen.append(MemoryBroker.named("shared"))) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert len(seen) == 8 and all(store is seen[0] for store in seen)
        assert MemoryBroker.named("other") is not seen[0]
        assert MemoryBroker.named("shared").url == "memory://shared"

    def test_named_store_shares_data_and_forget_drops_it(self) -> None:
        enqueue(MemoryBroker.named("shared"), "j1")
        assert MemoryBroker.named("shared").queue_job_ids("default") == ["j1"]
        MemoryBroker.forget("shared")
        assert MemoryBroker.named("shared").queue_length("default") == 0
        MemoryBroker.forget("never-named")

    def test_fresh_brokers_share_nothing(self) -> None:
        enqueue(MemoryBroker(), "j1")
        assert MemoryBroker().queue_length("default") == 0
        assert MemoryBroker.named("default").queue_length("default") == 0

    @pytest.mark.parametrize(
        ("url", "name"),
        [("memory://", "default"), ("memory://fast", "fast"), ("MEMORY://fast/", "fast")],
    )
    def test_plugin_resolves_memory_urls_to_named_stores(self, url: str, name: str) -> None:
        assert plugin.jq_broker_from_url(url, {}) is MemoryBroker.named(name)

    @pytest.mark.parametrize("url", ["redis://localhost:6379/0", "unix:///tmp/redis.sock", "fast"])
    def test_plugin_declines_other_schemes(self, url: str) -> None:
        assert plugin.jq_broker_from_url(url, {}) is None

    def test_plugin_answers_through_the_plugin_manager(self) -> None:
        manager = PluginManager(load_entry_points=False)
        manager.register(plugin, name="memory")
        assert manager.broker_from_url("memory://fast", {}) is MemoryBroker.named("fast")
        assert manager.broker_from_url("redis://localhost", {}) is None

    def test_plugin_is_offered_under_the_jq_entry_point_group(self) -> None:
        offered = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
        assert offered.get("memory") == "jq_backends.memory.plugin"

    def test_injected_clock_drives_record_expiry(self) -> None:
        now = [1000.0]
        broker = MemoryBroker(clock=lambda: now[0])
        enqueue(broker, "j1", record_ttl=10)
        assert broker.transition(Transition("j1", result=ResultEntry(b"r")))
        assert broker.job_ttl("j1") == 10
        now[0] += 9.5
        assert broker.job_ttl("j1") == 0.5
        assert broker.load_results("j1") == [b"r"]
        now[0] += 0.5
        assert broker.load_job("j1") is None
        assert broker.load_results("j1") == []
        # The id stays queued until a claim drops it.
        assert broker.queue_length("default") == 1
        assert broker.claim(["default"], {EXECUTION: b"e"}, LEASE) is None
        assert broker.queue_length("default") == 0

    def test_injected_clock_drives_worker_expiry(self) -> None:
        now = [1000.0]
        broker = MemoryBroker(clock=lambda: now[0])
        assert broker.register_worker("w1", {}, ["default"], ttl=5)
        now[0] += 4.9
        assert broker.heartbeat_worker("w1", {}, ttl=5)
        now[0] += 4.9
        assert broker.worker_names("default") == ["w1"]
        now[0] += 0.1
        assert broker.worker_names() == []
        assert broker.register_worker("w1", {}, ["default"], ttl=5)

    def test_injected_clock_drives_locks(self) -> None:
        now = [1000.0]
        broker = MemoryBroker(clock=lambda: now[0])
        assert broker.acquire_lock("l", "a", 5)
        now[0] += 4.9
        assert broker.extend_lock("l", "a", 5)
        now[0] += 4.9
        assert broker.lock_owner("l") == "a"
        now[0] += 0.1
        assert broker.lock_owner("l") is None
        assert not broker.extend_lock("l", "a", 5)
        assert broker.acquire_lock("l", "b", 5)

    def test_injected_clock_scores_and_expires_an_orphan_it_cancels(self) -> None:
        now = [1000.0]
        broker = MemoryBroker(clock=lambda: now[0])
        enqueue(broker, "parent")
        enqueue(broker, "j1", fields=job_fields(failure_ttl=b"30"), depends_on=["parent"])
        broker.delete_job("parent", [Place(PlaceKind.QUEUE, "default")])
        assert broker.settle_orphans("default", released_fields={}, canceled_fields={}) == ["j1"]
        assert broker.registry_score(Place(PlaceKind.CANCELED, "default"), "j1") == 1030.0
        assert broker.job_ttl("j1") == 30
        now[0] += 30
        assert broker.load_job("j1") is None

    def test_heartbeat_refuses_a_non_numeric_increment_and_writes_nothing(self) -> None:
        broker = MemoryBroker()
        broker.register_worker("w1", {"state": b"idle"}, ["default"], ttl=60)
        with pytest.raises(ValueError, match="state"):
            broker.heartbeat_worker("w1", {"pid": b"9"}, 60, {"state": 1})
        assert broker.load_workers(["w1"]) == [{"state": b"idle"}]

    def test_whole_increments_are_written_as_integers(self) -> None:
        broker = MemoryBroker()
        broker.register_worker("w1", {}, ["default"], ttl=60)
        broker.heartbeat_worker("w1", {}, 60, {"done": 2, "busy": 0.5})
        assert broker.load_workers(["w1"]) == [{"done": b"2", "busy": b"0.5"}]

    @pytest.mark.parametrize("call", ["claim", "transition", "finish_and_claim"])
    def test_a_worker_increment_on_a_non_number_raises_and_writes_nothing(self, call: str) -> None:
        broker = MemoryBroker()
        broker.register_worker("w1", {"state": b"idle"}, ["default"], ttl=60)
        enqueue(broker, "j1")
        broker.claim_job("j1", "default", {EXECUTION: b"e1"}, LEASE)
        enqueue(broker, "j2")
        bad = WorkerUpdate("w1", {"other": b"1"}, {"state": 1})
        finished = Transition(
            "j1", Move(Place(PlaceKind.STARTED, "default")), RecordEdit({STATUS: b"finished"})
        )
        with pytest.raises(ValueError, match="not a number"):
            if call == "claim":
                broker.claim(["default"], {EXECUTION: b"e2"}, LEASE, worker=bad)
            elif call == "transition":
                broker.transition(replace(finished, worker=bad))
            else:
                # The claim's increment applies to what the transition's update writes.
                writes_text = WorkerUpdate("w1", {"n": b"text"})
                adds = WorkerUpdate("w1", increments={"n": 1})
                broker.finish_and_claim(
                    replace(finished, worker=writes_text),
                    ClaimRequest(["default"], {EXECUTION: b"e2"}, LEASE, adds),
                )
        assert broker.load_workers(["w1"]) == [{"state": b"idle"}]
        assert broker.queue_job_ids("default") == ["j2"]
        assert broker.registry_ids(Place(PlaceKind.STARTED, "default")) == ["j1"]


class TestTransitionParts:
    """A transition's parts cannot be put together in a way that means nothing."""

    def test_a_registry_target_is_never_a_queue(self) -> None:
        with pytest.raises(ValueError, match="registry target needs a registry"):
            ToRegistry(Place(PlaceKind.QUEUE, "default"), 1.0)
        assert ToQueue("default", at_front=True).place == Place(PlaceKind.QUEUE, "default")

    def test_a_settlement_has_a_policy_and_a_cancellation_only_when_it_cancels(self) -> None:
        with pytest.raises(ValueError, match="needs a policy"):
            Settlement(DependentsPolicy.NONE)
        for policy in (DependentsPolicy.FINISHED, DependentsPolicy.FAILED):
            with pytest.raises(ValueError, match="VANISHED"):
                Settlement(policy, Cancellation())
        with pytest.raises(ValueError, match="VANISHED"):
            Settlement(DependentsPolicy.VANISHED)
        assert Settlement(DependentsPolicy.VANISHED, Cancellation({"a": b"1"}, 5)).cancellation

    def test_settlement_for_takes_the_parts_of_delete_job(self) -> None:
        assert settlement_for(DependentsPolicy.NONE, {"a": b"1"}) is None
        assert settlement_for(DependentsPolicy.FAILED, {"a": b"1"}, 5, 9.0) == Settlement(
            DependentsPolicy.FAILED, now=9.0
        )
        vanished = settlement_for(DependentsPolicy.VANISHED, None, 5)
        assert vanished == Settlement(DependentsPolicy.VANISHED, Cancellation({}, 5))

    def test_a_transition_with_no_parts_leaves_everything_as_it_is(self) -> None:
        change = Transition("j1")
        assert change.move == Move() and (change.move.source, change.move.target) == (None, None)
        assert change.edit == RecordEdit() and change.edit.record_ttl is KEEP
        assert (change.result, change.settlement, change.worker) == (None, None, None)
