"""Tests of what is particular to the Redis driver: its scripts, round trips, clients and URLs.

The broker contract itself is checked for every driver by the shared conformance suite; these tests
look at the Redis side: the keys each script leaves behind, wake tokens, that each state change is
one round trip, decoding clients, the per-client cache and the plugin. Each test runs on a fakeredis
client and on the session's private redis-server, unless it needs real sockets or processes.
"""

from __future__ import annotations

import gc
import re
import threading
import weakref
from typing import cast

import fakeredis
import pluggy
import pytest
import redis

from jq.broker import (
    EXECUTION,
    FAILURE_TTL,
    ORIGIN,
    RESULTS_KEPT,
    SCHEDULED_AT,
    STATUS,
    WORKER_CURRENT_JOB,
    DependentsPolicy,
    Move,
    PlaceKind,
    RecordEdit,
    RefusalReason,
    ResultEntry,
    Settlement,
    Status,
    ToRegistry,
    Transition,
)
from jq.plugins import hookspecs
from jq_backends.keys import RATE_LIMIT_CONCURRENCY_FIELD, RATE_LIMIT_SEQ_FIELD, KeySpace
from jq_backends.redis import RedisBroker
from jq_backends.redis import plugin as redis_plugin
from jq_backends.redis.connection import clone_client, redact_url
from jq_backends.redis.scripts import (
    LIBRARY_NAMES,
    SCRIPT_NAMES,
    ScriptRunner,
    lua_string,
    script_constants,
    script_file,
    script_source,
)
from jq_backends.redis.wire import LUA_CONSTANTS
from tests.redis_driver.support import (
    KEYS,
    Q,
    registry,
    request,
    started,
)
from tests.redis_server import RedisServer

# -- scripts ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_script_file_states_its_interface(name: str) -> None:
    text = script_source(name).split(f"-- {name}.lua:", 1)
    assert len(text) == 2, f"{name}.lua must start with a comment naming it"
    header = "".join(line for line in text[1].splitlines(keepends=True) if line.startswith("--"))
    for word in ("KEYS", "ARGV", "Returns", "tomically"):
        assert word in header, f"{name}.lua's header comment should state {word}"


def test_scripts_never_spell_a_key_name() -> None:
    for name in (*SCRIPT_NAMES, *LIBRARY_NAMES):
        code = [line.split("--")[0] for line in script_file(name).splitlines()]
        assert not any("jq:" in line or '"job:' in line or "'job:" in line for line in code), name
    for name in SCRIPT_NAMES:  # the key templates come from the prefix given, and only from it
        code = [line.split("--")[0] for line in script_source(name, "{app}:").splitlines()]
        assert not any("jq:" in line for line in code), name


def test_scripts_never_spell_a_status_a_refusal_or_a_field() -> None:
    # Statuses, refusal reasons and record fields come from the contract's definitions as
    # constants (S_QUEUED, R_DUPLICATE, F_STATUS), so that each is spelled once, in Python.
    names = {status.value for status in Status} | {reason.value for reason in RefusalReason}
    names |= {STATUS, ORIGIN, EXECUTION, SCHEDULED_AT, FAILURE_TTL, WORKER_CURRENT_JOB}
    names |= {RATE_LIMIT_CONCURRENCY_FIELD, RATE_LIMIT_SEQ_FIELD}
    for name in (*SCRIPT_NAMES, *LIBRARY_NAMES):
        code = "\n".join(line.split("--")[0] for line in script_file(name).splitlines())
        spelled = set(re.findall(r"""['"]([a-z_]+)['"]""", code)) & names
        assert not spelled, f"{name}.lua spells {sorted(spelled)}"
    source = script_source("enqueue_many")
    assert '"queued"' in source and "S_QUEUED" not in source
    assert '"batch"' in source and "R_BATCH" not in source
    assert "local S_" not in source and "local R_" not in source, "written where used, not locals"
    assert {f"S_{status.name}" for status in Status} <= set(script_constants())


