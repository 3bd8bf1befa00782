"""The letters of the Redis driver's transition format, spelled once.

A :class:`jq.broker.Transition` travels to ``lua/lib_transition.lua`` (``next_transition``) as a
*mode*, one short string read first, then only the arguments the mode calls for. The mode is
four letters, then flags:

1. the move's source: :class:`PlaceLetter` (a queue, a registry, none);
2. the move's target: :class:`PlaceLetter`;
3. the settlement's policy: :class:`PolicyLetter` (``delete_job.lua`` starts its mode with one
   too);
4. the record's ttl: :class:`TtlLetter`;
5. then any of the :class:`Flag` letters, in any order.

Python code names each letter through these classes (``PlaceLetter.QUEUE``); the scripts get each
one as a Lua constant of its own name (``PLACE_QUEUE`` is ``"q"``, see :data:`LUA_CONSTANTS`),
which :mod:`.scripts` puts ahead of a script's code when the script mentions it, like the
statuses and field names. Neither side spells a letter itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["LUA_CONSTANTS", "Flag", "PlaceLetter", "PolicyLetter", "TtlLetter"]


class PlaceLetter:
    """The kind of a move's source or target (Lua: ``PLACE_QUEUE``...)."""

    QUEUE: Final = "q"
    REGISTRY: Final = "r"
    NONE: Final = "-"


class PolicyLetter:
    """A settlement's :class:`jq.broker.DependentsPolicy`; ``NONE``: the transition has no
    settlement (Lua: ``POLICY_FINISHED``...)."""

    NONE: Final = "-"
    FINISHED: Final = "f"
    FAILED: Final = "x"
    VANISHED: Final = "v"


class TtlLetter:
    """The record's ttl (:attr:`jq.broker.RecordEdit.record_ttl`): keep the expiry, persist
    (remove it), delete the record, expire (the milliseconds follow) (Lua: ``TTL_KEEP``...)."""

    KEEP: Final = "k"
    PERSIST: Final = "p"
    DELETE: Final = "d"
    EXPIRE: Final = "e"


class Flag:
    """What else a transition carries, each flag calling for its arguments (Lua: ``FLAG_AT_FRONT``...)."""

    #: The queue target takes the job at its front.
    AT_FRONT: Final = "F"
    #: An execution id to check: the id follows.
    EXECUTION: Final = "E"
    #: A result entry: the entry follows.
    RESULT: Final = "R"
    #: With ``RESULT``, how many entries to keep when not ``RESULTS_KEPT``: the number follows.
    RESULTS_KEPT: Final = "K"
    #: Record fields to delete: their count and names follow.
    DELETE_FIELDS: Final = "D"
    #: The job leaves its own unmet dependencies.
    LEAVE_DEPENDENCIES: Final = "L"
    #: A worker update: the worker's record is one more key, its update follows.
    WORKER: Final = "W"
    #: With a settlement, its ``now`` follows (always under ``VANISHED``).
    NOW: Final = "N"
    #: Released fields: their count and pairs follow.
    RELEASED: Final = "A"
    #: A tally (:class:`jq.broker.Tally`): its queue's three records of history are three more
    #: keys, its arguments follow (see ``lua/lib_history.lua``).
    TALLY: Final = "T"


def _lua_names(prefix: str, letters: type) -> dict[str, str]:
    return {f"{prefix}_{name}": value for name, value in vars(letters).items() if name.isupper()}


#: Every letter by the name of its Lua constant.
LUA_CONSTANTS: Final[Mapping[str, str]] = {
    **_lua_names("PLACE", PlaceLetter),
    **_lua_names("POLICY", PolicyLetter),
    **_lua_names("TTL", TtlLetter),
    **_lua_names("FLAG", Flag),
}
