"""Request identities: every script call of the Redis driver can be delivered twice and applies once.

A call whose reply does not come in time may still have run: Redis was stopped with the call in
its socket, a proxy held the reply back, the connection broke after the command was sent. Several
layers then send it again: the held connection hands the call to the client
(:mod:`.hot_connection`), redis-py's own ``Retry`` re-sends on a timeout (its default since 6.0),
an ``EVALSHA`` answered ``NOSCRIPT`` is loaded and sent again, and jq's worker tries a claim or
the recording of an outcome again after a transient error. Every copy that reaches the server
would run: a claim sent twice takes two jobs and its caller keeps one reply, the other job stays
``started`` with nobody running it.

So every call carries an identity made here: its thread's *session* (a random id, one per thread
of a process: a thread makes one call at a time) and the call's number in that session, which
only grows. The script (see ``lua/lib.lua``'s Requests) records its reply in the session's key
(:meth:`jq_backends.keys.KeySpace.request`) under that number; a copy of the call gets the recorded
reply and writes nothing, and a copy of an older call is refused. Any re-send of the same
packed command is therefore harmless, whichever layer makes it.

A call that ended in a transient error is *in doubt*: it may have run. Its session resolves it
before anything else: the next call of the thread first sends it again, with the same identity
and arguments, and gets its real reply (or the same error, and it stays in doubt). When that next
call is the same request again (same script, same keys: the worker trying the claim or the
finish again), it gets that reply, read as the first attempt would have read it, rather than
making a second call: the job the claim took is the one the worker runs. A reply resolved by
another call is kept for the request's next call (a few, the oldest dropped with a warning).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["KEPT_ANSWERS", "KEPT_SECONDS", "REQUEST_TTL", "Call", "Sessions"]

logger = logging.getLogger("jq.redis")

#: Seconds a session's last reply is kept: a copy of a call delayed longer than this (after it
#: ran) would run again. Long past any socket timeout and retry; short enough that the keys of
#: threads and processes that ended go soon (one small key each).
REQUEST_TTL: Final = 600.0

#: Replies resolved by another call kept for their own request's next call, per thread...
KEPT_ANSWERS: Final = 16
#: ... for this many seconds (a retry comes back within its patience, or not at all).
KEPT_SECONDS: Final = 120.0

#: What reads a script's reply into what the caller returns.
Reader = Callable[[Any], Any]


def _as_is(reply: Any) -> Any:
    return reply


@dataclass(frozen=True, slots=True)
class Call:
    """One script call as sent: its KEYS and ARGV end with its request key and number."""

    name: str
    keys: list[str]
    args: list[Any]
    #: (script, keys without the request key): a call that repeats a request has the same.
    request: tuple[str, tuple[str, ...]]
    read: Reader


class _Session:
    """One thread's calls: its id, its last call's number, the call in doubt, kept answers."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.id = uuid.uuid4().hex
        self.number = 0
        self.in_doubt: Call | None = None
        #: By request: how to read the reply, the reply, when it came (time.monotonic()).
        self.answers: dict[tuple[str, tuple[str, ...]], tuple[Reader, Any, float]] = {}


class Sessions:
    """The request sessions of one script runner, one per thread (and per process after a fork).

    ``request_key`` builds a session's key; ``transient`` are the errors after which a call is
    in doubt.
    """

    def __init__(self, request_key: Callable[[str], str], transient: tuple[type[BaseException], ...]) -> None:
        self._request_key = request_key
        self._transient = transient
        self._local = threading.local()

    def _session(self) -> _Session:
        session: _Session | None = getattr(self._local, "session", None)
        if session is None or session.pid != os.getpid():
            # A forked child's thread carries its parent's session: it must not share its numbers.
            session = self._local.session = _Session()
        return session

    def one_shot(self, keys: Sequence[str], args: Sequence[Any]) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of a call in a session of its own (a call on a caller's pipeline, which
        is sent with other calls and re-sent as a whole)."""
        return [*keys, self._request_key(uuid.uuid4().hex)], [*args, 1]

    def run(self, send: Callable[[Call], Any], name: str, keys: Sequence[str], args: Sequence[Any],
            read: Reader | None = None) -> Any:  # fmt: skip
        """``read(send(call))`` for a new call of this thread's session (``read`` defaults to the
        reply as it is); see the module's docstring for a call in doubt."""
        session = self._session()
        request = (name, tuple(keys))
        answer = self._resolve(session, send, request)
        if answer is not None:
            reader, reply = answer
            return reader(reply)
        session.number += 1
        call = Call(
            name,
            [*keys, self._request_key(session.id)],
            [*args, session.number],
            request,
            read or _as_is,
        )
        try:
            reply = send(call)
        except self._transient:
            session.in_doubt = call
            raise
        return call.read(reply)

    def _resolve(
        self, session: _Session, send: Callable[[Call], Any], request: tuple[str, tuple[str, ...]]
    ) -> tuple[Reader, Any] | None:
        """Settle the session's call in doubt (sending it again); the answer for ``request``
        (from that call or kept from an earlier one), or None when ``request`` is a new call."""
        call = session.in_doubt
        if call is not None:
            reply = send(call)  # a transient error leaves it in doubt
            session.in_doubt = None
            if call.request == request:
                return call.read, reply
            if len(session.answers) >= KEPT_ANSWERS:
                dropped = next(iter(session.answers))
                del session.answers[dropped]
                logger.warning("a reply to script %s was never asked for again and is dropped", dropped[0])
            session.answers[call.request] = (call.read, reply, time.monotonic())
        if not session.answers:
            return None
        kept = session.answers.pop(request, None)
        if kept is None or time.monotonic() - kept[2] > KEPT_SECONDS:
            return None
        return kept[0], kept[1]
