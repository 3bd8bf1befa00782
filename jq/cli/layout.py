"""Tables that fit the terminal: less important columns step aside in a stated order and long
cells wrap, so that no name, state or queue is ever cut to ``s…``.

rich, left to itself, squeezes every column of a table that is too wide and ends each cut cell
with an ellipsis. A :class:`FittedTable` decides instead, each time it is drawn (so a live view
follows a resized terminal):

1. A column that may wrap (``shrink``) can be as narrow as its *floor*: its longest word (cells
   wrap between words), or ``min_width`` if that is wider (an error message wrapped one word a
   line would be unreadable). Every other column needs its longest line.
2. While the columns do not fit at those widths, the optional ones step aside by ``drop`` rank,
   lowest first (columns of one rank together): a column with ``stack_under`` moves into that
   column, its text becoming extra lines (``↳ ...``) of each cell; any other is dropped and
   named in the caption. Dropped columns come back if, once later ones have moved, every
   column fits without wrapping.
3. The columns kept get their longest line; if that is too wide, the columns that may wrap give
   up width, lowest ``shrink`` rank first: down to their floor, then down to their longest own
   word (lines stacked into them may fold), then, only if nothing else fits, to
   :data:`FOLD_FLOOR`: long words are folded onto the next line, never cut.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rich import box
from rich.console import Console, ConsoleOptions, JustifyMethod, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

__all__ = ["BLANK", "FOLD_FLOOR", "STACK_MARK", "FittedColumn", "FittedTable", "Layout", "choose_layout"]

#: The narrowest a column that folds long words is made (below this a word would be unreadable).
FOLD_FLOOR = 8

#: What a cell shows when it has nothing to say; such a cell adds no line when it is stacked.
BLANK = "-"

#: What starts a line stacked under another column's cell.
STACK_MARK = "↳ "


@dataclass(frozen=True)
class FittedColumn:
    """One column and the rules for fitting it.

    :param header: the column's title.
    :param cells: one text per row.
    :param drop: None: always shown as a column; else the rank at which it steps aside.
    :param stack_under: the header of the column it moves into when it steps aside (None: it is
        dropped).
    :param shrink: None: never narrower than its longest line; else the rank at which it starts
        to wrap, lowest first.
    :param min_width: how narrow a column that may wrap is made before others step aside.
    :param justify: ``"left"`` or ``"right"``.
    """

    header: str
    cells: Sequence[Text]
    drop: int | None = None
    stack_under: str | None = None
    shrink: int | None = None
    min_width: int = 0
    justify: JustifyMethod = "left"


def _measure(console: Console, options: ConsoleOptions, texts: Sequence[Text]) -> tuple[int, int]:
    """(longest word, longest line) of ``texts``."""
    measured = [Measurement.get(console, options, text) for text in texts]
    return max((m.minimum for m in measured), default=0), max((m.maximum for m in measured), default=0)


@dataclass(eq=False)
class _Slot:
    """A column being fitted, with the lines of the columns stacked into it."""

    column: FittedColumn
    header: str
    #: The longest word of the column's own cells and header.
    own_word: int
    #: The longest line of the column's own cells and header.
    own_line: int
    #: Per row, the lines of the columns stacked into this one.
    stacked: list[list[Text]] = field(default_factory=list)
    #: How narrow the lines stacked into this column can comfortably be.
    stacked_floor: int = 0
    width: int = 0

    def cells(self, width: int | None = None) -> list[Text]:
        """The cells with their stacked lines; each line starts with :data:`STACK_MARK`, or, when
        ``width`` is too narrow for the line's first word, with the mark alone (no space after
        which rich would break the line, leaving the mark alone on it)."""
        if not self.stacked:
            return list(self.column.cells)
        cells = []
        for cell, lines in zip(self.column.cells, self.stacked, strict=True):
            parts: list[Text | str] = [cell]
            for line in lines:
                first_word = len(line.plain.split(maxsplit=1)[0]) if line.plain.strip() else 0
                fits = width is None or len(STACK_MARK) + first_word <= width
                parts.extend(("\n", Text(STACK_MARK if fits else STACK_MARK.strip(), style="dim"), line))
            cells.append(Text.assemble(*parts))
        return cells

    def take(self, guest: _Slot) -> None:
        """Stack ``guest`` (with whatever was stacked into it) into this column."""
        self.header = f"{self.header} / {guest.header}"
        if not self.stacked:
            self.stacked = [[] for _cell in self.column.cells]
        guest_lines = guest.stacked or [[] for _cell in guest.column.cells]
        for lines, cell, more in zip(self.stacked, guest.column.cells, guest_lines, strict=True):
            if cell.plain.strip() not in ("", BLANK):
                lines.append(cell)
            lines.extend(more)


@dataclass(frozen=True)
class Layout:
    """The outcome of fitting: the columns kept (each with its header, cells and width), the
    headers of those dropped, and of those stacked into others."""

    columns: list[tuple[FittedColumn, str, list[Text], int]]
    dropped: list[str]
    stacked: list[str]


def choose_layout(
    console: Console,
    options: ConsoleOptions,
    columns: Sequence[FittedColumn],
    overhead: Callable[[int], int],
) -> Layout:
    """Fit ``columns`` in ``options.max_width`` (as far as the columns that must stay allow);
    ``overhead(n)`` is what borders and padding take around ``n`` columns."""
    available = options.max_width
    slots = [
        _Slot(column, column.header, *_measure(console, options, [Text(column.header), *column.cells]))
        for column in columns
    ]

    def longest_line(slot: _Slot) -> int:
        return _measure(console, options, [Text(slot.header), *slot.cells()])[1]

    def floor(slot: _Slot) -> int:
        # A column that may not wrap keeps its own lines whole; lines stacked into it wrap, but
        # no narrower than the columns they came from would have.
        if slot.column.shrink is None:
            return max(slot.own_line, slot.stacked_floor)
        return max(min(longest_line(slot), max(slot.own_word, slot.column.min_width)), slot.stacked_floor)

    def own_word(slot: _Slot) -> int:
        return slot.own_line if slot.column.shrink is None else slot.own_word

    def fits(candidates: Sequence[_Slot]) -> bool:
        return sum(floor(slot) for slot in candidates) + overhead(len(candidates)) <= available

    removed: list[_Slot] = []
    stacked: list[str] = []
    for rank in sorted({column.drop for column in columns if column.drop is not None}):
        if fits(slots):
            break
        for slot in [slot for slot in slots if slot.column.drop == rank]:
            slots.remove(slot)
            host = next((s for s in slots if s.column.header == slot.column.stack_under), None)
            if host is None:
                removed.append(slot)
            else:
                if any(cell.plain.strip() not in ("", BLANK) for cell in slot.column.cells):
                    host.stacked_floor = max(host.stacked_floor, len(STACK_MARK) + floor(slot))
                host.take(slot)
                stacked.append(slot.column.header)
    # Columns dropped early may fit again once later ones moved under others: they come back
    # (a rank's together, the last dropped first) if nothing then needs to wrap.
    order = {id(column): index for index, column in enumerate(columns)}

    def roomy(candidates: Sequence[_Slot]) -> bool:
        return sum(longest_line(slot) for slot in candidates) + overhead(len(candidates)) <= available

    for rank in sorted({slot.column.drop for slot in removed if slot.column.drop is not None}, reverse=True):
        group = [slot for slot in removed if slot.column.drop == rank]
        candidates = sorted([*slots, *group], key=lambda s: order[id(s.column)])
        if roomy(candidates):
            slots = candidates
            removed = [slot for slot in removed if slot not in group]
    dropped = [slot.column.header for slot in removed]

    for slot in slots:
        slot.width = longest_line(slot)
    excess = sum(slot.width for slot in slots) + overhead(len(slots)) - available
    # Columns that may not wrap give up only the room of lines stacked into them, and first.
    by_rank = sorted(slots, key=lambda s: -1 if s.column.shrink is None else s.column.shrink)
    floors: tuple[Callable[[_Slot], int], ...] = (
        floor,
        own_word,
        lambda slot: own_word(slot) if slot.column.shrink is None else min(FOLD_FLOOR, slot.own_word),
    )
    for lowest in floors:
        for slot in by_rank:
            if excess <= 0:
                break
            give = min(excess, max(slot.width - lowest(slot), 0))
            slot.width -= give
            excess -= give
    return Layout([(s.column, s.header, s.cells(s.width), s.width) for s in slots], dropped, stacked)


def _boxed_overhead(count: int) -> int:
    # "│ a │ b │": a border before each column and after the last, one space either side of each.
    return 3 * count + 1


def _plain_overhead(count: int) -> int:
    # "a  b": two spaces between columns, none at the edges.
    return 2 * max(count - 1, 0)


class FittedTable:
    """A rich table laid out for the width it is drawn in (see the module docstring).

    :param boxed: with borders (``jqueue info``), or plain with columns two spaces apart
        (listings, easy to ``grep`` and ``cut``).
    """

    def __init__(
        self,
        columns: Sequence[FittedColumn],
        *,
        title: str | None = None,
        caption: str | None = None,
        boxed: bool = True,
    ) -> None:
        self.columns = list(columns)
        self.title = title
        self.caption = caption
        self.boxed = boxed

    def layout(self, console: Console, options: ConsoleOptions) -> tuple[Table, Layout]:
        """The rich table for ``options.max_width``, and how the columns were fitted."""
        fitted = choose_layout(
            console, options, self.columns, _boxed_overhead if self.boxed else _plain_overhead
        )
        table = Table(
            title=self.title,
            title_justify="left",
            box=box.HEAVY_HEAD if self.boxed else None,
            show_edge=self.boxed,
            pad_edge=self.boxed,
            header_style="bold",
        )
        for column, header, _cells, width in fitted.columns:
            # Fixed widths: rich then draws exactly what was chosen, folding rather than cutting.
            table.add_column(header, width=width, justify=column.justify, overflow="fold")
        rows = max((len(column.cells) for column in self.columns), default=0)
        for index in range(rows):
            table.add_row(*(cells[index] for _column, _header, cells, _width in fitted.columns))
        dropped = _dropped_note(fitted.dropped) if rows else None
        notes = [note for note in (self.caption, dropped) if note]
        if notes:
            table.caption = "; ".join(notes)
            table.caption_justify = "left"
        return table, fitted

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Lay the table out for the width available now, and draw it."""
        table, _fitted = self.layout(console, options)
        yield table


def _dropped_note(dropped: list[str]) -> str | None:
    if not dropped:
        return None
    return f"hidden at this width: {', '.join(dropped)} (see --json)"
