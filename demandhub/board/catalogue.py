"""The measure catalogue (``measures.toml``): what each dashboard row is and where it comes from.

:func:`load_catalogue` reads and validates the catalogue: every id unique, every event-derived
measure names a domain module (``contacts``, ``incidents``, ``crimes``) and the event entities whose
watermark decides completeness, every imported measure names its import sources, and every dotted
definition name resolves to a setting of :class:`~schemas.definitions.Definitions`. A
:class:`CatalogueMeasure` carries the pure :class:`~streams.domain.board.dashboard.MeasureSpec` used
by the board maths plus the catalogue's own fields.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from schemas.definitions import Definitions
from schemas.topics import TOPICS
from streams.domain.board.dashboard import MeasureSpec

DOMAIN_MODULES: tuple[str, ...] = ("contacts", "incidents", "crimes")
QUANTITIES: tuple[str, ...] = ("headcount", "hours", "days_per_person")
"""What a ``level`` measure's monthly figure is when it is not a queue depth: a plain headcount
(Specials or PSV establishment), hours in the month (Specials' duty hours), or days lost per person
(sickness: ``numerator`` days lost over ``n`` people, a rate per establishment). Each is one
observation per month, so the level tests apply (Welch's t on the monthly values, or one month
against a prediction interval of the reference months); never the Poisson test of a count."""
PER_PERSON: tuple[str, ...] = ("days_per_person",)
"""Quantities imported as ``numerator`` over ``n`` (the month's value is their ratio)."""
QUANTITY_DECIMALS: dict[str, int] = {"days_per_person": 2}
"""Decimal places a level measure's figures print with, by quantity (others: whole numbers). Days
lost per person are usually under a few days a month, so 0.84 must not print as 1."""
THEMES: tuple[str, ...] = ("Victims", "Offenders", "Communities", "Transformation")
Source = Literal["events", "imported"]


class CatalogueError(ValueError):
    """The catalogue file is malformed or inconsistent."""


@dataclass(frozen=True)
class CatalogueMeasure:
    """One catalogue entry: the pure spec plus where the figures come from."""

    spec: MeasureSpec
    source: Source
    query: str
    definitions: tuple[str, ...] = ()
    module: str | None = None
    entities: tuple[str, ...] = ()
    settling: str | None = None
    import_sources: tuple[str, ...] = ()
    quantity: str | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    def definition_values(self, definitions: Definitions) -> dict[str, Any]:
        """The current value of every definition setting this measure depends on."""
        return {name: resolve_setting(definitions.as_dict(), name) for name in self.definitions}

    def as_dict(self) -> dict[str, Any]:
        """The catalogue fields as plain data (printed in the pack's definitions)."""
        return {
            "source": self.source,
            "query": self.query,
            "module": self.module,
            "definitions": list(self.definitions),
            "entities": list(self.entities),
            "settling": self.settling,
            "import_sources": list(self.import_sources),
            "quantity": self.quantity,
            "as_of": "from the import file" if self.source == "imported" else "pack month - lag",
            "as_of_lag_months": self.spec.as_of_lag_months,
            "theme": self.spec.theme,
            "polarity": self.spec.polarity,
        }


@dataclass(frozen=True)
class Catalogue:
    """The whole catalogue, in file order."""

    catalogue_id: str
    version: str
    themes: tuple[str, ...]
    measures: tuple[CatalogueMeasure, ...]
    digest: str

    def by_id(self) -> dict[str, CatalogueMeasure]:
        return {m.id: m for m in self.measures}

    def specs(self) -> list[MeasureSpec]:
        """Measure specs ordered by theme (the board's order), then catalogue order."""
        order = {t: i for i, t in enumerate(self.themes)}
        ranked = sorted(enumerate(self.measures), key=lambda p: (order[p[1].spec.theme], p[0]))
        return [m.spec for _, m in ranked]

    def event_ids(self, module: str | None = None) -> list[str]:
        """Event-derived ids (of one domain module when given)."""
        return [
            m.id for m in self.measures if m.source == "events" and (module is None or m.module == module)
        ]

    def imported_ids(self) -> list[str]:
        return [m.id for m in self.measures if m.source == "imported"]

    def as_dict(self) -> dict[str, Any]:
        return {"catalogue_id": self.catalogue_id, "version": self.version, "sha256": self.digest}


def resolve_setting(data: dict[str, Any], dotted: str) -> Any:
    """``data["calls"]["abandon_convention"]`` for ``"calls.abandon_convention"``; KeyError if absent."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def default_path() -> Path:
    return Path(str(resources.files("demandhub.board") / "measures.toml"))


def _str_tuple(entry: dict[str, Any], key: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogueError(f"{entry.get('id')}: {key} must be a list of strings")
    return tuple(value)


def _measure(entry: dict[str, Any], themes: tuple[str, ...], known: dict[str, Any]) -> CatalogueMeasure:
    mid = entry.get("id")
    try:
        spec = MeasureSpec(
            id=str(mid),
            name=str(entry["name"]),
            unit=entry["unit"],
            polarity=entry["polarity"],
            theme=entry["theme"],
            as_of_lag_months=int(entry.get("as_of_lag_months", 0)),
            noun=entry.get("noun"),
            decimals=QUANTITY_DECIMALS.get(str(entry.get("quantity")), 0)
            if entry.get("unit") == "level"
            else 0,
        )
    except (KeyError, ValueError) as exc:
        raise CatalogueError(f"measure {mid}: {exc}") from exc
    if spec.theme not in themes:
        raise CatalogueError(f"{mid}: unknown theme {spec.theme!r}")
    measure = CatalogueMeasure(
        spec=spec,
        source=entry.get("source"),  # type: ignore[arg-type]
        query=str(entry.get("query", "")),
        definitions=_str_tuple(entry, "definitions"),
        module=entry.get("module"),
        entities=_str_tuple(entry, "entities"),
        settling=entry.get("settling"),
        import_sources=_str_tuple(entry, "import_sources"),
        quantity=entry.get("quantity"),
    )
    _check(measure, known)
    return measure


def _check(m: CatalogueMeasure, known: dict[str, Any]) -> None:
    if m.source == "events":
        if m.module not in DOMAIN_MODULES:
            raise CatalogueError(f"{m.id}: module must be one of {DOMAIN_MODULES}")
        if not m.entities or any(e not in TOPICS for e in m.entities):
            raise CatalogueError(f"{m.id}: entities must be event entities {sorted(TOPICS)}")
        if not m.settling:
            raise CatalogueError(f"{m.id}: settling is required for event-derived measures")
    elif m.source == "imported":
        if not m.import_sources:
            raise CatalogueError(f"{m.id}: import_sources is required for imported measures")
    else:
        raise CatalogueError(f"{m.id}: source must be 'events' or 'imported'")
    if m.quantity is not None and (m.quantity not in QUANTITIES or m.spec.unit != "level"):
        raise CatalogueError(f"{m.id}: quantity must be one of {QUANTITIES}, on a level measure")
    if not m.query:
        raise CatalogueError(f"{m.id}: query is required")
    for name in m.definitions:
        try:
            resolve_setting(known, name)
        except KeyError:
            raise CatalogueError(f"{m.id}: unknown definition setting {name!r}") from None


def parse_catalogue(text: str) -> Catalogue:
    """Parse and validate catalogue TOML text (see the module docstring)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"measures.toml: {exc}") from exc
    themes = tuple(data.get("themes", THEMES))
    known = Definitions().as_dict()
    measures = tuple(_measure(entry, themes, known) for entry in data.get("measure", []))
    ids = [m.id for m in measures]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CatalogueError(f"duplicate measure ids: {duplicates}")
    if not measures:
        raise CatalogueError("the catalogue holds no measures")
    return Catalogue(
        catalogue_id=str(data.get("catalogue_id", "measures")),
        version=str(data.get("version", "0")),
        themes=themes,
        measures=measures,
        digest=hashlib.sha256(text.encode()).hexdigest(),
    )


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The catalogue at ``path`` (default: the packaged ``measures.toml``)."""
    return parse_catalogue((path or default_path()).read_text())
