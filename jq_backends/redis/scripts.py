"""The Lua scripts of the Redis driver: loading them from the package and running them.

Each ``lua/<name>.lua`` file is one atomic broker operation. Its source is put together when a
broker registers its scripts: the constants it uses, then the helpers of the library files
(``lua/lib.lua``, ``lua/lib_rate_limit.lua``, ``lua/lib_history.lua``,
``lua/lib_transition.lua``, ``lua/lib_enqueue.lua``) it uses (see :func:`library_for`), then the script.
The constants are everything that is the same for every call of one broker: the record field
names (from :mod:`jq.broker`, so that they are spelled in one place), the key templates of the
broker's prefix (from :class:`jq_backends.keys.KeySpace`: ``K_JOB`` is ``"jq:job:"``), the job
statuses (``S_QUEUED``, from :class:`jq.broker.Status`), the reasons an enqueue is refused
(``R_DUPLICATE``, from :class:`jq.broker.RefusalReason`), the place of each status, the pending
statuses, how many results are kept, and the letters of a transition's mode (``PLACE_QUEUE``,
``FLAG_AT_FRONT``, from :mod:`jq_backends.redis.wire`). They are put in once, when a broker
registers its scripts (:func:`script_source` is cached): a call sends only the script's SHA.
Only what varies per call travels as KEYS and ARGV, which keeps calls short: redis-py packs
every argument in Python.

A script names a constant by its Lua name (``K_JOB``, ``F_STATUS``, ``PLACE_QUEUE``); the source
has each string or number constant written where the code names it (``K_JOB .. id`` becomes
``"jq:job:" .. id``, ``PLACE_QUEUE`` becomes ``"q"``), and defines as locals only the table
constants its text mentions (``PLACE_OF_STATUS``): see :func:`script_source` for why. A
different prefix gives a different source, hence a different SHA: each broker registers its
own. Scripts are registered with ``client.register_script``: calls use ``EVALSHA`` and load the
script when the server does not know it (first use, restart, ``SCRIPT FLUSH``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.resources
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

import redis
from redis.commands.core import Script
from redis.exceptions import (
    NoPermissionError,
    NoScriptError,
    OutOfMemoryError,
    RedisClusterException,
    ResponseError,
)

from jq import broker as contract
from jq.broker import history
from jq.exceptions import StoreDataError, StoreFullError, UnsupportedByBrokerError
from jq_backends.fields import FAILURE_TTL, PENDING_STATUSES, PLACE_OF_STATUS
from jq_backends.keys import (
    DEFAULT_PREFIX,
    FIXED,
    KINDS,
    RATE_LIMIT_CONCURRENCY_FIELD,
    RATE_LIMIT_SEQ_FIELD,
    KeySpace,
)
from jq_backends.redis.cluster_wait import script_and_wait
from jq_backends.redis.connection import is_cluster
from jq_backends.redis.failover import (
    Durability,
    MasterChangedError,
    MasterWatch,
    ReplicaWaitError,
    forget_connections,
    master_gone,
)
from jq_backends.redis.hot_connection import DirectCalls, HotConnection
from jq_backends.redis.requests import REQUEST_TTL, Reader, Sessions
from jq_backends.redis.wire import LUA_CONSTANTS as WIRE_LETTERS

__all__ = [
    "EXACT_REPEATS",
    "LIBRARY_NAMES",
    "PRESENCE_FIELD",
    "SCRIPT_NAMES",
    "WAITING_ONLY_SCRIPTS",
    "Arg",
    "ScriptRunner",
    "library_for",
    "lua_string",
    "out_of_memory_message",
    "script_constants",
    "script_file",
    "script_source",
]

#: Every script, by file name without ``.lua``.
SCRIPT_NAMES: Final = (
    "acquire_lock",
    "claim",
    "claim_job",
    "claim_many",
    "delete_job",
    "drop_queue",
    "enqueue",
    "enqueue_fresh",
    "enqueue_many",
    "extend_lease",
    "extend_lock",
    "finish_and_claim",
    "group_add",
    "group_cleanup",
    "group_delete",
    "group_remove",
    "heartbeat_worker",
    "load_fields",
    "promote_scheduled",
    "register_worker",
    "registry_cleanup",
    "registry_entry",
    "release_lock",
    "release_rate_limit_slots",
    "reserve",
    "save_job",
    "settle_orphans",
    "suspend",
    "transition",
    "transition_many",
    "unregister_worker",
    "update_job",
    "worker_names",
)

#: The scripts that stand for a plain command or MULTI of the driver where it waits for replicas
#: (``wait_replicas``): as scripts they carry a request identity and are followed by ``WAIT``, so
#: that every write waits and a write sent again applies once. Without ``wait_replicas`` the
#: driver sends the plain commands, which cost less.
WAITING_ONLY_SCRIPTS: Final = frozenset(
    {"acquire_lock", "group_add", "group_delete", "registry_entry", "save_job", "suspend"}
)

#: The scripts whose repeat is the very same write, told by its ARGV as well as its KEYS (see
#: :mod:`jq_backends.redis.requests`): the plain writes, and the two state changes that are
#: writes of what the caller gives (fields onto a record, ids out of a group). A job's meta saved
#: again after an unconfirmed save is a new write, not a repeat of the old one.
EXACT_REPEATS: Final = WAITING_ONLY_SCRIPTS | {"update_job", "group_remove"}

#: The library files, in the order their definitions are put together: a definition uses only
#: definitions above it, of its own file or an earlier one.
LIBRARY_NAMES: Final = ("lib", "lib_rate_limit", "lib_history", "lib_claim", "lib_transition", "lib_enqueue")

#: One KEYS or ARGV element as redis-py encodes it.
Arg = str | bytes | int | float

#: The field that keeps an otherwise empty worker record in existence (Redis has no empty hash):
#: an empty name, which no field of the core has. Readers leave it out.
PRESENCE_FIELD: Final = ""

# The record fields a script reads or writes, named as in jq.broker and jq_backends.fields (and the
# driver's own).
_FIELDS: Final = {
    "F_STATUS": contract.STATUS,
    "F_ORIGIN": contract.ORIGIN,
    "F_EXECUTION": contract.EXECUTION,
    "F_ENQUEUE_AT_FRONT": contract.ENQUEUE_AT_FRONT,
    "F_ALLOW_FAILURE": contract.ALLOW_FAILURE,
    "F_FAILURE_TTL": FAILURE_TTL,
    "F_SCHEDULED_AT": contract.SCHEDULED_AT,
    "F_PRESENCE": PRESENCE_FIELD,
    "F_CURRENT_JOB": contract.WORKER_CURRENT_JOB,
    "F_RATE_LIMIT_KEY": contract.RATE_LIMIT_KEY,
    "F_RATE_LIMIT_CONCURRENCY": contract.RATE_LIMIT_CONCURRENCY,
    # A rate limit's settings (the hash at K_RATE_LIMIT .. key), not a job's record.
    "F_LIMIT_CONCURRENCY": RATE_LIMIT_CONCURRENCY_FIELD,
    "F_LIMIT_SEQ": RATE_LIMIT_SEQ_FIELD,
}

# Characters a Lua string literal may hold as they are; anything else is written as \ddd.
_PLAIN = re.compile(r"[A-Za-z0-9 _:.{}\[\]()\-+*/=<>!?@#$%&,;|~^]")


def lua_string(value: str | bytes) -> str:
    """``value`` as a Lua 5.1 string literal (any byte escaped as decimal ``\\ddd`` when needed)."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    parts = [chr(byte) if _PLAIN.fullmatch(chr(byte)) else f"\\{byte:03d}" for byte in raw]
    return '"' + "".join(parts) + '"'


