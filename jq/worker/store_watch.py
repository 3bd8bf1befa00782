"""Whether this worker may trust expired leases: it saw the store answer steadily long enough.

A lease ends when its owner stops renewing it, and another worker's maintenance then ends the job
as abandoned. That is only right when the owner *could* have renewed it. When the store was
unreachable (stopped, paused, cut off), no owner could: every lease runs out during a long enough
outage, and the first worker to look once the store answers again would end every running job,
which then runs a second time under a Retry policy (and its first run's outcome is refused).

So the worker's heartbeat, which calls the store every heartbeat interval for the worker's whole
life, doubles as a probe. :class:`StoreWatch` notes when a beat fails or takes longer than that
interval (a call that waits on a stopped server fails at the client's socket timeout, or answers
late when the server comes back before), and when the store answers again. The worker's
maintenance ends abandoned jobs only when no beat is failing or hanging now and the store has
answered steadily for ``grace`` seconds (the worker's ``worker_ttl``): every live owner has had a
full lease length, several of its own beats, to renew its leases. An outage seen by this worker
only (the others renewed meanwhile) costs nothing but that wait; one seen by every worker keeps
all of them from ending jobs whose owners are alive.
"""

from __future__ import annotations

import threading
import time

__all__ = ["StoreWatch"]


class StoreWatch:
    """The store's answers to one worker's heartbeats; see the module's docstring.

    ``slow``: seconds after which a beat still waiting counts as the store not answering (the
    heartbeat interval: a beat normally takes milliseconds).
    """

    def __init__(self, slow: float) -> None:
        self.slow = slow
        self._lock = threading.Lock()
        self._calling_since: float | None = None
        self._troubled = False
        #: When the store answered again after it had not (time.monotonic()), or None.
        self._answered_again_at: float | None = None

    def calling(self) -> None:
        """A beat starts."""
        with self._lock:
            self._calling_since = time.monotonic()

    def answered(self) -> None:
        """The beat got its answer (late ones count as the store back only now)."""
        with self._lock:
            now = time.monotonic()
            started = self._calling_since
            if self._troubled or (started is not None and now - started > self.slow):
                self._answered_again_at = now
            self._troubled, self._calling_since = False, None

    def failed(self) -> None:
        """The beat failed (the store was unreachable, or the call timed out)."""
        with self._lock:
            self._troubled, self._calling_since = True, None

    def quiet_for(self, grace: float) -> float:
        """Seconds still to wait before expired leases may be trusted: 0 once the store has
        answered every beat in time for ``grace`` seconds; ``grace`` while a beat fails or hangs."""
        with self._lock:
            now = time.monotonic()
            started = self._calling_since
            if self._troubled or (started is not None and now - started > self.slow):
                return grace
            if self._answered_again_at is None:
                return 0.0
            return max(self._answered_again_at + grace - now, 0.0)
