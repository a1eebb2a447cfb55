"""Rows as text for the terminal: an aligned table, JSON or CSV (``demandhub sql``, ``board channels``).

Imports nothing heavy at module level (rich only when a table is printed), so commands that print
rows start fast.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from demandhub.jsonable import to_jsonable


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> str:
    """``rows`` under ``columns`` as ``fmt`` (``table``, ``json`` or ``csv``), values verbatim."""
    if fmt == "json":
        return json.dumps([dict(zip(columns, to_jsonable(list(r)), strict=True)) for r in rows], indent=1)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(columns)
        writer.writerows(to_jsonable(list(r)) for r in rows)
        return buf.getvalue().rstrip("\n")
    from rich.console import Console
    from rich.table import Column, Table
    from rich.text import Text

    # Cells and headers are Text, never markup: a value such as "[a-z]" or "[/bold]" is data.
    table = Table(*(Column(header=Text(str(c))) for c in columns), show_lines=False)
    for r in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in to_jsonable(list(r))))
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, markup=False, emoji=False, highlight=False)
    console.print(table)
    return out.getvalue().rstrip("\n")