def test_scripts_never_spell_a_letter_of_a_transitions_mode() -> None:
    # The mode's letters (PLACE_QUEUE, POLICY_VANISHED, TTL_KEEP, FLAG_AT_FRONT...) come from
    # jq_backends.redis.wire as constants, as the driver's Python encodes them.
    for name in ("lib_transition", "transition", "finish_and_claim", "delete_job", "settle_orphans"):
        code = "\n".join(line.split("--")[0] for line in script_file(name).splitlines())
        spelled = re.findall(r"""['"]([A-Za-z-])['"]""", code)
        assert not spelled, f"{name}.lua spells {sorted(spelled)}"
    constants = script_constants()
    assert all(constants[name] == lua_string(letter) for name, letter in LUA_CONSTANTS.items())
    # The source run has each letter written where the code names it (no local to bind as one
    # more upvalue of each closure on every call).
    source = script_source("transition")
    assert "FLAG_AT_FRONT" in script_file("lib_transition") and "FLAG_AT_FRONT" not in source
    code = "\n".join(line.split("--")[0] for line in source.splitlines())
    assert not set(LUA_CONSTANTS) & set(re.findall(r"\b[A-Z_]+\b", code))
    assert 'move.target == "q"' in source and 'policy == "v"' in source


def test_a_modes_flags_are_single_distinct_letters() -> None:
    flags = [value for name, value in LUA_CONSTANTS.items() if name.startswith("FLAG_")]
    assert all(len(flag) == 1 for flag in flags) and len(set(flags)) == len(flags)
    for prefix in ("PLACE_", "POLICY_", "TTL_"):
        letters = [value for name, value in LUA_CONSTANTS.items() if name.startswith(prefix)]
        assert all(len(letter) == 1 for letter in letters) and len(set(letters)) == len(letters)


def test_library_definitions_come_in_file_order_and_only_where_used() -> None:
    batch = script_source("enqueue_many")
    assert batch.index("local function hset_flat(") < batch.index("local function enqueue_write(")
    assert "local function next_enqueue(" in script_source("enqueue")
    assert "local function next_enqueue(" not in script_source("claim")
    assert "lib_enqueue.lua:" not in batch, "only lib.lua's opening comment heads a script"
    finishing = script_source("finish_and_claim")
    assert finishing.index("local function claim_next(") < finishing.index("local function transition(")
    assert "lib_transition.lua:" not in finishing, "only lib.lua's opening comment heads a script"
    assert "local function transition(" not in script_source("claim")


def test_a_script_defines_only_the_table_constants_its_code_uses() -> None:
    assert "local PLACE_OF_STATUS = " in script_source("enqueue")
    assert "local PLACE_OF_STATUS = " not in script_source("extend_lease")
    assert "local PENDING = " not in script_source("extend_lease")
    assert script_constants()["RESULTS_LAST"] == str(RESULTS_KEPT - 1)


def test_string_and_number_constants_are_written_where_the_code_names_them() -> None:
    # No local per constant: each would be one more upvalue for every closure of the script's
    # chunk to bind, on every call.
    for prefix in ("jq:", "{app}:"):
        source = script_source("finish_and_claim", prefix)
        assert f'"{prefix}job:" .. ' in source
        code = "\n".join(line.split("--")[0] for line in source.splitlines())
        named = set(re.findall(r"\b[A-Z][A-Z0-9_]*\b", code))
        assert named & set(script_constants(prefix)) == {"PLACE_OF_STATUS"}
        assert re.findall(r"^local ([A-Z_]+) = ", source, re.MULTILINE) == ["PLACE_OF_STATUS"]
    assert "'1') > 100 then" in script_source("finish_and_claim"), "H_FUNCTIONS_KEPT, a number"


@pytest.mark.parametrize("text", ["jq:", "{app}:", 'q"u\\o\nté:', "\x00\x7f\xff"])
def test_lua_string_literals_round_trip(client: redis.Redis, text: str) -> None:
    assert client.eval(f"return {lua_string(text)}", 0) == text.encode()


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_each_script_compiles_on_the_server(client: redis.Redis, name: str) -> None:
    assert client.script_load(script_source(name))


