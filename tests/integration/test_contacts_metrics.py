"""Prometheus contact metrics: each transition counted once, waits observed, live gauges set."""

from __future__ import annotations

from datetime import timedelta

import pytest

from demandhub.gauges import refresh_contact_gauges
from demandhub.settings import Settings
from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse
from sinks.prometheus.metrics import REGISTRY
from streams.metrics_contacts import observe
from tests.integration.test_contacts_warehouse import messages, pipeline
from tests.unit.test_contacts_golden import T0, ev, golden_raw

pytestmark = pytest.mark.integration


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_counters_count_each_transition_once(wh: Warehouse, settings: Settings) -> None:
    before = {
        "off999": value("demandhub_contacts_offered_total", channel="999", queue="999"),
        "ans999": value("demandhub_contacts_answered_total", channel="999", queue="999"),
        "ab999": value("demandhub_contacts_abandoned_total", channel="999", queue="999"),
        "ivr": value("demandhub_contacts_abandoned_total", channel="101", queue="ivr"),
        "sec": value("demandhub_contacts_abandoned_total", channel="101", queue="101-secondary"),
        "chat": value("demandhub_contacts_offered_total", channel="webchat", queue="webchat"),
        "le10": value("demandhub_answer_wait_seconds_bucket", queue="999", le="10.0"),
    }
    pipe = pipeline(settings, wh)
    raw = golden_raw()
    observe(pipe.process(messages(raw)))
    observe(pipe.process(messages(raw, 1000)))  # redelivered: nothing new
    assert value("demandhub_contacts_offered_total", channel="999", queue="999") - before["off999"] == 7
    assert value("demandhub_contacts_answered_total", channel="999", queue="999") - before["ans999"] == 4
    assert value("demandhub_contacts_abandoned_total", channel="999", queue="999") - before["ab999"] == 3
    assert value("demandhub_contacts_abandoned_total", channel="101", queue="ivr") - before["ivr"] == 1
    # C13 (in transfer, no queue named) and C14 (secondary queue, no queue named)
    assert (
        value("demandhub_contacts_abandoned_total", channel="101", queue="101-secondary") - before["sec"] == 2
    )
    assert value("demandhub_contacts_offered_total", channel="webchat", queue="webchat") - before["chat"] == 4
    # 999 answer waits 7, 9, 25, 75: two at or below the 10 s bucket edge
    assert value("demandhub_answer_wait_seconds_bucket", queue="999", le="10.0") - before["le10"] == 2


def test_live_gauges(wh: Warehouse, settings: Settings) -> None:
    raw = [
        ev("G1", "webchat.offered.v1", 0, 0),
        ev("G2", "webchat.offered.v1", 30, 0),
        ev("G2", "webchat.answered.v1", 40, 1),
    ]
    pipeline(settings, wh).process(messages(raw))
    refresh_contact_gauges(wh, "cambs", T0 + timedelta(seconds=90), Definitions())
    assert value("demandhub_queue_waiting_contacts", queue="webchat") == 1
    assert value("demandhub_queue_longest_wait_seconds", queue="webchat") == 90
    assert value("demandhub_queue_waiting_contacts", queue="999") == 0


def test_a_transition_held_until_its_offer_arrives_is_counted_when_taken_in(
    wh: Warehouse, settings: Settings
) -> None:
    offered = ("demandhub_contacts_offered_total", {"channel": "webchat", "queue": "webchat"})
    answered = ("demandhub_contacts_answered_total", {"channel": "webchat", "queue": "webchat"})
    before = [value(name, **labels) for name, labels in (offered, answered)]
    pipe = pipeline(settings, wh)
    held = pipe.process(messages([ev("H1", "webchat.answered.v1", 40, 1)]))
    assert [why.split(":")[0] for _, why in held.quarantined] == ["missing_opening"]
    observe(held)  # held out: nothing counted yet
    assert [value(n, **labels) for n, labels in (offered, answered)] == before
    arrived = pipe.process(messages([ev("H1", "webchat.offered.v1", 30, 0)], 10))
    assert [why.split(":")[0] for _, why in arrived.resolved] == ["missing_opening"]
    observe(arrived)
    observe(pipe.process(messages([ev("H1", "webchat.offered.v1", 30, 0)], 20)))  # redelivered
    after = [value(n, **labels) - b for (n, labels), b in zip((offered, answered), before, strict=True)]
    assert after == [1, 1]
