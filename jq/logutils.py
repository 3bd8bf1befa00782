"""RQ's ``rq.logutils``, and jq's public path of :mod:`jq.base.logutils`:
the same objects, re-exported."""

from __future__ import annotations

from jq.base.logutils import (
    DEFAULT_LOGGING_DATE_FORMAT,
    DEFAULT_LOGGING_FORMAT,
    PACKAGE_LOGGER,
    ColorizingStreamHandler,
    LineFormatter,
    blue,
    colorizer,
    format_duration,
    green,
    make_colorizer,
    red,
    setup_logging,
    setup_loghandlers,
    yellow,
)

__all__ = [
    "DEFAULT_LOGGING_DATE_FORMAT",
    "DEFAULT_LOGGING_FORMAT",
    "PACKAGE_LOGGER",
    "ColorizingStreamHandler",
    "LineFormatter",
    "blue",
    "colorizer",
    "format_duration",
    "green",
    "make_colorizer",
    "red",
    "setup_logging",
    "setup_loghandlers",
    "yellow",
]
