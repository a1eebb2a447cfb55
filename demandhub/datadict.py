"""The analysts' data dictionary, generated from the warehouse the migrations built.

Contract: :func:`data_dictionary_markdown` reads ``system.tables`` and ``system.columns`` of the
current database (so it documents exactly what the migrations created) and returns Markdown: every
table and view with its COMMENT, every column with its type and meaning. A column's meaning is its
own COMMENT; a view column without one takes the comment of the same-named column of a table or
view it reads (named), else the expression that computes it. Nothing is written to the warehouse.

Run ``python -m demandhub.datadict [OUTPUT]`` to build a throw-away embedded warehouse with the
migrations and write the dictionary (default ``docs/DATA_DICTIONARY.md``).
"""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sinks.clickhouse import admin_sql
from sinks.clickhouse.client import Warehouse

_VIEW_ENGINES = ("View", "MaterializedView")
_ALIAS = re.compile(r"^(?P<expr>.+)\s+AS\s+`?(?P<name>[A-Za-z_][A-Za-z0-9_]*)`?$", re.DOTALL)


@dataclass
class Column:
    name: str
    type: str
    comment: str
    meaning: str = ""


@dataclass
class Relation:
    name: str
    engine: str
    comment: str
    select: str
    columns: list[Column] = field(default_factory=list)

    @property
    def is_view(self) -> bool:
        return self.engine in _VIEW_ENGINES


def select_list(select: str) -> list[str]:
    """The items of the outermost SELECT list of ``select`` (as ClickHouse prints ``as_select``)."""
    text = select.strip()
    match = re.match(r"^\s*(WITH\b.*?\bSELECT|SELECT)\s+(DISTINCT\s+)?", text, re.IGNORECASE | re.DOTALL)
    if not match:
        return []
    items, depth, quote, start, i = [], 0, "", match.end(), match.end()
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'`\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch == ",":
            items.append(text[start:i].strip())
            start = i + 1
        elif depth == 0 and re.match(r"\sFROM\s", text[i : i + 6], re.IGNORECASE):
            break
        i += 1
    items.append(text[start:i].strip())
    return [item for item in items if item]


def _expressions(select: str) -> dict[str, str]:
    """Computed view columns: name -> the expression after which it is named."""
    found = {}
    for item in select_list(select):
        match = _ALIAS.match(item)
        if match and match.group("expr").strip() != match.group("name"):
            found[match.group("name")] = " ".join(match.group("expr").split())
    return found


def _sources(relation: Relation, names: set[str]) -> list[str]:
    """Tables and views named in a view's query, in the order they first appear."""
    words = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", relation.select)
    seen: list[str] = []
    for word in words:
        if word in names and word != relation.name and word not in seen:
            seen.append(word)
    return seen


def _resolve(relations: dict[str, Relation]) -> None:
    """Fill every column's meaning (own comment, inherited comment, or computing expression)."""
    names = set(relations)
    for rel in relations.values():
        for col in rel.columns:
            col.meaning = col.comment
    for _ in range(len(relations)):  # views over views: repeat until nothing changes
        changed = False
        for rel in (r for r in relations.values() if r.is_view):
            exprs = _expressions(rel.select)
            sources = _sources(rel, names)
            for col in (c for c in rel.columns if not c.meaning):
                col.meaning = _inherited(col.name, sources, relations, exprs)
                changed = changed or bool(col.meaning)
        if not changed:
            break


_AGGREGATE = re.compile(r"^(?P<fn>sum|max|min|any|anyLast|sumForEach)\((?P<arg>[A-Za-z_][A-Za-z0-9_]*)\)$")
_AGGREGATE_WORDS = {"sum": "Sum of", "sumForEach": "Element-wise sum of", "max": "Largest", "min": "Smallest"}
_PERIODS = {
    "month": "Local calendar month (its first day) in the active timezone (definitions.timezone)",
    "day": "Local day in the active timezone (definitions.timezone)",
    "hour": "Start of the hour",
    "bucket": "Start of the 15-minute bucket (UTC)",
}


def _own(col: Column) -> str:
    """A column's meaning without the 'as in' note (for passing it on)."""
    return col.meaning.split(" (as in `")[0]


