"""Every call definition is applied when contact figures are read (issue 15, section 1).

One warehouse is built from the golden contact events (plus a few that make each definition bite)
under the default definitions. For every ``calls.*`` definition an alternative value is read from
that warehouse without any replay (the readers compute from the facts: the rollups hold rows of the
defaults' hash only) and must (a) differ from the figures under the defaults and (b) equal the
figures read after replaying the same events from scratch under the alternative (the rollup path:
the rollups are then complete under it). Figures: the board cells, the live queues (waiting now and
the windows), the lineage of every contact cell and the public 999 answer-time table.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from demandhub.board.maths.months import YearMonth
from demandhub.board.warehouse import public
from demandhub.board.warehouse.lineage import contact_contributions
from demandhub.queries.contacts import live_queues, monthly_cells
from demandhub.settings import Settings
from schemas.definitions import Definitions
from schemas.events import entity_of
from schemas.topics import TOPICS
from sinks.clickhouse import contacts_sql
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.rollups import reads_rollup
from streams import registry
from streams.domain.servicelevel import applied_contact, applied_leg
from streams.pipeline import Pipeline, RawMessage
from tests.unit.test_contacts_golden import T0, _call, ev, golden_raw

pytestmark = pytest.mark.integration

FORCE = "cambs"
MARCH = YearMonth(2024, 3)
NOW = T0 + timedelta(minutes=30)
ROLLUPS = ("contact_queue_15m", "contact_channel_15m")

ALTERNATIVES: dict[str, list[str]] = {
    "calls.service_threshold_seconds": [
        'calls.service_threshold_seconds={"999": 8, "101-primary": 15, "101-secondary": 30, "webchat": 30}'
    ],
    "calls.band_edges_seconds": ["calls.band_edges_seconds.999=[8, 30]"],
    "calls.short_abandon_seconds": ["calls.short_abandon_seconds.999=10"],
    "calls.abandon_convention": ["calls.abandon_convention=count_as_met"],
    "calls.callbacks_in_service_level": ["calls.callbacks_in_service_level=missed"],
    "calls.clock_start_999": ["calls.clock_start_999=bt_connect"],
    "calls.ivr_short_abandon_seconds": ["calls.ivr_short_abandon_seconds=null"],
    "calls.dedupe_short_abandons_from_volumes": ["calls.dedupe_short_abandons_from_volumes=true"],
}
QUEUED_CLOCK = ["calls.clock_start_999=queued"]


def events() -> list[dict[str, Any]]:
    """The golden set, plus: X2 a 1 s IVR hang-up (short unless the IVR threshold is off); X3 a 999
    call queued 5 s after its offer and answered 7 s later (missed from the offer, met from the
    queue); X4 a 999 call still waiting at NOW, BT connect 20 s before its offer and queued 8 s after."""
    x2 = _call("X2", "101", [("ivr_entered", 0.5, {}), ("abandoned", 1.5, {"stage": "ivr"})])
    x3 = _call("X3", "999", [("queued", 5, {"queue": "999"}), ("answered", 12, {"queue": "999"})])
    at = 25 * 60
    x4 = [
        ev(
            "X4",
            "call.offered.v1",
            at,
            0,
            channel="999",
            bt_connect_time=(T0 + timedelta(seconds=at - 20)).isoformat(),
        ),
        ev("X4", "call.queued.v1", at + 8, 1, queue="999"),
    ]
    return [*golden_raw(), *x2, *x3, *x4]


def _messages() -> list[RawMessage]:
    return [
        RawMessage(TOPICS[entity_of(e["type"])].name, 0, i, json.dumps(e).encode())
        for i, e in enumerate(events())
    ]


def _empty(wh: Warehouse) -> None:
    rows = wh.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"
    ).rows
    for (name,) in rows:
        wh.command(f"TRUNCATE TABLE IF EXISTS `{name}`")


def _replay(wh: Warehouse, settings: Settings, definitions: Definitions) -> None:
    """From scratch: empty the warehouse, fold every event under ``definitions``, refresh."""
    _empty(wh)
    mine = settings.model_copy(update={"definitions": definitions})
    pipe = Pipeline(
        mine, wh, folds=registry.folds(), pseudonymisation_key=b"k", refreshers=registry.refreshers()
    )
    report = pipe.process(_messages())
    assert not report.dead_letters and not report.quarantined
    pipe.refresh_rollups()


def figures(wh: Warehouse, defs: Definitions) -> dict[str, Any]:
    lineage = contact_contributions(wh, FORCE, MARCH, MARCH, defs)
    sections = public.answer_time_sections(wh, FORCE, defs, [MARCH])
    return {
        "cells": monthly_cells(wh, FORCE, MARCH, MARCH, defs),
        "live": live_queues(wh, FORCE, NOW, defs),
        "lineage": {
            measure: sorted((c.entity, c.num, c.den, c.rule, c.reason) for c in months.get(MARCH, []))
            for measure, months in lineage.items()
        },
        "public": {m: (s.counts, s.derived_parts) for m, s in sections.items()},
    }


def test_every_call_definition_is_applied_when_read(wh: Warehouse, settings: Settings) -> None:
    default = Definitions()
    assert set(ALTERNATIVES) == {leaf for leaf in Definitions.leaves() if leaf.startswith("calls.")}
    alternatives = {leaf: default.with_overrides(a) for leaf, a in ALTERNATIVES.items()}
    alternatives["calls.clock_start_999 (queued)"] = default.with_overrides(QUEUED_CLOCK)

    _replay(wh, settings, default)
    assert all(reads_rollup(wh, t, default) for t in ROLLUPS)
    base = figures(wh, default)
    without_replay = {}
    for name, defs in alternatives.items():
        assert not any(reads_rollup(wh, t, defs) for t in ROLLUPS), name  # read from the facts
        without_replay[name] = figures(wh, defs)
        assert without_replay[name] != base, f"{name}: the alternative changed no figure"

    for name, defs in alternatives.items():
        _replay(wh, settings, defs)
        assert all(reads_rollup(wh, t, defs) for t in ROLLUPS), name  # read from the rollups
        assert figures(wh, defs) == without_replay[name], name
    # and back: the defaults read from the last replay's facts equal the first warehouse's figures
    assert figures(wh, default) == base


def test_python_rules_equal_the_sql_fragments(wh: Warehouse, settings: Settings) -> None:
    """streams.domain.servicelevel's applied_leg / applied_contact (the metrics' and golden tests'
    rules) give the columns contacts_sql derives in ClickHouse, under every alternative."""
    _replay(wh, settings, Definitions())
    legs = wh.query("SELECT * FROM contact_legs FINAL").dicts()
    contacts = wh.query("SELECT * FROM contacts FINAL").dicts()
    derived_legs = [c for c, _ in contacts_sql.leg_columns(contacts_sql.PARAMS)]
    for overrides in [*ALTERNATIVES.values(), QUEUED_CLOCK, []]:
        defs = Definitions().with_overrides(overrides)
        params = contacts_sql.params(defs)
        sql_legs = {
            r["leg_id"]: r
            for r in wh.query(f"SELECT * FROM {contacts_sql.legs_from()}", parameters=params).dicts()
        }
        for leg in legs:
            py = applied_leg(leg, defs.calls)
            got = {c: sql_legs[leg["leg_id"]][c] for c in derived_legs}
            want = {c: py[c] for c in derived_legs}
            got["short_abandon"] = bool(got["short_abandon"])
            assert got == want, (overrides, leg["leg_id"])
        sql_contacts = {
            r["contact_id"]: bool(r["short_abandon"])
            for r in wh.query(f"SELECT * FROM {contacts_sql.contacts_from()}", parameters=params).dicts()
        }
        assert sql_contacts == {
            c["contact_id"]: applied_contact(c, defs.calls)["short_abandon"] for c in contacts
        }, overrides
        assert any(sql_contacts.values())
