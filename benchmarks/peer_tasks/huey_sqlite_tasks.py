"""The benchmark's no-op job as a huey task on ``SqliteHuey``, for ``benchmarks/sqlite.py``.

The database file comes from ``SQLITE_FILE_VARIABLE``; ``HUEY_FSYNC_VARIABLE`` set to ``off`` passes
``fsync=False`` (``PRAGMA synchronous=OFF``), otherwise huey's defaults stand (WAL, SQLite's
default ``synchronous=FULL``).
"""

from __future__ import annotations

import os

from huey import SqliteHuey

from benchmarks.peer_tasks import HUEY_FSYNC_VARIABLE, SQLITE_FILE_VARIABLE

_options = {"fsync": False} if os.environ.get(HUEY_FSYNC_VARIABLE) == "off" else {}
huey = SqliteHuey("bench", filename=os.environ[SQLITE_FILE_VARIABLE], **_options)


@huey.task()
def noop() -> None:
    """Do nothing: the benchmarks measure the queue, not the job."""
