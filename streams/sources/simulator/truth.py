"""Ground truth: the board's monthly figures computed from the simulator's own facts.

The generator records, as it decides each contact, incident and crime, the counters below (it never
re-reads its events and never calls the hub's code). A fact counts only if the event that carries it
falls inside the run (``time < end``): the truth describes exactly what was emitted, as seen at the
end of the run ("extract time"). Months are Europe/London calendar months. Fault-injected duplicates,
late and out-of-order events do not change it; malformed and hostile events are not part of it.

Definitions (the DOMAIN.md defaults, ``schemas.definitions.Definitions()``). "Wait" is always the
difference of two event times (exact milliseconds). The generator never produces a wait or response
exactly equal to a threshold (5 s, 10 s, 30 s, 15/20/60 min, 24 h), so "<" and "<=" agree.

Period placement: calls and web chats by the month of ``offered``; online reports by ``submitted``;
incidents by ``created``; crimes by ``recorded``.

- ``contacts_999`` / ``contacts_101``: calls offered with that channel (``call.offered``).
- ``contacts_webchat``: web-chat sessions offered. ``contacts_online``: online reports submitted.
- ``contacts_total``: the sum of the four.
- ``calls_999_answered_within_10s``: percent of 999 calls answered (``call.answered``, queue 999)
  whose answer time minus offered time is below 10 s, over 999 calls answered.
- ``calls_101_answered_within_30s``: 101 primary queue: percent of calls answered in ``101-primary``
  within 30 s of joining it (``call.queued`` queue 101-primary), over calls answered in that queue.
- ``calls_999_abandoned_rate``: percent: calls abandoned in the 999 queue with a wait of at least
  5 s, over calls queued in the 999 queue minus short abandons there (abandoned with a wait below
  5 s). The wait runs on the 999 service clock, from the offer (``clock_start_999 = offered``) to the
  abandon, like the answer time.
- ``calls_101_abandoned_rate``: end to end, percent: 101 calls offered that were never answered in
  any queue and abandoned (at the ``ivr`` or ``primary_queue`` stage: a call abandoned in transfer or
  in the secondary queue had been answered by the primary handler) with a stage wait of at least
  5 s, over 101 calls offered minus the never-answered calls whose abandon had a stage wait below
  5 s. The stage wait runs from entering the stage (``call.ivr_entered``, ``call.queued``) to the
  abandon. Callback requests are not abandons (they stay in the denominator). A call still in
  progress at the end counts in the denominator only.
- ``webchat_abandoned_rate``: percent: sessions abandoned with a wait (abandon minus offered) of at
  least 5 s, over sessions offered minus short abandons.
- ``incidents_total``: incidents created, excluding those merged as duplicates by the end (every
  channel, self-initiated and cancelled ones included).
- ``incidents_mental_health``: of those, the ones with the mental-health qualifier added and not
  removed by the end of the run.
- ``incidents_asb``: of those, the ones whose category known at the end of the run is in the ASB
  chapter (ASB_PERSONAL, ASB_NUISANCE, ASB_ENVIRONMENTAL): the final category of an incident closed
  by the end, the opening category of one still open (not closed, cancelled or merged by the end);
  ``incidents.asb_basis = known_at_settle``.
- ``immediate_share``: percent of incidents created in the month and graded, excluding those
  cancelled or merged as duplicates by the end, whose first grade is IMMEDIATE.
- ``immediate_time_to_respond_mins``: mean minutes (unrounded) from creation to first arrival of
  incidents created in the month, not self-initiated, not cancelled, whose grade at first arrival
  (the latest grade or regrade before it) is IMMEDIATE.
- ``immediate_within_target_rate`` / ``priority_within_target_rate``: percent within target (below
  15 min urban / 20 min rural for IMMEDIATE, 60 min for PRIORITY, by the grade held at first arrival
  and the location's urban/rural flag). Population: incidents created in the month, not self-initiated,
  not cancelled, that were attended by the end; plus, as misses, open incidents (not attended, not
  closed, not cancelled, not merged) whose current grade is IMMEDIATE / PRIORITY and whose target had
  passed by the end. Incidents closed without attendance ("never attended") are excluded.
- ``crime_all``: crimes recorded in the month and not cancelled by the end.
- ``crime_domestic_abuse``: those with the domestic-abuse flag (flags never change on
  reclassification in the simulator).
- ``crime_recorded_within_24h_rate``: percent of ``crime_all`` recorded within 24 h of the first report
  (the earliest of the contact offered, the incident created or the online report submitted; carried
  as ``first_reported_at`` on ``crime.reported``).

- ``social_threads``: social media threads received (``social.received``), by the month received.
- ``social_first_response_within_target``: percent of those with a first response
  (``social.responded``) whose first response came within 60 min of receipt
  (``social.first_response_target_minutes``, ``target_basis = responded``), over those with one.
- ``social_first_response_mins``: mean minutes (unrounded) from receipt to first response.
- ``social_resolved_without_incident``: percent of threads closed by a handler whose disposition is
  not ``incident_created``, over threads closed by a handler.
- ``social_abandoned``: threads closed by the public before any response, less short abandons
  (closed within 2 min of receipt, ``social.short_abandon_minutes``); ``social_abandoned_rate``:
  percent of them over threads received less short abandons.

Presence: a percent or mean is present when its denominator is positive. A count is present when
it is positive or when its family (contacts, incidents, crimes) has any record in the month; months
with nothing are absent (null), never zero. Social media threads are a family of their own.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

MEASURES: tuple[str, ...] = (
    "contacts_999",
    "contacts_101",
    "contacts_webchat",
    "contacts_online",
    "contacts_total",
    "calls_999_answered_within_10s",
    "calls_101_answered_within_30s",
    "calls_999_abandoned_rate",
    "calls_101_abandoned_rate",
    "webchat_abandoned_rate",
    "incidents_total",
    "incidents_mental_health",
    "incidents_asb",
    "immediate_share",
    "immediate_time_to_respond_mins",
    "immediate_within_target_rate",
    "priority_within_target_rate",
    "crime_all",
    "crime_domestic_abuse",
    "crime_recorded_within_24h_rate",
    "social_threads",
    "social_first_response_within_target",
    "social_first_response_mins",
    "social_resolved_without_incident",
    "social_abandoned",
    "social_abandoned_rate",
)

# measure -> (kind, numerator counter, denominator counter or None, family)
_COUNTS: dict[str, tuple[tuple[str, ...], str]] = {
    "contacts_999": (("c999",), "contacts"),
    "contacts_101": (("c101",), "contacts"),
    "contacts_webchat": (("cweb",), "contacts"),
    "contacts_online": (("conline",), "contacts"),
    "contacts_total": (("c999", "c101", "cweb", "conline"), "contacts"),
    "incidents_total": (("inc",), "incidents"),
    "incidents_mental_health": (("inc_mh",), "incidents"),
    "incidents_asb": (("inc_asb",), "incidents"),
    "crime_all": (("crime",), "crimes"),
    "crime_domestic_abuse": (("crime_da",), "crimes"),
    "social_threads": (("soc",), "social"),
    "social_abandoned": (("soc_ab",), "social"),
}
_FAMILY_BASE = {
    "contacts": ("c999", "c101", "cweb", "conline"),
    "incidents": ("inc",),
    "crimes": ("crime",),
    "social": ("soc",),
}


def _ratio(c: dict[str, float], num: str, den_plus: str, den_minus: str | None = None) -> float | None:
    den = c.get(den_plus, 0) - (c.get(den_minus, 0) if den_minus else 0)
    if den <= 0:
        return None
    return 100.0 * c.get(num, 0) / den


def _ratios(c: dict[str, float]) -> dict[str, float | None]:
    mean_n = c.get("imm_n", 0)
    return {
        "calls_999_answered_within_10s": _ratio(c, "a999_10", "a999"),
        "calls_101_answered_within_30s": _ratio(c, "p101_30", "p101"),
        "calls_999_abandoned_rate": _ratio(c, "q999_ab", "q999", "q999_short"),
        "calls_101_abandoned_rate": _ratio(c, "o101_ab", "c101", "o101_short"),
        "webchat_abandoned_rate": _ratio(c, "wc_ab", "cweb", "wc_short"),
        "immediate_share": _ratio(c, "first_imm", "graded"),
        "immediate_time_to_respond_mins": (c["imm_sum_min"] / mean_n) if mean_n else None,
        "immediate_within_target_rate": _ratio(c, "imm_hit", "imm_den"),
        "priority_within_target_rate": _ratio(c, "pri_hit", "pri_den"),
        "crime_recorded_within_24h_rate": _ratio(c, "crime_24h", "crime"),
        "social_first_response_within_target": _ratio(c, "soc_within", "soc_resp"),
        "social_first_response_mins": (c["soc_min_sum"] / c["soc_resp"]) if c.get("soc_resp", 0) else None,
        "social_resolved_without_incident": _ratio(c, "soc_noinc", "soc_resolved"),
        "social_abandoned_rate": _ratio(c, "soc_ab", "soc", "soc_short"),
    }


class TruthBook:
    """Per force and local month, the counters the measures are computed from."""

    def __init__(self) -> None:
        self.counters: dict[str, dict[str, defaultdict[str, float]]] = {}

    def month(self, force: str, month: str) -> defaultdict[str, float]:
        """The mutable counters of one force-month."""
        by_month = self.counters.setdefault(force, {})
        c = by_month.get(month)
        if c is None:
            c = by_month[month] = defaultdict(float)
        return c

    def measures(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``{force: {"YYYY-MM": {measure id: value}}}`` (see the module docstring)."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for force, by_month in sorted(self.counters.items()):
            out[force] = {}
            for month, c in sorted(by_month.items()):
                values = self._month_values(c)
                if values:
                    out[force][month] = values
        return out

    @staticmethod
    def _month_values(c: dict[str, float]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for measure, (parts, family) in _COUNTS.items():
            count = int(sum(c.get(p, 0) for p in parts))
            family_size = sum(c.get(p, 0) for p in _FAMILY_BASE[family])
            if count > 0 or family_size > 0:
                values[measure] = count
        for measure, value in _ratios(c).items():
            if value is not None:
                values[measure] = value
        return {m: values[m] for m in MEASURES if m in values}
