"""Home Office offence codes -> board crime groups, and Home Office outcome types (reference data).

The mapping is data kept in the repository: ``schemas/reference/offence_groups.csv`` (effective-dated:
a code may map to a group only for a period) and ``schemas/reference/outcome_types.csv``. Both are read
once per process, on first use, and never change afterwards, so the functions here are pure functions
of their arguments.

Contract:
- :func:`classify` never raises for a well-formed code: a code with no mapping row valid on the given
  date gives group :data:`UNCLASSIFIED` and ``known=False``. Callers count such crimes (they stay in
  "all crime") and report them; they are never dropped.
- The date is the local calendar date of the event that applied the code (recorded or reclassified),
  so a code retired by the Home Office still classifies crimes recorded while it was in force.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from itertools import pairwise

GROUPS: tuple[str, ...] = (
    "homicide",
    "violence_with_injury",
    "violence_without_injury",
    "stalking_harassment",
    "serious_sexual",
    "other_sexual",
    "robbery",
    "burglary_dwelling",
    "burglary_business",
    "vehicle",
    "theft_from_person",
    "pedal_cycle_theft",
    "shoplifting",
    "theft",
    "criminal_damage",
    "drugs",
    "possession_of_weapons",
    "public_order",
    "other",
)
"""Every offence group a code can map to (the board's groups plus the driver-analysis groups)."""

UNCLASSIFIED = "unclassified"
"""Group of a crime whose code has no mapping on its date (or has no code yet)."""

FLAGS: tuple[str, ...] = ("domestic_abuse", "hate", "cyber", "rural", "modern_slavery")
"""Home Office crime flags carried by a crime (hate also has strands)."""


@dataclass(frozen=True)
class OffenceMapping:
    """One row of the mapping: ``code`` is in ``group`` on dates in [effective_from, effective_to)."""

    code: str
    description: str
    group: str
    effective_from: date | None
    effective_to: date | None
    discontinuity: str = ""

    def covers(self, on: date) -> bool:
        """Whether this row applies on local date ``on``."""
        if self.effective_from is not None and on < self.effective_from:
            return False
        return self.effective_to is None or on < self.effective_to


@dataclass(frozen=True)
class Classification:
    """The result of classifying one code on one date."""

    code: str
    group: str
    known: bool


@dataclass(frozen=True)
class OutcomeType:
    number: int
    name: str
    prosecution_possible_default: bool
    home_office_group: str = ""
    """The outcome group of the Home Office bulletin "Crime outcomes in England and Wales"."""


def _reference_text(name: str) -> str:
    return (resources.files("schemas") / "reference" / name).read_text(encoding="utf-8")


def _rows(text: str) -> list[dict[str, str]]:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def _date_or_none(text: str) -> date | None:
    return date.fromisoformat(text) if text.strip() else None


def parse_offence_groups(text: str) -> dict[str, tuple[OffenceMapping, ...]]:
    """Parse the mapping CSV text; raises ValueError on an unknown group or overlapping periods."""
    found: dict[str, list[OffenceMapping]] = {}
    for row in _rows(text):
        mapping = OffenceMapping(
            code=row["offence_code"].strip(),
            description=row["description"].strip(),
            group=row["offence_group"].strip(),
            effective_from=_date_or_none(row["effective_from"]),
            effective_to=_date_or_none(row["effective_to"]),
            discontinuity=(row.get("discontinuity") or "").strip(),
        )
        if mapping.discontinuity and mapping.effective_from is None:
            raise ValueError(f"offence code {mapping.code}: a discontinuity needs an effective_from")
        if mapping.group not in GROUPS:
            raise ValueError(f"offence code {mapping.code}: unknown group {mapping.group!r}")
        found.setdefault(mapping.code, []).append(mapping)
    for code, rows in found.items():
        _check_no_overlap(code, rows)
    return {code: tuple(rows) for code, rows in found.items()}


def _check_no_overlap(code: str, rows: list[OffenceMapping]) -> None:
    ordered = sorted(rows, key=lambda r: r.effective_from or date.min)
    for earlier, later in pairwise(ordered):
        end = earlier.effective_to or date.max
        if (later.effective_from or date.min) < end:
            raise ValueError(f"offence code {code}: overlapping effective periods")


def parse_outcome_types(text: str) -> dict[int, OutcomeType]:
    """Parse the outcome types CSV text."""
    out: dict[int, OutcomeType] = {}
    for row in _rows(text):
        number = int(row["outcome_type"])
        out[number] = OutcomeType(
            number,
            row["name"].strip(),
            row["prosecution_possible_default"] == "1",
            (row.get("home_office_group") or "").strip(),
        )
    return out


@cache
def offence_groups() -> dict[str, tuple[OffenceMapping, ...]]:
    """The repository's offence mapping, keyed by code (read once)."""
    return parse_offence_groups(_reference_text("offence_groups.csv"))


@dataclass(frozen=True)
class Discontinuity:
    """A definitional break of an offence group: figures of ``group`` before ``starts`` (a local
    date, the first day under the new definition) are not like for like with those after it."""

    group: str
    starts: date
    note: str


def discontinuities_of(mapping: dict[str, tuple[OffenceMapping, ...]]) -> tuple[Discontinuity, ...]:
    """The breaks marked in ``mapping`` (rows with a ``discontinuity``), one per group and date,
    ordered by group and date."""
    found: dict[tuple[str, date], str] = {}
    for rows in mapping.values():
        for row in rows:
            if row.discontinuity and row.effective_from is not None:
                found.setdefault((row.group, row.effective_from), row.discontinuity)
    return tuple(Discontinuity(g, d, note) for (g, d), note in sorted(found.items()))


@cache
def discontinuities() -> tuple[Discontinuity, ...]:
    """The definitional breaks of the repository's offence mapping (read once)."""
    return discontinuities_of(offence_groups())


@cache
def outcome_types() -> dict[int, OutcomeType]:
    """The Home Office outcome types 1-22 keyed by number (read once)."""
    return parse_outcome_types(_reference_text("outcome_types.csv"))


def classify(code: str, on: date) -> Classification:
    """The group of offence ``code`` on local date ``on`` (:data:`UNCLASSIFIED` when unmapped)."""
    for mapping in offence_groups().get(code.strip().upper(), ()):
        if mapping.covers(on):
            return Classification(code, mapping.group, True)
    return Classification(code, UNCLASSIFIED, False)


def is_conditional_subtype(subtype: str | None) -> bool:
    """A disposal subtype naming a conditional caution (``conditional``, ``conditional_cara``, ...)."""
    return subtype is not None and subtype.startswith("conditional")
