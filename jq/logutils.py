"""Logging set-up for jq's long-running processes (workers, pools, schedulers), and the way they
write durations.

Every line such a process writes starts with a timestamp: the handler sits on jq's package logger
(``jq``), so the lines of every jq logger (``jq.worker``, ``jq.worker_pool``, ``jq.scheduler``,
``jq.cron``, ``jq.broker.*``) go through it, and :class:`LineFormatter` gives each line of a
multi-line record (a traceback) the same start as the first.
"""

from __future__ import annotations

import logging
import sys

__all__ = [
    "DEFAULT_LOGGING_DATE_FORMAT",
    "DEFAULT_LOGGING_FORMAT",
    "PACKAGE_LOGGER",
    "LineFormatter",
    "format_duration",
    "setup_logging",
]

DEFAULT_LOGGING_FORMAT = "%(asctime)s %(message)s"
DEFAULT_LOGGING_DATE_FORMAT = "%H:%M:%S"

#: The logger every jq logger hands its records to.
PACKAGE_LOGGER = "jq"


class LineFormatter(logging.Formatter):
    """A formatter that writes each line of a record as a line of its own, formatted alike: a
    traceback's lines get the timestamp (and whatever else the format puts before the message)
    that its first line has, so that no line of a log stands without one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record formatted as usual, then each further line formatted as its own message."""
        text = super().format(record)
        if "\n" not in text:
            return text
        first, *rest = text.split("\n")
        lines = [first]
        for line in rest:
            # A copy of the record with this line as its message: same time, level and name.
            part = logging.makeLogRecord(record.__dict__)
            part.msg, part.args = line, None
            part.exc_info, part.exc_text, part.stack_info = None, None, None
            lines.append(super().format(part))
        return "\n".join(lines)


def format_duration(seconds: float) -> str:
    """How long something ran, for logs: ``0.012 s``, ``1.3 s``, ``2 min 5 s``, ``1 h 2 min``."""
    if seconds < 1:
        return f"{seconds:.3f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def setup_logging(
    logger: logging.Logger,
    level: str | int = "INFO",
    log_format: str = DEFAULT_LOGGING_FORMAT,
    date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
) -> None:
    """Set ``logger``'s level and, unless the application configured logging, write jq's logs to
    stderr, every line starting as ``log_format`` says (by default with the time)."""
    logger.setLevel(level.upper() if isinstance(level, str) else level)
    package = logging.getLogger(PACKAGE_LOGGER)
    if not package.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(LineFormatter(log_format, date_format))
        package.addHandler(handler)
