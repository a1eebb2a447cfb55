"""Definitions applied for one run: ``--define`` on the board, channels and explain commands and the
API, the pack naming what it applied, definitions compared side by side, the definitions stored with
a published pack (used by explain and revisions), and ``demandhub rebuild``."""

from __future__ import annotations

import argparse
import io
import json
from contextlib import redirect_stdout
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from demandhub import cli
from demandhub.board.commands import (
    add_board_arguments,
    add_channels_arguments,
    build_board,
    explain_cell,
    run_board,
    run_channels,
)
from demandhub.errors import BusyError, InputError, UsageError
from demandhub.runtime import build_pipeline, rebuild
from demandhub.settings import Settings
from schemas.definitions import Definitions
from schemas.topics import topic_for_type
from sinks.clickhouse.client import Warehouse
from streams import registry
from streams.pipeline import Pipeline, RawMessage
from streams.sources.simulator import SimConfig, simulate
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.integration

SIM = SimConfig(start=date(2019, 1, 1), days=45, seed=5, scale=0.01, forces=("cambs",))
MONTH = "2019-01"
EXTRACT = "2019-02-20T09:00:00+00:00"
TODAY = "2019-02-20"
SECRET = "Qz7secretvalue"
# A definition every converted reader applies: the outcome types counted as prosecution possible.
OUTCOMES = "crimes.prosecution_possible_types=[1]"


@cache
def sim_events() -> list[dict[str, Any]]:
    return list(simulate(SIM))


def load(wh: Warehouse, settings: Settings) -> None:
    events = sim_events()
    pipeline = Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers())
    for start in range(0, len(events), 5000):
        chunk = events[start : start + 5000]
        pipeline.process(
            [
                RawMessage(topic_for_type(e["type"]).name, 0, start + i, json.dumps(e).encode())
                for i, e in enumerate(chunk)
            ]
        )


