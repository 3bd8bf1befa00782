"""The SQLite driver: jq's queues in one database file, for the processes of one machine.

``sqlite:///jobs.db`` (relative) or ``sqlite:////abs/jobs.db`` URLs; :class:`SQLiteBroker` is
jq's rules over :class:`SQLiteStore`. Standard library only (:mod:`sqlite3`, unix datagram sockets
for wake-ups and commands); see :mod:`jq_backends.sqlite.store` for how it stays consistent.
"""

from jq_backends.sqlite.broker import SQLiteBroker
from jq_backends.sqlite.store import SQLiteStore

__all__ = ["SQLiteBroker", "SQLiteStore"]
