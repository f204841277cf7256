"""Printing what commands return: a table for people, JSON for scripts."""

from __future__ import annotations

import json
import sys
from typing import Sequence


def print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def print_table(rows: Sequence[dict], columns: Sequence[str], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=None, header_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column.upper(), overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    # A terminal's width folds long cells; in a pipe or a log (rich would assume 80 columns)
    # each row stays whole on one line, for grep and for people reading CI logs.
    width = None if sys.stdout.isatty() else 10_000
    Console(soft_wrap=True, width=width).print(table)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
