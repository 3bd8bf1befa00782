"""Logging set-up for jq's long-running processes (workers and pools)."""

from __future__ import annotations

import logging
import sys

__all__ = ["DEFAULT_LOGGING_DATE_FORMAT", "DEFAULT_LOGGING_FORMAT", "setup_logging"]

DEFAULT_LOGGING_FORMAT = "%(asctime)s %(message)s"
DEFAULT_LOGGING_DATE_FORMAT = "%H:%M:%S"


def setup_logging(
    logger: logging.Logger,
    level: str | int = "INFO",
    log_format: str = DEFAULT_LOGGING_FORMAT,
    date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
) -> None:
    """Set ``logger``'s level and, unless the application configured logging, log to stderr."""
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(log_format, date_format))
        logger.addHandler(handler)
