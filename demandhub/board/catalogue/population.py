"""Resident population per force area, effective-dated (``schemas/reference/force_population.csv``).

:meth:`Populations.at` gives the population in effect for a month (the latest row whose
``effective_from`` is on or before the month's first day), or None for a force without one.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from demandhub.board.maths.months import YearMonth


@dataclass(frozen=True)
class Populations:
    """force -> ((effective_from, population), ...) sorted by date."""

    rows: dict[str, tuple[tuple[date, float], ...]]

    def at(self, force: str, month: YearMonth) -> float | None:
        day = date(month.year, month.month, 1)
        chosen = None
        for start, population in self.rows.get(force, ()):
            if start <= day:
                chosen = population
        return chosen


def parse_populations(text: str) -> Populations:
    """Parse the CSV; ValueError naming the line of a bad or duplicate row."""
    by_force: dict[str, dict[date, float]] = {}
    for line, record in enumerate(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))), start=2):
        try:
            force = str(record["force_id"]).strip()
            start = date.fromisoformat(str(record["effective_from"]).strip())
            population = float(str(record["population"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"force_population.csv line {line}: {exc}") from exc
        if not force or population <= 0:
            raise ValueError(f"force_population.csv line {line}: a force and a positive population")
        if start in by_force.setdefault(force, {}):
            raise ValueError(f"force_population.csv line {line}: {force} {start} given twice")
        by_force[force][start] = population
    return Populations({f: tuple(sorted(rows.items())) for f, rows in by_force.items()})


def load_populations(path: Path | None = None) -> Populations:
    """The populations at ``path`` (default: the reference CSV)."""
    if path is not None:
        return parse_populations(path.read_text(encoding="utf-8"))
    packaged = resources.files("schemas") / "reference" / "force_population.csv"
    return parse_populations(packaged.read_text(encoding="utf-8"))
