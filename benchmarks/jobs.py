"""The job functions every queue under test runs (importable by name from any worker)."""

from __future__ import annotations


def noop() -> None:
    """Do nothing: the benchmarks measure the queue, not the job."""
