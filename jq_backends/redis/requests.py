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

A script that is a plain write of what the caller gives (one of ``exact``: a save, a lock, a
registry entry, fields onto a record) is the same request only with the same ARGV too: its
repeats are the caller sending the very same write again, and a different write on the same
keys (a resume after a suspend, another id added to the same registry, a job's meta saved with
new progress) must be made, not answered with the first one's reply.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Any, Final

__all__ = ["KEPT_ANSWERS", "KEPT_SECONDS", "REQUEST_TTL", "Call", "Send", "Sessions"]

logger = logging.getLogger("jq.redis")

#: Seconds a session's last reply is kept: a copy of a call delayed longer than this (after it
#: ran) would run again. Long past any socket timeout and retry; short enough that the keys of
#: threads and processes that ended go soon (one small key each).
REQUEST_TTL: Final = 600.0

#: Replies resolved by another call kept for their own request's next call, per thread...
KEPT_ANSWERS: Final = 16
#: ... for this many seconds (a retry comes back within its patience, or not at all).
KEPT_SECONDS: Final = 120.0

#: What names a request: the script and its KEYS (and its ARGV, for an ``exact`` script).
Request = tuple[Any, ...]
#: What reads a script's reply into what the caller returns.
Reader = Callable[[Any], Any]
#: What sends one call: script name, KEYS, ARGV, then the request key and number to add to them.
Send = Callable[[str, Sequence[str], Sequence[Any], str, int], Any]

#: Forks seen by this process (one counter): a session made before the last one is the parent's.
_forks = [0]


def _forked() -> None:
    _forks[0] += 1


os.register_at_fork(after_in_child=_forked)


class Call:
    """A call in doubt, as sent: script, KEYS and ARGV (without the request key and number), its
    request key and number, and how its caller reads the reply."""

    __slots__ = ("args", "keys", "name", "number", "read", "request", "request_key")

    def __init__(self, name: str, keys: Sequence[str], args: Sequence[Any], request_key: str, number: int,
                 read: Reader | None, request: Request) -> None:  # fmt: skip
        self.name, self.keys, self.args = name, list(keys), list(args)
        self.request_key, self.number, self.read = request_key, number, read
        #: (script, keys[, args]): a call that repeats a request has the same.
        self.request = request

    def send(self, send: Send) -> Any:
        return send(self.name, self.keys, self.args, self.request_key, self.number)


class _Session:
    """One thread's calls: its key, its last call's number, the call in doubt, kept answers."""

    __slots__ = ("answers", "forks", "in_doubt", "key", "number")

    def __init__(self, key: str) -> None:
        self.forks = _forks[0]
        self.key = key
        self.number = 0
        self.in_doubt: Call | None = None
        #: By request: how to read the reply, the reply, when it came (time.monotonic()).
        self.answers: dict[Request, tuple[Reader | None, Any, float]] = {}


class Sessions:
    """The request sessions of one script runner, one per thread (and per process after a fork).

    ``request_key`` builds a session's key; ``transient`` are the errors after which a call is
    in doubt; ``exact`` names the scripts whose request is told by their ARGV too (see the
    module's docstring). A call costs a few attribute reads and one number more than a call
    without an identity; everything else (the call in doubt, kept answers) is built only after
    an error.
    """

    def __init__(
        self,
        request_key: Callable[[str], str],
        transient: tuple[type[BaseException], ...],
        exact: Collection[str] = frozenset(),
    ) -> None:
        self._request_key = request_key
        self._transient = transient
        self._exact = exact
        self._local = threading.local()

    def _request(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Request:
        """What names a call's request (built only after an error: no cost on the way that works)."""
        return (name, tuple(keys), tuple(args)) if name in self._exact else (name, tuple(keys))

    def _new_session(self) -> _Session:
        # A forked child's thread carries its parent's session: it must not share its numbers.
        session = self._local.session = _Session(self._request_key(uuid.uuid4().hex))
        return session

    def one_shot(self, keys: Sequence[str], args: Sequence[Any]) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of a call in a session of its own (a call on a caller's pipeline, which
        is sent with other calls and re-sent as a whole)."""
        return [*keys, self._request_key(uuid.uuid4().hex)], [*args, 1]

    def run(self, send: Send, name: str, keys: Sequence[str], args: Sequence[Any],
            read: Reader | None = None) -> Any:  # fmt: skip
        """``read(send(...))`` for a new call of this thread's session (``read`` defaults to the
        reply as it is); see the module's docstring for a call in doubt."""
        session: _Session | None = getattr(self._local, "session", None)
        if session is None or session.forks != _forks[0]:
            session = self._new_session()
        elif session.in_doubt is not None or session.answers:
            answer = self._resolve(session, send, self._request(name, keys, args))
            if answer is not None:
                reader, reply = answer
                return reply if reader is None else reader(reply)
        number = session.number = session.number + 1
        try:
            reply = send(name, keys, args, session.key, number)
        except self._transient:
            session.in_doubt = Call(
                name, keys, args, session.key, number, read, self._request(name, keys, args)
            )
            raise
        return reply if read is None else read(reply)

    def _resolve(self, session: _Session, send: Send, request: Request) -> tuple[Reader | None, Any] | None:
        """Settle the session's call in doubt (sending it again); the answer for ``request``
        (from that call or kept from an earlier one), or None when ``request`` is a new call."""
        call = session.in_doubt
        if call is not None:
            reply = call.send(send)  # a transient error leaves it in doubt
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
