"""Contract tests for worker registration, heartbeats, expiry and listing."""

from __future__ import annotations

from jq.broker import Broker
from jq.testing.helpers import wait_for

__all__ = ["WorkerContract"]


class WorkerContract:
    """Workers: live registration under a unique name, heartbeats, expiry, listing by queue."""

    def test_registered_worker_is_listed_and_loaded(self, broker: Broker) -> None:
        assert broker.register_worker("w1", {"pid": b"42"}, ["default"], ttl=60)
        assert broker.worker_names() == ["w1"]
        assert broker.load_workers(["w1", "nope"]) == [{"pid": b"42"}, None]

    def test_a_live_duplicate_name_is_refused_and_writes_nothing(self, broker: Broker) -> None:
        assert broker.register_worker("w1", {"pid": b"1"}, ["a"], ttl=60)
        assert not broker.register_worker("w1", {"pid": b"2"}, ["b"], ttl=60)
        assert broker.load_workers(["w1"]) == [{"pid": b"1"}]
        assert broker.worker_names("a") == ["w1"]
        assert broker.worker_names("b") == []

    def test_worker_names_are_sorted_and_filtered_by_queue(self, broker: Broker) -> None:
        broker.register_worker("zed", {"pid": b"1"}, ["a", "b"], ttl=60)
        broker.register_worker("amy", {"pid": b"1"}, ["b"], ttl=60)
        broker.register_worker("max", {"pid": b"1"}, ["c"], ttl=60)
        assert broker.worker_names() == ["amy", "max", "zed"]
        assert broker.worker_names("b") == ["amy", "zed"]
        assert broker.worker_names("a") == ["zed"]
        assert broker.worker_names("none") == []

    def test_heartbeat_writes_fields_and_adds_increments(self, broker: Broker) -> None:
        broker.register_worker("w1", {"state": b"idle", "done": b"2"}, ["default"], ttl=60)
        assert broker.heartbeat_worker("w1", {"state": b"busy"}, 60, {"done": 1, "busy_seconds": 1.5})
        assert broker.heartbeat_worker("w1", {}, 60, {"busy_seconds": 0.25})
        [record] = broker.load_workers(["w1"])
        assert record is not None
        assert record["state"] == b"busy"
        assert float(record["done"]) == 3
        assert float(record["busy_seconds"]) == 1.75

    def test_heartbeat_of_an_unknown_worker_is_refused_and_creates_nothing(self, broker: Broker) -> None:
        assert not broker.heartbeat_worker("ghost", {"state": b"busy"}, 60, {"done": 1})
        assert broker.load_workers(["ghost"]) == [None]
        assert broker.worker_names() == []

    def test_worker_expires_without_heartbeats(self, broker: Broker) -> None:
        broker.register_worker("w1", {"pid": b"1"}, ["default"], ttl=1)
        assert wait_for(lambda: broker.worker_names() == [], timeout=30)
        assert broker.worker_names("default") == []
        assert broker.load_workers(["w1"]) == [None]
        assert not broker.heartbeat_worker("w1", {}, 60)
        assert broker.load_workers(["w1"]) == [None]
        # The name is free again.
        assert broker.register_worker("w1", {"pid": b"2"}, ["other"], ttl=60)
        assert broker.worker_names("other") == ["w1"]
        assert broker.worker_names("default") == []

    def test_heartbeat_keeps_a_worker_alive(self, broker: Broker) -> None:
        broker.register_worker("beating", {"pid": b"1"}, ["default"], ttl=1)
        assert broker.heartbeat_worker("beating", {}, ttl=60)
        # Registered after the heartbeat with the same short ttl, so it expires after "beating"
        # would have without one.
        broker.register_worker("witness", {"pid": b"1"}, ["default"], ttl=1)
        assert wait_for(lambda: "witness" not in broker.worker_names(), timeout=30)
        assert broker.worker_names() == ["beating"]

    def test_unregistered_worker_is_gone_everywhere(self, broker: Broker) -> None:
        broker.register_worker("w1", {"pid": b"1"}, ["a", "b"], ttl=60)
        broker.unregister_worker("w1")
        assert broker.worker_names() == []
        assert broker.worker_names("a") == []
        assert broker.load_workers(["w1"]) == [None]
        assert not broker.heartbeat_worker("w1", {}, 60)
        broker.unregister_worker("never-registered")
        assert broker.register_worker("w1", {"pid": b"1"}, ["c"], ttl=60)
        assert broker.worker_names("a") == []
