"""The job functions every queue under test runs (importable by name from any worker)."""

from __future__ import annotations


def noop() -> None:
    """Do nothing: the benchmarks measure the queue, not the job."""


def fail() -> None:
    """Raise: fills failed registries (the dashboard's benchmark)."""
    raise RuntimeError("this job fails on purpose")