def _constant_name(kind: str) -> str:
    return "K_" + kind.upper().replace("-", "_")


@functools.cache
def script_constants(prefix: str = DEFAULT_PREFIX) -> Mapping[str, str]:
    """Every constant a script may use, by Lua name, as a Lua expression, for keys under ``prefix``."""
    keys = KeySpace(prefix)
    constants = {name: lua_string(value) for name, value in _FIELDS.items()}
    templates = {kind: keys.template(kind) for kind in KINDS}
    constants.update({_constant_name(kind): lua_string(template) for kind, template in templates.items()})
    # Keys without a name part that scripts find they need while they run (a job admitted to a
    # queue makes it known): KEY_QUEUES is "jq:queues".
    constants.update({"KEY_" + _constant_name(fixed)[2:]: lua_string(keys.fixed(fixed)) for fixed in FIXED})
    # Every job status (S_QUEUED is "queued") and every reason an enqueue is refused
    # (R_DUPLICATE is "duplicate"), from the contract's enums: no script spells one itself.
    constants.update({f"S_{status.name}": lua_string(status.value) for status in contract.Status})
    constants.update({f"R_{reason.name}": lua_string(reason.value) for reason in contract.RefusalReason})
    # Where a job of each status is within its origin: the template its origin's name completes.
    places = ", ".join(
        f"[{lua_string(status)}] = {lua_string(templates[kind.value])}"
        for status, kind in sorted(PLACE_OF_STATUS.items())
    )
    constants["PLACE_OF_STATUS"] = "{" + places + "}"
    pending = ", ".join(f"[{lua_string(status)}] = true" for status in sorted(PENDING_STATUSES))
    constants["PENDING"] = "{" + pending + "}"
    # The letters of a transition's mode (PLACE_QUEUE is "q", FLAG_AT_FRONT is "F"), from
    # jq_backends.redis.wire, which the driver's Python encodes them with.
    constants.update({name: lua_string(letter) for name, letter in WIRE_LETTERS.items()})
    # The fields of a queue's history (lib_history.lua), from jq.broker.history.
    constants["H_KNOWN"] = lua_string(history.totals_field(history.KNOWN_CODE, ""))
    constants["H_SUM"] = lua_string(history.totals_field(history.SUM_CODE, ""))
    constants["H_COUNT"] = lua_string(history.COUNT_FIELD)
    constants["H_OTHER"] = lua_string(history.OTHER_FUNCTION)
    constants["H_FUNCTIONS_KEPT"] = str(history.FUNCTIONS_KEPT)
    for resolution, step, span in (
        (history.Resolution.MINUTE, "MINUTE", "MINUTES"),
        (history.Resolution.HOUR, "HOUR", "HOURS"),
    ):
        constants[f"H_{step}_STEP"] = str(resolution.step)
        constants[f"H_{span}_SPAN"] = str(resolution.span)
        constants[f"H_{span}_KEPT"] = str(resolution.kept)
    # LTRIM's last index: the result entries kept are 0 .. RESULTS_KEPT - 1.
    constants["RESULTS_LAST"] = str(contract.RESULTS_KEPT - 1)
    constants["REQUEST_TTL_MS"] = str(int(REQUEST_TTL * 1000))
    # The seconds between the reserved registry scores of one reservation's jobs.
    constants["RESERVATION_STEP"] = repr(contract.RESERVATION_STEP)
    return constants


