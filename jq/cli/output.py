"""Where ``jqueue`` writes: rich consoles for tables, progress bars on stderr, per-item error lines.

Results go to stdout and everything else (progress, errors) to stderr, so ``$(jqueue enqueue ...)``
and ``jqueue info --json | ...`` get only what they asked for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import click
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["echo_error", "print_out", "progress", "stderr_console", "stdout_console"]

# Rich lays out for 80 columns when it cannot ask a terminal; piped output (grep, logs) reads
# better with long job ids and worker names on one line.
_PIPE_WIDTH = 200


def _console(stderr: bool) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, highlight=False, width=_PIPE_WIDTH)
    return console


def stdout_console() -> Console:
    """A console on stdout (no colour when it is not a terminal)."""
    return _console(stderr=False)


def stderr_console() -> Console:
    """A console on stderr, for progress bars."""
    return _console(stderr=True)


def print_out(console: Console, renderable: RenderableType) -> None:
    """Print ``renderable`` on ``console``: as rich lays it out on a terminal; into a pipe or a
    file, without the spaces rich pads each line with to the width of its table or grid (they
    make ``grep``, ``diff`` and logs noisy)."""
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    lines = captured.get().splitlines()
    console.file.write("".join(f"{line.rstrip()}\n" for line in lines))
    console.file.flush()


def echo_error(message: str) -> None:
    """One ``Error: ...`` line on stderr, for a failure of one item among many."""
    click.echo(f"Error: {message}", err=True)


@contextlib.contextmanager
def progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr while the block runs; yields ``advance(n)``.

    Shown only when stderr is a terminal: a log file should not fill with bar redraws.
    """
    console = stderr_console()
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)

        def advance(count: int = 1) -> None:
            bar.advance(task, count)

        yield advance
