"""The pack: its JSON contract, per-measure as-of months, definitions and revisions."""

from __future__ import annotations

import json
import math

import pytest

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.dashboard import COLUMNS, MeasureSpec
from demandhub.board.maths.months import YearMonth
from demandhub.board.maths.pack import build_pack, published_from_pack
from demandhub.board.maths.rules import BoardRules
from tests.unit.board.board_fixtures import MAR19, count_history, minutes_history, percent_history

pytestmark = pytest.mark.unit

RULES = BoardRules()
CRIME = MeasureSpec("crime_all", "All crime", "count", "lower_is_better", "Victims", 0, "crimes")
RATE = MeasureSpec("calls_999_answered_within_10s", "999 in 10s", "percent", "higher_is_better", "T")
MINS = MeasureSpec("immediate_time_to_respond_mins", "Immediate", "minutes", "lower_is_better", "T")
SURVEY = MeasureSpec("victim_satisfaction", "Satisfaction", "percent", "higher_is_better", "V", 3)
MEASURES = [CRIME, RATE, MINS, SURVEY]
LABELS = ("v1y", "v3y", "perf_v_benchmark")


def series() -> dict[str, dict[YearMonth, Cell | None]]:
    return {
        CRIME.id: count_history(),
        RATE.id: percent_history(),
        MINS.id: minutes_history(),
        SURVEY.id: percent_history(),
    }


def channel_series() -> dict[str, dict[YearMonth, Cell | None]]:
    return {"999": count_history(), "101": count_history()}


def pack_json(**kwargs: object) -> dict:
    args = {
        "msf": {CRIME.id: 88.0},
        "channel_series": channel_series(),
    }
    args.update(kwargs)
    month = args.pop("month", MAR19)
    data = args.pop("series", series())
    pack = build_pack("cambridgeshire", month, MEASURES, data, RULES, **args)  # type: ignore[arg-type]
    return pack.as_json_dict()


