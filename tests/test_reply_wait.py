"""Polling for a reply before the read sleeps (jq_backends/redis/reply_wait.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from jq.exceptions import ConfigurationError
from jq_backends.redis import reply_wait
from jq_backends.redis.reply_wait import (
    DEFAULT_WINDOW_US,
    MISSES_BEFORE_PAUSE,
    PAUSED_CALLS,
    POLL_WINDOW_ENV,
    ReplyWait,
    window_from_env,
)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


class CountingPolls:
    """Counts the polls a ReplyWait makes on a socket, answering as the real poll does."""

    def __init__(self, wait: ReplyWait, sock: socket.socket) -> None:
        self.count = 0
        real = wait._poll_for(sock)

        def poll(timeout: int) -> list[tuple[int, int]]:
            self.count += 1
            return real(timeout)  # type: ignore[no-any-return]

        wait._poll_for = lambda _sock: poll  # type: ignore[method-assign]


def test_a_reply_already_there_ends_the_wait_at_once(pair):
    ours, theirs = pair
    theirs.sendall(b"+PONG\r\n")
    wait = ReplyWait(window=10.0)  # far longer than the test may take: only the reply ends it
    polls = CountingPolls(wait, ours)
    wait.wait(ours)
    assert polls.count == 1
    assert wait._misses == 0
    assert ours.recv(100) == b"+PONG\r\n"  # the reply is left for the reader


def test_no_reply_within_the_window_counts_a_miss_and_leaves_the_read_to_block(pair):
    ours, _theirs = pair
    wait = ReplyWait(window=0.001)
    wait.wait(ours)
    assert wait._misses == 1
    assert wait._paused == 0


def test_misses_in_a_row_pause_polling_then_it_resumes(pair):
    ours, theirs = pair
    wait = ReplyWait(window=0.0005)
    for _ in range(MISSES_BEFORE_PAUSE):
        wait.wait(ours)
    assert wait._paused == PAUSED_CALLS
    polls = CountingPolls(wait, ours)
    for _ in range(PAUSED_CALLS):
        wait.wait(ours)
    assert polls.count == 0, "a paused wait does not poll"
    theirs.sendall(b"+OK\r\n")
    wait.wait(ours)
    assert polls.count == 1 and wait._misses == 0


def test_a_reply_in_time_resets_the_misses(pair):
    ours, theirs = pair
    wait = ReplyWait(window=0.0005)
    for _ in range(MISSES_BEFORE_PAUSE - 1):
        wait.wait(ours)
    theirs.sendall(b"+OK\r\n")
    wait.wait(ours)
    assert wait._misses == 0 and wait._paused == 0


def test_a_window_of_zero_never_polls(pair):
    ours, _theirs = pair
    wait = ReplyWait(window=0)
    polls = CountingPolls(wait, ours)
    wait.wait(ours)
    assert polls.count == 0


def test_something_that_is_not_an_os_socket_is_not_polled():
    wait = ReplyWait(window=10.0)
    wait.wait(object())  # fakeredis's sockets: returns at once, no miss
    wait.wait(None)
    assert wait._misses == 0


def test_a_new_connection_is_registered_again(pair):
    ours, theirs = pair
    wait = ReplyWait(window=0.05)
    theirs.sendall(b"+1\r\n")
    wait.wait(ours)
    assert ours.recv(100) == b"+1\r\n"  # the old socket is empty again
    other, other_peer = socket.socketpair()
    try:
        other_peer.sendall(b"+2\r\n")
        wait.wait(other)  # polling the old, empty socket instead would end in a miss
        assert wait._misses == 0
        assert wait._fd == other.fileno()
    finally:
        other.close()
        other_peer.close()


@pytest.mark.parametrize(("value", "seconds"), [("", DEFAULT_WINDOW_US / 1e6), ("0", 0.0), (" 50 ", 50e-6)])
def test_the_window_comes_from_the_environment(monkeypatch, value, seconds):
    monkeypatch.setenv(POLL_WINDOW_ENV, value)
    assert window_from_env() == pytest.approx(seconds)


def test_the_window_defaults_when_the_variable_is_unset(monkeypatch):
    monkeypatch.delenv(POLL_WINDOW_ENV, raising=False)
    assert window_from_env() == pytest.approx(DEFAULT_WINDOW_US / 1e6)


@pytest.mark.parametrize("value", ["abc", "-1", "1e3", "2.5", str(reply_wait.MAX_WINDOW_US + 1)])
def test_a_bad_window_is_refused_with_what_to_write(monkeypatch, value):
    monkeypatch.setenv(POLL_WINDOW_ENV, value)
    with pytest.raises(ConfigurationError, match=r"JQ_REDIS_POLL_US must be a whole number of microseconds"):
        window_from_env()
