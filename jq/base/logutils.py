"""Logging set-up for jq's long-running processes (workers, pools, schedulers), and the way they
write durations; and RQ's logging helpers (``rq.logutils``: :func:`setup_loghandlers`,
:class:`ColorizingStreamHandler`, the colour functions) for code written for RQ.

Every line such a process writes starts with a timestamp: the handler sits on jq's package logger
(``jq``), so the lines of every jq logger (``jq.worker``, ``jq.worker_pool``, ``jq.scheduler``,
``jq.cron``, ``jq.broker.*``) go through it, and :class:`LineFormatter` gives each line of a
multi-line record (a traceback) the same start as the first.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any, ClassVar

from jq.base.utils import public_module
from jq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT

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


class _Colorizer:
    """ANSI colours by name, applied only when standard output is a terminal."""

    _ESCAPE = "\x1b["
    _DARK = ("black", "darkred", "darkgreen", "brown", "darkblue", "purple", "teal", "lightgray")
    _LIGHT = ("darkgray", "red", "green", "yellow", "blue", "fuchsia", "turquoise", "white")

    def __init__(self) -> None:
        codes = {"": "", "reset": f"{self._ESCAPE}39;49;00m", "bold": f"{self._ESCAPE}01m"}
        for number, (dark, light) in enumerate(zip(self._DARK, self._LIGHT, strict=True), start=30):
            codes[dark] = f"{self._ESCAPE}{number}m"
            codes[light] = f"{self._ESCAPE}{number};01m"
        codes.update(darkteal=codes["turquoise"], darkyellow=codes["brown"], fuscia=codes["fuchsia"])
        codes["white"] = codes["bold"]
        #: The escape sequence of each colour name.
        self.codes = codes
        isatty = getattr(sys.stdout, "isatty", None)
        #: True when standard output is not a terminal: text is left uncoloured.
        self.notty = not (isatty is not None and isatty())

    def colorize(self, color_key: str, text: str) -> str:
        """``text`` in colour ``color_key`` (as it is when not writing to a terminal)."""
        if self.notty:
            return text
        return f"{self.codes[color_key]}{text}{self.codes['reset']}"


#: The colorizer the colour functions use.
colorizer = _Colorizer()


def make_colorizer(color: str) -> Callable[[str], str]:
    """A function that writes its text in ``color`` (``'darkgreen'``, ``'red'``...)."""

    def colored(text: str) -> str:
        return colorizer.colorize(color, text)

    return colored


#: Text in green, yellow, blue and red on a terminal (as it is otherwise).
green = make_colorizer("darkgreen")
yellow = make_colorizer("darkyellow")
blue = make_colorizer("darkblue")
red = make_colorizer("darkred")


class ColorizingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler for RQ-style logs; ``levels`` maps a level to the colour function of its
    lines and ``exclude`` is kept for code that sets it."""

    levels: ClassVar[dict[int, Callable[[str], str]]] = {
        logging.WARNING: yellow,
        logging.ERROR: red,
        logging.CRITICAL: red,
    }

    def __init__(self, exclude: Any = None, *args: Any, **kwargs: Any) -> None:
        self.exclude = exclude
        super().__init__(*args, **kwargs)

    @property
    def is_tty(self) -> bool:
        """Whether the stream is a terminal."""
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty is not None and isatty())

    def format(self, record: logging.LogRecord) -> str:
        """The record formatted; its first line coloured for its level on a terminal."""
        message = super().format(record)
        colour = self.levels.get(record.levelno)
        if colour is None or not self.is_tty:
            return message
        first, newline, rest = message.partition("\n")
        return colour(first) + newline + rest


def _has_handler(logger: logging.Logger) -> bool:
    """Whether a record of ``logger`` reaches a handler (its own or an ancestor's)."""
    current: logging.Logger | None = logger
    while current is not None:
        if current.handlers:
            return True
        current = current.parent if current.propagate else None
    return False


def setup_loghandlers(
    level: int | str | None = None,
    date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
    log_format: str = DEFAULT_LOGGING_FORMAT,
    name: str = "jq.worker",
) -> None:
    """RQ's log set-up: unless a record of the logger ``name`` already reaches a handler, write
    its records below ERROR to stdout and the others to stderr (in ``log_format`` with
    ``date_format``; not passed on to ancestors' handlers added later); then set its level
    when ``level`` is given. ``name`` defaults to jq's worker logger (RQ's is ``rq.worker``).
    """
    logger = logging.getLogger(name)
    if not _has_handler(logger):
        formatter = logging.Formatter(fmt=log_format, datefmt=date_format)
        below_errors = ColorizingStreamHandler(stream=sys.stdout)
        below_errors.addFilter(lambda record: record.levelno < logging.ERROR)
        errors = ColorizingStreamHandler(stream=sys.stderr)
        errors.addFilter(lambda record: record.levelno >= logging.ERROR)
        for handler in (below_errors, errors):
            handler.setFormatter(formatter)
            logger.addHandler(handler)
        logger.propagate = False
    if level is not None:
        logger.setLevel(level if isinstance(level, int) else level.upper())


# Pickles, reprs and error messages name these classes by their public path (see public_module).
public_module("jq.logutils", LineFormatter, ColorizingStreamHandler)