def board_args(*extra: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_board_arguments(p)
    return p.parse_args(["--month", MONTH, "--today", TODAY, "--extract-time", EXTRACT, *extra])


def run_json(args: argparse.Namespace, settings: Settings, wh: Warehouse) -> dict[str, Any]:
    out = io.StringIO()
    with redirect_stdout(out):
        run_board(args, settings, wh)
    return dict(json.loads(out.getvalue()))


def by_id(pack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in pack["measures"]}


def contents(wh: Warehouse) -> dict[str, tuple[Any, ...]]:
    """Every table's rows as a count and a checksum (after FINAL: background merges change nothing)."""
    tables = wh.query(
        "SELECT name, engine FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree'"
    ).rows
    return {
        name: wh.query(
            f"SELECT count(), sum(cityHash64(*)) FROM `{name}`{' FINAL' if engine != 'MergeTree' else ''}"
        ).rows[0]
        for name, engine in tables
    }


_last_load: dict[str, dict[str, tuple[Any, ...]]] = {}


@pytest.fixture
def loaded(warehouse: Warehouse, settings: Settings) -> Warehouse:
    """The session warehouse holding the simulated events. Loading them is the slow part, so a test
    gets the previous test's warehouse when it holds exactly what the last load left (compared table
    by table: a test that published or rebuilt, or another module's test, makes it load again)."""
    if _last_load.get("contents") != contents(warehouse):
        for name in contents(warehouse):
            if name != "schema_migrations":
                warehouse.command(f"TRUNCATE TABLE `{name}`")
        load(warehouse, settings)
        _last_load["contents"] = contents(warehouse)
    return warehouse


def test_define_applies_for_one_run_and_the_pack_names_what_it_applied(
    loaded: Warehouse, settings: Settings
) -> None:
    plain = run_json(board_args(), settings, loaded)
    metrics = plain["definitions"]["metrics"]
    assert metrics["config_hash"] == metrics["configured_hash"] == Definitions().config_hash()
    assert metrics["overridden"] == {}
    defined = run_json(
        board_args("--define", OUTCOMES, "--define", "calls.abandon_convention=ignore"), settings, loaded
    )
    applied = defined["definitions"]["metrics"]
    expected = Definitions().with_overrides([OUTCOMES, "calls.abandon_convention=ignore"])
    assert applied["config_hash"] == expected.config_hash() != metrics["config_hash"]
    assert applied["configured_hash"] == Definitions().config_hash()
    assert applied["settings"] == expected.as_dict()
    assert applied["overridden"] == {
        "calls.abandon_convention": {"configured": "answered_basis", "applied": "ignore"},
        "crimes.prosecution_possible_types": {"configured": [1, 2, 3, 4, 5, 6, 7, 8], "applied": [1]},
    }
    assert defined["definitions"]["config_hash"] != plain["definitions"]["config_hash"]
    # the words of each measure are filled from the definitions applied
    words = {w["measure"]: w["definition"] for w in defined["definitions_in_words"]}
    assert words != {w["measure"]: w["definition"] for w in plain["definitions_in_words"]}
    # the figures are read under them: the outcome rate with fewer outcome types is not higher
    before, after = by_id(plain)["outcome_rate_all"]["current"], by_id(defined)["outcome_rate_all"]["current"]
    assert before is not None and after is not None and after <= before
    # the HTML appendix says which paths were overridden from the configured set
    body, _ = build_board(
        settings,
        loaded,
        MONTH,
        "html",
        datetime(2019, 2, 20, tzinfo=UTC),
        today=date(2019, 2, 20),
        defines=[OUTCOMES],
    )
    page = body.decode()
    appendix = page[page.index('id="definitions"') :]
    assert "Overridden for this pack" in appendix and "crimes.prosecution_possible_types" in appendix
    assert Definitions().config_hash() in appendix
    plain_page = build_board(
        settings, loaded, MONTH, "html", datetime(2019, 2, 20, tzinfo=UTC), today=date(2019, 2, 20)
    )[0].decode()
    assert "Overridden for this pack" not in plain_page


def test_definitions_compared_side_by_side(loaded: Warehouse, settings: Settings, tmp_path: Path) -> None:
    pack = run_json(board_args("--compare-define", OUTCOMES), settings, loaded)
    section = pack["comparison"]
    keys = list(pack)
    assert keys.index("comparison") == keys.index("definitions_in_words") + 1
    assert section["configured"]["config_hash"] == pack["definitions"]["metrics"]["config_hash"]
    alternative = Definitions().with_overrides([OUTCOMES])
    assert section["alternative"]["config_hash"] == alternative.config_hash()
    assert list(section["alternative"]["differs_from_configured"]) == ["crimes.prosecution_possible_types"]
    compared = {m["id"]: m for m in section["measures"]}
    assert "outcome_rate_all" in compared and "contacts_999" not in compared
    for entry in section["measures"]:
        assert entry["differs"]
        for column in entry["differs"]:
            assert entry["cells"][column]["configured"] != entry["cells"][column]["alternative"]
        assert entry["cells"]["current"]["configured"] == by_id(pack)[entry["id"]]["current"]
    alone = run_json(board_args(), settings, loaded)
    assert by_id(alone) == by_id(pack)  # the pack's own figures are unchanged by the comparison
    # the alternative's figures are those of a run under the alternative
    other = run_json(board_args("--define", OUTCOMES), settings, loaded)
    for entry in section["measures"]:
        assert entry["cells"]["current"]["alternative"] == by_id(other)[entry["id"]]["current"]
    # HTML (and so the PDF) and the workbook have a "Definitions compared" section
    out = tmp_path / "pack.html"
    run_board(
        board_args("--compare-define", OUTCOMES, "--format", "html", "--out", str(out)), settings, loaded
    )
    page = out.read_text()
    section_html = page[page.index('<section id="comparison"') :]
    section_html = section_html[: section_html.index("</section>")]
    assert "Definitions compared" in section_html and alternative.config_hash() in section_html
    assert by_id(pack)["outcome_rate_all"]["name"] in section_html
    assert 'href="#comparison"' in page
    book = tmp_path / "pack.xlsx"
    run_board(
        board_args("--compare-define", OUTCOMES, "--format", "xlsx", "--out", str(book)), settings, loaded
    )
    ws = load_workbook(book)["Definitions compared"]
    names = {ws.cell(row=r, column=1).value for r in range(4, ws.max_row + 1)}
    assert by_id(pack)["outcome_rate_all"]["name"] in names
    # a change that moves no figure: nothing listed, and the page says so
    quiet = run_json(board_args("--compare-define", "incidents.amber_share=0.5"), settings, loaded)
    assert quiet["comparison"]["measures"] == []


def test_a_bad_define_is_one_line_naming_the_path(
    loaded: Warehouse, settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for option in ("--define", "--compare-define"):
        code = cli.main(["board", "--data-dir", str(tmp_path), option, f"calls.nope={SECRET}"])
        err = capsys.readouterr().err
        assert code == 3 and err.count("\n") == 1
        assert "calls.nope" in err and SECRET not in err
    code = cli.main(
        ["channels", "--from", MONTH, "--to", MONTH, "--define", f"calls.abandon_convention={SECRET}"]
    )
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1 and "calls.abandon_convention" in err and SECRET not in err
    with pytest.raises(InputError, match=r"calls\.nope") as caught:
        build_board(
            settings,
            loaded,
            MONTH,
            "json",
            datetime(2019, 2, 20, tzinfo=UTC),
            defines=[f"calls.nope={SECRET}"],
        )
    assert SECRET not in str(caught.value)
    with pytest.raises(UsageError, match="--publish"):
        run_board(board_args("--publish", "--define", OUTCOMES), settings, loaded)


def test_channels_with_define(loaded: Warehouse, settings: Settings) -> None:
    p = argparse.ArgumentParser()
    add_channels_arguments(p)
    out = io.StringIO()
    with redirect_stdout(out):
        run_channels(
            p.parse_args(["--from", MONTH, "--to", MONTH, "--format", "json", "--define", OUTCOMES]),
            settings,
            loaded,
        )
    table = json.loads(out.getvalue())
    assert table["definitions"]["config_hash"] == Definitions().with_overrides([OUTCOMES]).config_hash()
    assert list(table["definitions"]["overridden"]) == ["crimes.prosecution_possible_types"]


def test_published_packs_keep_their_definitions_for_explain_and_revisions(
    loaded: Warehouse, settings: Settings
) -> None:
    run_board(board_args("--publish", "--allow-incomplete"), settings, loaded)
    stored = loaded.query("SELECT pack_json FROM board_pack_versions").rows
    assert json.loads(stored[0][0])["definitions"]["metrics"]["settings"] == Definitions().as_dict()
    changed = settings.model_copy(update={"definitions": Definitions().with_overrides([OUTCOMES])})
    # explain of the published version reads under the definitions stored with it ...
    told = explain_cell(changed, loaded, MONTH, "outcome_rate_all", "current", version=1)
    assert told["definitions"]["basis"] == "published version 1"
    assert told["definitions"]["config_hash"] == Definitions().config_hash()
    assert told["value"] == told["published"]["value"]
    # ... and without a version under the configured ones
    now = explain_cell(changed, loaded, MONTH, "outcome_rate_all", "current")
    assert now["definitions"]["basis"] == "configured"
    assert now["definitions"]["config_hash"] == Definitions().with_overrides([OUTCOMES]).config_hash()
    # the public site keeps showing the published month under the definitions it was published with
    from demandhub.board.catalogue.measures import load_catalogue
    from demandhub.board.warehouse.public import build_site

    targets = Definitions().with_overrides(["incidents.target_minutes.IMMEDIATE_urban=1"])
    site = build_site(loaded, "cambs", targets, load_catalogue())
    assert site == build_site(loaded, "cambs", Definitions(), load_catalogue())
    assert b"15 minutes in urban" in site["index.html"] and b" 1 minutes in urban" not in site["index.html"]
    # a figure restated because the definitions changed says so
    pack = run_json(board_args(), changed, loaded)
    revised = [
        r for r in pack["revisions"] if r["measure"] == "outcome_rate_all" and r["column"] == "current"
    ]
    assert revised and revised[0]["published_definitions"] == Definitions().config_hash()
    assert "the definitions changed since" in revised[0]["note"]


def test_rebuild_refolds_the_ledger_into_the_same_facts_and_rollups(
    loaded: Warehouse, settings: Settings
) -> None:
    tables = sorted({t for f in registry.folds() for t in f.tables})
    present = {
        r[0] for r in loaded.query("SELECT name FROM system.tables WHERE database = currentDatabase()").rows
    }
    tables = [t for t in tables if t in present]
    rollups = [r for r in ("contact_queue_15m", "contact_channel_15m", "incidents_hourly") if r in present]

    def snapshot(names: list[str]) -> dict[str, list[tuple[Any, ...]]]:
        out = {}
        for t in names:
            columns = [
                c
                for (c,) in loaded.query(
                    "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
                    "AND name NOT IN ('version', 'refreshed_at') AND type NOT LIKE 'AggregateFunction%'",
                    parameters={"t": t},
                ).rows
            ]
            listed = ", ".join(f"`{c}`" for c in columns)
            out[t] = loaded.query(f"SELECT {listed} FROM `{t}` FINAL ORDER BY {listed}").rows
        return out

    loaded.command("OPTIMIZE TABLE events FINAL")
    before = snapshot(tables + rollups)
    assert sum(len(v) for v in before.values()) > 1000
    # facts lost (e.g. a migration dropped and re-created a table) come back from the ledger
    loaded.command(f"TRUNCATE TABLE `{tables[0]}`")
    pipeline = build_pipeline(settings, loaded, lazy_rollups=True)
    lease = (
        "INSERT INTO rollup_refresh_lease (name, holder, expires, version) SELECT 'rollups', "
        "'other-host:1:worker', now64(3) + toIntervalSecond({s:Int32}), toUnixTimestamp64Nano(now64(9))"
    )
    loaded.command(lease, parameters={"s": 60})  # a worker of this warehouse is running
    with pytest.raises(BusyError, match="stop the workers"):
        rebuild(pipeline)
    loaded.command(lease, parameters={"s": -1})  # it stopped
    seen: list[int] = []
    totals = rebuild(pipeline, seen.append, chunk=500)
    assert (
        totals.subjects
        == sum(seen)
        == loaded.query("SELECT uniqExact(force_id, splitByChar('.', type)[1], subject) FROM events").rows[0][
            0
        ]
    )
    assert totals.events == len(sim_events())
    after = snapshot(tables + rollups)
    for t in before:
        assert after[t] == before[t], t
    assert loaded.query("SELECT count() FROM rollup_dirty").rows[0][0] == 0


def test_the_api_takes_defines_and_refuses_a_bad_one_naming_the_path(
    loaded: Warehouse, tmp_path: Path
) -> None:
    from urllib.parse import urlencode

    from tests.integration.test_web_api import ANALYST, call, make_settings, serve

    hub = make_settings(tmp_path)
    server = serve(hub, loaded, lambda: datetime(2019, 2, 20, tzinfo=UTC))
    try:
        for path, params in (
            ("/api/board", {"month": MONTH, "define": f"calls.nope={SECRET}"}),
            ("/api/board", {"month": MONTH, "compare_define": f"crimes.ncrs_hours={SECRET}"}),
            ("/api/channels", {"from": MONTH, "to": MONTH, "define": f"calls.nope={SECRET}"}),
            (
                "/api/board/explain",
                {"month": MONTH, "measure": "crime_all", "define": f"crimes.period_basis={SECRET}"},
            ),
        ):
            reply = call(server, "GET", f"{path}?{urlencode(params)}", token=ANALYST)
            assert reply.status == 400, path
            error = reply.json()["error"]
            assert (
                SECRET not in error
                and (params.get("define") or params["compare_define"]).split("=")[0] in error
            )
        query = urlencode([("from", MONTH), ("to", MONTH), ("define", OUTCOMES)])
        reply = call(server, "GET", f"/api/channels?{query}", token=ANALYST)
        assert reply.status == 200
        assert list(reply.json()["definitions"]["overridden"]) == ["crimes.prosecution_possible_types"]
        query = urlencode(
            [
                ("month", MONTH),
                ("extract_time", EXTRACT),
                ("define", OUTCOMES),
                ("compare_define", "crimes.ncrs_hours=12"),
            ]
        )
        reply = call(server, "GET", f"/api/board?{query}", token=ANALYST)
        assert reply.status == 200
        pack = reply.json()
        assert list(pack["definitions"]["metrics"]["overridden"]) == ["crimes.prosecution_possible_types"]
        assert list(pack["comparison"]["alternative"]["differs_from_configured"]) == ["crimes.ncrs_hours"]
    finally:
        server.stop()