def test_json_shape_is_exact() -> None:
    out = pack_json()
    json.dumps(out, allow_nan=False)  # serialisable, and no NaN anywhere
    assert list(out) == [
        "force",
        "month",
        "definitions",
        "label_rule",
        "measures",
        "channels",
        "narrative",
        "briefing",
        "revisions",
        "footnotes",
        "fdr",
    ]
    assert out["fdr"] is None  # false-discovery-rate control is off by default
    assert set(out["briefing"]) == {
        "month",
        "as_of_note",
        "summary",
        "footnotes",
        "paragraphs",
        "unremarkable",
        "unremarkable_text",
        "no_data",
    }
    assert (out["force"], out["month"]) == ("cambridgeshire", "2019-03")
    for entry in out["measures"]:
        expected = [
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
        assert list(entry) == expected
        chart = entry["control_chart"]
        if chart is not None:
            assert list(chart) == [
                "chart",
                "name",
                "months",
                "from",
                "to",
                "baseline",
                "sigma_z",
                "centre",
                "lower",
                "upper",
                "signal",
                "signals",
            ]
            assert chart["to"] == entry["as_of"] and chart["months"] == 36
            for signal in chart["signals"]:
                assert set(signal) == {"month", "rules"}
                assert all(set(r) == {"rule", "direction"} for r in signal["rules"])
        for column in LABELS:
            assert set(entry[column]) == {"label", "test", "p_value"}
        for column in set(COLUMNS) - set(LABELS):
            value = entry[column]
            assert value is None or (isinstance(value, float) and math.isfinite(value))
        assert set(entry["headers"]) == set(COLUMNS)
        assert set(entry["cells"]) == set(COLUMNS)
    for sentence in out["narrative"]:
        assert set(sentence) == {"text", "template", "facts"}


def test_measure_values_and_nulls_in_json() -> None:
    measures = {m["id"]: m for m in pack_json()["measures"]}
    crime = measures[CRIME.id]
    assert (crime["current"], crime["rolling_12"], crime["baseline"]) == (160, 1590, 1440)
    assert crime["msf"] == 88.0
    assert crime["cells"]["rolling_12"]["num"] == 1590
    rate = measures[RATE.id]
    assert rate["minus_3y"] is None  # Mar-16 has no data: null, not 0
    assert rate["v3y"] == {"label": "n/a", "test": "two_proportion_z", "p_value": None}
    assert rate["cells"]["fytd"]["num"] == 9030 and rate["cells"]["fytd"]["den"] == 11500
    assert measures[MINS.id]["msf"] is None


def test_each_measure_has_its_own_as_of_month() -> None:
    measures = {m["id"]: m for m in pack_json()["measures"]}
    assert measures[CRIME.id]["as_of"] == "2019-03"
    survey = measures[SURVEY.id]
    assert survey["as_of"] == "2018-12"
    assert survey["headers"]["current"] == "Dec-18"
    assert survey["headers"]["minus_1y"] == "Dec-17"
    assert survey["current"] == pytest.approx(100 * 780 / 1000)


def test_definitions_and_label_rule_are_printed() -> None:
    out = pack_json(extra_definitions={"service_level": {"version": "sl-1"}})
    rules = out["definitions"]["board_rules"]
    assert rules["version"] == RULES.version
    assert rules["definition_id"] == RULES.definition_id
    assert rules["alpha"] == 0.05
    assert rules["config_hash"] == RULES.config_hash()
    assert out["definitions"]["service_level"] == {"version": "sl-1"}
    assert "two-proportion z-test" in out["label_rule"]


def test_channels_and_narrative_are_included() -> None:
    out = pack_json()
    assert out["channels"]["rows"][0]["from"] == "2019-01"
    assert out["channels"]["rows"][0]["to"] == "2019-03"
    # Jan..Mar 2019 = 130 + 130 + 160 = 420 per channel; Jan..Mar 2018 = 3 * 120 = 360.
    assert out["channels"]["rows"][0]["counts"]["total"] == 2 * 420
    assert out["channels"]["rows"][0]["pct_change"]["total"] == pytest.approx(100 * 60 / 360)
    templates = {s["template"] for s in out["narrative"] if s["facts"]["measure"] == CRIME.id}
    assert {"1", "6", "7", "9", "8"} <= templates
    assert pack_json(channel_series=None)["channels"] is None


def test_district_narrative_is_passed_through() -> None:
    districts = {
        CRIME.id: {
            "Fenland": {m: Cell(112 if m >= YearMonth(2018, 4) else 100) for m in count_history()},
            "Cambridge": {m: Cell(101 if m >= YearMonth(2018, 4) else 100) for m in count_history()},
        }
    }
    out = pack_json(district_series=districts)
    district_sentences = [s for s in out["narrative"] if s["template"] == "13"]
    assert len(district_sentences) == 1
    assert "however Fenland have recorded over 10% growth" in district_sentences[0]["text"]


def test_restated_month_is_listed_with_old_and_new_values() -> None:
    # Publish February 2019 on the original data.
    february = build_pack("f", YearMonth(2019, 2), MEASURES, series(), RULES, None, None)
    published = published_from_pack(february.as_json_dict())
    # Late records restate January 2019 from 130 to 135 crimes.
    data = series()
    data[CRIME.id][YearMonth(2019, 1)] = Cell(135)
    out = pack_json(series=data, published=published)
    revisions = {(r["measure"], r["as_of"], r["column"]): r for r in out["revisions"]}
    # February 2019 row: FYTD Apr-18..Feb-19 = 11*130 = 1430 -> 1435; R12 Mar-18..Feb-19
    # = 120 + 11*130 = 1550 -> 1555; the current month (Feb-19, 130) is unchanged.
    fytd = revisions[(CRIME.id, "2019-02", "fytd")]
    assert (fytd["old"], fytd["new"]) == (1430, 1435)
    assert "restated from 1,430 to 1,435" in fytd["note"]
    r12 = revisions[(CRIME.id, "2019-02", "rolling_12")]
    assert (r12["old"], r12["new"]) == (1550, 1555)
    assert (CRIME.id, "2019-02", "current") not in revisions
    assert all(r["measure"] == CRIME.id for r in out["revisions"])  # nothing else changed


def test_no_revisions_when_nothing_changed() -> None:
    march = build_pack("f", MAR19, MEASURES, series(), RULES, None, None)
    published = published_from_pack(march.as_json_dict())
    assert pack_json(published=published)["revisions"] == []


def test_late_data_for_a_null_month_is_a_revision() -> None:
    published = {RATE.id: {"2019-03": {"minus_3y": None, "v3y": {"label": "n/a"}}}}
    data = series()
    data[RATE.id][YearMonth(2016, 3)] = Cell(700, 1000)  # the missing month arrives
    out = pack_json(series=data, published=published)
    revisions = {r["column"]: r for r in out["revisions"]}
    assert (revisions["minus_3y"]["old"], revisions["minus_3y"]["new"]) == (None, 70.0)
    assert revisions["minus_3y"]["note"].startswith("previously n/a, now 70.0%")
    assert revisions["v3y"]["old"] == "n/a" and revisions["v3y"]["new"] != "n/a"


def test_invisible_differences_are_not_revisions() -> None:
    # 1590.2 prints as 1,590, like the recomputed 1590.
    published = {CRIME.id: {"2019-03": {"rolling_12": 1590.2, "current": 160}}}
    assert pack_json(published=published)["revisions"] == []


def test_comparisons_that_straddle_a_definitional_break_are_footnoted() -> None:
    from demandhub.board.maths.pack import Discontinuity

    # A break starting April 2017: the March 2019 pack's current month and its 1-year baseline
    # (Apr-17..Mar-18) lie after it; the 3-year window (Apr-15..Mar-18) and the same month 2 and
    # 3 years earlier (Mar-17, Mar-16) do not.
    breaks = {CRIME.id: (Discontinuity(YearMonth(2017, 4), "Burglary in a dwelling became residential."),)}
    out = pack_json(discontinuities=breaks)
    notes = out["footnotes"]
    assert len(notes) == 1
    note = notes[0]
    assert (note["measure"], note["starts"]) == (CRIME.id, "2017-04")
    assert note["columns"] == ["minus_2y", "minus_3y", "v3y"]
    assert "Burglary in a dwelling became residential." in note["text"] and "Apr-17" in note["text"]
    # No break, no footnote; a break inside no compared span, no footnote.
    assert pack_json()["footnotes"] == []
    late = {CRIME.id: (Discontinuity(YearMonth(2030, 4), "later"),)}
    assert pack_json(discontinuities=late)["footnotes"] == []
