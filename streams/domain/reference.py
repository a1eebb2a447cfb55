"""Reference-data values of an event checked against the force's reference data: pure, no I/O.

The contract marks every field whose value must come from reference data (``x-reference``, see
``schemas/shapes.py``): districts and areas (``schemas/reference/districts.csv``), contact queues and
crime QA queues (``schemas/reference/queues.csv``, where ``*`` means every force), social media
platforms (``schemas/reference/platforms.csv``). A value the force's
reference data does not list is refused (the pipeline dead-letters the event), so a name, an address or
any other free text sent in such a field is never stored and never shown.

A force with no district rows of its own uses the generic geography ``<force>-d1`` .. ``<force>-d9``
in the areas ``<force>-north`` and ``<force>-south`` (the simulator's peer forces). Names compare
case- and spacing-insensitively, as the incident fold's district mapping does.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from schemas.envelope import Envelope
from schemas.events import EVENT_MODELS
from schemas.shapes import reference_fields
from streams.domain.geography import DistrictMap, default_districts, normalise

ANY_FORCE = "*"
GENERIC_DISTRICTS = tuple(f"d{i}" for i in range(1, 10))
GENERIC_AREAS = ("north", "south")
MAX_REMEMBERED = 100_000
"""How many known ``(kind, force, value)`` answers :meth:`ReferenceData.knows` keeps (values spelled
with other case or spacing are other entries, so a hostile source could send many)."""


@dataclass(frozen=True)
class ReferenceData:
    """Every reference value per (force, kind), normalised; ``*`` rows apply to every force."""

    values: dict[tuple[str, str], frozenset[str]]
    forces_with_districts: frozenset[str]
    _known: set[tuple[str, str, str]] = field(default_factory=set, init=False, repr=False, compare=False)
    """``(kind, force, value)`` found known before (bounded: :data:`MAX_REMEMBERED`)."""

    def knows(self, kind: str, force_id: str, value: str) -> bool:
        """Whether ``value`` is a ``kind`` of ``force_id`` in the reference data."""
        asked = (kind, force_id, value)
        if asked in self._known:
            return True
        found = self._knows(kind, force_id, value)
        if found and len(self._known) < MAX_REMEMBERED:
            self._known.add(asked)
        return found

    def _knows(self, kind: str, force_id: str, value: str) -> bool:
        key = normalise(value) if kind in ("district", "area") else value
        if key in self.values.get((ANY_FORCE, kind), frozenset()):
            return True
        if key in self.values.get((force_id, kind), frozenset()):
            return True
        if kind in ("district", "area") and force_id not in self.forces_with_districts:
            generic = GENERIC_DISTRICTS if kind == "district" else GENERIC_AREAS
            return key in {f"{force_id}-{suffix}" for suffix in generic}
        return False

    def knows_anywhere(self, kind: str, value: str, force_id: str | None = None) -> bool:
        """Whether ``value`` is a ``kind`` of any force (or of ``force_id``'s generic geography)."""
        key = normalise(value) if kind in ("district", "area") else value
        if any(key in names for (_force, k), names in self.values.items() if k == kind):
            return True
        return force_id is not None and self.knows(kind, force_id, value)


def parse_queues(text: str) -> dict[tuple[str, str], frozenset[str]]:
    """``force_id,kind,queue`` rows; raises ValueError on an unknown kind or an empty cell."""
    found: dict[tuple[str, str], set[str]] = {}
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        force, kind, queue = (str(row.get(k) or "").strip() for k in ("force_id", "kind", "queue"))
        if not (force and kind and queue):
            raise ValueError(f"line {line}: force_id, kind and queue are required")
        if kind not in ("queue", "qa_queue"):
            raise ValueError(f"line {line}: unknown kind {kind!r}")
        found.setdefault((force, kind), set()).add(queue)
    return {k: frozenset(v) for k, v in found.items()}


def parse_platforms(text: str) -> dict[tuple[str, str], frozenset[str]]:
    """``force_id,platform[,name]`` rows as ``(force, "platform")`` values; raises ValueError on an
    empty cell."""
    found: dict[tuple[str, str], set[str]] = {}
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        force, platform = (str(row.get(k) or "").strip() for k in ("force_id", "platform"))
        if not (force and platform):
            raise ValueError(f"line {line}: force_id and platform are required")
        found.setdefault((force, "platform"), set()).add(platform)
    return {k: frozenset(v) for k, v in found.items()}


def build(districts: DistrictMap, queues: dict[tuple[str, str], frozenset[str]]) -> ReferenceData:
    values: dict[tuple[str, str], set[str]] = {}
    for period in districts.periods:
        values.setdefault((period.force_id, "district"), set()).add(normalise(period.district))
        values.setdefault((period.force_id, "area"), set()).add(normalise(period.area))
    for key, names in queues.items():
        values.setdefault(key, set()).update(names)
    return ReferenceData(
        {k: frozenset(v) for k, v in values.items()},
        frozenset(p.force_id for p in districts.periods),
    )


@cache
def default_reference() -> ReferenceData:
    """The bundled reference data (read once per process)."""
    folder = resources.files("schemas").joinpath("reference")
    text = folder.joinpath("queues.csv").read_text(encoding="utf-8")
    platforms = parse_platforms(folder.joinpath("platforms.csv").read_text(encoding="utf-8"))
    return build(default_districts(), parse_queues(text) | platforms)


@cache
def _paths(event_type: str) -> tuple[tuple[tuple[str, ...], str], ...]:
    return tuple((tuple(path.split(".")), kind) for path, kind in reference_fields(EVENT_MODELS[event_type]))


def _value(obj: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def reference_problem(event: Envelope, reference: ReferenceData | None = None) -> tuple[str, str] | None:
    """``(reason class, reason)`` for the first reference-data value of ``event`` its force's reference
    data does not list, else None. The reason names the field and the force, never the value."""
    data = reference or default_reference()
    for path, kind in _paths(event.type):
        value = _value(event, path)
        if value is None:
            continue
        if not data.knows(kind, event.force_id, str(value)):
            where = ".".join(path)
            return (
                "unknown_reference",
                f"{event.type}: {where}: not a {kind} of the event's force in the reference data",
            )
    return None
