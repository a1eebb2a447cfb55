"""Force -> area -> district as effective-dated reference data (DOMAIN 2), pure.

``schemas/reference/districts.csv`` holds ``force_id,district,area,valid_from,valid_to`` (dates
inclusive from, exclusive to; an empty ``valid_to`` is open-ended). The mapping is an assumption
(North is inferred by elimination), so it is kept as data and earlier history is restated through it:
the area of an incident is the mapping's area for its district on its creation date, not the area the
source system sent. :func:`parse_districts` needs no I/O; :func:`default_districts` reads the bundled
file once.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class DistrictPeriod:
    force_id: str
    district: str
    area: str
    valid_from: date
    valid_to: date | None

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


def normalise(name: str) -> str:
    """Case- and spacing-insensitive key of a district name."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True)
class DistrictMap:
    """Effective-dated district -> area mapping per force."""

    periods: tuple[DistrictPeriod, ...]

    def lookup(self, force_id: str, district: str, day: date) -> DistrictPeriod | None:
        """The period that maps ``district`` of ``force_id`` on ``day``; None if unmapped."""
        key = normalise(district)
        for period in self.periods:
            if period.force_id == force_id and normalise(period.district) == key and period.covers(day):
                return period
        return None

    def districts(self, force_id: str, day: date) -> dict[str, str]:
        """Every district of ``force_id`` valid on ``day`` with its area."""
        return {p.district: p.area for p in self.periods if p.force_id == force_id and p.covers(day)}


def _date(text: str, line: int, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"line {line}: bad {what} {text!r}") from exc


def _overlap(a: DistrictPeriod, b: DistrictPeriod) -> bool:
    a_end, b_end = a.valid_to or date.max, b.valid_to or date.max
    return a.valid_from < b_end and b.valid_from < a_end


def parse_districts(text: str) -> DistrictMap:
    """Parse the CSV text; raises ValueError on bad dates, empty names or overlapping periods."""
    periods: list[DistrictPeriod] = []
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        force, district, area = (row.get(k, "").strip() for k in ("force_id", "district", "area"))
        if not (force and district and area):
            raise ValueError(f"line {line}: force_id, district and area are required")
        to_text = (row.get("valid_to") or "").strip()
        period = DistrictPeriod(
            force,
            district,
            area,
            _date(row.get("valid_from") or "", line, "valid_from"),
            _date(to_text, line, "valid_to") if to_text else None,
        )
        if period.valid_to is not None and period.valid_to <= period.valid_from:
            raise ValueError(f"line {line}: valid_to must be after valid_from")
        for other in periods:
            same = other.force_id == force and normalise(other.district) == normalise(district)
            if same and _overlap(other, period):
                raise ValueError(f"line {line}: {district} has overlapping periods")
        periods.append(period)
    return DistrictMap(tuple(periods))


@cache
def default_districts() -> DistrictMap:
    """The bundled mapping (read once per process)."""
    path = resources.files("schemas").joinpath("reference/districts.csv")
    return parse_districts(path.read_text(encoding="utf-8"))
