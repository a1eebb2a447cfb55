"""Contact folds: order / duplicate independence, partial histories, quarantine."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.definitions import Definitions
from schemas.envelope import Envelope
from schemas.events import entity_of, parse_event
from sinks.clickhouse import contacts_sql
from sinks.clickhouse.migrate import load_migrations
from streams.domain.base import Row
from streams.domain.contacts import CONTACTS, LEGS, CallFold, OnlineReportFold, WebchatFold
from streams.domain.servicelevel import leg_short_abandon, service_wait
from tests.unit.test_contacts_golden import FOLDS, ev, fold_all, golden_events

pytestmark = pytest.mark.unit

DEFS = Definitions()
GOLDEN = golden_events()


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.lists(st.integers(0, len(GOLDEN) - 1), max_size=20))
def test_same_facts_whatever_order_or_duplication(rnd: object, dup_idx: list[int]) -> None:
    shuffled = list(GOLDEN) + [GOLDEN[i] for i in dup_idx]
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert fold_all(shuffled, DEFS) == fold_all(GOLDEN, DEFS)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_partial_histories_always_fold(data: st.DataObject) -> None:
    """Any subset of a subject's events folds to rows with the full set of columns."""
    full = fold_all(GOLDEN, DEFS)
    keys = {t: set(rows[0]) for t, rows in full.items()}
    subset = data.draw(st.lists(st.sampled_from(GOLDEN), unique_by=lambda e: e.dedup_key))
    for table, rows in fold_all(subset, DEFS).items():
        for row in rows:
            assert set(row) == keys[table]


def _pe(subject: str, etype: str, at: float, n: int, **data: object) -> Envelope:
    return parse_event(ev(subject, etype, at, n, **data))


def test_answer_without_offer_is_held_until_the_offer_arrives() -> None:
    """An answer for a call never offered makes no contact (no phantom answered call) and is
    quarantined; once the offer arrives, out of order, the same answer is taken in."""
    only = [_pe("X", "call.answered.v1", 10, 2, queue="999")]
    result = CallFold().fold(only, DEFS)
    assert result.rows == {}
    assert [(e.id, why.split(":")[0]) for e, why in result.quarantined] == [("X-2", "missing_opening")]
    full = [
        *only,
        _pe("X", "call.offered.v1", 0, 0, channel="999"),
        _pe("X", "call.queued.v1", 1, 1, queue="999"),
    ]
    result = CallFold().fold(full, DEFS)
    assert result.quarantined == []
    leg = result.rows[LEGS][0]
    assert leg["wait_seconds"] == 9  # queued 1 -> 10
    assert service_wait(leg, DEFS.calls.clock_start_999) == 10  # offered 0 -> 10 (the 999 clock)
    assert result.rows[CONTACTS][0]["outcome"] == "answered"


def test_contact_ended_before_its_offer_is_quarantined() -> None:
    events = [
        _pe("E", "call.offered.v1", 10, 0, channel="101"),
        _pe("E", "call.queued.v1", 11, 1, queue="101-primary"),
        _pe("E", "call.ended.v1", 5, 2, disposition="advice"),
    ]
    result = CallFold().fold(events, DEFS)
    assert [(e.id, why) for e, why in result.quarantined] == [
        ("E-2", "time_order: ended before the contact was offered")
    ]
    contact = result.rows[CONTACTS][0]
    assert (contact["ended_at"], contact["outcome"]) == (None, "waiting")


def test_online_report_without_submission_has_no_fact() -> None:
    triage = _pe("O", "online_report.triaged.v1", 10, 1, outcome="crime")
    result = OnlineReportFold().fold([triage], DEFS)
    assert result.rows == {} and [e.id for e, _ in result.quarantined] == ["O-1"]
    submitted = _pe("O", "online_report.submitted.v1", 0, 0, report_type="crime")
    result = OnlineReportFold().fold([triage, submitted], DEFS)
    assert result.quarantined == [] and result.rows[CONTACTS][0]["outcome"] == "triaged"


def test_same_millisecond_events_in_any_type_order() -> None:
    events = [
        _pe("Y", "call.offered.v1", 0, 9, channel="101"),
        _pe("Y", "call.queued.v1", 0, 8, queue="101-primary"),
        _pe("Y", "call.answered.v1", 5, 7, queue="101-primary"),
        _pe("Y", "call.transferred.v1", 5, 6, from_queue="101-primary", to_queue="101-secondary"),
        _pe("Y", "call.queued.v1", 5, 5, queue="101-secondary"),
        _pe("Y", "call.abandoned.v1", 5, 4, stage="secondary_queue"),
    ]
    legs = {r["queue"]: r for r in CallFold().fold(events, DEFS).rows[LEGS]}
    assert legs["101-primary"]["leg_index"] == 0 and legs["101-secondary"]["leg_index"] == 1
    assert legs["101-secondary"]["outcome"] == "abandoned" and legs["101-secondary"]["wait_seconds"] == 0
    assert legs["101-primary"]["outcome"] == "answered"


