"""Contract tests for controlling workers: suspension, locks and commands."""

from __future__ import annotations

import math
import threading

from jq.broker import Broker, CommandSubscription, EnqueueOutcome
from jq.testing.helpers import enqueue, wait_for

__all__ = ["ControlContract", "LockContract"]


class _Inbox:
    """Collects the payloads a command handler receives."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def __call__(self, payload: bytes) -> None:
        with self.lock:
            self.received.append(payload)
            self.threads.add(threading.get_ident())


class ControlContract:
    """Suspension of all workers, markers read back, and commands delivered to the subscribers of
    one worker."""

    def test_a_marker_reads_back_what_enqueue_once_set(self, broker: Broker) -> None:
        assert broker.marker("tick") is None
        assert enqueue(broker, "first", once=("tick", 60.0)) == EnqueueOutcome("queued")
        assert broker.marker("tick") == 60.0
        # A refused request leaves it as it was; a later value moves it on.
        assert enqueue(broker, "stale", once=("tick", 30.0)).status is None
        assert broker.marker("tick") == 60.0
        assert enqueue(broker, "second", once=("tick", 1763881200.5)) == EnqueueOutcome("queued")
        assert broker.marker("tick") == 1763881200.5
        assert broker.marker("other") is None

    def test_suspend_and_resume(self, broker: Broker) -> None:
        assert not broker.is_suspended()
        broker.suspend()
        assert broker.is_suspended()
        broker.resume()
        assert not broker.is_suspended()
        broker.resume()  # resuming twice is harmless
        assert not broker.is_suspended()

    def test_suspension_remaining_says_how_long_workers_stay_suspended(self, broker: Broker) -> None:
        assert broker.suspension_remaining() is None
        broker.suspend()
        assert broker.suspension_remaining() == math.inf
        broker.suspend(duration=60)
        remaining = broker.suspension_remaining()
        assert remaining is not None and 50 < remaining <= 60
        broker.resume()
        assert broker.suspension_remaining() is None

    def test_a_suspension_with_a_duration_ends_by_itself(self, broker: Broker) -> None:
        broker.suspend(duration=1)
        assert broker.is_suspended()
        assert wait_for(lambda: not broker.is_suspended(), timeout=30)

    def test_commands_reach_the_workers_subscribers_only(self, broker: Broker) -> None:
        mine, other = _Inbox(), _Inbox()
        subscriptions: list[CommandSubscription] = [
            broker.subscribe_commands("w1", mine),
            broker.subscribe_commands("w2", other),
        ]
        try:
            assert isinstance(subscriptions[0], CommandSubscription)
            assert broker.publish_command("w1", b'{"command": "shutdown"}') == 1
            assert broker.publish_command("w1", b"second") == 1
            assert wait_for(lambda: len(mine.received) == 2, timeout=30)
            assert mine.received == [b'{"command": "shutdown"}', b"second"]
            assert other.received == []
        finally:
            for subscription in subscriptions:
                subscription.close()

    def test_no_subscriber_no_delivery(self, broker: Broker) -> None:
        assert broker.publish_command("nobody", b"x") == 0

    def test_closed_subscription_receives_nothing(self, broker: Broker) -> None:
        closed_inbox, open_inbox = _Inbox(), _Inbox()
        subscription = broker.subscribe_commands("w1", closed_inbox)
        witness = broker.subscribe_commands("w1", open_inbox)
        try:
            subscription.close()
            broker.publish_command("w1", b"late")
            # The open subscription got it, so the closed one had every chance to: it must not.
            assert wait_for(lambda: open_inbox.received == [b"late"], timeout=30)
            assert closed_inbox.received == []
        finally:
            witness.close()

    def test_a_failing_handler_does_not_end_the_subscription(self, broker: Broker) -> None:
        inbox = _Inbox()

        def handler(payload: bytes) -> None:
            inbox(payload)
            if payload == b"boom":
                raise RuntimeError("handler broke")

        subscription = broker.subscribe_commands("w1", handler)
        try:
            broker.publish_command("w1", b"boom")
            broker.publish_command("w1", b"after")
            assert wait_for(lambda: inbox.received == [b"boom", b"after"], timeout=30)
        finally:
            subscription.close()


class LockContract:
    """Locks: one holder at a time, extended and released by their holder only, free after a TTL."""

    def test_acquire_is_refused_while_the_lock_is_held(self, broker: Broker) -> None:
        assert broker.lock_owner("scheduler") is None
        assert broker.acquire_lock("scheduler", "first", 60)
        assert not broker.acquire_lock("scheduler", "second", 60)
        assert not broker.acquire_lock("scheduler", "first", 60), "not re-entrant either"
        assert broker.lock_owner("scheduler") == "first"
        assert broker.acquire_lock("other-lock", "second", 60), "locks are separate by name"
        assert broker.lock_owner("other-lock") == "second"

    def test_only_the_holder_extends(self, broker: Broker) -> None:
        assert broker.acquire_lock("scheduler", "first", 1)
        assert not broker.extend_lock("scheduler", "second", 60)
        assert not broker.extend_lock("absent", "first", 60)
        assert broker.lock_owner("absent") is None, "a refused extend writes nothing"
        assert broker.extend_lock("scheduler", "first", 60)
        # Held past its first TTL: the extension took effect. A witness lock of 1 s shows the time.
        assert broker.acquire_lock("witness", "w", 1)
        assert wait_for(lambda: broker.lock_owner("witness") is None, timeout=30)
        assert broker.lock_owner("scheduler") == "first"

    def test_only_the_holder_releases(self, broker: Broker) -> None:
        assert broker.acquire_lock("scheduler", "first", 60)
        assert not broker.release_lock("scheduler", "second")
        assert broker.lock_owner("scheduler") == "first"
        assert broker.release_lock("scheduler", "first")
        assert broker.lock_owner("scheduler") is None
        assert not broker.release_lock("scheduler", "first"), "released already"
        assert broker.acquire_lock("scheduler", "second", 60)

    def test_an_expired_lock_is_free(self, broker: Broker) -> None:
        assert broker.acquire_lock("scheduler", "first", 1)
        assert wait_for(lambda: broker.lock_owner("scheduler") is None, timeout=30)
        assert not broker.extend_lock("scheduler", "first", 60), "an expired holder cannot revive it"
        assert not broker.release_lock("scheduler", "first")
        assert broker.acquire_lock("scheduler", "second", 60)
        assert not broker.release_lock("scheduler", "first"), "the old holder cannot free the new one"
        assert broker.lock_owner("scheduler") == "second"

    def test_one_of_many_threads_gets_the_lock(self, broker: Broker) -> None:
        barrier = threading.Barrier(8)
        winners: list[str] = []

        def contend(token: str) -> None:
            barrier.wait(30)
            if broker.acquire_lock("scheduler", token, 60):
                winners.append(token)

        threads = [threading.Thread(target=contend, args=(f"t{n}",), daemon=True) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(winners) == 1
        assert broker.lock_owner("scheduler") == winners[0]
