"""The SQLite driver's broker: jq's rules (:class:`jq.broker.rules.StoreBroker`) over a
:class:`~jq_backends.sqlite.store.SQLiteStore`, so every process of one machine that opens the same
file shares the same queues (``shares_across_processes``); a locked database is transient.
"""

from __future__ import annotations

import os

from jq.broker import Broker
from jq.broker.rules import StoreBroker
from jq.io.connections import key_prefix
from jq_backends.keys import DEFAULT_PREFIX, KeySpace
from jq_backends.sqlite.store import SQLiteStore

__all__ = ["SQLiteBroker"]


class SQLiteBroker(StoreBroker):
    """A :class:`~jq.broker.Broker` in the SQLite database file at ``path`` (created if missing).

    :param timeout: how long a call waits for another process's write before it raises
        ``sqlite3.OperationalError``, one of :attr:`transient_errors` (jq's workers retry those).
    :param synchronous: ``"full"`` (default: a call that returned is on disk, even across a power
        loss) or ``"normal"`` (faster: a power loss may lose the last calls, a crash never does).
    :param prefix: the key prefix for :meth:`job_key` and friends; None: ``JQ_KEY_PREFIX``, else
        ``jq:``. Brokers under different prefixes share a file without seeing each other's jobs.
    """

    shares_across_processes = True
    store: SQLiteStore

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 30.0,
        synchronous: str = "full",
        prefix: str | None = None,
    ) -> None:
        store = SQLiteStore(path, timeout=timeout, synchronous=synchronous)
        super().__init__(store, KeySpace(key_prefix(prefix, DEFAULT_PREFIX)))

    def __repr__(self) -> str:
        return f"SQLiteBroker({self.store.path!r})"

    def same_store_as(self, other: Broker) -> bool:
        """Whether ``other`` is a SQLite broker of the same file under the same key prefix."""
        return other is self or (
            isinstance(other, SQLiteBroker)
            and _same_file(other.store.path, self.store.path)
            and other.job_key("id") == self.job_key("id")
        )


def _same_file(first: str, second: str) -> bool:
    """Whether two paths name one file (through links too); equal paths when one is gone."""
    try:
        return os.path.samefile(first, second)
    except OSError:
        return first == second