def _lookup(name: str, sources: list[str], relations: dict[str, Relation]) -> tuple[str, str] | None:
    for source in sources:
        for col in relations[source].columns:
            if col.name == name and col.meaning and not col.meaning.startswith("Computed"):
                origin = re.search(r"\(as in `([^`]+)`\)$", col.meaning)
                return _own(col), origin.group(1) if origin else source
    return None


def _inherited(name: str, sources: list[str], relations: dict[str, Relation], exprs: dict[str, str]) -> str:
    expr = exprs.get(name)
    aggregate = _AGGREGATE.match(expr) if expr else None
    if aggregate:
        found = _lookup(aggregate.group("arg"), sources, relations)
        if found:
            word = _AGGREGATE_WORDS.get(aggregate.group("fn"), aggregate.group("fn"))
            return f"{word}: {found[0][0].lower()}{found[0][1:]} (as in `{found[1]}`)"
    if expr:
        return f"Computed: `{expr}`"
    found = _lookup(name, sources, relations)
    if found:
        return f"{found[0]} (as in `{found[1]}`)"
    return _PERIODS.get(name, "")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "—"


def _relation_markdown(rel: Relation) -> list[str]:
    kind = "view" if rel.is_view else f"table, {rel.engine}"
    lines = [
        f'<a id="{rel.name}"></a>',
        "",
        f"### `{rel.name}` ({kind})",
        "",
        _cell(rel.comment) if rel.comment else "_No description._",
        "",
    ]
    lines += ["| Column | Type | Meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | `{_cell(c.type)}` | {_cell(c.meaning)} |" for c in rel.columns]
    return [*lines, ""]


def read_relations(wh: Warehouse) -> dict[str, Relation]:
    """Every table and view of the current database with its columns."""
    relations = {
        name: Relation(name, engine, comment or "", select or "")
        for name, engine, comment, select in admin_sql.relation_rows(wh)
    }
    for table, name, ctype, comment in admin_sql.column_rows(wh):
        if table in relations:
            relations[table].columns.append(Column(name, ctype, comment or ""))
    _resolve(relations)
    return relations


def data_dictionary_markdown(wh: Warehouse) -> str:
    """The data dictionary of the warehouse ``wh`` as Markdown (see the module contract)."""
    relations = read_relations(wh)
    tables = [r for r in relations.values() if not r.is_view]
    views = [r for r in relations.values() if r.is_view]
    lines = [
        "# Data dictionary",
        "",
        "Generated from the warehouse migrations (`sinks/clickhouse/migrations/`) by "
        "`python -m demandhub.datadict`; do not edit by hand. Times are UTC unless a column says "
        "otherwise; days and months in views are local to the timezone of the worker's active "
        "definitions (`applied_definitions_active`; Europe/London by default). Tables with a `version` "
        "column are deduplicated on read: query them with `FINAL`, or use the views.",
        "",
        f"{len(views)} views and {len(tables)} tables. Start with the views: they apply the board's "
        "definitions. See [ANALYSTS.md](ANALYSTS.md) for how to query and worked examples.",
        "",
        "## Views",
        "",
        *[f"- [`{r.name}`](#{r.name}) — {_cell(r.comment)}" for r in views],
        "",
        "## Tables",
        "",
        *[f"- [`{r.name}`](#{r.name}) — {_cell(r.comment)}" for r in tables],
        "",
        "## Views in detail",
        "",
    ]
    for rel in views:
        lines += _relation_markdown(rel)
    lines += ["## Tables in detail", ""]
    for rel in tables:
        lines += _relation_markdown(rel)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the dictionary of a fresh embedded warehouse built by the migrations."""
    from sinks.clickhouse.client import connect
    from sinks.clickhouse.migrate import migrate

    args = sys.argv[1:] if argv is None else argv
    output = Path(args[0]) if args else Path("docs/DATA_DICTIONARY.md")
    with tempfile.TemporaryDirectory(prefix="demandhub-datadict-") as folder:
        wh = connect(f"chdb://{folder}")
        try:
            migrate(wh)
            text = data_dictionary_markdown(wh)
        finally:
            wh.close()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
