"""The board pack read from a real warehouse: simulated events through the pipeline, imported
survey figures, completeness, MSF, publishing and revisions, and the commands' output."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import uuid
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from demandhub.board.catalogue.config import PackSettings
from demandhub.board.catalogue.measures import load_catalogue
from demandhub.board.catalogue.msf import parse_msf
from demandhub.board.commands import add_board_arguments, add_channels_arguments, run_board, run_channels
from demandhub.board.maths.dashboard import COLUMNS
from demandhub.board.maths.months import YearMonth
from demandhub.board.maths.rules import BoardRules
from demandhub.board.report import BoardConfig, auto_month, build_report, config_hash_of
from demandhub.board.warehouse.imports import import_csv
from demandhub.board.warehouse.store import publish
from demandhub.errors import InputError
from demandhub.queries import contacts, crimes, incidents, social
from demandhub.settings import Settings
from schemas.definitions import Definitions
from schemas.topics import topic_for_type
from sinks.clickhouse.client import Warehouse
from streams import registry
from streams.pipeline import Pipeline, RawMessage
from streams.sources.simulator import SimConfig, simulate, truth
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.integration

SIM = SimConfig(start=date(2019, 1, 1), days=75, seed=11, scale=0.02, forces=("cambs", "beds"))
HEADER = "force_id,measure_id,month,numerator,n,source,as_of"


def config(**pack: Any) -> BoardConfig:
    return BoardConfig(load_catalogue(), Definitions(), BoardRules(), PackSettings(**pack), parse_msf(""))


@cache
def sim_events() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return list(simulate(SIM)), truth(SIM)


# The simulated events go through the pipeline once per warehouse and settings; the tables it filled
# are then copied aside (another database, which ``wh`` does not empty), and every later load into
# the emptied warehouse copies them back: the same rows, without folding the events again.
_saved: dict[tuple[int, str], tuple[str, list[str]]] = {}
_ROWS = (
    "SELECT name, total_rows FROM system.tables WHERE database = {db:String} "
    "AND engine LIKE '%MergeTree%' AND name != 'schema_migrations'"
)


def _rows(wh: Warehouse, database: str) -> dict[str, int]:
    return {name: int(n or 0) for name, n in wh.query(_ROWS, parameters={"db": database}).rows}


def load_events(wh: Warehouse, settings: Settings) -> dict[str, Any]:
    events, figures = sim_events()
    key = (
        id(wh),
        json.dumps(settings.model_dump(mode="json", exclude={"data_dir", "force_name"}), sort_keys=True),
    )
    here = wh.query("SELECT currentDatabase()").rows[0][0]
    empty = not any(_rows(wh, here).values())
    if empty and key in _saved:
        database, tables = _saved[key]
        for table in tables:
            wh.command(f"INSERT INTO `{table}` SELECT * FROM `{database}`.`{table}`")
        return figures
    pipeline = Pipeline(settings, wh, registry.folds(), TEST_KEY, registry.refreshers())
    for start in range(0, len(events), 5000):
        chunk = events[start : start + 5000]
        messages = [
            RawMessage(topic_for_type(e["type"]).name, 0, start + i, json.dumps(e).encode())
            for i, e in enumerate(chunk)
        ]
        pipeline.process(messages)
    if empty:
        database = f"board_events_{uuid.uuid4().hex[:12]}"
        tables = [t for t, n in _rows(wh, here).items() if n]
        wh.command(f"CREATE DATABASE `{database}`")
        for table in tables:
            wh.command(f"CREATE TABLE `{database}`.`{table}` AS `{table}`")
            wh.command(f"INSERT INTO `{database}`.`{table}` SELECT * FROM `{table}`")
        _saved[key] = (database, tables)
    return figures


def measures(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in data["measures"]}


def test_pack_from_simulated_events(wh: Warehouse, settings: Settings) -> None:
    figures = load_events(wh, settings)
    cfg = config(msf_period="current")
    # Events run to 16 March 2019: calls are complete to February, crime (ten days' settling) too.
    assert auto_month(wh, cfg, "cambs") == YearMonth(2019, 2)
    report = build_report(wh, cfg, "cambs", YearMonth(2019, 2), datetime(2019, 3, 20, tzinfo=UTC))
    data = report.data
    rows = measures(data)
    feb, jan = figures["cambs"]["2019-02"], figures["cambs"]["2019-01"]
    # Crime is reported for the same month as calls (lag 0, as in the source papers); the crime
    # settling period (ten days) decides when February is complete.
    assert rows["contacts_999"]["as_of"] == "2019-02" and rows["crime_all"]["as_of"] == "2019-02"
    assert rows["contacts_999"]["current"] == feb["contacts_999"]
    assert rows["contacts_total"]["current"] == feb["contacts_total"]
    assert rows["incidents_total"]["current"] == feb["incidents_total"]
    assert rows["crime_all"]["current"] == feb["crime_all"]
    assert rows["calls_999_answered_within_10s"]["current"] == pytest.approx(
        feb["calls_999_answered_within_10s"]
    )
    # No history before 2019: earlier years and every longer period are null, never 0.
    for column in ("minus_1y", "minus_2y", "minus_3y", "fytd", "rolling_12", "baseline"):
        assert rows["contacts_999"][column] is None
    assert rows["contacts_999"]["v1y"]["label"] == "n/a"
    assert rows["victim_satisfaction_overall"]["current"] is None  # nothing imported
    # MSF: beds is the only other force; a count is its rate per 1,000 population (mid-2018
    # estimate in effect in February 2019), and the comparison needs three peers or more.
    beds_rate = 1000 * figures["beds"]["2019-02"]["contacts_999"] / 669_300
    assert rows["contacts_999"]["msf"] == pytest.approx(beds_rate)
    assert data["msf"]["contacts_999"]["peers"] == ["beds"]
    assert data["msf"]["contacts_999"]["basis"] == "rate per 1,000 population"
    assert data["msf"]["contacts_999"]["as_of"] == "2019-02"  # no peer import file: the row's month
    assert data["msf"]["contacts_999"]["comparison"]["label"] == "n/a"
    # Channels: January and February 2019 against the same months of 2018 (no data: n/a).
    channels = data["channels"]
    first_row = channels["rows"][0]
    assert first_row["counts"]["999"] == jan["contacts_999"] + feb["contacts_999"]
    assert first_row["pct_change"]["999"] is None
    marks = data["source_watermarks"]
    assert marks["entities"]["call"].startswith("2019-03-1")
    assert {s["source"] for s in marks["sources"]} >= {"telephony", "cad"}
    assert len(report.trends) == len(rows)
    # The April 2017 burglary break lies inside the baseline (Mar-17..Feb-18) and the 3-year window
    # (Mar-15..Feb-18), after the same month 2 and 3 years earlier: those columns are footnoted
    # (the current month, last year's and the rolling year are not); all crime has no break.
    notes = {(n["measure"], n["starts"]): n for n in data["footnotes"]}
    burglary = notes[("crime_burglary_dwelling", "2017-04")]
    assert burglary["columns"] == ["minus_2y", "minus_3y", "v1y", "v3y", "baseline", "perf_v_benchmark"]
    assert ("outcome_rate_burglary_dwelling", "2017-04") in notes
    assert not any(m == "crime_all" for m, _ in notes)

    # March is still open (events stop mid-month): the partial month is in the warehouse but
    # the pack shows n/a, never a partial figure as final.
    raw = contacts.monthly_cells(wh, "cambs", YearMonth(2019, 3), YearMonth(2019, 3), Definitions())
    assert raw["contacts_999"][YearMonth(2019, 3)].num > 0
    march = measures(build_report(wh, cfg, "cambs", YearMonth(2019, 3)).data)
    assert march["contacts_999"]["current"] is None
    assert march["contacts_999"]["msf"] is None


def test_each_event_measure_comes_from_exactly_one_domain(wh: Warehouse) -> None:
    first, last = YearMonth(2019, 1), YearMonth(2019, 2)
    produced = {
        name: set(mod.monthly_cells(wh, "cambs", first, last, Definitions()))
        for name, mod in (
            ("contacts", contacts),
            ("incidents", incidents),
            ("crimes", crimes),
            ("social", social),
        )
    }
    catalogue = load_catalogue()
    for name, ids in produced.items():
        assert ids == set(catalogue.event_ids(name))
    assert sum(len(ids) for ids in produced.values()) == len(catalogue.event_ids())


def survey_csv(rows: dict[str, tuple[int, int]], force: str = "cambs") -> str:
    lines = [HEADER]
    for month, (num, n) in rows.items():
        lines.append(f"{force},victim_satisfaction_overall,{month},{num},{n},victim_survey,{month}-28")
    return "\n".join(lines) + "\n"


def history() -> dict[str, tuple[int, int]]:
    """Jan 2016..Jan 2019: 400 of 500 satisfied a month (80%), except June 2018 (no survey)."""
    months = [YearMonth(2016, 1) + i for i in range(37)]
    return {str(m): (400, 500) for m in months if m != YearMonth(2018, 6)}


def test_imported_surveys_nulls_and_json_shape(wh: Warehouse) -> None:
    cfg = config()
    import_csv(wh, survey_csv(history()), cfg.catalogue)
    import_csv(wh, survey_csv(history()), cfg.catalogue)  # idempotent
    assert wh.query("SELECT count() FROM imported_monthly FINAL").rows[0][0] == 36
    data = build_report(wh, cfg, "cambs", YearMonth(2019, 4), datetime(2019, 5, 2, tzinfo=UTC)).data
    assert list(data) == [
        "force",
        "month",
        "extract_time",
        "source_watermarks",
        "definitions",
        "definitions_in_words",
        "label_rule",
        "measures",
        "channels",
        "narrative",
        "briefing",
        "revisions",
        "footnotes",
        "fdr",
        "msf",
        "publication",
    ]
    json.dumps(data, allow_nan=False)
    row = measures(data)["victim_satisfaction_overall"]
    assert list(row) == [
        "id",
        "name",
        "unit",
        "decimals",
        "polarity",
        "as_of",
        *COLUMNS,
        "headers",
        "cells",
        "control_chart",
    ]
    chart = row["control_chart"]  # the trend chart the pack draws, to the row's own as-of month
    assert (chart["chart"], chart["to"], chart["months"]) == ("p", "2019-01", 36)
    # The as-of month comes from the file: its last month is January 2019, so the April 2019 pack
    # shows January 2019.
    assert row["as_of"] == "2019-01" and row["headers"]["current"] == "Jan-19"
    assert row["current"] == pytest.approx(80.0)
    assert row["cells"]["current"]["num"] == 400 and row["cells"]["current"]["den"] == 500
    # Rolling 12 months Feb-18..Jan-19 include the missing June: null with complete periods.
    assert row["rolling_12"] is None and row["cells"]["rolling_12"]["missing"] == ["2018-06"]
    assert row["minus_1y"] == pytest.approx(80.0)
    defs = data["definitions"]
    assert defs["board_rules"]["version"] and defs["metrics"]["version"] == Definitions().version
    assert defs["measures"]["calls_999_answered_within_10s"]["settings"]["calls.abandon_convention"]
    assert len(defs["config_hash"]) == 64
    # Each measure in words, in dashboard order, filled from the settings recorded above.
    words = {w["measure"]: w for w in data["definitions_in_words"]}
    assert list(words) == [m["id"] for m in data["measures"]]
    assert list(words[row["id"]]) == ["measure", "name", "definition"]
    assert words[row["id"]]["definition"].endswith("as of the month in the import file")
    # Each month's row says it was current on the 28th of that month: the September 2018 pack shows
    # September 2018 (not the catalogue's fixed 3-month lag, June), and the missing June is null in
    # its rolling year, not 0.0%.
    sept = measures(build_report(wh, cfg, "cambs", YearMonth(2018, 9)).data)["victim_satisfaction_overall"]
    assert sept["as_of"] == "2018-09" and sept["current"] == pytest.approx(80.0)
    assert sept["rolling_12"] is None and sept["cells"]["rolling_12"]["missing"] == ["2018-06"]


def test_publish_restate_and_revisions(wh: Warehouse) -> None:
    cfg = config()
    import_csv(wh, survey_csv(history()), cfg.catalogue)
    april = build_report(wh, cfg, "cambs", YearMonth(2019, 4))
    first = publish(wh, april.data, config_hash_of(april))
    assert (first.pack_version, first.new) == (1, True)
    again = publish(wh, build_report(wh, cfg, "cambs", YearMonth(2019, 4)).data, config_hash_of(april))
    assert (again.pack_version, again.new) == (1, False)  # unchanged: nothing new written
    assert build_report(wh, cfg, "cambs", YearMonth(2019, 4)).data["revisions"] == []

    # The supplier restates January 2019: 450 of 500 (90%).
    import_csv(wh, survey_csv({"2019-01": (450, 500)}), cfg.catalogue)
    rerun = build_report(wh, cfg, "cambs", YearMonth(2019, 4))
    revisions = {(r["measure"], r["as_of"], r["column"]): r for r in rerun.data["revisions"]}
    current = revisions[("victim_satisfaction_overall", "2019-01", "current")]
    assert (current["old"], current["new"]) == (pytest.approx(80.0), pytest.approx(90.0))
    assert current["note"].startswith("restated from 80.0% to 90.0%")
    second = publish(wh, rerun.data, config_hash_of(rerun))
    assert (second.pack_version, second.new) == (2, True)
    versions = wh.query(
        "SELECT pack_version, count(), anyIf(value, measure_id = 'victim_satisfaction_overall' "
        "AND column = 'current') FROM board_published GROUP BY pack_version ORDER BY pack_version"
    ).rows
    assert [(v, round(x, 6)) for v, _n, x in versions] == [(1, 80.0), (2, 90.0)]  # v1 kept as published
    assert versions[0][1] == versions[1][1] == len(COLUMNS) * len(cfg.catalogue.measures)
    assert build_report(wh, cfg, "cambs", YearMonth(2019, 4)).data["revisions"] == []

    # A later month's pack lists figures of earlier published months that changed since.
    import_csv(wh, survey_csv({"2019-01": (425, 500)}), cfg.catalogue)
    may = build_report(wh, cfg, "cambs", YearMonth(2019, 5))
    late = {(r["as_of"], r["column"]): r for r in may.data["revisions"]}
    assert (late[("2019-01", "current")]["old"], late[("2019-01", "current")]["new"]) == (
        pytest.approx(90.0),
        pytest.approx(85.0),
    )


def board_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_board_arguments(parser)
    return parser.parse_args(list(argv))


def test_commands_are_deterministic_and_refuse_bad_files(
    wh: Warehouse, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "surveys.csv"
    good.write_text(survey_csv(history()))
    assert run_board(board_args("import", str(good)), settings, wh) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text(survey_csv({"2019-02": (600, 500)}))
    with pytest.raises(InputError, match="numerator is larger than n") as refused:
        run_board(board_args("import", str(bad)), settings, wh)
    assert refused.value.code == 3
    assert wh.query("SELECT count() FROM imported_monthly FINAL").rows[0][0] == 36

    outputs = []
    for name in ("a.json", "b.json"):
        args = board_args(
            "--month", "2019-04", "--out", str(tmp_path / name), "--extract-time", "2019-05-02T06:00:00"
        )
        assert run_board(args, settings, wh) == 0
        outputs.append((tmp_path / name).read_bytes())
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["extract_time"] == "2019-05-02T06:00:00+00:00"

    out_dir = tmp_path / "packs"
    args = board_args("--month", "2019-04", "--format", "xlsx", "--out", f"{out_dir}/", "--publish")
    assert run_board(args, settings, wh) == 0
    assert (out_dir / "board-cambs-2019-04.xlsx").stat().st_size > 0
    assert wh.query("SELECT max(pack_version) FROM board_pack_versions").rows[0][0] == 1


@pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("pdftoppm", "pdfinfo", "pdftotext")),
    reason="poppler-utils is not installed",
)
def test_board_renders_the_pdf_and_one_page_as_png(wh: Warehouse, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, force_id="cambs", force_name="Cambridgeshire Constabulary")
    load_events(wh, settings)
    out = tmp_path / "packs"
    args = board_args("--month", "2019-04", "--format", "pdf", "--out", f"{out}/")
    assert run_board(args, settings, wh) == 0
    pdf = out / "board-cambs-2019-04.pdf"
    header = subprocess.run(
        ["pdftotext", "-l", "1", "-y", "0", "-H", "45", "-W", "842", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Cambridgeshire Constabulary · Board pack April 2019" in header
    args = board_args(
        "--month", "2019-04", "--format", "png", "--page", "2", "--out", str(tmp_path / "p.png")
    )
    assert run_board(args, settings, wh) == 0
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(InputError, match="the pack has") as refused:
        run_board(
            board_args("--month", "2019-04", "--format", "png", "--page", "999", "--out", str(out)),
            settings,
            wh,
        )
    assert refused.value.code == 3


def test_channels_command(wh: Warehouse, settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    figures = load_events(wh, settings)
    parser = argparse.ArgumentParser()
    add_channels_arguments(parser)
    args = parser.parse_args(["--from", "2019-01", "--to", "2019-02", "--format", "json"])
    assert run_channels(args, settings, wh) == 0
    table = json.loads(capsys.readouterr().out)
    row = table["rows"][0]
    jan, feb = figures["cambs"]["2019-01"], figures["cambs"]["2019-02"]
    for channel, measure in (
        ("999", "contacts_999"),
        ("101", "contacts_101"),
        ("webchat", "contacts_webchat"),
        ("social", "social_threads"),
    ):
        assert row["counts"][channel] == jan[measure] + feb[measure]
    # one total of contacts on the board: the table's total is the dashboard's Total contacts (999, 101,
    # online reports, web chat; DOMAIN 4.1), social media threads shown after it, outside it
    assert row["counts"]["total"] == jan["contacts_total"] + feb["contacts_total"]
    assert table["columns"][-2:] == ["total", "social"]
    assert "compare with January to February 2018" in table["caption"]
    args = parser.parse_args(["--from", "2019-01", "--to", "2019-02"])
    assert run_channels(args, settings, wh) == 0
    assert "Web chat" in capsys.readouterr().out


def test_the_latest_as_of_wins_whatever_the_import_order(wh: Warehouse) -> None:
    cfg = config()
    newer = f"{HEADER}\ncambs,victim_satisfaction_overall,2019-01,450,500,victim_survey,2019-05-10\n"
    older = f"{HEADER}\ncambs,victim_satisfaction_overall,2019-01,400,500,victim_survey,2019-04-10\n"
    import_csv(wh, newer, cfg.catalogue)
    import_csv(wh, older, cfg.catalogue)  # an earlier vintage arriving late does not replace it
    rows = wh.query("SELECT numerator, as_of FROM imported_monthly FINAL").rows
    assert rows == [(450.0, date(2019, 5, 10))]
    corrected = newer.replace(",450,", ",455,")
    import_csv(wh, corrected, cfg.catalogue)  # the same vintage again: the later import wins
    assert wh.query("SELECT numerator FROM imported_monthly FINAL").rows == [(455.0,)]


def test_publish_refuses_an_incomplete_month_and_names_its_sources(
    wh: Warehouse, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load_events(wh, settings)  # events run to 16 March 2019
    today = ("--today", "2019-03-16")
    out = str(tmp_path / "p.json")
    # March 2019 has ended by 1 April; its events stop on the 16th: every event row is incomplete.
    march = ("--month", "2019-03", "--out", out, "--today", "2019-04-01")
    with pytest.raises(InputError) as refused:
        run_board(board_args(*march, "--publish"), settings, wh)
    assert refused.value.code == 3
    line = str(refused.value)
    assert "\n" not in line and line.startswith("not publishing 2019-03: ")
    assert "call (events to 2019-03-16" in line and "crime (events to 2019-03-16" in line
    assert "--allow-incomplete" in line
    assert wh.query("SELECT count() FROM board_pack_versions").rows[0][0] == 0
    capsys.readouterr()
    # Without --publish the pack is written, with a warning naming the measures and why.
    assert run_board(board_args(*march), settings, wh) == 0
    warning = capsys.readouterr().err.splitlines()[0]
    assert warning.startswith("warning: 2019-03: ") and "crime_all as of 2019-03" in warning
    assert "240 h settling; complete through 2019-02" in warning
    data = json.loads(Path(out).read_text())
    assert data["completeness"]["incomplete_share"] == 1.0
    assert "." not in data["extract_time"]  # no microseconds
    assert data["ever_published"] is False
    # A higher share, or --allow-incomplete, lets it through.
    loose = settings.model_copy(update={"board_publish_max_incomplete_share": 1.0})
    assert run_board(board_args(*march, "--publish"), loose, wh) == 0
    assert run_board(board_args(*march, "--publish", "--allow-incomplete"), settings, wh) == 0
    # auto picks the latest complete month (February: calls and crime have settled).
    capsys.readouterr()
    assert run_board(board_args("--out", f"{tmp_path}/", *today), settings, wh) == 0
    assert capsys.readouterr().err.strip().endswith("cambs 2019-02)")
    html = tmp_path / "p.html"
    assert run_board(board_args("--format", "html", "--out", str(html), *today), settings, wh) == 0
    page = html.read_text()
    assert "Cambridgeshire Constabulary" in page  # the force's display name, not its id
    assert "Pack month: February 2019." in page
    # A month not ended, a future month and a month before the data are refused in one line.
    for month, says in (
        ("2019-03", "2019-03 has not ended yet (today is 2019-03-16)"),
        ("2030-01", "2030-01 is in the future"),
        ("2016-01", "no data for force cambs in 2016-01"),
    ):
        with pytest.raises(InputError, match=re.escape(says)) as refused:
            run_board(board_args("--month", month, "--out", out, *today), settings, wh)
        assert refused.value.code == 3
