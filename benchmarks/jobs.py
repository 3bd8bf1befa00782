"""The job functions every queue under test runs (importable by name from any worker)."""

from __future__ import annotations


def noop() -> None:
    """Do nothing: the benchmarks measure the queue, not the job."""


def noop_too() -> None:
    """Another function that does nothing: the metrics' benchmark counts several functions."""


def noop_three() -> None:
    """A third function that does nothing."""


def fail() -> None:
    """Raise: fills failed registries (the dashboard's benchmark)."""
    raise RuntimeError("this job fails on purpose")
