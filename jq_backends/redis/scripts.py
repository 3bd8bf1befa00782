"""The Lua scripts of the Redis driver: loading them from the package and running them.

Each ``lua/<name>.lua`` file is one atomic broker operation. Its source is prefixed with the
record field names the driver may read (generated from :mod:`jq.broker`, so they are spelled in one
place) and with ``lua/lib.lua``'s helpers, then registered with ``client.register_script``: calls
use ``EVALSHA`` and load the script when the server does not know it (first use, restart,
``SCRIPT FLUSH``).
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Sequence
from typing import Any, Final

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from jq import broker as contract
from jq_backends.fields import FAILURE_TTL

__all__ = ["PRESENCE_FIELD", "SCRIPT_NAMES", "Arg", "ScriptRunner", "script_source"]

#: Every script, by file name without ``.lua``.
SCRIPT_NAMES: Final = (
    "claim",
    "claim_job",
    "delete_job",
    "drop_queue",
    "enqueue",
    "extend_lease",
    "extend_lock",
    "heartbeat_worker",
    "promote_scheduled",
    "register_worker",
    "registry_cleanup",
    "release_lock",
    "transition",
    "unregister_worker",
    "update_job",
    "worker_names",
)

#: One KEYS or ARGV element as redis-py encodes it.
Arg = str | bytes | int | float

#: The field that keeps an otherwise empty worker record in existence (Redis has no empty hash):
#: an empty name, which no field of the core has. Readers leave it out.
PRESENCE_FIELD: Final = ""

# The record fields a script reads or writes, named as in jq.broker and jq_backends.fields (and the
# driver's own).
_FIELD_CONSTANTS: Final = {
    "F_STATUS": contract.STATUS,
    "F_ORIGIN": contract.ORIGIN,
    "F_EXECUTION": contract.EXECUTION,
    "F_ENQUEUE_AT_FRONT": contract.ENQUEUE_AT_FRONT,
    "F_ALLOW_FAILURE": contract.ALLOW_FAILURE,
    "F_FAILURE_TTL": FAILURE_TTL,
    "F_PRESENCE": PRESENCE_FIELD,
}


def _read_lua(name: str) -> str:
    return (importlib.resources.files("jq_backends.redis") / "lua" / f"{name}.lua").read_text("utf-8")


@functools.cache
def script_source(name: str) -> str:
    """The full Lua source run for script ``name``: field names, ``lib.lua``, then the script."""
    if name not in SCRIPT_NAMES:
        raise ValueError(f"unknown script {name!r}")
    # json.dumps quotes an ASCII field name exactly as a Lua string literal needs.
    constants = "".join(f"local {lua} = {json.dumps(value)}\n" for lua, value in _FIELD_CONSTANTS.items())
    return f"{constants}\n{_read_lua('lib')}\n{_read_lua(name)}"


class ScriptRunner:
    """The driver's scripts registered on one client, run alone or many in one pipeline."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._scripts: dict[str, Script] = {
            name: client.register_script(script_source(name)) for name in SCRIPT_NAMES
        }

    def __call__(self, name: str, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """Run one script in one round trip (plus a load when the server does not know it yet)."""
        return self._scripts[name](keys=keys, args=args)

    def run_many(
        self, name: str, calls: Sequence[tuple[Sequence[str], Sequence[Arg]]], *, transaction: bool = True
    ) -> list[Any]:
        """Run one script once per ``(keys, args)`` in one pipeline (``MULTI`` with ``transaction``).

        One round trip when the server knows the script. redis-py's own pipeline support for
        scripts asks ``SCRIPT EXISTS`` first, a second round trip on every batch; instead this sends
        ``EVALSHA`` blindly and, for calls refused with ``NOSCRIPT`` only (which ran nothing), loads
        the script and sends those calls again. Replies come back in the order of ``calls``; the
        first error reply any other call got is raised after every call was tried.
        """
        script = self._scripts[name]
        replies: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        for _attempt in range(3):
            if not pending:
                break
            pipe = self._client.pipeline(transaction=transaction)
            for index in pending:
                keys, args = calls[index]
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            answers = pipe.execute(raise_on_error=False)
            unknown: list[int] = []
            for index, answer in zip(pending, answers, strict=True):
                if isinstance(answer, NoScriptError):
                    unknown.append(index)
                else:
                    replies[index] = answer
            if unknown:
                script.sha = self._client.script_load(script.script)
            pending = unknown
        if pending:
            raise NoScriptError(f"the server keeps refusing script {name!r} after loading it")
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies
