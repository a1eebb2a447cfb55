"""The measure catalogue (``measures.toml``): what each dashboard row is and where it comes from.

:func:`load_catalogue` reads and validates the catalogue: every id unique, no field the catalogue
does not define, every event-derived measure names a registered domain reader in ``module`` (one of
:data:`READER_NAMES`; :data:`demandhub.board.warehouse.readers.MONTHLY_CELLS` serves each) and the
event entities whose watermark decides completeness, every imported measure names its import sources, and every dotted
definition name resolves to a setting of :class:`~schemas.definitions.Definitions`, and each
measure's ``definition`` (the measure in words) renders under the default definitions: a
``{placeholder}`` naming no setting fails the load (:func:`render_definition`). A
:class:`CatalogueMeasure` carries the pure :class:`~demandhub.board.maths.dashboard.MeasureSpec` used
by the board maths plus the catalogue's own fields.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

from demandhub.board.maths.dashboard import MeasureSpec
from demandhub.errors import InputError
from schemas.definitions import Definitions
from schemas.topics import TOPICS

ReaderName = Literal["contacts", "incidents", "crimes", "social"]
READER_NAMES: tuple[ReaderName, ...] = get_args(ReaderName)
"""The domain readers an event-derived measure may name in ``module``."""
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


class CatalogueError(InputError, ValueError):
    """The catalogue file is malformed or inconsistent (one line; the command's input error)."""


@dataclass(frozen=True)
class CatalogueMeasure:
    """One catalogue entry: the pure spec plus where the figures come from."""

    spec: MeasureSpec
    source: Source
    definitions: tuple[str, ...] = ()
    module: ReaderName | None = None
    entities: tuple[str, ...] = ()
    settling: str | None = None
    import_sources: tuple[str, ...] = ()
    quantity: str | None = None
    definition: str = ""
    """The measure in words, with ``{setting}`` placeholders (:func:`render_definition`); every
    measure of the packaged catalogue has one (a catalogue written for a test may leave it out)."""

    @property
    def id(self) -> str:
        return self.spec.id

    def definition_text(self, settings: Mapping[str, Any]) -> str:
        """The definition filled from ``settings`` (the definitions applied, as plain data:
        ``Definitions.as_dict()`` or the pack JSON's ``definitions.metrics.settings``)."""
        if not self.definition:
            return "no definition in words in the catalogue (see the settings)"
        return render_definition(self.definition, settings)

    def definition_words(self, settings: Mapping[str, Any]) -> str:
        """``"<name>: <definition>"`` (:meth:`definition_text`)."""
        return f"{self.spec.name}: {self.definition_text(settings)}"

    def definition_values(self, definitions: Definitions) -> dict[str, Any]:
        """The current value of every definition setting this measure depends on."""
        return {name: resolve_setting(definitions.as_dict(), name) for name in self.definitions}

    def as_dict(self) -> dict[str, Any]:
        """The catalogue fields as plain data (printed in the pack's definitions)."""
        return {
            "source": self.source,
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


def _choice(table: dict[Any, str]) -> Callable[[Any], str]:
    def words(value: Any) -> str:
        if value not in table:
            raise KeyError(f"no words for {value!r}")
        return table[value]

    return words


def _and_list(value: Any) -> str:
    items = [str(v) for v in value]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


WORDS: dict[str, Callable[[Any], str]] = {
    "calls.abandon_convention": _choice(
        {
            "answered_basis": "as a share of calls answered; abandoned calls are not counted",
            "ignore": "as a share of calls answered or abandoned, leaving out calls abandoned "
            "within the threshold; a call abandoned after it counts as missed",
            "count_as_met": "as a share of calls answered or abandoned; a call abandoned within "
            "the threshold counts as met, one abandoned after it as missed",
            "count_as_missed": "as a share of calls answered or abandoned; every abandoned call "
            "counts as missed",
            "offered_basis": "as a share of calls answered or abandoned, leaving out short abandons",
        }
    ),
    "calls.callbacks_in_service_level": _choice(
        {
            "excluded": "calls whose caller asked for a callback are left out",
            "missed": "calls whose caller asked for a callback count as missed",
        }
    ),
    "calls.clock_start_999": _choice(
        {
            "offered": "the offer (the call reaching the force)",
            "bt_connect": "BT's connect time where supplied (the caller's view)",
            "queued": "the call joining the queue",
        }
    ),
    "calls.dedupe_short_abandons_from_volumes": _choice(
        {
            True: "contacts never answered whose final abandon was short are left out",
            False: "short abandons are counted",
        }
    ),
    "calls.ivr_short_abandon_seconds": lambda v: (
        "every IVR hang-up counts, however short"
        if v is None
        else f"IVR hang-ups within {v} s are short abandons too and are left out"
    ),
    "incidents.response_clock": _choice(
        {
            "created": "the incident's creation",
            "graded_at_arrival_grade": "the time the incident took the grade it held at first arrival",
            "contact_offered": "the linked contact being offered",
        }
    ),
    "incidents.exclude_self_initiated": _choice(
        {True: "self-initiated incidents are left out", False: "self-initiated incidents are included"}
    ),
    "incidents.mental_health_basis": _choice(
        {
            "at_extract": "the qualifier present when the figures are read",
            "ever": "the qualifier ever added, even if removed later",
        }
    ),
    "incidents.asb_basis": _choice(
        {
            "known_at_settle": "by the category known when the figures are read (the final category "
            "of a closed incident, the opening category of one still open)",
            "final_category": "closed incidents whose final category is in the ASB chapter only",
            "qualifier_ever": "incidents ever given the ASB qualifier",
        }
    ),
    "incidents.grade_basis": _choice({"first": "first grade", "final": "final grade"}),
    "crimes.period_basis": _choice(
        {"recorded": "the month the crime was recorded", "occurred": "the month the crime occurred"}
    ),
    "crimes.outcome_rate_basis": _choice(
        {
            "period": "outcomes assigned in the month as a share of crimes recorded in the month",
            "cohort": "the share of the month's recorded crimes given such an outcome by the time "
            "the figures are read",
        }
    ),
    "crimes.prosecution_possible_types": _and_list,
    "crimes.rural_incident_categories": lambda v: (
        f"plus incidents categorised {_and_list(v)} (not notifiable crimes), in the month created"
        if v
        else "no incidents are added"
    ),
}
"""Plain words for a setting's value, used by ``{setting:words}`` placeholders."""

_PLACEHOLDER = re.compile(r"\{([^{}:]+)(?::([a-z]+))?\}")


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return _and_list(value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def render_definition(template: str, settings: Mapping[str, Any]) -> str:
    """``template`` with each ``{dotted.setting}`` replaced by that setting's value in ``settings``
    and each ``{dotted.setting:words}`` by the setting's value in plain words (:data:`WORDS`).
    KeyError when a placeholder names no setting, or a value has no words; ValueError when a
    brace is left unfilled."""

    def fill(match: re.Match[str]) -> str:
        name, form = match.group(1), match.group(2)
        value = resolve_setting(dict(settings), name)
        if form is None:
            return _plain(value)
        if form != "words" or name not in WORDS:
            raise KeyError(f"{name}:{form}")
        return WORDS[name](value)

    out = _PLACEHOLDER.sub(fill, template)
    if "{" in out or "}" in out:
        raise ValueError(f"unfilled placeholder in {template!r}")
    return out


def default_path() -> Path:
    return Path(str(resources.files("demandhub.board.catalogue") / "measures.toml"))


def _str_tuple(entry: dict[str, Any], key: str) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogueError(f"{entry.get('id')}: {key} must be a list of strings")
    return tuple(value)


def _source(entry: dict[str, Any]) -> Source:
    source = entry.get("source")
    if source == "events":
        return "events"
    if source == "imported":
        return "imported"
    raise CatalogueError(f"{entry.get('id')}: source must be 'events' or 'imported'")


FIELDS: frozenset[str] = frozenset(
    {
        "id",
        "name",
        "unit",
        "polarity",
        "theme",
        "as_of_lag_months",
        "noun",
        "quantity",
        "source",
        "module",
        "definitions",
        "entities",
        "settling",
        "import_sources",
        "definition",
    }
)
"""The fields a ``[[measure]]`` may have (``measures.toml`` describes each)."""


def _module(entry: dict[str, Any]) -> ReaderName | None:
    module = entry.get("module")
    if module is None:
        return None
    for name in READER_NAMES:
        if module == name:
            return name
    raise CatalogueError(
        f"measure {entry.get('id')}: module {module!r} is not a registered reader ({', '.join(READER_NAMES)})"
    )


def _measure(entry: dict[str, Any], themes: tuple[str, ...], known: dict[str, Any]) -> CatalogueMeasure:
    mid = entry.get("id")
    unknown = sorted(set(entry) - FIELDS)
    if unknown:
        raise CatalogueError(f"measure {mid}: unknown field {', '.join(map(repr, unknown))}")
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
        source=_source(entry),
        definitions=_str_tuple(entry, "definitions"),
        module=_module(entry),
        entities=_str_tuple(entry, "entities"),
        settling=entry.get("settling"),
        import_sources=_str_tuple(entry, "import_sources"),
        quantity=entry.get("quantity"),
        definition=str(entry.get("definition", "")),
    )
    _check(measure, known)
    return measure


def _check(m: CatalogueMeasure, known: dict[str, Any]) -> None:
    if m.source == "events":
        if m.module is None:
            raise CatalogueError(
                f"measure {m.id}: module (its reader: {', '.join(READER_NAMES)}) is required"
            )
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
    for name in m.definitions:
        try:
            resolve_setting(known, name)
        except KeyError:
            raise CatalogueError(f"{m.id}: unknown definition setting {name!r}") from None
    try:
        render_definition(m.definition, known)
    except (KeyError, ValueError) as exc:
        raise CatalogueError(f"{m.id}: definition does not render: {exc}") from None


@lru_cache(maxsize=8)
def parse_catalogue(text: str) -> Catalogue:
    """Parse and validate catalogue TOML text (see the module docstring). The catalogue is
    immutable, so the same text gives the same catalogue object (a process that builds many packs,
    the web server or a benchmark, parses the file once; an error is raised again every time)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"not valid TOML: {exc}") from exc
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
    """The catalogue at ``path`` (default: the packaged ``measures.toml``); a CatalogueError names
    the file and the first problem."""
    path = path or default_path()
    try:
        return parse_catalogue(path.read_text())
    except CatalogueError as exc:
        raise CatalogueError(f"catalogue {path}: {exc}") from None