def script_file(name: str) -> str:
    """The text of ``lua/<name>.lua`` as shipped in the package (before any constant is added)."""
    return (importlib.resources.files("jq_backends.redis") / "lua" / f"{name}.lua").read_text("utf-8")


def _words(code: str) -> set[str]:
    """The identifiers that Lua ``code`` mentions outside comments."""
    return set(re.findall(r"\b[A-Za-z_][A-Za-z0-9_]*\b", re.sub(r"--[^\n]*", "", code)))


# A top-level definition of a library file: `local function name(` or `local a, b = ...` at column 0.
_DEFINITION = re.compile(r"^local (?:function )?([A-Za-z_][A-Za-z0-9_]*(?:, [A-Za-z_][A-Za-z0-9_]*)*)")


@functools.cache
def _library_blocks() -> tuple[str, tuple[tuple[frozenset[str], str], ...]]:
    """The library files as lib.lua's opening comment and their top-level definitions, in order:
    (the names each defines, its text with the comment lines above it). The opening comment of
    each later file, which describes that file, is left out."""
    head = ""
    blocks: list[tuple[frozenset[str], list[str]]] = []
    for number, name in enumerate(LIBRARY_NAMES):
        pending: list[str] = []  # comment and blank lines not yet given to a definition
        first = len(blocks)
        for line in script_file(name).splitlines(keepends=True):
            match = _DEFINITION.match(line)
            if match:
                if len(blocks) == first:  # the opening comment ends at the last blank line before it
                    cut = max(
                        (index + 1 for index, text in enumerate(pending) if not text.strip()), default=0
                    )
                    if number == 0:
                        head = "".join(pending[:cut])
                    pending = pending[cut:]
                blocks.append((frozenset(match.group(1).split(", ")), [*pending, line]))
                pending = []
            elif line.startswith("--") or not line.strip():
                pending.append(line)
            elif len(blocks) > first:  # inside the last definition (a function's body and its `end`)
                blocks[-1][1].extend([*pending, line])
                pending = []
            else:
                raise ValueError(f"{name}.lua: a top-level statement that is not a definition: {line!r}")
    return head, tuple((names, "".join(text)) for names, text in blocks)


