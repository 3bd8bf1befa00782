"""The store conformance suite against jq's stores: the SQLite store, in a database file of the
test's own, and the memory store."""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jq.broker.store import Store
from jq.testing.store_suite import StoreContractTests
from jq_backends.memory import MemoryStore
from jq_backends.sqlite import SQLiteStore


@pytest.fixture
def database() -> Iterator[Path]:
    """A database path short enough for its mailboxes to sit beside it (tmp_path is too long:
    tests/test_sqlite_driver.py covers the mailboxes of a long path)."""
    directory = tempfile.mkdtemp(prefix="jq-sqlite-", dir="/tmp")
    try:
        yield Path(directory) / "jobs.db"
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def store(database: Path) -> Iterator[SQLiteStore]:
    instance = SQLiteStore(database)
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def store_opener(database: Path) -> Callable[[], Store]:
    return functools.partial(SQLiteStore, database)


class TestSQLiteStore(StoreContractTests):
    """The SQLite store passes the whole store contract, across threads and processes."""


class TestMemoryStore(StoreContractTests):
    """The memory store passes the store contract (it is not shared, so no process tests)."""

    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore("store-suite")
