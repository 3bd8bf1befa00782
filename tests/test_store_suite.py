"""The store conformance suite against the SQLite store, in a database file of the test's own."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jq.broker.store import Store
from jq.testing.store_suite import StoreContractTests
from jq_backends.sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    instance = SQLiteStore(tmp_path / "jobs.db")
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def store_opener(tmp_path: Path) -> Callable[[], Store]:
    return functools.partial(SQLiteStore, tmp_path / "jobs.db")


class TestSQLiteStore(StoreContractTests):
    """The SQLite store passes the whole store contract, across threads and processes."""