def test_impossible_events_are_quarantined() -> None:
    events = [
        _pe("Z", "call.offered.v1", 10, 0, channel="101"),
        _pe("Z", "call.queued.v1", 5, 1, queue="101-primary"),  # before the offer
        _pe("Z", "call.queued.v1", 12, 2, queue="101-secondary"),
        _pe("Z", "call.answered.v1", 11, 3, queue="101-secondary"),  # before it entered the queue
        _pe("Z", "call.answered.v1", 20, 4, queue="101-secondary"),
        _pe("Z", "call.abandoned.v1", 25, 5, stage="secondary_queue", queue="101-secondary"),  # after answer
        _pe("Z", "call.ended.v1", 30, 6, disposition="advice"),
        _pe("Z", "call.ended.v1", 31, 7, disposition="advice"),  # second end
    ]
    result = CallFold().fold(events, DEFS)
    reasons = sorted((e.id, why) for e, why in result.quarantined)
    assert [r[0] for r in reasons] == ["Z-1", "Z-3", "Z-5", "Z-7"]
    legs = {r["queue"]: r for r in result.rows[LEGS]}
    assert set(legs) == {"101-primary", "101-secondary"}  # a leg named only by a refused event stays
    assert legs["101-secondary"]["answered_at"] is not None and legs["101-secondary"]["wait_seconds"] == 8
    assert legs["101-primary"]["outcome"] == "waiting" and not legs["101-primary"]["entered_queue"]


def test_webchat_abandon_is_a_queue_abandon() -> None:
    events = [_pe("W", "webchat.offered.v1", 0, 0), _pe("W", "webchat.abandoned.v1", 12, 1)]
    rows = WebchatFold().fold(events, DEFS).rows
    leg = rows[LEGS][0]
    assert (
        leg["channel"],
        leg["abandoned_in_queue"],
        leg["wait_seconds"],
        leg_short_abandon(leg, DEFS.calls),
    ) == (
        "webchat",
        True,
        12,
        False,
    )
    assert rows[CONTACTS][0]["outcome"] == "abandoned"


def test_leg_ids_never_disappear_as_events_arrive() -> None:
    """Every leg id of a partial history is still produced by every fuller history."""
    by_subject: dict[str, list[Envelope]] = {}
    for e in GOLDEN:
        by_subject.setdefault(e.subject, []).append(e)
    for evs in by_subject.values():
        fold = FOLDS[evs[0].type.split(".")[0]]
        ordered = sorted(evs, key=lambda e: e.id, reverse=True)
        seen: set[str] = set()
        for i in range(1, len(ordered) + 1):
            ids = {
                r.get("leg_id") or r["contact_id"]
                for t, rows in fold.fold(ordered[:i], DEFS).rows.items()
                for r in rows
            }
            assert seen <= ids
            seen = ids


def test_placed_at_is_utc() -> None:
    for rows in fold_all(GOLDEN, DEFS).values():
        for row in rows:
            assert (
                isinstance(row["placed_at"], datetime) and row["placed_at"].utcoffset().total_seconds() == 0
            )


BAKED = {
    "clock_start",
    "clock_started_at",
    "service_wait_seconds",
    "threshold_seconds",
    "short_abandon_seconds",
    "short_abandon",
    "definition_version",
}


def test_facts_hold_no_definition() -> None:
    """Facts keep what happened: folding under any call definition gives the same rows, and no row
    carries a column that depends on a definition (they are applied when figures are read)."""

    def raw(defs: Definitions) -> list[Row]:
        by_subject: dict[str, list[Envelope]] = {}
        for e in GOLDEN:
            by_subject.setdefault(e.subject, []).append(e)
        return [
            row
            for evs in by_subject.values()
            for rows in FOLDS[entity_of(evs[0].type)].fold(evs, defs).rows.values()
            for row in rows
        ]

    base = raw(DEFS)
    assert base and all(not BAKED & set(row) for row in base)
    alternatives = [
        "calls.clock_start_999=bt_connect",
        "calls.clock_start_999=queued",
        "calls.service_threshold_seconds.999=5",
        "calls.short_abandon_seconds.999=30",
        "calls.ivr_short_abandon_seconds=null",
        "calls.abandon_convention=ignore",
        "calls.dedupe_short_abandons_from_volumes=true",
        "calls.band_edges_seconds.999=[5]",
    ]
    for item in alternatives:
        assert raw(DEFS.with_overrides([item])) == base, item


def test_the_newest_migration_of_each_analyst_view_holds_its_generated_text() -> None:
    """contact_legs_applied / contacts_applied apply the same fragments as every reader: the last
    migration that (re)creates each view holds the text contacts_sql generates today."""
    for facts in ("contact_legs", "contacts"):
        creates = f"CREATE OR REPLACE VIEW {facts}_applied\n"
        newest = [m for m in load_migrations() if creates in m.sql][-1]
        assert contacts_sql.applied_select(facts) in newest.sql, (facts, newest.number)


def test_the_analyst_views_embed_a_default_for_every_call_definition_they_read() -> None:
    """A view falls back to the defaults it embeds (ACTIVE_KEYS) when no definitions are recorded:
    a fragment reading any other call definition would read NULL there."""
    text = " ".join(
        str(part) if isinstance(part, str) else " ".join(part(q) for q in ("'999'",))
        for part in vars(contacts_sql.ACTIVE).values()
    )
    read = set(re.findall(r"'calls', '([a-z_0-9]+)'", text))
    assert read == set(contacts_sql.ACTIVE_KEYS)
