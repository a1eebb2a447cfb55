"""Golden figures on a small hand-made set of calls and chats: every value computed by hand below.

The set (t0 = 2024-03-05 10:00:00 UTC, which is also London time in March before the clocks change):

999 (threshold 10 s, short abandon < 5 s, clock from offer):
  C1 queued +1, answered +7          -> answer wait 7   (<10)
  C2 queued +0.5, answered +25       -> 25              (10 to <60)
  C3 queued +1, answered +75         -> 75              (>=60)
  C4 queued +1, abandoned +3         -> 3, short abandon (also within 10)
  C5 queued +1, abandoned +8         -> 8, within 10
  C6 queued +1, abandoned +40        -> 40
  C7 BT connect -6, queued +0, answered +9 -> 9 from offer, 15 from BT connect
101 (threshold 30 s on both queues, short < 5 s, clock from queue entry):
  C8  IVR +1, abandoned at the ivr stage +20 (no queue)
  C9  IVR +1, primary queued +10 answered +30 (20); transferred +100 to secondary, queued +101,
      answered +200 (100 from the transfer); ended +400 with an incident
  C10 primary queued +5, answered +50 (45); ended
  C11 primary queued +5, abandoned +7 (2: short)
  C12 primary queued +5, callback requested +65 (not an abandon)
  C13 primary queued +2, answered +12 (10); transferred +60; abandoned in transfer +63 (no queue)
  C14 primary queued +2, answered +22 (20); transferred +30, secondary queued +31, abandoned in the
      secondary queue +400 (no queue named; 370 from the transfer)
  C15 primary queued +0, abandoned (queue named) +90
Web chat (threshold 30 s, short < 5 s):
  W1 answered +20; W2 answered +400; W3 abandoned +4 (short); W4 abandoned +100
Online reports: O1 crime (triaged, linked to a crime), O2 ASB.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.definitions import CallDefinitions, Definitions
from schemas.envelope import Envelope
from schemas.events import entity_of, parse_event
from streams.domain.base import Fold
from streams.domain.contacts import CONTACTS, LEGS, CallFold, OnlineReportFold, WebchatFold
from streams.domain.servicelevel import (
    QueueCounters,
    Ratio,
    abandonment_rate,
    all_service_levels,
    applied_contact,
    applied_leg,
    band_counts,
    leg_counters,
    stage_abandonment,
)

pytestmark = pytest.mark.unit

T0 = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
FORCE = "cambs"


def ev(subject: str, etype: str, seconds: float, n: int, **data: Any) -> dict[str, Any]:
    """One raw event ``seconds`` after t0 (id unique per subject)."""
    source = {"call": "telephony", "webchat": "chat", "online_report": "portal"}[entity_of(etype)]
    return {
        "id": f"{subject}-{n}",
        "source": source,
        "type": etype,
        "time": (T0 + timedelta(seconds=seconds)).isoformat(),
        "force_id": FORCE,
        "subject": subject,
        "data": data,
    }


def _call(subject: str, channel: str, steps: list[tuple[str, float, dict[str, Any]]]) -> list[dict[str, Any]]:
    out = [ev(subject, "call.offered.v1", 0, 0, channel=channel, district="Cambridge City")]
    for n, (verb, at, data) in enumerate(steps, start=1):
        out.append(ev(subject, f"call.{verb}.v1", at, n, **data))
    return out


def _q(queue: str) -> dict[str, Any]:
    return {"queue": queue}


def golden_raw() -> list[dict[str, Any]]:
    """The hand-made event set as raw JSON-able dicts."""
    p, s = "101-primary", "101-secondary"
    calls = [
        _call("C1", "999", [("queued", 1, _q("999")), ("answered", 7, _q("999"))]),
        _call("C2", "999", [("queued", 0.5, _q("999")), ("answered", 25, _q("999"))]),
        _call("C3", "999", [("queued", 1, _q("999")), ("answered", 75, _q("999"))]),
        _call(
            "C4",
            "999",
            [("queued", 1, _q("999")), ("abandoned", 3, {"stage": "primary_queue", "queue": "999"})],
        ),
        _call(
            "C5",
            "999",
            [("queued", 1, _q("999")), ("abandoned", 8, {"stage": "primary_queue", "queue": "999"})],
        ),
        _call("C6", "999", [("queued", 1, _q("999")), ("abandoned", 40, {"stage": "primary_queue"})]),
        _call("C8", "101", [("ivr_entered", 1, {}), ("abandoned", 20, {"stage": "ivr"})]),
        _call(
            "C9",
            "101",
            [
                ("ivr_entered", 1, {}),
                ("queued", 10, _q(p)),
                ("answered", 30, _q(p)),
                ("transferred", 100, {"from_queue": p, "to_queue": s}),
                ("queued", 101, _q(s)),
                ("answered", 200, _q(s)),
                ("ended", 400, {"disposition": "incident_created", "incident_id": "INC-9"}),
            ],
        ),
        _call(
            "C10",
            "101",
            [("queued", 5, _q(p)), ("answered", 50, _q(p)), ("ended", 300, {"disposition": "advice"})],
        ),
        _call("C11", "101", [("queued", 5, _q(p)), ("abandoned", 7, {"stage": "primary_queue", "queue": p})]),
        _call("C12", "101", [("queued", 5, _q(p)), ("callback_requested", 65, _q(p))]),
        _call(
            "C13",
            "101",
            [
                ("queued", 2, _q(p)),
                ("answered", 12, _q(p)),
                ("transferred", 60, {"from_queue": p, "to_queue": s}),
                ("abandoned", 63, {"stage": "in_transfer"}),
            ],
        ),
        _call(
            "C14",
            "101",
            [
                ("queued", 2, _q(p)),
                ("answered", 22, _q(p)),
                ("transferred", 30, {"from_queue": p, "to_queue": s}),
                ("queued", 31, _q(s)),
                ("abandoned", 400, {"stage": "secondary_queue"}),
            ],
        ),
        _call(
            "C15", "101", [("queued", 0, _q(p)), ("abandoned", 90, {"stage": "primary_queue", "queue": p})]
        ),
    ]
    c7 = [
        ev(
            "C7",
            "call.offered.v1",
            0,
            0,
            channel="999",
            bt_connect_time=(T0 - timedelta(seconds=6)).isoformat(),
        ),
        ev("C7", "call.queued.v1", 0, 1, queue="999"),
        ev("C7", "call.answered.v1", 9, 2, queue="999"),
    ]
    chats = []
    for name, verb, at in (
        ("W1", "answered", 20),
        ("W2", "answered", 400),
        ("W3", "abandoned", 4),
        ("W4", "abandoned", 100),
    ):
        chats += [ev(name, "webchat.offered.v1", 0, 0), ev(name, f"webchat.{verb}.v1", at, 1)]
    chats.append(ev("W1", "webchat.ended.v1", 600, 2, disposition="advice"))
    online = [
        ev("O1", "online_report.submitted.v1", 30, 0, report_type="crime", district="Fenland"),
        ev("O1", "online_report.triaged.v1", 3600, 1, outcome="crime"),
        ev("O1", "online_report.linked.v1", 7200, 2, crime_id="CR-1"),
        ev("O2", "online_report.submitted.v1", 60, 0, report_type="asb"),
    ]
    return [e for group in calls for e in group] + c7 + chats + online


def golden_events() -> list[Envelope]:
    return [parse_event(e) for e in golden_raw()]


FOLDS: dict[str, Fold] = {"call": CallFold(), "webchat": WebchatFold(), "online_report": OnlineReportFold()}


def fold_all(events: list[Envelope], definitions: Definitions) -> dict[str, list[dict[str, Any]]]:
    """Fold every subject of ``events``; rows per table, sorted by identity."""
    subjects: dict[str, list[Envelope]] = {}
    for e in events:
        subjects.setdefault(e.subject, []).append(e)
    out: dict[str, list[dict[str, Any]]] = {LEGS: [], CONTACTS: []}
    for evs in subjects.values():
        result = FOLDS[entity_of(evs[0].type)].fold(evs, definitions)
        for table, rows in result.rows.items():
            out[table].extend(rows)
    # facts hold no definition: the columns the definitions derive are applied when read
    out[LEGS] = sorted((applied_leg(r, definitions.calls) for r in out[LEGS]), key=lambda r: r["leg_id"])
    out[CONTACTS] = sorted(
        (applied_contact(r, definitions.calls) for r in out[CONTACTS]), key=lambda r: r["contact_id"]
    )
    return out


def counters(defs: Definitions, queue: str) -> QueueCounters:
    legs = [r for r in fold_all(golden_events(), defs)[LEGS] if r["queue"] == queue]
    c = defs.calls
    return leg_counters(legs, c.service_threshold_seconds[queue], c.short_abandon_seconds[queue])


DEFAULT = Definitions()


def test_999_counters_and_every_convention() -> None:
    c = counters(DEFAULT, "999")
    # entered 7; answered C1 7, C2 25, C3 75, C7 9 -> A=4, within 10: 7 and 9 -> A_T=2;
    # abandoned C4 3, C5 8, C6 40 -> B=3, within 10: 3 and 8 -> B_T=2; short (<5): C4 -> S=1
    assert c == QueueCounters(
        entered=7, answered=4, answered_within=2, abandoned=3, abandoned_within=2, short_abandoned=1
    )
    assert all_service_levels(c) == {
        "answered_basis": Ratio(2, 4),  # A_T / A
        "ignore": Ratio(2, 5),  # A_T / (A + B - B_T) = 2 / (4 + 3 - 2)
        "count_as_met": Ratio(4, 7),  # (A_T + B_T) / (A + B) = (2 + 2) / 7
        "count_as_missed": Ratio(2, 7),  # A_T / (A + B)
        "offered_basis": Ratio(2, 6),  # A_T / (A + B - S) = 2 / (7 - 1)
    }
    assert abandonment_rate(c) == Ratio(2, 6)  # (3 - 1) / (7 - 1)
    assert abandonment_rate(c, exclude_short=False) == Ratio(3, 7)


def test_999_home_office_bands_and_mean() -> None:
    legs = [r for r in fold_all(golden_events(), DEFAULT)[LEGS] if r["queue"] == "999"]
    waits = sorted(r["service_wait_seconds"] for r in legs if r["outcome"] == "answered")
    assert waits == [7, 9, 25, 75]
    assert band_counts(waits, (10, 60)) == (2, 1, 1)  # <10: 7, 9; 10 to <60: 25; >=60: 75
    assert sum(waits) / len(waits) == 29  # (7 + 9 + 25 + 75) / 4


def test_999_clock_from_bt_connect() -> None:
    defs = Definitions(calls=CallDefinitions(clock_start_999="bt_connect"))
    c = counters(defs, "999")
    # C7 now waits 9 + 6 = 15 s (BT connect 6 s before the offer): within 10 drops to C1 only
    assert (c.answered, c.answered_within) == (4, 1)
    c7 = next(r for r in fold_all(golden_events(), defs)[LEGS] if r["contact_id"] == "C7")
    assert c7["clock_started_at"] == c7["bt_connect_at"]
    assert (c7["service_wait_seconds"], c7["wait_seconds"]) == (15, 9)


def test_101_primary_every_convention_and_bands() -> None:
    c = counters(DEFAULT, "101-primary")
    # entered C9..C15 = 7; answered C9 20, C10 45, C13 10, C14 20 -> A=4, A_T(<30)=3;
    # abandoned C11 2 (short), C15 90 -> B=2, B_T=1, S=1; C12's callback is neither (C=1)
    assert c == QueueCounters(
        entered=7,
        answered=4,
        answered_within=3,
        abandoned=2,
        abandoned_within=1,
        short_abandoned=1,
        callbacks=1,
    )
    assert all_service_levels(c) == {
        "answered_basis": Ratio(3, 4),
        "ignore": Ratio(3, 5),  # 3 / (4 + 2 - 1)
        "count_as_met": Ratio(4, 6),  # (3 + 1) / (4 + 2)
        "count_as_missed": Ratio(3, 6),
        "offered_basis": Ratio(3, 5),  # 3 / (6 - 1)
    }
    # callbacks_in_service_level = missed: C12's callback is one more miss in every denominator
    assert all_service_levels(c, "missed") == {
        "answered_basis": Ratio(3, 5),
        "ignore": Ratio(3, 6),
        "count_as_met": Ratio(4, 7),
        "count_as_missed": Ratio(3, 7),
        "offered_basis": Ratio(3, 6),
    }
    assert abandonment_rate(c) == Ratio(1, 6)  # (2 - 1) / (7 - 1)
    legs = [r for r in fold_all(golden_events(), DEFAULT)[LEGS] if r["queue"] == "101-primary"]
    waits = [r["service_wait_seconds"] for r in legs if r["outcome"] == "answered"]
    assert band_counts(waits, (30, 300, 600)) == (3, 1, 0, 0)


def test_101_secondary_and_the_transfer() -> None:
    c = counters(DEFAULT, "101-secondary")
    # entered C9 (answered after 100 s from the transfer) and C14 (abandoned after 370 s);
    # C13 abandoned in transfer: not queued, not a queue abandon
    assert c == QueueCounters(
        entered=2, answered=1, answered_within=0, abandoned=1, abandoned_within=0, short_abandoned=0
    )
    assert all_service_levels(c)["ignore"] == Ratio(0, 2)  # 0 / (1 + 1 - 0)
    assert abandonment_rate(c) == Ratio(1, 2)
    legs = {
        r["contact_id"]: r for r in fold_all(golden_events(), DEFAULT)[LEGS] if r["queue"] == "101-secondary"
    }
    assert legs["C13"]["abandon_stage"] == "in_transfer" and not legs["C13"]["entered_queue"]
    assert legs["C13"]["wait_seconds"] == 3  # transfer +60 -> abandon +63
    assert legs["C9"]["wait_seconds"] == 100 and legs["C9"]["leg_index"] == 1


def test_webchat() -> None:
    c = counters(DEFAULT, "webchat")
    # answered 20 (<30), 400; abandoned 4 (short, <30), 100
    assert c == QueueCounters(
        entered=4, answered=2, answered_within=1, abandoned=2, abandoned_within=1, short_abandoned=1
    )
    assert all_service_levels(c) == {
        "answered_basis": Ratio(1, 2),
        "ignore": Ratio(1, 3),
        "count_as_met": Ratio(2, 4),
        "count_as_missed": Ratio(1, 4),
        "offered_basis": Ratio(1, 3),
    }
    assert abandonment_rate(c) == Ratio(1, 3)  # (2 - 1) / (4 - 1)


def test_contacts_end_to_end() -> None:
    rows = {r["contact_id"]: r for r in fold_all(golden_events(), DEFAULT)[CONTACTS]}
    volumes = {
        ch: sum(1 for r in rows.values() if r["channel"] == ch) for ch in ("999", "101", "webchat", "online")
    }
    assert volumes == {"999": 7, "101": 8, "webchat": 4, "online": 2}  # total 21
    calls101 = [r for r in rows.values() if r["channel"] == "101"]
    never = [r["contact_id"] for r in calls101 if r["outcome"] == "abandoned" and not r["ever_answered"]]
    assert sorted(never) == ["C11", "C15", "C8"]  # end to end: offered, never answered
    assert rows["C9"]["e2e_wait_seconds"] == 200 and rows["C9"]["outcome"] == "answered"
    assert rows["C9"]["incident_id"] == "INC-9"
    assert (rows["C13"]["outcome"], rows["C13"]["abandon_stage"]) == ("abandoned", "in_transfer")
    assert (rows["C14"]["outcome"], rows["C14"]["abandon_stage"]) == ("abandoned", "secondary_queue")
    assert rows["C12"]["outcome"] == "callback" and rows["C12"]["callback_requested"]
    reached = {
        "ivr": sum(r["reached_ivr"] for r in calls101),  # C8, C9
        "primary_queue": sum(r["reached_primary"] for r in calls101),  # C9..C15
        "in_transfer": sum(r["transferred"] for r in calls101),  # C9, C13, C14
        "secondary_queue": sum(r["reached_secondary"] for r in calls101),  # C9, C14
    }
    stages = [r["abandon_stage"] for r in calls101 if r["outcome"] == "abandoned"]
    abandoned = {s: stages.count(s) for s in set(stages)}
    assert stage_abandonment(reached, abandoned) == {
        "ivr": Ratio(1, 2),
        "primary_queue": Ratio(2, 7),  # C11, C15
        "in_transfer": Ratio(1, 3),  # C13
        "secondary_queue": Ratio(1, 2),  # C14
    }
    assert rows["O1"]["crime_id"] == "CR-1" and rows["O1"]["outcome"] == "linked"
    assert rows["O2"]["report_type"] == "asb"


def test_short_abandon_threshold_is_a_setting() -> None:
    # "count 101 abandons only after 60 s": C11 (2 s) stays short; nothing else moves on 101-primary
    # as C15 waited 90 s; on the web chat W3 (4 s) stays short
    defs = Definitions(
        calls=CallDefinitions(
            short_abandon_seconds={"999": 5, "101-primary": 60, "101-secondary": 60, "webchat": 5}
        )
    )
    assert counters(defs, "101-primary").short_abandoned == 1
    # raising the 999 threshold to 10 s makes C5 (8 s) short too
    defs = Definitions(
        calls=CallDefinitions(
            short_abandon_seconds={"999": 10, "101-primary": 5, "101-secondary": 5, "webchat": 5}
        )
    )
    assert counters(defs, "999").short_abandoned == 2


def test_ivr_short_abandon_option() -> None:
    # A 1 s IVR hang-up (IVR entered +0.5, abandoned +1.5) is a short abandon by default; with the
    # threshold switched off it counts as an end-to-end abandon. C8 (19 s in the IVR) never is.
    x2 = _call("X2", "101", [("ivr_entered", 0.5, {}), ("abandoned", 1.5, {"stage": "ivr"})])
    events = golden_events() + [parse_event(e) for e in x2]
    for defs, expected in (
        (DEFAULT, True),
        (Definitions(calls=CallDefinitions(ivr_short_abandon_seconds=None)), False),
    ):
        rows = {r["contact_id"]: r for r in fold_all(events, defs)[CONTACTS]}
        assert (rows["X2"]["abandon_stage"], rows["X2"]["short_abandon"]) == ("ivr", expected)
        assert rows["C8"]["short_abandon"] is False
