"""The SQLite driver's jq plugin: answers ``sqlite://`` URLs, written as SQLAlchemy writes them.

``sqlite:///jobs.db`` is ``jobs.db`` relative to the working directory (three slashes), and
``sqlite:////var/lib/app/jobs.db`` an absolute path (four). Query arguments: ``timeout`` (seconds
a call waits for another process's write) and ``synchronous`` (``full``, the default, or ``normal``:
see :class:`~jq_backends.sqlite.SQLiteBroker`).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from jq.exceptions import ConfigurationError
from jq.plugins import hookimpl
from jq_backends.sqlite.broker import SQLiteBroker
from jq_backends.sqlite.store import SYNCHRONOUS

SCHEME = "sqlite"
_EXAMPLE = "write sqlite:///relative/jobs.db or sqlite:////absolute/path/jobs.db"


@hookimpl
def jq_broker_from_url(url: str, options: Mapping[str, Any]) -> SQLiteBroker | None:
    """A :class:`SQLiteBroker` on the file a ``sqlite://`` URL names; None for another scheme."""
    parts = urlsplit(url)
    if parts.scheme.lower() != SCHEME:
        return None
    if parts.netloc:
        raise ConfigurationError(
            f"{url!r} names a host ({parts.netloc!r}), but a SQLite database is a file on this "
            f"machine: {_EXAMPLE} (three slashes before a relative path, four before an absolute one)"
        )
    path = unquote(parts.path[1:])
    if not path or path.endswith("/") or path == ":memory:":
        raise ConfigurationError(
            f"{url!r} names no database file (the processes of jq share one): {_EXAMPLE}"
        )
    settings = dict(options)
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "timeout":
            try:
                settings["timeout"] = float(value)
            except ValueError:
                raise ConfigurationError(f"{url!r}: timeout must be a number of seconds") from None
        elif name == "synchronous":
            if value.lower() not in SYNCHRONOUS:
                raise ConfigurationError(
                    f"{url!r}: synchronous must be {' or '.join(SYNCHRONOUS)} ('full' keeps every "
                    "acknowledged job across a power loss; 'normal' is faster)"
                )
            settings["synchronous"] = value.lower()
        else:
            raise ConfigurationError(
                f"{url!r}: unknown argument {name!r} (sqlite:// takes timeout and synchronous)"
            )
    try:
        return SQLiteBroker(path, **settings)
    except sqlite3.DatabaseError as error:
        if "locked" in str(error):
            raise  # another process holds the file: transient, not a mistake in the URL
        # A directory that does not exist or cannot be written, a file that is not a database.
        raise ConfigurationError(
            f"{url!r}: cannot open {os.path.abspath(path)!r} as a SQLite database ({error}): name a "
            f"SQLite database, or a file not there yet in a writable directory; {_EXAMPLE}"
        ) from None
