"""Process titles (``ps``, ``top``) when the optional ``setproctitle`` package is installed."""

from __future__ import annotations

import functools
from collections.abc import Callable

__all__ = ["set_process_title"]


@functools.cache
def _setter() -> Callable[[str], None] | None:
    try:
        # lazy: setproctitle is an optional dependency (jq-queue[setproctitle])
        from setproctitle import setproctitle
    except ImportError:
        return None
    setter: Callable[[str], None] = setproctitle
    return setter


def set_process_title(title: str) -> None:
    """Show ``jq: <title>`` as the process title, if setproctitle is installed; else do nothing."""
    setter = _setter()
    if setter is not None:
        setter(f"jq: {title}")
