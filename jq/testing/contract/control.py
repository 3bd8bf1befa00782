"""Contract tests for controlling workers: suspension and commands."""

from __future__ import annotations

import threading

from jq.broker import Broker, CommandSubscription
from jq.testing.helpers import wait_for

__all__ = ["ControlContract"]


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
    """Suspension of all workers, and commands delivered to the subscribers of one worker."""

    def test_suspend_and_resume(self, broker: Broker) -> None:
        assert not broker.is_suspended()
        broker.suspend()
        assert broker.is_suspended()
        broker.resume()
        assert not broker.is_suspended()
        broker.resume()  # resuming twice is harmless
        assert not broker.is_suspended()

    def test_a_suspension_with_a_duration_ends_by_itself(self, broker: Broker) -> None:
        broker.suspend(duration=1)
        assert broker.is_suspended()
        assert wait_for(lambda: not broker.is_suspended(), timeout=5)

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
            assert wait_for(lambda: len(mine.received) == 2, timeout=5)
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
            assert wait_for(lambda: open_inbox.received == [b"late"], timeout=5)
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
            assert wait_for(lambda: inbox.received == [b"boom", b"after"], timeout=5)
        finally:
            subscription.close()
