"""The scripts' held connection: same replies as the client, and it never gets in the way.

Against the session's real redis-server: connections are what this is about.
"""

from __future__ import annotations

import os
import time

import pytest
import redis

from jq_backends.redis import hot_connection
from jq_backends.redis.hot_connection import HotConnection


@pytest.fixture
def client(redis_client: redis.Redis) -> redis.Redis:
    return redis_client


def fallback_marker() -> str:
    return "fallback"


def test_replies_come_from_one_held_connection(client):
    hot = HotConnection(client)
    assert hot.execute(fallback_marker, "SET", "k", "v") == b"OK"
    assert hot.execute(fallback_marker, "GET", "k") == b"v"
    assert len(client.connection_pool._in_use_connections) == 1
    hot.close()
    assert len(client.connection_pool._in_use_connections) == 0


def test_error_replies_are_raised_and_keep_the_connection(client):
    hot = HotConnection(client)
    client.set("text", "abc")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        hot.execute(fallback_marker, "INCR", "text")
    held = hot._held.connection
    with pytest.raises(redis.exceptions.NoScriptError):
        hot.execute(fallback_marker, "EVALSHA", "0" * 40, 0)
    assert hot._held.connection is held and hot.execute(fallback_marker, "PING") == b"PONG"
    hot.close()


def test_a_busy_connection_hands_the_call_to_the_client(client):
    hot = HotConnection(client)
    with hot._lock:  # another thread is in the middle of a call
        assert hot.execute(fallback_marker, "PING") == "fallback"
    assert hot.execute(fallback_marker, "PING") == b"PONG"
    hot.close()


def test_a_killed_connection_falls_back_and_is_replaced(client):
    hot = HotConnection(client)
    assert hot.execute(fallback_marker, "CLIENT", "ID") is not None
    killed_id = hot.execute(fallback_marker, "CLIENT", "ID")
    client.client_kill_filter(_id=killed_id)
    # The call goes to the client (whose retry policy applies), the dead connection is dropped...
    assert hot.execute(fallback_marker, "PING") == "fallback"
    assert hot._held.connection is None
    # ...and the next call checks out a live one.
    assert hot.execute(fallback_marker, "CLIENT", "ID") != killed_id
    hot.close()


def test_an_idle_connection_is_checked_out_again(client):
    hot = HotConnection(client)
    first_id = hot.execute(fallback_marker, "CLIENT", "ID")
    hot._last_used = time.monotonic() - hot_connection.IDLE_SECONDS - 1
    # The server closed it meanwhile (an idle timeout): the pool's check-out notices.
    client.client_kill_filter(_id=first_id)
    assert hot.execute(fallback_marker, "PING") == b"PONG"
    assert hot._held.connection is not None
    hot.close()


def test_a_forked_child_leaves_the_parents_connection_alone(client):
    hot = HotConnection(client)
    parent_id = hot.execute(fallback_marker, "CLIENT", "ID")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            child_id = hot.execute(fallback_marker, "CLIENT", "ID")
            os.write(write, b"ok" if child_id != parent_id else b"shared")
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    assert os.read(read, 10) == b"ok" and status == 0
    os.close(read)
    # The parent's held connection still works: the child did not shut it down.
    assert hot.execute(fallback_marker, "CLIENT", "ID") == parent_id
    hot.close()


ARGUMENTS = ("SET", "packed", b"\x00bytes\xff", 12, 1.5, "1.25", "üñí", "")


def test_arguments_reach_the_server_as_the_client_sends_them(client):
    hot = HotConnection(client)
    assert hot.execute(fallback_marker, "DEL", "list") == 0
    assert hot.execute(fallback_marker, "RPUSH", "list", *ARGUMENTS[2:]) == len(ARGUMENTS) - 2
    assert client.lrange("list", 0, -1) == [b"\x00bytes\xff", b"12", b"1.5", b"1.25", "üñí".encode(), b""]
    hot.close()


@pytest.mark.skipif(hot_connection._hiredis_pack is None, reason="hiredis is not installed")
def test_hiredis_packs_exactly_what_redis_py_packs(client):
    hot = HotConnection(client)
    hot.execute(fallback_marker, "PING")
    assert hot._direct_pack
    connection = hot._held.connection
    assert b"".join(hot._pack(connection, ARGUMENTS)) == b"".join(connection.pack_command(*ARGUMENTS))
    hot.close()


def test_a_broker_dropped_without_close_gives_its_connection_back(redis_server):
    """A short-lived broker per call (``Worker.count(connection=client)`` makes one each time)
    must not keep a pooled connection: 3 connections serve 10 calls."""
    import gc

    from jq import Worker

    client = redis.Redis.from_url(redis_server.url, max_connections=3)
    try:
        for _ in range(10):
            assert Worker.count(connection=client) == 0
            gc.collect()  # what CPython's reference counting mostly does at once
        assert len(client.connection_pool._in_use_connections) <= 1
    finally:
        client.close()


def test_hiredis_packs_directly_only_where_the_connection_packs_the_same_bytes(redis_server):
    """jq skips redis-py's Python walk of the arguments (see HotConnection._pack) only where a probe
    of every argument type it sends packs to the same bytes both ways."""
    pytest.importorskip("hiredis")
    from jq_backends.redis.hot_connection import _packs_as_hiredis

    plain = redis_server.client()
    latin = redis_server.client(encoding="latin-1")
    try:
        assert _packs_as_hiredis(plain.connection_pool.get_connection())
        # A client that writes text in another encoding packs "é" otherwise: its own packing.
        assert not _packs_as_hiredis(latin.connection_pool.get_connection())
    finally:
        plain.close()
        latin.close()