def library_for(code: str) -> str:
    """The part of the library files (lib.lua, lib_transition.lua, then lib_enqueue.lua) that
    ``code`` needs: the definitions it uses, those they use in turn, in the files' order.

    Every ``local function`` of a chunk is a closure made again on every call of the script, so a
    script that carried the whole library would pay for the claim and transition steps on every
    EXTEND_LEASE. Leaving out what a script never calls keeps its server time to what it does.
    """
    head, blocks = _library_blocks()
    needed = _words(code)
    wanted = [False] * len(blocks)
    changed = True
    while changed:  # definitions use earlier ones: settle the closure of what is needed
        changed = False
        for index, (names, text) in enumerate(blocks):
            if not wanted[index] and names & needed:
                wanted[index] = True
                needed |= _words(text)
                changed = True
    return head + "".join(text for (_, text), keep in zip(blocks, wanted, strict=True) if keep)


#: Scripts that only read: they run without a request identity (a read delivered twice changes
#: nothing), so they write nothing at all, and Redis at maxmemory still runs them.
READ_ONLY_SCRIPTS: Final = frozenset({"load_fields"})

# What runs around every other script's own code (see lib.lua's Requests): the request key and number
# are taken off the end of KEYS and ARGV, so that the script reads its own as before; a copy of a
# call that already ran returns its recorded reply, and writes only the record's new expiry (so
# that a WAIT after it covers the call it repeats: see lib.lua's recorded_reply).
_REQUEST_HEAD: Final = """\
local REQUEST_KEY, REQUEST_NUMBER = table.remove(KEYS), table.remove(ARGV)
local recorded = recorded_reply(REQUEST_KEY, REQUEST_NUMBER)
if recorded then
    return recorded[1]
end
local reply = (function()
"""
_REQUEST_TAIL: Final = """\
end)()
record_reply(REQUEST_KEY, REQUEST_NUMBER, reply)
return reply
"""


