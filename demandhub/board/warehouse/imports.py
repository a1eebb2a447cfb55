"""Import monthly figures that cannot come from events (surveys, peer forces' data) from CSV.

File format (UTF-8, header row required, columns in any order)::

    force_id,measure_id,month,numerator,n,source,as_of
    cambs,victim_satisfaction_overall,2019-01,412,520,victim_survey,2019-04-10

* ``month`` is ``YYYY-MM``; ``as_of`` is ``YYYY-MM-DD`` (or ``YYYY-MM``, read as the 1st) and may not
  be before the month;
* ``measure_id`` must be in the catalogue; for a percent or minutes measure ``n`` is required and
  positive, and for a percent ``numerator <= n``; for a count, and for a level (``numerator`` is
  the level at the month's snapshot: a headcount, or hours in the month), ``n`` must be empty; for a
  days-per-person level (sickness) ``numerator`` is the days lost and ``n`` the people (required);
* ``as_of`` is when the supplier's figure was current: an imported row's as-of month in a pack is
  the latest month whose ``as_of`` falls on or before the pack month's last day (see
  :func:`demandhub.board.warehouse.source.imported_as_of`), so each file sets its own lag;
* a file with any invalid row is refused whole (every problem is listed with its line number), and
  a (force_id, measure_id, month, source) given twice in one file is an error.

Importing is idempotent: ``imported_monthly`` is a ReplacingMergeTree keyed by (force_id,
measure_id, month, source), so importing the same file again leaves the same figures. Of two
figures for one key the one with the later ``as_of`` stands, whatever order the files came in (an
earlier vintage imported late does not replace a newer one); a corrected file with the same
``as_of`` replaces the earlier import. A month with no row is null.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from demandhub.board.catalogue.measures import PER_PERSON, Catalogue
from demandhub.board.maths.months import YearMonth
from schemas.envelope import FORCE_ID_PATTERN
from sinks.clickhouse import board_sql
from sinks.clickhouse.client import Warehouse

COLUMNS: tuple[str, ...] = ("force_id", "measure_id", "month", "numerator", "n", "source", "as_of")


class CsvImportError(ValueError):
    """The file was refused; ``problems`` lists each reason with its line number."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class ImportRow(BaseModel):
    """One validated CSV row."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    force_id: str = Field(pattern=FORCE_ID_PATTERN)
    measure_id: str = Field(min_length=1)
    month: date
    numerator: float
    n: float | None
    source: str = Field(pattern=r"^[a-z][a-z0-9._-]{0,63}$")
    as_of: date

    @field_validator("month", mode="before")
    @classmethod
    def _month(cls, value: Any) -> date:
        ym = YearMonth.from_str(str(value))
        return date(ym.year, ym.month, 1)

    @field_validator("as_of", mode="before")
    @classmethod
    def _as_of(cls, value: Any) -> date:
        text = str(value).strip()
        if len(text) == 7:
            text += "-01"
        return date.fromisoformat(text)

    @field_validator("n", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check(self) -> ImportRow:
        if not math.isfinite(self.numerator) or self.numerator < 0:
            raise ValueError("numerator must be a finite number >= 0")
        if self.n is not None and (not math.isfinite(self.n) or self.n <= 0):
            raise ValueError("n must be a finite number > 0 when given")
        if self.as_of < self.month:
            raise ValueError("as_of is before the month it reports")
        return self


@dataclass(frozen=True)
class ImportReport:
    rows: int
    forces: tuple[str, ...]
    measures: tuple[str, ...]
    months: tuple[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "forces": list(self.forces),
            "measures": list(self.measures),
            "from": self.months[0],
            "to": self.months[1],
        }


def _unit_problem(row: ImportRow, catalogue: Catalogue) -> str | None:
    measure = catalogue.by_id().get(row.measure_id)
    if measure is None:
        return f"unknown measure_id {row.measure_id!r}"
    unit = measure.spec.unit
    if measure.quantity in PER_PERSON:
        return None if row.n is not None else f"n (people) is required for a {measure.quantity} measure"
    if unit in ("count", "level"):
        return None if row.n is None else f"n must be empty for a {unit} measure"
    if row.n is None:
        return f"n is required for a {unit} measure"
    if unit == "percent" and row.numerator > row.n:
        return "numerator is larger than n for a percent measure"
    return None


def _validate_line(line: int, record: dict[str, Any], catalogue: Catalogue) -> ImportRow | str:
    try:
        row = ImportRow.model_validate({c: record.get(c) for c in COLUMNS})
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors())
        return f"line {line}: {reasons}"
    except ValueError as exc:
        return f"line {line}: {exc}"
    problem = _unit_problem(row, catalogue)
    return f"line {line}: {problem}" if problem else row


def parse_csv(text: str, catalogue: Catalogue) -> list[ImportRow]:
    """Validate a whole file; raise :class:`CsvImportError` listing every problem."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise CsvImportError([f"missing columns: {', '.join(missing)}"])
    rows: list[ImportRow] = []
    problems: list[str] = []
    seen: dict[tuple[str, str, date, str], int] = {}
    for line, record in enumerate(reader, start=2):
        result = _validate_line(line, record, catalogue)
        if isinstance(result, str):
            problems.append(result)
            continue
        key = (result.force_id, result.measure_id, result.month, result.source)
        if key in seen:
            problems.append(f"line {line}: same force, measure, month and source as line {seen[key]}")
            continue
        seen[key] = line
        rows.append(result)
    if problems:
        raise CsvImportError(problems)
    if not rows:
        raise CsvImportError(["the file holds no rows"])
    return rows


_VERSION_BASE = 2 * 10**18
"""Above every version written before versions followed ``as_of`` (import nanoseconds, < 2e18 until 2033)."""


def row_version(as_of: date, import_ms: int) -> int:
    """The ReplacingMergeTree version of an imported row: the supplier's ``as_of`` first, the import
    time (milliseconds) second, so the latest vintage of a figure wins whatever the import order,
    and a re-import of the same vintage (a correction) replaces it."""
    return _VERSION_BASE + (as_of - date(1970, 1, 1)).days * 10**13 + import_ms % 10**13


def write_rows(wh: Warehouse, rows: Iterable[ImportRow], now: datetime | None = None) -> int:
    """Insert validated rows into ``imported_monthly``; returns the count. Each row's version
    follows its ``as_of`` then the import time (:func:`row_version`)."""
    stamp = now or datetime.now(UTC)
    import_ms = time.time_ns() // 10**6
    data = [
        [
            r.force_id,
            r.measure_id,
            r.month,
            r.numerator,
            r.n,
            r.source,
            r.as_of,
            stamp,
            row_version(r.as_of, import_ms),
        ]
        for r in rows
    ]
    board_sql.insert_imported(wh, data)
    return len(data)


def import_csv(wh: Warehouse, text: str, catalogue: Catalogue) -> ImportReport:
    """Validate ``text`` and write it (nothing is written if any row is invalid)."""
    rows = parse_csv(text, catalogue)
    write_rows(wh, rows)
    months = sorted(r.month for r in rows)
    return ImportReport(
        rows=len(rows),
        forces=tuple(sorted({r.force_id for r in rows})),
        measures=tuple(sorted({r.measure_id for r in rows})),
        months=(months[0].strftime("%Y-%m"), months[-1].strftime("%Y-%m")),
    )
