"""Long tables printed as Rich prints them, without Rich laying out every row (issue 26).

Rich lays out each cell of a table on its own (measuring, wrapping, padding, cropping): for the 600 rows of
`round status` that was about 0.13 s of CPU, as much as the listing itself. When every cell is one line of plain
text, Rich is asked to draw the title, the header and one blank row with the same column widths, and each row
is written into that blank row's gaps. Anything this cannot be sure to draw exactly as Rich would goes to Rich.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich._emoji_replace import _emoji_replace
from rich.console import Console
from rich.table import Table


def table(columns: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> Table:
    """The Rich table: a title, one column per name, these rows of text."""
    made = Table(title=title)
    for column in columns:
        made.add_column(column)
    for row in rows:
        made.add_row(*row)
    return made


def plain(cell: str) -> bool:
    """Whether Rich prints this cell as it is, on one line: printable ASCII, no markup, no emoji code such as
    :smile:, no space at either end (which Rich's wrapping may drop)."""
    return (
        cell.isascii()
        and cell.isprintable()
        and "[" not in cell
        and cell == cell.strip()
        and (":" not in cell or _emoji_replace(cell) == cell)
    )


def print_table(
    console: Console, columns: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None
) -> None:
    """Print what `console.print(table(columns, rows, title))` prints, faster for long plain tables."""
    if not rows or console.record or console.is_jupyter or console.legacy_windows:
        console.print(table(columns, rows, title))
        return
    if not all(plain(cell) for cell in columns) or not all(plain(cell) for row in rows for cell in row):
        console.print(table(columns, rows, title))
        return
    widths = [max(len(name), *(len(row[i]) for row in rows)) for i, name in enumerate(columns)]
    with console.capture() as captured:
        console.print(table(columns, [[" " * w for w in widths]], title))
    lines = captured.get().split("\n")
    # The blank row is the line above the bottom border (and the trailing newline). Rich drew it with exactly
    # these widths only if the table fits the console: a table that does not is Rich's to shrink and wrap.
    blank = lines[-3] if len(lines) >= 3 else ""
    bar = blank[:1]
    if not bar or blank != bar + bar.join(" " * (w + 2) for w in widths) + bar:
        console.print(table(columns, rows, title))
        return
    drawn = [bar + bar.join(f" {cell.ljust(w)} " for cell, w in zip(row, widths, strict=True)) + bar for row in rows]
    console.file.write("\n".join([*lines[:-3], *drawn, *lines[-2:]]))
    console.file.flush()
