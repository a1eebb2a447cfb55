"""Metric definitions: every choice the domain leaves open, named, documented and versioned.

These are pure data (no I/O) so the domain code, the warehouse queries and the board pack share them.
The settings object (``demandhub.settings.Settings``) nests them under ``definitions`` so each can be
overridden with ``DEMANDHUB_DEFINITIONS__<GROUP>__<NAME>`` environment variables; every extract prints
the definitions it used together with :meth:`Definitions.config_hash`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.canonical import json_hash
from schemas.queues import per_queue

AbandonConvention = Literal["answered_basis", "ignore", "count_as_met", "count_as_missed", "offered_basis"]
CallbackBasis = Literal["excluded", "missed"]


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CallDefinitions(_Group):
    """Answer-time, service-level and abandonment definitions (DOMAIN 4.1-4.5)."""

    service_threshold_seconds: dict[str, int] = Field(
        default=per_queue(30, Q999=10),
        description="Per queue: a contact answered within this many seconds meets the service level.",
    )
    band_edges_seconds: dict[str, tuple[int, ...]] = Field(
        default=per_queue((30, 300, 600), Q999=(10, 60)),
        description="Per queue: answer-time band edges. 999 uses the Home Office bands <10 s, "
        "10 to <60 s, >=60 s; 101 and web chat add 5 and 10 minutes.",
    )
    short_abandon_seconds: dict[str, int] = Field(
        default=per_queue(5),
        description="Per queue: abandons after a shorter wait are short abandons. They leave the "
        "numerator and the denominator of the abandonment rate (the unadjusted rate is also kept).",
    )
    abandon_convention: AbandonConvention = Field(
        default="answered_basis",
        description="How abandons enter the service level. answered_basis (default, as the Home "
        "Office publishes 999 data): answered within T / answered. ignore (Cisco 'SL Aban Ignored'): "
        "abandons within T leave the denominator. count_as_met (Cisco 'SL Aban Positive', Amazon "
        "Connect): abandons within T are successes. count_as_missed (Cisco 'SL Aban Negative', Genesys "
        "default): abandons within T are failures. offered_basis: answered within T / (answered + "
        "abandoned - short abandons). In the Cisco variants abandons after T are always misses.",
    )
    callbacks_in_service_level: CallbackBasis = Field(
        default="excluded",
        description="How a queue visit that ended in a callback request (the caller asked to be "
        "called back instead of waiting; neither an answer nor an abandon) enters the service "
        "level. excluded (default): it leaves the numerator and the denominator. missed: it counts "
        "in the denominator as not answered within the threshold, under every abandon convention.",
    )
    clock_start_999: Literal["offered", "bt_connect", "queued"] = Field(
        default="offered",
        description="Where the 999 answer clock starts. offered (default): the call reaching the "
        "force; bt_connect: BT's connect time when supplied (the caller's view); queued: joining the queue.",
    )
    ivr_short_abandon_seconds: int | None = Field(
        default=5,
        ge=0,
        description="An IVR hang-up within this many seconds of entering the IVR (of the offer when "
        "no IVR entry is known) is a short abandon: it leaves the numerator and the denominator of "
        "101 end-to-end abandonment, like a short queue abandon, and is dropped from volumes when "
        "they are de-duplicated. None: every IVR hang-up counts, however short.",
    )
    dedupe_short_abandons_from_volumes: bool = Field(
        default=False,
        description="Drop short abandons from channel volumes (DOMAIN 4.1): only contacts never "
        "answered whose final abandon was short (an answered call that later abandoned a transfer "
        "queue stays).",
    )


class IncidentDefinitions(_Group):
    """Grading and attendance definitions (DOMAIN 4.6, 4.7)."""

    grade_basis: Literal["first", "final"] = Field(
        default="first",
        description="Grade mix uses the first grade (over-grading is a first-contact decision) "
        "or the final grade.",
    )
    response_clock: Literal["created", "graded_at_arrival_grade", "contact_offered"] = Field(
        default="created",
        description="Response clock start: incident creation (default), the time the incident took "
        "the grade it held at first arrival, or the linked contact being offered.",
    )
    target_minutes: dict[str, int] = Field(
        default={
            "IMMEDIATE_urban": 15,
            "IMMEDIATE_rural": 20,
            "PRIORITY_urban": 60,
            "PRIORITY_rural": 60,
        },
        description="Attendance targets by '<GRADE>_<urban|rural>' (grade held at first arrival).",
    )
    amber_share: float = Field(
        default=0.75,
        ge=0,
        le=1,
        description="Open-incident watch: a row turns amber once this share of its target has elapsed.",
    )
    exclude_self_initiated: bool = Field(
        default=True, description="Self-initiated incidents are excluded from response times."
    )
    mental_health_basis: Literal["at_extract", "ever"] = Field(
        default="at_extract",
        description="Mental-health qualifier counted when present at extract time, or if ever added "
        "(ever: a qualifier added while the incident was open counts even if removed later).",
    )
    asb_basis: Literal["known_at_settle", "final_category", "qualifier_ever"] = Field(
        default="known_at_settle",
        description="Which incidents are ASB. known_at_settle (default): by the category known when "
        "the figures are read: the final category of a closed incident, the opening category of one "
        "still open (an open incident has no final category yet, so the newest month is not "
        "undercounted); final_category: closed incidents whose final category is in the NICL ASB "
        "chapter only; qualifier_ever: incidents that were ever given the ASB qualifier.",
    )


class CrimeDefinitions(_Group):
    """Recorded crime, timeliness, QA/Linking and outcome definitions (DOMAIN 4.8-4.11)."""

    period_basis: Literal["recorded", "occurred"] = Field(
        default="recorded",
        description="The month a crime counts in: recording date or occurred date.",
    )
    ncrs_hours: int = Field(default=24, description="NCRS: record within this many hours of report.")
    prosecution_possible_types: tuple[int, ...] = Field(
        default=(1, 2, 3, 4, 5, 6, 7, 8),
        description="Home Office outcome types counted as prosecution possible. The default 1-8 is "
        "the force's set, not a Home Office outcome group: it includes type 5 (offender has died), "
        "which the Home Office bulletin 'Crime outcomes in England and Wales' groups under "
        "'prosecution prevented or not in the public interest', and leaves out type 22 "
        "(diversionary activity); see schemas/reference/outcome_types.csv home_office_group.",
    )
    outcome_rate_basis: Literal["period", "cohort"] = Field(
        default="period",
        description="period: outcomes assigned in the period / crimes recorded in the period (the "
        "board's). cohort: share of the period's crimes with such an outcome by extract time.",
    )
    qa_snapshot_time: str = Field(
        default="23:59",
        pattern=r"^[0-2][0-9]:[0-5][0-9]$",
        description="Local time of the daily QA/Linking queue depth snapshot.",
    )
    rural_incident_categories: tuple[str, ...] = Field(
        default=("PSW_WILDLIFE_POACHING", "PSW_WILDLIFE_HARE_COURSING"),
        description="Rural crime counts, besides the crimes with the rural flag, the incidents whose "
        "category known when the figures are read (the final category of a closed incident, the "
        "opening category of one still open) is one of these NICL categories, in the month they "
        "were created, cancelled and duplicate incidents left out. The default (poaching and hare "
        "coursing, mostly recorded as incidents, not notifiable crimes) follows the source board "
        "pack and the force's definition of rural crime; empty: crimes with the rural flag only.",
    )


class SocialDefinitions(_Group):
    """Social media contact definitions (issue 22): first response and abandonment of threads."""

    first_response_target_minutes: int = Field(
        default=60,
        ge=1,
        description="A thread whose first response came within this many minutes of its receipt "
        "meets the first-response target (social media is answered in minutes to hours, not seconds).",
    )
    target_basis: Literal["responded", "received"] = Field(
        default="responded",
        description="Denominator of the first-response target. responded (default): threads with a "
        "first response; received: every thread received except short abandons (a thread abandoned "
        "or still waiting counts as a miss).",
    )
    short_abandon_minutes: int = Field(
        default=2,
        ge=0,
        description="A thread the member of the public closed within this many minutes of sending "
        "it, before any response (sent in error), is a short abandon: it leaves the numerator and "
        "the denominator of the abandoned rate and of the received-basis target. 0: none is short.",
    )


class Definitions(_Group):
    """All metric definitions; ``version`` names this set in every published figure."""

    definition_id: str = Field(default="demandhub-default", description="Name of this definition set.")
    version: str = Field(default="1.0.0", description="Version of this definition set.")
    timezone: str = Field(default="Europe/London", description="Calendar used for days and months.")
    calls: CallDefinitions = CallDefinitions()
    incidents: IncidentDefinitions = IncidentDefinitions()
    crimes: CrimeDefinitions = CrimeDefinitions()
    social: SocialDefinitions = SocialDefinitions()

    def as_dict(self) -> dict[str, Any]:
        """Every definition as plain JSON-able data, for printing in extracts."""
        return self.model_dump(mode="json")

    def config_hash(self) -> str:
        """A short stable hash of the definitions (printed with every extract)."""
        return _hash(self.as_dict())

    def group_hash(self, *groups: str) -> str:
        """A short stable hash of some groups only (``"calls"``, ``"incidents"``, ``"crimes"``,
        ``"social"``, ``"timezone"``): a cache of figures that depend on those groups alone is keyed by it, so a
        change elsewhere does not invalidate it."""
        data = self.as_dict()
        unknown = [g for g in groups if g not in data or g in _NAMING]
        if unknown:
            raise ValueError(f"no definition group {unknown[0]!r}")
        return _hash({g: data[g] for g in sorted(groups)})

    def with_overrides(self, assignments: Iterable[str]) -> Definitions:
        """These definitions with ``path=value`` assignments applied, e.g.
        ``calls.abandon_convention=count_as_met``, ``incidents.target_minutes.IMMEDIATE_urban=12``
        or ``crimes.prosecution_possible_types=[1,2,3]``. A value is read as JSON when it parses as
        JSON, else as a string. Raises ``ValueError`` naming the path (never the value) when a path
        is not a definition or the value does not fit it."""
        data = self.as_dict()
        for item in assignments:
            path, sep, raw = item.partition("=")
            path = path.strip()
            if not sep or not path:
                raise ValueError(
                    "a definition override is written path=value, e.g. calls.abandon_convention=ignore"
                )
            try:
                value: Any = json.loads(raw)
            except ValueError:
                value = raw.strip()
            _assign(data, path.split("."), value, path)
        try:
            return Definitions.model_validate(data)
        except ValueError as exc:
            first = exc.errors()[0] if hasattr(exc, "errors") else {}
            loc = [str(p) for p in first.get("loc", ())]
            # name the leaf only: a deeper location can be a key inside the value given
            where = ".".join(loc[: 2 if loc and loc[0] in _GROUPS else 1]) or "definitions"
            raise ValueError(f"definition {where}: {first.get('msg', 'invalid value')}") from None

    @classmethod
    def leaves(cls) -> tuple[str, ...]:
        """Every definition path that can be overridden (``group.name``; naming fields excluded)."""
        out: list[str] = []
        for name, field in cls.model_fields.items():
            if name in _NAMING:
                continue
            sub = field.annotation
            if isinstance(sub, type) and issubclass(sub, _Group):
                out.extend(f"{name}.{leaf}" for leaf in sub.model_fields)
            else:
                out.append(name)
        return tuple(out)


_NAMING = frozenset({"definition_id", "version"})
_GROUPS = frozenset({"calls", "incidents", "crimes", "social"})


def _hash(data: Any) -> str:
    # Stored in the warehouse (definition_hash, applied_definitions): the form it was first stored in.
    return json_hash(data, compact=False, length=16)


def _assign(data: dict[str, Any], keys: list[str], value: Any, path: str) -> None:
    node: Any = data
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if not isinstance(node, dict) or (key not in node and not (last and i >= 2)):
            raise ValueError(f"{path!r} is not a definition (see schemas/definitions.py)")
        if last:
            node[key] = value
        else:
            node = node[key]