def test_a_script_refuses_a_call_with_missing_keys(client: redis.Redis) -> None:
    runner = ScriptRunner(client)
    with pytest.raises(redis.ResponseError, match="needs at least 7"):
        runner("claim_job", [KEYS.job("a")], ["a", "1.0", 0])
    assert client.keys("*") == []


def test_a_custom_prefix_keeps_every_key_under_it(client: redis.Redis) -> None:
    rb = RedisBroker(client, prefix="{app}:")
    rb.enqueue(request("parent"))
    rb.enqueue(request("child", depends_on=["parent"]))
    claimed = rb.claim([Q], {"execution": b"e1"}, 100.0)
    assert claimed is not None
    rb.transition(
        Transition(
            "parent",
            Move(started(), ToRegistry(registry(PlaceKind.FINISHED), 0.0)),
            RecordEdit({"status": b"finished"}),
            result=ResultEntry(b"ok"),
            settlement=Settlement(DependentsPolicy.FINISHED),
        )
    )
    rb.enqueue(request("once", once=("tick", 1)))
    rb.acquire_lock("l", "t", 10)
    rb.register_worker("w", {"state": b"idle"}, [Q], 10)
    rb.worker_names(Q)
    rb.unregister_worker("w")
    assert rb.queue_job_ids(Q) == ["child", "once"]
    assert client.keys("*")
    keys = cast("list[bytes]", client.keys("*"))
    assert all(key.startswith(b"{app}:") for key in keys)
    assert rb.job_key("x") == "{app}:job:x"


def test_keyspace_template_plus_name_is_the_key() -> None:
    keys = KeySpace("p:")
    assert keys.template("job") + "abc" == keys.job("abc")
    assert keys.template("dependents") + "abc" == keys.dependents("abc")
    assert keys.template("workers-of") + "q" == keys.workers_of("q")
    assert keys.template("worker-queues") + "w" == keys.worker_queues("w")
    assert keys.template("deferred") + "q" == keys.registry(PlaceKind.DEFERRED, "q")
    with pytest.raises(ValueError, match="unknown key kind"):
        keys.template("jobs")


# -- clients, URLs, plugin --------------------------------------------------------------------------


def test_a_decoding_client_gets_a_binary_twin(client: redis.Redis) -> None:
    decoding = clone_client(client, decode_responses=True)
    try:
        rb = RedisBroker.for_client(decoding)
        assert rb.connection is decoding
        binary = bytes(range(256))
        rb.enqueue(request("a", fields={"data": binary}))
        claimed = rb.claim([Q], {"execution": b"e"}, 1.0)
        assert claimed is not None and claimed.record["data"] == binary
        assert rb.load_job("a") == claimed.record
        assert rb.queue_names() == [Q]
        rb.close()
        assert decoding.ping(), "closing the broker leaves the user's client alone"
        assert rb.job_exists("a"), "a closed twin reconnects when used again"
        rb.close()  # it reconnected: closed again, not left to the garbage collector
        twin = rb._client.connection_pool
        assert not any(c._sock for c in [*twin._available_connections, *twin._in_use_connections])
    finally:
        decoding.close()
        decoding.connection_pool.disconnect()  # a pool given to a client outlives its close()


