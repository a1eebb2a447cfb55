"""The social media thread fold: raw facts from the golden examples, order-free, definition-free,
impossible sequences quarantined.

Golden set (schemas/examples/demandhub.contacts.social.v1, t0 = 2024-03-05 10:00 UTC):
  S1 facebook DM +0, assigned +12 min, responded +31 and +62 min, closed by a handler +80 min with an
     incident (I100): first response 1860 s, two responses, not abandoned;
  S2 x public post +5 min, closed by the public +160 min with no response: abandoned after 9300 s;
  S3 instagram comment +7 min, still open.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.definitions import Definitions
from schemas.envelope import Envelope, PiiTreatment, pii_fields
from schemas.events import EVENT_MODELS, parse_event
from streams.domain.pii import HASH_PREFIX, sanitise
from streams.domain.social import THREADS, SocialFold

pytestmark = pytest.mark.unit

EXAMPLES = Path(__file__).resolve().parents[2] / "schemas" / "examples" / "demandhub.contacts.social.v1"


def golden() -> list[dict[str, Any]]:
    return [e for path in sorted(EXAMPLES.glob("*.json")) for e in json.loads(path.read_text())]


def thread(subject: str) -> list[Envelope]:
    return [parse_event(e) for e in golden() if e["subject"] == subject]


def row(events: list[Envelope], definitions: Definitions | None = None) -> dict[str, Any]:
    result = SocialFold().fold(events, definitions or Definitions())
    assert result.quarantined == []
    [only] = result.rows[THREADS]
    return only


def t(minutes: int) -> datetime:
    return datetime(2024, 3, 5, 10, 0, tzinfo=UTC) + timedelta(minutes=minutes)


def test_a_thread_answered_and_closed_with_an_incident() -> None:
    r = row(thread("S1"))
    assert (
        r["platform"] == "facebook"
        and r["message_kind"] == "direct_message"
        and r["district"] == "Peterborough"
    )
    assert r["received_at"] == t(0) and r["first_assigned_at"] == t(12)
    assert r["first_response_at"] == t(31) and r["last_response_at"] == t(62) and r["responses"] == 2
    assert r["first_response_seconds"] == 1860.0
    assert (r["closed_at"], r["closed_by"], r["disposition"]) == (t(80), "handler", "incident_created")
    assert (r["incident_id"], r["crime_id"], r["abandoned"], r["abandon_seconds"]) == (
        "I100",
        "",
        False,
        None,
    )


def test_a_thread_closed_by_the_public_before_any_response_is_abandoned() -> None:
    r = row(thread("S2"))
    assert r["abandoned"] is True and r["abandon_seconds"] == 9300.0
    assert r["first_response_at"] is None and r["first_response_seconds"] is None
    assert (r["closed_by"], r["disposition"]) == ("public", "no_action")


def test_an_open_thread_has_no_closure() -> None:
    r = row(thread("S3"))
    assert r["closed_at"] is None and r["closed_by"] == "" and r["disposition"] == "" and not r["abandoned"]


def test_the_public_closing_after_a_response_is_not_an_abandon() -> None:
    events = [e.model_dump(mode="json") for e in thread("S1")]
    for e in events:
        if e["type"] == "social.closed.v1":
            e["data"] = {"closed_by": "public", "disposition": "no_action"}
    r = row([parse_event(e) for e in events])
    assert r["closed_by"] == "public" and r["abandoned"] is False and r["abandon_seconds"] is None


def test_the_facts_do_not_depend_on_the_definitions() -> None:
    other = Definitions().with_overrides(
        [
            "social.first_response_target_minutes=5",
            "social.target_basis=received",
            "social.short_abandon_minutes=30",
        ]
    )
    for subject in ("S1", "S2", "S3"):
        assert row(thread(subject)) == row(thread(subject), other)


def test_without_a_receipt_every_event_is_held() -> None:
    events = [e for e in thread("S1") if e.type != "social.received.v1"]
    result = SocialFold().fold(events, Definitions())
    assert result.rows == {} and len(result.quarantined) == len(events)
    assert all(reason.startswith("missing_opening") for _, reason in result.quarantined)


def test_events_before_the_receipt_or_after_the_close_are_quarantined() -> None:
    raw = {e["id"]: e for e in golden() if e["subject"] == "S1"}
    early = dict(raw["S1-2"], id="S1-early", time="2024-03-05T09:59:00+00:00")
    late = dict(raw["S1-3"], id="S1-late", time="2024-03-05T12:00:00+00:00")
    second_close = dict(raw["S1-5"], id="S1-close2", time="2024-03-05T12:30:00+00:00")
    events = thread("S1") + [parse_event(e) for e in (early, late, second_close)]
    result = SocialFold().fold(events, Definitions())
    reasons = {e.id: why for e, why in result.quarantined}
    assert set(reasons) == {"S1-early", "S1-late", "S1-close2"}
    assert "before the thread was received" in reasons["S1-early"]
    assert "after the thread was closed" in reasons["S1-late"]
    assert result.rows[THREADS][0] == row(thread("S1"))


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.lists(st.integers(0, 4), max_size=4))
def test_the_fold_is_a_function_of_the_set_of_events(rng: random.Random, copies: list[int]) -> None:
    events = thread("S1")
    shuffled = events + [events[i] for i in copies]
    rng.shuffle(shuffled)
    assert SocialFold().fold(shuffled, Definitions()) == SocialFold().fold(events, Definitions())


def test_no_message_text_is_kept_and_the_handle_is_pseudonymised_like_a_phone_number() -> None:
    marked = {
        t: {path: (m.kind, m.treatment) for path, m in pii_fields(EVENT_MODELS[t])}
        for t in EVENT_MODELS
        if t.startswith("social.")
    }
    assert marked["social.received.v1"] == {
        "data.account_handle": ("social_handle", PiiTreatment.PSEUDONYMISE),
        "data.display_name": ("name", PiiTreatment.DROP),
        "data.message_text": ("free_text", PiiTreatment.DROP),
    }
    assert marked["social.responded.v1"]["data.response_text"] == ("free_text", PiiTreatment.DROP)
    assert marked["social.closed.v1"]["data.notes"] == ("free_text", PiiTreatment.DROP)
    raw = next(e for e in golden() if e["id"] == "S1-1")
    raw["data"] |= {
        "account_handle": "@jo_smith",
        "display_name": "Jo Smith",
        "message_text": "call me on 07700900123",
    }
    one = sanitise(parse_event(raw), b"k").data
    two = sanitise(parse_event(dict(raw, id="other")), b"k").data
    assert one.message_text is None and one.display_name is None  # type: ignore[attr-defined]
    assert one.account_handle.startswith(HASH_PREFIX) and "jo_smith" not in one.account_handle  # type: ignore[attr-defined]
    assert one.account_handle == two.account_handle  # type: ignore[attr-defined]
