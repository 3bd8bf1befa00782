"""The SQLite driver: jq's queues in one database file, for the processes of one machine.

Standard library only (:mod:`sqlite3`, unix datagram sockets for wake-ups and commands); see
:mod:`jq_backends.sqlite.store` for how it stays consistent across processes.
"""

from jq_backends.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
