"""The simulator's social media threads link to incidents and crimes its CAD and crime feeds carry."""

from __future__ import annotations

from datetime import date

import pytest

from streams.sources.simulator import SimConfig, simulate

pytestmark = pytest.mark.unit


def test_linked_incidents_and_crimes_exist_with_the_thread_as_first_report() -> None:
    events = list(simulate(SimConfig(start=date(2021, 6, 1), days=10, scale=0.5)))
    by_subject: dict[str, dict[str, dict[str, object]]] = {}
    for e in events:
        by_subject.setdefault(e["subject"], {}).setdefault(e["type"], e)
    closes = [e for e in events if e["type"] == "social.closed.v1"]
    incidents = [c for c in closes if c["data"].get("incident_id")]
    crimes = [c for c in closes if c["data"].get("crime_id")]
    assert incidents and crimes
    for close in incidents:
        created = by_subject[close["data"]["incident_id"]]["incident.created.v1"]
        assert created["source"] == "cad" and created["data"]["channel"] == "other"
        assert created["time"] == close["time"]
    for close in crimes:
        thread = by_subject[close["subject"]]["social.received.v1"]
        reported = by_subject[close["data"]["crime_id"]]["crime.reported.v1"]
        assert reported["source"] == "crime" and reported["time"] == close["time"]
        assert reported["data"]["first_reported_at"] == thread["time"]