@functools.cache
def script_source(name: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The full Lua source run for script ``name`` by a broker whose keys start with ``prefix``:
    the constants the code mentions, the part of the library files it uses, then the script
    inside the request steps (its reply recorded under the caller's request identity).

    A string or number constant is written where the code names it, not defined as a local:
    every local a library function uses is an upvalue that the script's chunk binds again, on
    every call, when it makes that function's closure, and Lua finds each one by walking the
    chunk's list of captured locals (some hundred in finish_and_claim): a local per constant
    cost about 8% of a worker's server time per job. A literal costs nothing per call (it is
    in the compiled function). Table constants stay locals (a literal table would be built
    where it is used, each time)."""
    if name not in SCRIPT_NAMES:
        raise ValueError(f"unknown script {name!r}")
    script = (
        script_file(name)
        if name in READ_ONLY_SCRIPTS
        else f"{_REQUEST_HEAD}{script_file(name)}{_REQUEST_TAIL}"
    )
    code = f"{library_for(script)}\n{script}"
    words = _words(code)
    values = script_constants(prefix)
    constants = "".join(
        f"local {lua} = {value}\n" for lua, value in values.items() if lua in words and value.startswith("{")
    )
    inlined = {lua: value for lua, value in values.items() if lua in words and not value.startswith("{")}
    if inlined:
        pattern = re.compile(r"\b(?:" + "|".join(sorted(inlined, key=len, reverse=True)) + r")\b")
        code = pattern.sub(lambda name: inlined[name.group(0)], code)
    return f"{constants}\n{code}"


def out_of_memory_message(error: BaseException) -> str:
    """What a user reads when Redis refused a write for want of memory, and what to do."""
    return (
        f"the Redis server is out of memory and refused the write ({error}); nothing of it was "
        "written and nothing stored was lost. Make room: free memory (delete keys jq does not need; "
        "shorter result_ttl and failure_ttl keep fewer results), or raise maxmemory (CONFIG SET "
        "maxmemory, and in redis.conf). Do not switch to an eviction policy: under any policy but "
        "noeviction Redis makes room by deleting keys, queued jobs among them"
    )


@contextlib.contextmanager
def refused_writes(what: str) -> Iterator[None]:
    """Turn Redis's refusals of a write into jq's errors, each saying what to do: out of memory
    (:class:`~jq.exceptions.StoreFullError`, which workers wait out as an outage) and a key of the
    wrong type (:class:`~jq.exceptions.StoreDataError`). ``what``: the write, as the error names it.

    Redis refuses a script's first write at maxmemory, and a MULTI transaction as a whole (EXEC is
    aborted), so a refusal for want of memory wrote nothing; a script refused for a key's type
    wrote nothing either when it checks its keys first (lib.lua's expect_types).
    """
    try:
        yield
    except ResponseError as error:
        refusal = refused_write(error, what)
        if refusal is None:
            raise
        raise refusal from error


def refused_write(error: ResponseError, what: str) -> Exception | None:
    """The jq error for a write Redis refused with ``error``, as :func:`refused_writes` raises it
    (None: ``error`` is no such refusal). For a call made too often to enter a context manager
    for it (a script's)."""
    if isinstance(error, OutOfMemoryError):
        return StoreFullError(out_of_memory_message(error))
    if "WRONGTYPE" in str(error):
        return StoreDataError(f"{what} was refused: {error}")
    return None


class ScriptRunner:
    """The driver's scripts for one key prefix registered on one client, each call one round trip,
    each under a request identity (:mod:`jq_backends.redis.requests`).

    ``durability`` makes each script that writes wait for replicas (``WAIT``, in the same round
    trip); see :mod:`jq_backends.redis.failover`, which also says what happens when the master
    fails over. With it, the driver's writes that are plain commands otherwise are made by the
    :data:`WAITING_ONLY_SCRIPTS` (registered only then).
    """

    def __init__(
        self, client: redis.Redis, prefix: str = DEFAULT_PREFIX, durability: Durability | None = None
    ) -> None:
        self._client = client
        self._scripts: dict[str, Script] = {
            name: client.register_script(script_source(name, prefix))
            for name in SCRIPT_NAMES
            if durability is not None or name not in WAITING_ONLY_SCRIPTS
        }
        # A cluster client has no one server to hold a connection to: its calls go through it.
        self._cluster = is_cluster(client)
        self._hot: HotConnection | DirectCalls = DirectCalls() if self._cluster else HotConnection(client)
        self._sessions = Sessions(
            KeySpace(prefix).request, (redis.ConnectionError, redis.TimeoutError), EXACT_REPEATS
        )
        self._durability = durability
        # Whether the server has answered a WAIT of this runner (see _check_wait).
        self._wait_answered = False
        self._watch = MasterWatch(client)

    @property
    def durability(self) -> Durability | None:
        """The replicas each write waits for, or None."""
        return self._durability

    def __call__(
        self, name: str, keys: Sequence[str], args: Sequence[Arg], read: Reader | None = None
    ) -> Any:
        """Run one script in one round trip (plus a load when the server does not know it yet);
        its reply, through ``read`` when given.

        A call that failed in transit is settled first, and a repeat of it (the same script and
        keys: a caller trying again after a transient error) gets its reply, read by the first
        attempt's ``read``: see :class:`~jq_backends.redis.requests.Sessions`. A read-only script
        (:data:`READ_ONLY_SCRIPTS`) is sent as it is.
        """
        if self._watch.active and self._watch.moved(self._hot.address):
            self._hot.close()  # the held connection is on an old master: the next one finds the new
        if name in READ_ONLY_SCRIPTS:
            reply = self._send(name, keys, args, None, 0)
            return reply if read is None else read(reply)
        return self._sessions.run(self._send, name, keys, args, read)

    def _send(
        self, name: str, keys: Sequence[str], args: Sequence[Arg], request_key: str | None, number: int
    ) -> Any:
        """``EVALSHA`` on a held connection (:class:`~jq_backends.redis.hot_connection.HotConnection`),
        falling back to the client: the client's path costs about 40 µs of Python per call, and
        ``Script.__call__`` also copies the arguments and imports a module on every call. The
        request key and number go last in KEYS and ARGV: every re-send below (the client's,
        redis-py's retry, NOSCRIPT) carries the call's identity."""
        script = self._scripts[name]
        keys_and_args = (*keys, *args) if request_key is None else (*keys, request_key, *args, number)
        count = len(keys) + (request_key is not None)
        waits = self._durability is not None and request_key is not None
        try:
            try:
                return self._run(name, waits, "EVALSHA", script.sha, count, keys_and_args)
            except NoScriptError:
                # EVAL on the connection that did not know the script: it runs it and keeps it.
                # (A SCRIPT LOAD through the client may reach another server than that connection.)
                return self._run(name, waits, "EVAL", script.script, count, keys_and_args)
        except ReplicaWaitError:
            # Made on this master and not confirmed by a replica: is the master still here?
            self._watch.moved(self._hot.address, now=True)
            self._hot.close()
            raise
        except ResponseError as error:
            # As refused_writes would (a context manager costs ~1 µs a call; one is made per job).
            refusal = refused_write(error, f"the script {name}")
            if refusal is not None:
                raise refusal from error
            if not master_gone(error):
                raise
            # Not the master any more (a failover): nothing was written. The next connection goes
            # to the master; the caller's repeat carries the same request identity.
            self._hot.close()
            forget_connections(self._client)
            raise MasterChangedError(
                f"the server refused script {name} as a master would not ({error}): the master "
                "moved, so the driver connects again"
            ) from error

    def _run(
        self, name: str, waits: bool, command: str, script: object, count: int, keys_and_args: tuple[Any, ...]
    ) -> Any:
        """One ``EVALSHA`` or ``EVAL`` (followed by ``WAIT`` in the same round trip when ``waits``)."""
        # execute_command has no annotations in redis-py: called through a typed name.
        execute: Callable[..., Any] = self._client.execute_command
        if not waits:
            return self._hot.execute(
                lambda: execute(command, script, count, *keys_and_args),
                command, script, count, *keys_and_args,
            )  # fmt: skip
        durability = self._durability
        assert durability is not None
        if not self._wait_answered:
            self._check_wait(durability)
        wait = durability.command

        def through_client() -> tuple[Any, Any]:
            if self._cluster:
                # Both on one connection of the master of the keys' slot (see cluster_wait.py):
                # through the cluster client they would be two calls, maybe on two connections.
                return script_and_wait(
                    self._client,  # type: ignore[arg-type]
                    (command, script, count, *keys_and_args), wait, keys_and_args[0],
                )  # fmt: skip
            pipe = self._client.pipeline(transaction=False)
            queue: Callable[..., Any] = pipe.execute_command
            queue(command, script, count, *keys_and_args)
            queue(*wait)
            first, second = pipe.execute(raise_on_error=False)
            return first, second

        reply, confirmed = self._hot.execute_pair(
            through_client, (command, script, count, *keys_and_args), wait
        )
        if isinstance(reply, Exception):
            raise reply
        if isinstance(confirmed, Exception):
            raise confirmed
        durability.check(int(confirmed), name)
        return reply

    def _check_wait(self, durability: Durability) -> None:
        """Before the first write that waits: whether the server runs ``WAIT`` for this client
        (``WAIT 0 0`` answers at once). A server without it (fakeredis) or a user whose ACL
        forbids it would make each write and then refuse its ``WAIT``: the caller would see an
        error for a write that was made, and a job enqueued again would be there twice. Raises
        :class:`~jq.exceptions.UnsupportedByBrokerError` then, nothing written. Another error
        (a lost connection, a replica) is left to the write itself, and asked again next time."""
        execute: Callable[..., Any] = self._client.execute_command
        try:
            # (On a cluster, to the client's default node: a node's users are the cluster's.)
            execute("WAIT", 0, 0)
        except RedisClusterException:
            return
        except ResponseError as error:
            if not (isinstance(error, NoPermissionError) or "unknown command" in str(error).lower()):
                return
            raise UnsupportedByBrokerError(
                f"the server refused WAIT ({error}), which a broker made with wait_replicas="
                f"{durability.replicas} sends after each write to learn that replicas have it: "
                "nothing was written. Allow WAIT to this user (ACL: +wait), use a Redis server that "
                "has it (fakeredis has none, nor replicas), or leave wait_replicas out"
            ) from error
        except (redis.ConnectionError, redis.TimeoutError):
            return
        self._wait_answered = True

    def queue_on(self, pipeline: Any, name: str, keys: Sequence[str], args: Sequence[Arg]) -> None:
        """Queue one script call on a redis-py ``pipeline``: made (the script loaded first when
        the server does not know it) when the pipeline is executed, its reply among the
        pipeline's. It has a request identity of its own: a pipeline re-sent applies once."""
        if name not in READ_ONLY_SCRIPTS:
            keys, args = self._sessions.one_shot(keys, args)
        self._scripts[name](keys=list(keys), args=list(args), client=pipeline)

    def close(self) -> None:
        """Give back the held connection (the client itself stays the caller's)."""
        self._hot.close()
