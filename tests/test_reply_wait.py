"""Polling for a reply before the read sleeps (jq_backends/redis/reply_wait.py)."""

from __future__ import annotations

import select
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
    reply_socket,
    window_from_env,
)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


class CountingPolls:
    """Stands for a redis-py connection on ``sock`` whose socket jq cannot see (polled through
    ``can_read``): answers ``can_read(timeout)`` as redis-py does
    (whether a reply is there, leaving it for the reader), and counts the calls."""

    def __init__(self, sock: socket.socket) -> None:
        self.count = 0
        self.sock = sock

    def can_read(self, timeout: float = 0) -> bool:
        self.count += 1
        readable, _, _ = select.select([self.sock], [], [], timeout)
        return bool(readable)


def test_a_reply_already_there_ends_the_wait_at_once(pair):
    ours, theirs = pair
    theirs.sendall(b"+PONG\r\n")
    wait = ReplyWait(window=10.0)  # far longer than the test may take: only the reply ends it
    polls = CountingPolls(ours)
    wait.wait(polls)
    assert polls.count == 1
    assert wait._misses == 0
    assert ours.recv(100) == b"+PONG\r\n"  # the reply is left for the reader


def test_no_reply_within_the_window_counts_a_miss_and_leaves_the_read_to_block(pair):
    ours, _theirs = pair
    wait = ReplyWait(window=0.001)
    wait.wait(CountingPolls(ours))
    assert wait._misses == 1
    assert wait._paused == 0


def test_misses_in_a_row_pause_polling_then_it_resumes(pair):
    ours, theirs = pair
    wait = ReplyWait(window=0.0005)
    polls = CountingPolls(ours)
    for _ in range(MISSES_BEFORE_PAUSE):
        wait.wait(polls)
    assert wait._paused == PAUSED_CALLS
    polls.count = 0
    for _ in range(PAUSED_CALLS):
        wait.wait(polls)
    assert polls.count == 0, "a paused wait does not poll"
    theirs.sendall(b"+OK\r\n")
    wait.wait(polls)
    assert polls.count == 1 and wait._misses == 0


def test_a_reply_in_time_resets_the_misses(pair):
    ours, theirs = pair
    wait = ReplyWait(window=0.0005)
    polls = CountingPolls(ours)
    for _ in range(MISSES_BEFORE_PAUSE - 1):
        wait.wait(polls)
    theirs.sendall(b"+OK\r\n")
    wait.wait(polls)
    assert wait._misses == 0 and wait._paused == 0


def test_a_window_of_zero_never_polls(pair):
    ours, _theirs = pair
    wait = ReplyWait(window=0)
    polls = CountingPolls(ours)
    wait.wait(polls)
    assert polls.count == 0


@pytest.mark.parametrize("through", ["its socket", "can_read"])
def test_a_redis_py_connection_is_polled_and_its_reply_read_as_usual(redis_server, monkeypatch, through):
    """Polled through its socket, or redis-py's public ``can_read`` where jq cannot find the
    socket, the reply is left to ``read_response``."""
    if through == "can_read":
        monkeypatch.setattr(reply_wait, "reply_socket", lambda connection: None)
    client = redis_server.client()
    connection = client.connection_pool.get_connection()
    try:
        wait = ReplyWait(window=10.0)
        connection.send_command("PING")
        wait.wait(connection)
        assert wait._misses == 0
        assert connection.read_response() in (b"PONG", "PONG")
        wait = ReplyWait(window=0.0005)
        wait.wait(connection)  # nothing sent: nothing to read, a miss
        assert wait._misses == 1
    finally:
        client.connection_pool.release(connection)
        client.close()


def test_redis_py_still_keeps_the_socket_jq_polls_where_jq_reads_it(redis_server):
    """The private internal jq relies on (see jq_backends/redis/reply_wait.py): a connected
    redis-py Connection holds the OS socket its replies arrive on as ``_sock``. If this fails,
    redis-py changed it: polling falls back to ``can_read``, slower; update reply_socket."""
    client = redis_server.client()
    connection = client.connection_pool.get_connection()
    try:
        sock = reply_socket(connection)
        assert isinstance(sock, socket.socket)
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        assert poller.poll(0) == []
        connection.send_command("PING")
        assert poller.poll(5000), "the reply arrives on that socket"
        assert connection.read_response() in (b"PONG", "PONG")
        connection.disconnect()
        assert reply_socket(connection) is None
    finally:
        client.connection_pool.release(connection)
        client.close()


def test_a_fakeredis_client_is_not_polled(fakeredis_client):
    from jq_backends.redis.hot_connection import HotConnection

    assert HotConnection(fakeredis_client)._reply_wait.window == 0


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