def test_for_client_returns_one_broker_per_client(client: redis.Redis) -> None:
    first = RedisBroker.for_client(client)
    found: list[RedisBroker] = []
    threads = [
        threading.Thread(target=lambda: found.append(RedisBroker.for_client(client))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(found) == 8 and all(broker is first for broker in found)
    other = clone_client(client)
    try:
        assert RedisBroker.for_client(other) is not first
    finally:
        other.close()


def test_for_client_does_not_keep_clients_alive() -> None:
    fake = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    broker_ref = weakref.ref(RedisBroker.for_client(fake))
    client_ref = weakref.ref(fake)
    del fake
    gc.collect()
    assert broker_ref() is None and client_ref() is None


def test_a_broker_is_freed_without_the_garbage_collector(redis_client: redis.Redis) -> None:
    """No reference cycle: a broker left unclosed goes (and the connections it owns are closed)
    when its last reference does, not at some later collection, whose warnings about unclosed
    sockets would land in whatever test runs then. (On a real server: fakeredis itself keeps
    frames of the broker's first script calls alive.)"""
    gc.collect()
    gc.disable()
    try:
        rb = RedisBroker(redis_client)
        rb.now()
        rb.enqueue(request("a"))
        assert rb.claim([Q], {"execution": b"e"}, 10.0) is not None
        broker_ref = weakref.ref(rb)
        del rb
        assert broker_ref() is None
    finally:
        gc.enable()


def test_shares_across_processes_only_on_a_real_server(
    fakeredis_client: redis.Redis, redis_client: redis.Redis
) -> None:
    assert RedisBroker(redis_client).shares_across_processes
    assert not RedisBroker(fakeredis_client).shares_across_processes


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:s3cret@db.example:6380/2", "redis://user:***@db.example:6380/2"),
        ("redis://:s3cret@db.example/0", "redis://:***@db.example/0"),
        ("rediss://db.example:6380/0?password=s3cret&ssl_cert_reqs=none", None),
        ("unix:///run/redis.sock?db=3&password=s3cret", "unix:///run/redis.sock?db=3&password=***"),
        ("redis://db.example:6379/0", "redis://db.example:6379/0"),
    ],
)
def test_url_never_shows_the_password(url: str, shown: str | None) -> None:
    broker = RedisBroker.from_url(url)
    try:
        assert "s3cret" not in broker.url and "s3cret" not in repr(broker)
        if shown is not None:
            assert broker.url == shown
        assert broker.shares_across_processes
    finally:
        broker.close()
    assert redact_url(url).partition("://")[0] == url.partition("://")[0]


def test_url_of_a_client_without_a_url(redis_client: redis.Redis, fakeredis_client: redis.Redis) -> None:
    port = redis_client.connection_pool.connection_kwargs["port"]
    secret = redis.Redis(host="127.0.0.1", port=port, username="u", password="s3cret", db=1)
    try:
        assert RedisBroker(secret).url == f"redis://u@127.0.0.1:{port}/1"
    finally:
        secret.close()
    assert RedisBroker(redis_client).url == f"redis://127.0.0.1:{port}/0"
    assert RedisBroker(fakeredis_client).url.startswith("fakeredis://")


def test_from_url_talks_to_the_server_and_owns_its_client(redis_server: RedisServer) -> None:
    broker = RedisBroker.from_url(redis_server.url, socket_timeout=3)
    broker.ping()
    assert broker.connection.connection_pool.connection_kwargs["socket_timeout"] == 3
    assert broker.url == redis_server.url
    broker.close()


def plugin_manager() -> pluggy.PluginManager:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.register(redis_plugin)
    return manager


def test_plugin_answers_redis_urls_only(redis_server: RedisServer) -> None:
    hook = plugin_manager().hook
    broker = hook.jq_broker_from_url(url=redis_server.url, options={"socket_timeout": 2})
    try:
        assert isinstance(broker, RedisBroker)
        broker.ping()
    finally:
        broker.close()
    for url in ("rediss://h:1/0", "unix:///tmp/none.sock", "REDIS://h/0"):
        other = hook.jq_broker_from_url(url=url, options={})
        assert isinstance(other, RedisBroker)
        other.close()
    assert hook.jq_broker_from_url(url="memory://", options={}) is None
    assert hook.jq_broker_from_url(url="not a url", options={}) is None


def test_plugin_wraps_redis_clients_only(client: redis.Redis) -> None:
    hook = plugin_manager().hook
    broker = hook.jq_broker_from_connection(connection=client)
    assert broker is RedisBroker.for_client(client)
    assert broker.connection is client
    assert hook.jq_broker_from_connection(connection=object()) is None
    assert hook.jq_broker_from_connection(connection="redis://h") is None


def test_lua_never_returns_floats() -> None:
    # Redis truncates a Lua number to an integer reply; scores must travel as strings.
    for name in SCRIPT_NAMES:
        code = "\n".join(line.split("--")[0] for line in script_source(name).splitlines())
        assert not re.search(r"return\s+tonumber", code), name
