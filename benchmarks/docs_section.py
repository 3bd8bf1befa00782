"""Rewrite one marked section of docs/benchmarks.md with a benchmark's latest run."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def replace_section(name: str, lines: list[str], *, heading: str | None = None, intro: str = "") -> None:
    """Put ``lines`` between ``<!-- name:start -->`` and ``<!-- name:end -->`` in docs/benchmarks.md.

    A file or a section that is not there yet is created: the markers go at the end, under
    ``## heading`` and ``intro`` when given.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if start not in text:
        title = f"## {heading}\n\n" if heading else ""
        lead = f"{intro}\n" if intro else ""
        text = text.rstrip("\n") + f"\n\n{title}{lead}{start}\n{end}\n"
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    DOCS.write_text(before + "\n".join([start, "", *lines, "", end]) + after)
