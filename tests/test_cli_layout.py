"""Fitting tables to the terminal (:mod:`jq.cli.layout`), in-process: which columns step aside, in
what order, what moves under what, and that nothing is ever cut."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from jq.cli.layout import FittedColumn, FittedTable


def draw(table: FittedTable, width: int) -> str:
    """``table`` as a terminal ``width`` columns wide shows it, without colours."""
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    return console.file.getvalue()  # type: ignore[attr-defined]


def texts(*values: str) -> list[Text]:
    return [Text(value) for value in values]


def people() -> list[FittedColumn]:
    """Two rows: a name that must stay, a note that may wrap, two optional columns and one that
    moves under the name."""
    return [
        FittedColumn("name", texts("ada-lovelace-1815", "grace-hopper-1906")),
        FittedColumn("note", texts("wrote the first program", "found a moth"), shrink=1, min_width=20),
        FittedColumn("city", texts("London", "New York"), drop=1),
        FittedColumn("born", texts("1815-12-10", "1906-12-09"), drop=2),
        FittedColumn("id", texts("7f9b2c41-0d5e", "-"), drop=3, stack_under="name"),
    ]


def test_everything_fits_on_a_wide_terminal():
    output = draw(FittedTable(people()), 120)
    assert "city" in output and "born" in output and "┃ id" in output
    assert "hidden at this width" not in output and "↳" not in output


def test_optional_columns_step_aside_in_their_order_and_are_named():
    narrow = draw(FittedTable(people()), 75)
    assert "city" not in narrow.split("hidden", 1)[0]
    assert "hidden at this width: city (see --json)" in narrow
    assert "born" in narrow and "┃ id" in narrow
    # Narrower still: born goes, then the id moves under the name.
    narrower = draw(FittedTable(people()), 50)
    assert "name / id" in narrower and "↳ 7f9b2c41-0d5e" in narrower
    assert "hidden at this width: city, born (see --json)" in narrower
    # A blank cell adds no line under its row.
    assert narrower.count("↳") == 1


def test_a_column_dropped_early_comes_back_when_a_later_one_moved_under_another():
    columns = [
        FittedColumn("id", texts("5f1c3e0a-7d1e-4f0e-9c0b-2b8e6f1d9a77")),
        FittedColumn("queue", texts("default"), drop=1),
        FittedColumn("function", texts("app.tasks.a_rather_long_function_name"), drop=2, stack_under="id"),
    ]
    output = draw(FittedTable(columns, boxed=False), 60)
    assert output.splitlines()[0].split() == ["id", "/", "function", "queue"]
    assert "hidden" not in output


def test_nothing_is_ever_cut_even_when_words_must_fold():
    columns = [
        FittedColumn("worker", texts("9d06f39060004cd1b6fd4dc2fd0a3f47"), shrink=2),
        FittedColumn("state", texts("suspended")),
        FittedColumn("queues", texts("high, default, reports-nightly"), shrink=1),
    ]
    for width in (80, 70, 60, 40, 30):
        output = draw(FittedTable(columns), width)
        assert "…" not in output, output
        assert all(len(line) <= width for line in output.splitlines()), output
        # Each column's text, its lines put back together: whole, if folded.
        rows = [line.strip("│").split("│") for line in output.splitlines() if line.startswith("│")]
        worker, state, queues = ("".join("".join(cells[i].split()) for cells in rows) for i in range(3))
        assert worker == "9d06f39060004cd1b6fd4dc2fd0a3f47", output
        assert state == "suspended", output
        assert queues == "high,default,reports-nightly", output
    wrapped = draw(FittedTable(columns), 70)
    # At 70 columns the queue list wraps between names; the name and state stay whole.
    assert any("9d06f39060004cd1b6fd4dc2fd0a3f47" in line for line in wrapped.splitlines())
    assert any("reports-nightly" in line for line in wrapped.splitlines())
