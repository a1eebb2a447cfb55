"""Lineage of board figures: the entities listed for every cell of a simulated year's pack add up
to the published numerators and denominators, and a restatement names the entities behind it."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from demandhub.board.catalogue.config import PackSettings
from demandhub.board.catalogue.measures import load_catalogue
from demandhub.board.catalogue.msf import parse_msf
from demandhub.board.commands import add_board_arguments, run_board
from demandhub.board.maths.months import YearMonth
from demandhub.board.maths.rules import BoardRules
from demandhub.board.report import BoardConfig, auto_month, build_report, config_hash_of
from demandhub.board.warehouse.lineage import (
    explain,
    pack_lineage,
    reconcile_pack,
)
from demandhub.board.warehouse.store import publish
from demandhub.errors import InputError, UsageError
from demandhub.runtime import file_messages, replay
from demandhub.settings import Settings
from schemas.definitions import Definitions
from schemas.topics import topic_for_type
from sinks.clickhouse.client import Warehouse
from streams import registry
from streams.pipeline import Pipeline, RawMessage
from streams.sources.simulator import SimConfig, Simulation, simulate, write_jsonl
from tests.conftest import TEST_KEY
from tests.integration.test_web_api import (  # noqa: F401  (fixtures)
    ANALYST,
    NOW,
    SUPERVISOR,
    Feed,
    LiveServer,
    call,
    event,
    feed,
    hub_settings,
    server,
)

pytestmark = pytest.mark.integration

YEAR = SimConfig(start=date(2022, 1, 1), days=380, scale=0.004, seed=29)
SHORT = SimConfig(start=date(2019, 1, 1), days=75, seed=11, scale=0.02, forces=("cambs",))


def config(definitions: Definitions | None = None) -> BoardConfig:
    defs = definitions or Definitions()
    return BoardConfig(load_catalogue(), defs, BoardRules(), PackSettings(), parse_msf(""))


OTHER_DEFINITIONS = Definitions.model_validate(
    {
        "calls": {"dedupe_short_abandons_from_volumes": True, "abandon_convention": "offered_basis"},
        "incidents": {
            "asb_basis": "qualifier_ever",
            "mental_health_basis": "ever",
            "grade_basis": "final",
            "response_clock": "graded_at_arrival_grade",
        },
        "crimes": {"outcome_rate_basis": "cohort", "ncrs_hours": 12},
    }
)


def _units(cfg: BoardConfig) -> dict[str, str]:
    return {m.id: m.spec.unit for m in cfg.catalogue.measures}


def test_every_cell_of_a_simulated_years_pack_reconciles(
    wh: Warehouse, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "year.jsonl"
    write_jsonl(Simulation(YEAR).events(), path, seed=YEAR.seed)
    pipeline = Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers())
    replay(pipeline, file_messages(path, 2_000))
    cfg = config()
    month = auto_month(wh, cfg, "cambs")
    assert month is not None and month >= YearMonth(2022, 12)
    report = build_report(wh, cfg, "cambs", month, datetime(2023, 1, 20, tzinfo=UTC))
    lineage = pack_lineage(wh, cfg.catalogue, "cambs", month, cfg.definitions, cfg.pack, cfg.rules)
    assert reconcile_pack(report.data, cfg.catalogue, lineage) == []
    # The check is not vacuous: multi-month columns hold figures and one entity fewer breaks it.
    rows = {m["id"]: m for m in report.data["measures"]}
    assert rows["crime_all"]["cells"]["rolling_12"]["months_pooled"] == 12
    assert rows["qa_linking_queue_month_end"]["cells"]["fytd"]["num"] is not None
    crimes = lineage["crime_all"][YearMonth(2022, 6)]
    dropped = {**lineage, "crime_all": {**lineage["crime_all"], YearMonth(2022, 6): crimes[1:]}}
    assert ("crime_all", "rolling_12", "value") in reconcile_pack(report.data, cfg.catalogue, dropped)

    # One cell through explain: entities, deciding events and a reason in words.
    told = explain(
        wh, cfg.catalogue, "cambs", month, "outcome_rate_all", "current", cfg.definitions, cfg.rules, cfg.pack
    )
    assert told["reconciles"] and told["by_month"][0]["reconciles"]
    counted = [e for e in told["by_month"][0]["entities"] if e["counted"]]
    assert counted and all(e["events"] for e in counted)
    assert any(e["events"][0]["type"] == "crime.recorded.v1" for e in counted)
    assert any(e["reason"].startswith("counted: recorded ") for e in counted)
    level = explain(
        wh, cfg.catalogue, "cambs", month, "qa_linking_queue_month_end", "rolling_12",
        cfg.definitions, cfg.rules, cfg.pack, with_events=False,
    )  # fmt: skip
    assert level["reconciles"] and level["derivation"].startswith("mean of 12 month-end levels")
    # The same under the other settings of every definition the event measures read.
    other = config(OTHER_DEFINITIONS)
    report = build_report(wh, other, "cambs", month, datetime(2023, 1, 20, tzinfo=UTC))
    lineage = pack_lineage(wh, other.catalogue, "cambs", month, other.definitions, other.pack, other.rules)
    assert reconcile_pack(report.data, other.catalogue, lineage) == []
    survey = explain(
        wh, cfg.catalogue, "cambs", month, "victim_satisfaction_overall", "current",
        cfg.definitions, cfg.rules, cfg.pack,
    )  # fmt: skip
    assert survey["entities"] is None and "no entities" in survey["note"]


@cache
def short_events() -> list[dict[str, Any]]:
    return list(simulate(SHORT))


def _feed(wh: Warehouse, settings: Settings, events: list[dict[str, Any]]) -> None:
    pipeline = Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers())
    messages = [
        RawMessage(topic_for_type(e["type"]).name, 0, i, json.dumps(e).encode()) for i, e in enumerate(events)
    ]
    pipeline.process(messages)


def test_a_restatement_names_its_entities(
    wh: Warehouse, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    events = short_events()
    _feed(wh, settings, events)
    cfg = config()
    month = YearMonth(2019, 2)
    publish_args = board_args("--month", "2019-02", "--publish", "--extract-time", "2019-03-20T06:00:00")
    assert run_board(publish_args, settings, wh) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["publication"]["pack_version"] == 1
    lineage = pack_lineage(wh, cfg.catalogue, "cambs", month, cfg.definitions, cfg.pack, cfg.rules)
    stored = "SELECT count() FROM board_lineage_sets WHERE measure_id = 'crime_all' AND data_month = {d:Date}"
    assert wh.query(stored, parameters={"d": date(2019, 2, 1)}).rows[0][0] == sum(
        c.counted for c in lineage["crime_all"][month]
    )

    # Late events: a February crime is cancelled, and two new crimes recorded in February arrive.
    recorded = [e for e in events if e["type"] == "crime.recorded.v1" and e["time"].startswith("2019-02-1")]
    kept = {c.entity for c in lineage["crime_all"][month] if c.counted}
    old = next(e for e in recorded if e["subject"] in kept)
    cancel = {
        **old,
        "id": old["id"] + "-cx",
        "type": "crime.cancelled.v1",
        "time": old["time"].replace("2019-02-1", "2019-02-2"),
        "data": {"reason": "no_crime"},
    }
    report = next(
        e for e in events if e["type"] == "crime.reported.v1" and e["subject"] == recorded[-1]["subject"]
    )
    late = []
    for n in (1, 2):  # two new crimes and one cancelled: the count moves by one
        late += [
            {**report, "id": f"late-rep-{n}", "subject": f"CR-LATE-{n}"},
            {**recorded[-1], "id": f"late-rec-{n}", "subject": f"CR-LATE-{n}"},
        ]
    _feed(wh, settings, [cancel, *late])

    assert run_board(publish_args, settings, wh) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["publication"]["pack_version"] == 2
    # The revision log of the published pack names the entities behind the restatement.
    [body] = wh.query("SELECT pack_json FROM board_pack_versions WHERE pack_version = 2").rows[0]
    revisions = [
        r for r in json.loads(body)["revisions"] if r["measure"] == "crime_all" and r["column"] == "current"
    ]
    assert revisions, "the late events restate February's crime count"
    changed = revisions[0]["entities"]["2019-02"]
    assert [a["entity"] for a in changed["added"]] == ["CR-LATE-1", "CR-LATE-2"]
    assert [r["entity"] for r in changed["removed"]] == [old["subject"]]
    assert changed["changed"] == []
    # January did not change: version 2 refers to the entity set version 1 stored, not a copy.
    january = {"d": date(2019, 1, 1)}
    assert wh.query(stored, parameters=january).rows[0][0] == sum(
        c.counted for c in lineage["crime_all"][YearMonth(2019, 1)]
    )

    # Explain against version 1: the figure as published then, and the entities changed since.
    told = explain(
        wh, cfg.catalogue, "cambs", month, "crime_all", "current", cfg.definitions, cfg.rules, cfg.pack,
        with_events=False, version=1,
    )  # fmt: skip
    published = {m["id"]: m for m in first["measures"]}["crime_all"]
    assert told["published"]["value"] == published["current"] == told["value"] - 1
    since = told["published"]["changed_since"]["2019-02"]
    assert [a["entity"] for a in since["added"]] == ["CR-LATE-1", "CR-LATE-2"]
    assert [r["entity"] for r in since["removed"]] == [old["subject"]]
    # Against version 2 nothing has changed.
    latest = explain(
        wh, cfg.catalogue, "cambs", month, "crime_all", "current", cfg.definitions, cfg.rules, cfg.pack,
        with_events=False, version=2,
    )  # fmt: skip
    assert latest["published"]["changed_since"] == {}


def board_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_board_arguments(parser)
    return parser.parse_args(list(argv))


def args_of_explain(*extra: str) -> list[str]:
    return ["explain", "--month", "2019-02", "--measure", "crime_all", *extra]


def test_the_explain_command_prints_the_cell_and_needs_a_measure(
    wh: Warehouse, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _feed(wh, settings, short_events())
    capsys.readouterr()
    args = board_args("explain", "--month", "2019-02", "--measure", "crime_all", "--limit", "3")
    assert run_board(args, settings, wh) == 0
    told = json.loads(capsys.readouterr().out)
    month = told["by_month"][0]
    assert told["reconciles"] and month["reconciles"] and len(month["entities"]) == 3
    assert month["counted"] == month["cell"]["num"] > 3  # the limit shortens the list, not the count
    assert month["entities"][0]["events"][0]["id"]
    # A version stored without its entities says that what changed cannot be told entity by entity.
    cfg = config()
    report = build_report(wh, cfg, "cambs", YearMonth(2019, 2))
    publish(wh, report.data, config_hash_of(report))
    assert run_board(board_args(*args_of_explain("--version", "1")), settings, wh) == 0
    assert json.loads(capsys.readouterr().out)["published"]["changed_since"] is None
    with pytest.raises(UsageError):
        run_board(board_args("explain", "--month", "2019-02"), settings, wh)
    with pytest.raises(InputError, match="unknown measure 'nope'"):
        run_board(board_args("explain", "--month", "2019-02", "--measure", "nope"), settings, wh)
    with pytest.raises(InputError, match="unknown column"):
        run_board(board_args("explain", "--measure", "crime_all", "--column", "latest"), settings, wh)


def test_the_explain_route_is_for_analysts(server: LiveServer, feed: Feed) -> None:  # noqa: F811
    day = timedelta(days=1)
    may = NOW - 30 * day
    feed.send(
        [
            event("crime.reported.v1", "R9", may - day),
            event("crime.recorded.v1", "R9", may, offence_code="8N", district="Fenland"),
            event("crime.reported.v1", "R10", NOW - day),
        ]
    )
    path = "/api/board/explain?month=2024-05&measure=crime_all&column=current"
    assert call(server, "GET", path, token=SUPERVISOR).status == 403
    reply = call(server, "GET", path, token=ANALYST)
    assert reply.status == 200, reply.body
    told = reply.json()
    assert told["reconciles"]
    [entity] = told["by_month"][0]["entities"]
    assert entity["entity"] == "R9" and entity["reason"].startswith("counted: recorded 2024-05-13 as 8N")
    assert [e["type"] for e in entity["events"]] == ["crime.recorded.v1"]
    assert call(server, "GET", path.replace("crime_all", "nope"), token=ANALYST).status == 404
    survey = call(server, "GET", path.replace("crime_all", "victim_satisfaction_overall"), token=ANALYST)
    assert survey.json()["entities"] is None
    assert call(server, "GET", path + "&limit=x", token=ANALYST).status == 400
