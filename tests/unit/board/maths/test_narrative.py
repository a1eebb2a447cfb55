"""Narrative sentences: text, template id and the facts behind each, on hand-made series."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import pytest

from demandhub.board.maths import narrative as nv
from demandhub.board.maths.cells import Cell
from demandhub.board.maths.dashboard import MeasureSpec, compute_row
from demandhub.board.maths.months import YearMonth, month_range
from demandhub.board.maths.pack import build_pack
from demandhub.board.maths.rules import BoardRules
from demandhub.board.maths.spc import CHART_NAMES
from demandhub.board.maths.spc import RULES as RULES_FIRED
from tests.unit.board.board_fixtures import APR19, MAR19, count_history

pytestmark = pytest.mark.unit

RULES = BoardRules()
CRIME = MeasureSpec("crime_all", "All crime", "count", "lower_is_better", "Victims", 0, "crimes")
RATE = MeasureSpec("rate", "The answer rate", "percent", "higher_is_better", "T")


def constant(first: YearMonth, last: YearMonth, cell: Cell) -> dict[YearMonth, Cell | None]:
    return dict.fromkeys(month_range(first, last), cell)


def by_year(levels: dict[int, int], last: YearMonth) -> dict[YearMonth, Cell | None]:
    """Calendar-year levels, from January of the first year to ``last``."""
    first = YearMonth(min(levels), 1)
    return {m: Cell(levels[m.year]) for m in month_range(first, last)}


# --- templates on the golden count history (see board_fixtures) ----------------------------------


def test_1_month_on_month() -> None:
    series = count_history()
    rose = nv.t1_month_on_month(CRIME, series, MAR19, RULES)  # 160 against 130: p = 0.09
    assert rose is not None
    assert (rose.text, rose.template_id) == (
        "All crime rose month on month, within normal variation.",
        "1",
    )
    assert rose.facts["label"] == "Comparable"
    assert (rose.facts["value"], rose.facts["previous_value"]) == (160, 130)
    fell = nv.t1_month_on_month(CRIME, series, APR19, RULES)  # 125 against 160: p = 0.044
    assert fell is not None and fell.text == "All crime fell month on month."
    assert fell.facts["label"] == "Lower"
    assert nv.t1_month_on_month(CRIME, series, YearMonth(2019, 2), RULES) is None  # 130 and 130
    close = {**series, APR19: Cell(150)}  # 150 against 160: within normal variation
    fell_a_little = nv.t1_month_on_month(CRIME, close, APR19, RULES)
    assert fell_a_little is not None
    assert fell_a_little.text == "All crime fell month on month, within normal variation."


def test_6_same_month_last_year() -> None:
    series = count_history()
    row = compute_row(CRIME, series, MAR19, RULES)
    sentence = nv.t6_vs_same_month_last_year(CRIME, row)
    assert sentence is not None
    # 160 in March 2019 against 120 in March 2018.
    assert sentence.text == "All crime increased compared to March 2018 with 40 additional crimes."
    april = nv.t6_vs_same_month_last_year(CRIME, compute_row(CRIME, series, APR19, RULES))
    assert april is not None
    assert april.text == (
        "All crime decreased compared to April 2018 with 5 fewer crimes, within normal variation."
    )
    no_noun = MeasureSpec("x", "Incidents", "count", "neutral", "T")
    plain = nv.t6_vs_same_month_last_year(no_noun, compute_row(no_noun, series, MAR19, RULES))
    assert plain is not None and plain.text.endswith("with 40 more.")


def test_7_year_ending() -> None:
    sentence = nv.t7_year_ending(CRIME, count_history(), MAR19, RULES)
    assert sentence is not None
    # 1590 against 1440: +150, 150/1440 = 10.4166...%
    assert sentence.text == (
        "All crime was up by 10.4% (150) comparing year ending March 2019 to year ending March 2018."
    )
    assert sentence.facts["pct_change"] == pytest.approx(100 * 150 / 1440)


def test_12_above_average() -> None:
    series = count_history()
    march = nv.t12_vs_average(CRIME, compute_row(CRIME, series, MAR19, RULES))
    assert march is not None
    assert march.text == "All crime in March was above average (160 compared to the average of 120)."
    april = nv.t12_vs_average(CRIME, compute_row(CRIME, series, APR19, RULES))
    assert april is not None
    # Baseline May-17..Apr-18 = 1450 over 12 months = 120.83
    assert april.text == (
        "All crime in April was above average (125 compared to the average of 120.8), "
        "within normal variation."
    )
    assert april.facts["v1y"]["label"] == "Comparable"


def test_9_discrete_rate_only_when_both_labels_agree() -> None:
    series = count_history()
    march = compute_row(CRIME, series, MAR19, RULES)
    sentence = nv.t9_discrete_vs_averages(CRIME, march)
    assert sentence is not None
    assert sentence.text == (
        "The discrete rate of all crime in March was significantly higher than both the one and "
        "three year averages."
    )
    assert sentence.facts["v1y"]["p_value"] < 0.05 and sentence.facts["v3y"]["p_value"] < 0.05
    april = compute_row(CRIME, series, APR19, RULES)  # both Comparable
    assert nv.t9_discrete_vs_averages(CRIME, april) is None


def test_8_and_2_trend_against_the_benchmark() -> None:
    series = count_history()
    row = compute_row(CRIME, series, MAR19, RULES)
    eight = nv.t8_benchmark_trend(CRIME, series, row, RULES)
    assert eight is not None
    assert eight.text == (
        "The rolling 12 month total of all crime continues to trend upwards and is now "
        "significantly higher than the long term benchmark."
    )
    # Rolling 12 at Dec-18 = 3*120 + 9*130 = 1530, then 1540, 1550, and 1590 at Mar-19.
    assert eight.facts["rolling_12_values"] == [
        ("2018-12", 1530),
        ("2019-01", 1540),
        ("2019-02", 1550),
        ("2019-03", 1590),
    ]
    two = nv.t2_long_term_trend(CRIME, series, MAR19, RULES)
    assert two is not None and two.text == "The long term trend for all crime continues to increase."
    texts = [s.template_id for s in nv.narrate_measure(CRIME, series, row, RULES)]
    assert "8" in texts and "2" not in texts


def test_a_rising_trend_that_is_not_significant_is_not_called_significant() -> None:
    series = by_year({2015: 100, 2016: 100, 2017: 100, 2018: 100, 2019: 100}, MAR19)
    series[YearMonth(2019, 1)], series[YearMonth(2019, 2)] = Cell(101), Cell(102)
    series[MAR19] = Cell(103)
    row = compute_row(CRIME, series, MAR19, RULES)
    assert row.perf_v_benchmark.label == "Comparable"  # 1206 against 1200
    assert nv.t8_benchmark_trend(CRIME, series, row, RULES) is None
    sentences = nv.narrate_measure(CRIME, series, row, RULES)
    assert "2" in [s.template_id for s in sentences]
    assert not any("significantly" in s.text for s in sentences)


# --- records and "since" -------------------------------------------------------------------------


def test_3_highest_for_the_month_in_n_years() -> None:
    # Every month 100, except March of 2009..2019 = 100, 110, ..., 200.
    series = constant(YearMonth(2009, 1), MAR19, Cell(100))
    for i in range(11):
        series[YearMonth(2009 + i, 3)] = Cell(100 + 10 * i)
    sentence = nv.t3_record_for_month(CRIME, series, MAR19, RULES)
    assert sentence is not None
    assert sentence.text == "All crime in March was the highest for the last 11 years."
    assert sentence.facts["years"] == 11
    # Five years of history fall short of the default ten.
    assert nv.t3_record_for_month(CRIME, count_history(), MAR19, RULES) is None
    lowest = {m: Cell(300 - c.num) for m, c in series.items() if c is not None}
    low = nv.t3_record_for_month(CRIME, lowest, MAR19, RULES)
    assert low is not None and low.text == "All crime in March was the lowest for the last 11 years."


def since_series() -> dict[YearMonth, Cell | None]:
    """2015: 100, 2016: 150, 2017-2018: 100 a month; 2019: January 120, February 130, March 140."""
    series = by_year({2015: 100, 2016: 150, 2017: 100, 2018: 100, 2019: 140}, MAR19)
    series[YearMonth(2019, 1)], series[YearMonth(2019, 2)] = Cell(120), Cell(130)
    return series


def test_4_rolling_total_highest_since() -> None:
    # R12 at Mar-19 = 9*100 + 120 + 130 + 140 = 1290. Back in time: R12(Nov-17) = 150 + 11*100
    # = 1250 and every R12 from Nov-17 to Feb-19 is lower still; R12(Oct-17) = 2*150 + 10*100
    # = 1300 >= 1290.
    sentence = nv.t4_rolling_high_since(CRIME, since_series(), MAR19, RULES)
    assert sentence is not None
    assert sentence.text == (
        "The rolling 12 month total of all crime to the end of March 2019 is the highest since October 2017."
    )
    assert (sentence.facts["rolling_12"], sentence.facts["since_rolling_12"]) == (1290, 1300)
    # With a 24-month minimum gap (17 months here) nothing is said.
    rules = BoardRules(narrative_since_min_months=24)
    assert nv.t4_rolling_high_since(CRIME, since_series(), MAR19, rules) is None


def test_5_single_month_highest_since() -> None:
    # 140 in March 2019; the last month at least as high is December 2016 (150).
    sentence = nv.t5_single_month_high_since(CRIME, since_series(), MAR19, RULES)
    assert sentence is not None
    assert sentence.text == (
        "All crime in March 2019 was 140, the highest for a single month since December 2016."
    )


def test_a_joint_highest_is_not_called_the_highest_since() -> None:
    series = since_series()
    series[YearMonth(2019, 2)] = Cell(140)  # February equals March
    assert nv.t5_single_month_high_since(CRIME, series, MAR19, RULES) is None


def test_since_is_not_claimed_across_a_null_month() -> None:
    series = since_series()
    series[YearMonth(2018, 6)] = None
    assert nv.t5_single_month_high_since(CRIME, series, MAR19, RULES) is None


def test_11_consecutive_months() -> None:
    series = by_year({2015: 100, 2016: 100, 2017: 100, 2018: 100, 2019: 100}, MAR19)
    series[YearMonth(2019, 1)] = Cell(95)
    series[YearMonth(2019, 2)] = Cell(90)
    series[MAR19] = Cell(85)
    sentence = nv.t11_consecutive(CRIME, series, MAR19, RULES)
    assert sentence is not None
    # Jan, Feb and Mar 2019 are each below the month before and below the same month of 2016-18;
    # December 2018 (100) is not below November 2018 (100).
    assert sentence.text == (
        "All crime was lower than last month and the same month in each of the last 3 years for "
        "the 3rd consecutive month."
    )
    assert sentence.facts["consecutive_months"] == 3
    series[YearMonth(2019, 2)] = Cell(96)  # February is no longer below January
    assert nv.t11_consecutive(CRIME, series, MAR19, RULES) is None


# --- comparable, stable, fragments ---------------------------------------------------------------


def test_10_comparable_and_17_stable() -> None:
    series = constant(YearMonth(2014, 1), MAR19, Cell(780, 1000))
    sentence = nv.t10_comparable_previous_year(RATE, series, MAR19, RULES)
    assert sentence is not None
    assert (
        sentence.text == "The answer rate has remained comparable to the previous year at 78.0% (n=12,000)."
    )
    assert sentence.facts["label"] == "Comparable"
    row = compute_row(RATE, series, MAR19, RULES)
    stable = nv.t17_stable(RATE, row)
    assert stable is not None and stable.text == "The answer rate remained stable."
    ids = [s.template_id for s in nv.narrate_measure(RATE, series, row, RULES)]
    assert "10" in ids and "17" not in ids
    assert nv.t17_stable(CRIME, compute_row(CRIME, count_history(), MAR19, RULES)) is None


def test_18_fragments() -> None:
    per_month = nv.t18_pct_per_month(12.345, 1230, 12)
    assert (per_month.text, per_month.template_id) == ("12.3% (103 a month)", "18")
    with_n = nv.t18_pct_n(78.0, 12000)
    assert with_n.text == "78.0% (n=12,000)"


# --- districts -----------------------------------------------------------------------------------


def district(before: int, after: int) -> dict[YearMonth, Cell | None]:
    """``before`` a month in Apr-17..Mar-18 and ``after`` a month in Apr-18..Mar-19."""
    series = constant(YearMonth(2017, 4), YearMonth(2018, 3), Cell(before))
    series.update(constant(YearMonth(2018, 4), MAR19, Cell(after)))
    return series


def districts() -> dict[str, dict[YearMonth, Cell | None]]:
    return {
        "Cambridge": district(100, 105),  # +5%
        "Fenland": district(100, 112),  # +12%
        "Huntingdonshire": district(50, 51),  # +2%
        "Peterborough": district(200, 230),  # +15%
    }


def test_13_and_14_district_growth_and_drivers() -> None:
    groups = {
        "Fenland": {
            "violence without injury": district(40, 48),  # +96 a year
            "burglary": district(20, 23),  # +36
            "drug offences": district(10, 11),  # +12
            "theft": district(30, 30),  # no change
        }
    }
    sentences = nv.narrate_districts(CRIME, districts(), groups, MAR19, RULES)
    assert [s.template_id for s in sentences] == ["13", "14"]
    assert sentences[0].text == (
        "All districts have seen growth year on year; however Peterborough and Fenland have "
        "recorded over 10% growth when comparing year ending March 2019 to March 2018."
    )
    assert sentences[0].facts["districts"]["Fenland"]["pct_change"] == pytest.approx(12.0)
    assert sentences[1].text == "In Fenland this growth is driven by violence without injury and burglary."
    assert sentences[1].facts["group_changes"]["violence without injury"] == 12 * 8


def test_13_needs_growth_everywhere() -> None:
    shrinking = {**districts(), "Cambridge": district(100, 95)}
    assert nv.t13_district_growth(CRIME, shrinking, MAR19, RULES) is None
    missing = districts()
    missing["Cambridge"][MAR19] = None
    assert nv.t13_district_growth(CRIME, missing, MAR19, RULES) is None
    high = BoardRules(narrative_district_growth_pct=20)
    assert nv.t13_district_growth(CRIME, districts(), MAR19, high) is None


# --- nulls ---------------------------------------------------------------------------------------


def test_no_sentence_from_a_null_month() -> None:
    series = count_history()
    del series[MAR19]
    row = compute_row(CRIME, series, MAR19, RULES)
    assert nv.narrate_measure(CRIME, series, row, RULES) == []


def test_every_sentence_keeps_json_facts() -> None:
    import json

    series = count_history()
    row = compute_row(CRIME, series, MAR19, RULES)
    for sentence in nv.narrate_measure(CRIME, series, row, RULES):
        assert sentence.facts["measure"] == "crime_all"
        json.dumps(sentence.as_dict())


# --- the briefing over a fixed simulated history (golden file) ------------------------------------

GOLDEN = Path(__file__).parent / "golden" / "narrative_briefing.txt"
SIM_FIRST, SIM_LAST = YearMonth(2012, 4), MAR19
UP_WORDS = frozenset(
    ["up", "rose", "increased", "increase", "higher", "above", "upwards", "additional", "more", "highest"]
)
DOWN_WORDS = frozenset(
    ["down", "fell", "decreased", "decline", "lower", "below", "downwards", "fewer", "lowest"]
)

# Every unit (count, rate, mean, level), every polarity, singular and plural names, rising,
# falling and flat histories.
SIM_MEASURES: tuple[MeasureSpec, ...] = (
    MeasureSpec("da", "Domestic abuse crimes", "count", "lower_is_better", "Victims", 1, "crimes"),
    MeasureSpec("all", "All crime", "count", "lower_is_better", "Victims", 1, "crimes"),
    MeasureSpec("burg", "Burglary dwelling", "count", "lower_is_better", "Victims", 1, "crimes"),
    MeasureSpec("ssos", "Serious sexual offences", "count", "lower_is_better", "Victims", 1, "crimes"),
    MeasureSpec("chat", "Web chats", "count", "neutral", "Contact", 0, "web chats"),
    MeasureSpec("c999", "999 calls", "count", "neutral", "Contact", 0, "calls"),
    MeasureSpec("ans", "999 calls answered within 10 seconds", "percent", "higher_is_better", "Contact"),
    MeasureSpec("aband", "999 abandonment rate", "percent", "lower_is_better", "Contact"),
    MeasureSpec(
        "resp",
        "Immediate incidents: mean time to respond (minutes)",
        "minutes",
        "lower_is_better",
        "Response",
    ),
    MeasureSpec("open", "Open incidents at month end", "level", "neutral", "Response", 0, "incidents"),
    MeasureSpec("queue", "Queue depth at month end", "level", "lower_is_better", "Response"),
    MeasureSpec("empty", "Rural crime", "count", "lower_is_better", "Victims", 1, "crimes"),
    MeasureSpec("mis", "Missing person reports", "count", "lower_is_better", "Response", 0, "reports"),
)


def _poisson(rng: random.Random, mean: float) -> float:
    return float(max(0, round(rng.gauss(mean, mean**0.5))))


def simulated_history(seed: int = 17) -> dict[str, dict[YearMonth, Cell | None]]:
    """Seven years to March 2019 of the measures above: a domestic abuse surge in the last months,
    a burglary fall over the last year, growing web chats, a drop in 999 answering, slower
    response in March 2019, and no data at all for rural crime."""
    rng = random.Random(seed)
    months = month_range(SIM_FIRST, SIM_LAST)
    out: dict[str, dict[YearMonth, Cell | None]] = {m.id: {} for m in SIM_MEASURES}
    for i, month in enumerate(months):
        last = len(months) - 1 - i  # months before March 2019
        out["da"][month] = Cell(_poisson(rng, 300 if last <= 2 else 200))
        out["all"][month] = Cell(_poisson(rng, 4000))
        out["burg"][month] = Cell(_poisson(rng, 90 if last < 13 else 150))
        out["ssos"][month] = Cell(_poisson(rng, 1 if last == 1 else 20))
        out["chat"][month] = Cell(_poisson(rng, 50 + 10 * i))
        out["c999"][month] = Cell(_poisson(rng, 9000))
        offered = _poisson(rng, 9000)
        share = 0.80 if last <= 1 else 0.90
        out["ans"][month] = Cell(float(round(offered * share + rng.gauss(0, 20))), offered)
        out["aband"][month] = Cell(_poisson(rng, 180), offered)
        n, mean, sd = 400.0, (14.5 if last == 1 else 12.0) + rng.gauss(0, 0.1), 5.0
        out["resp"][month] = Cell(n * mean, n, (n - 1) * sd * sd + n * mean * mean)
        out["open"][month] = Cell.level(round(rng.gauss(120, 6)))
        out["queue"][month] = Cell.level(1 if last == 0 else round(rng.gauss(8, 2)))
    # Missing person reports: Comparable labels, but six months rising to March 2019 (a control
    # chart signal, trend of 6, on the as-of month only). No random draws: the others keep theirs.
    out["mis"] = trend_of_six(SIM_LAST)
    return out


MISSING = MeasureSpec("mis", "Missing person reports", "count", "lower_is_better", "Response", 0, "reports")
TREND_TAIL = (90.0, 110.0, 100.0, 101.0, 102.0, 104.0, 105.0, 107.0)


def trend_of_six(last: YearMonth) -> dict[YearMonth, Cell | None]:
    """Seven years of counts near 100 ending in ``TREND_TAIL``: six months each higher than the
    one before, ending on ``last`` (a trend of 6 fires on ``last``), too small to change a label."""
    months = month_range(last - 83, last)
    cycle = (100.0, 96.0, 104.0, 98.0, 102.0)
    out: dict[YearMonth, Cell | None] = {m: Cell(cycle[i % 5]) for i, m in enumerate(months)}
    for k, value in enumerate(reversed(TREND_TAIL)):
        out[last - k] = Cell(value)
    return out


def simulated_pack(rules: BoardRules = RULES) -> Any:
    return build_pack("sim", SIM_LAST, list(SIM_MEASURES), simulated_history(), rules, None, None)


def test_briefing_golden_file() -> None:
    """The briefing of the fixed simulated history, word for word (UPDATE_GOLDEN=1 rewrites it)."""
    briefing = simulated_pack().briefing
    assert briefing is not None
    text = briefing.text()
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_briefing_summary_worst_news_first_with_footnoted_tests() -> None:
    briefing = simulated_pack().briefing
    assert briefing is not None
    tones = [item.tone for item in briefing.summary]
    assert tones == sorted(tones, key=nv.TONE_ORDER.__getitem__)
    assert tones[0] == "bad" and "good" in tones
    by_id = {item.measure: item for item in briefing.summary}
    assert by_id["da"].label == "Higher" and by_id["da"].tone == "bad"
    assert by_id["da"].text.startswith("Domestic abuse crimes were up in February 2019: ")
    assert by_id["burg"].tone == "good"
    assert by_id["ans"].label == "Lower" and by_id["ans"].tone == "bad"
    # 12.2 against 12.0 minutes prints 12 and 12 on the dashboard: the default floor withholds it.
    assert "resp" not in by_id
    unfloored = simulated_pack(BoardRules(min_effect="none")).briefing
    assert unfloored is not None
    by_id_unfloored = {item.measure: item for item in unfloored.summary}
    assert by_id_unfloored["resp"].text.startswith(
        "Immediate incidents: mean time to respond (minutes) over the 12 months to March 2019 was up:"
    )
    assert {f.number for f in briefing.footnotes} == {i.footnote for i in briefing.summary}
    for note in briefing.footnotes:
        if note.column == nv.CHART_COLUMN:  # the chart and the rule that fired, as on the chart
            assert any(name in note.text for name in CHART_NAMES.values())
            assert any(rule in note.text for rule in RULES_FIRED)
        else:
            assert any(name in note.text for name in nv.TEST_NAMES.values())
    # A control chart signal on the as-of month with Comparable labels: in the summary, after the
    # labelled bad news, its footnote naming the chart and the rule.
    assert by_id["mis"].column == nv.CHART_COLUMN and by_id["mis"].tone == "bad"
    assert [i.measure for i in briefing.summary if i.tone == "bad"][-1] == "mis"
    # Comparable and unremarkable measures are listed, not narrated; no data is said.
    listed = dict(briefing.unremarkable)
    assert listed == {
        "aband": "999 abandonment rate",
        "resp": "Immediate incidents: mean time to respond (minutes)",
    }
    narrated = {s.facts["measure"] for p in briefing.paragraphs for s in p.sentences}
    assert not narrated & set(listed)
    assert dict(briefing.no_data) == {"empty": "Rural crime"}
    # The pack month and each row's as-of month: the crime theme lags one month.
    assert briefing.as_of_note == (
        "Pack month: March 2019. Rows are as of March 2019, except the Victims theme: as of "
        "February 2019, one month behind."
    )


def _direction_words(text: str) -> tuple[set[str], set[str]]:
    words = set(re.findall(r"[a-z]+", text.lower()))
    return words & UP_WORDS, words & DOWN_WORDS


def _labels_of(facts: dict[str, Any]) -> list[str]:
    labels = [facts["label"]] if "label" in facts else []
    labels += [facts[k]["label"] for k in ("v1y", "v3y", "perf_v_benchmark") if k in facts]
    return labels


def assert_agrees_with_label(text: str, labels: list[str]) -> None:
    up, down = _direction_words(text)
    for label in labels:
        if label == "Higher":
            assert not down, (text, label)
        elif label == "Lower":
            assert not up, (text, label)
        elif label == "Comparable" and (up or down) and "comparable" not in text:
            assert nv.WITHIN_NORMAL in text, (text, label)


def test_no_sentence_contradicts_its_label() -> None:
    """Every sentence that carries a label (its own test's, or a dashboard label's) uses direction
    words that agree with it; a direction found Comparable says "within normal variation"."""
    pack = simulated_pack()
    assert pack.briefing is not None
    checked = 0
    for sentence in [*pack.narrative, *(s for p in pack.briefing.paragraphs for s in p.sentences)]:
        labels = _labels_of(sentence.facts)
        if labels:
            assert_agrees_with_label(sentence.text, labels)
            checked += 1
    for item in pack.briefing.summary:
        assert_agrees_with_label(item.text, [item.label])
        assert re.search(r"\bup\b" if item.label == "Higher" else r"\bdown\b", item.text)
    assert checked > 20


def test_up_5_percent_beside_comparable_says_within_normal_variation() -> None:
    # Rolling 12: 12 * 105 against 12 * 100 (+5%), p > 0.05: Comparable.
    series = by_year({2015: 100, 2016: 100, 2017: 100, 2018: 100, 2019: 105}, MAR19)
    for m in month_range(YearMonth(2018, 4), MAR19):
        series[m] = Cell(105)
    seven = nv.t7_year_ending(CRIME, series, MAR19, RULES)
    ten = nv.t10_comparable_previous_year(CRIME, series, MAR19, RULES)
    assert seven is not None and ten is not None
    assert seven.text == (
        "All crime was up by 5.0% (60) comparing year ending March 2019 to year ending March 2018, "
        "within normal variation."
    )
    assert seven.facts["label"] == ten.facts["label"] == "Comparable"


@pytest.mark.parametrize("unit", ["count", "percent", "minutes", "level"])
@pytest.mark.parametrize("direction", [1, -1])
@pytest.mark.parametrize(
    ("name", "plural"),
    [("Domestic abuse crimes", True), ("Burglary dwelling", False), ("Hate crime", False)],
)
def test_grammar_over_every_unit_and_direction(unit: str, direction: int, name: str, plural: bool) -> None:
    """Number agreement and plurals for every unit and direction, with no contradiction."""
    noun = "crimes" if unit in ("count", "level") else None
    measure = MeasureSpec("m", name, unit, "lower_is_better", "T", 0, noun)  # type: ignore[arg-type]
    series: dict[YearMonth, Cell | None] = {}
    for i, month in enumerate(month_range(YearMonth(2008, 4), MAR19)):
        base = 100.0 + (i % 3)
        value = base * (1.6 if direction > 0 else 0.4) if month >= YearMonth(2018, 12) else base
        if unit == "count":
            series[month] = Cell(round(value))
        elif unit == "level":
            series[month] = Cell.level(round(value))
        elif unit == "percent":
            series[month] = Cell(round(value) / 2, 200)
        else:
            series[month] = Cell(value * 50, 50, value * value * 50 + 49 * 4)
    pack = build_pack("f", MAR19, [measure], {"m": series}, RULES, None, None)
    assert pack.briefing is not None
    texts = [s.text for s in pack.narrative] + [i.text for i in pack.briefing.summary]
    texts += [p.text for p in pack.briefing.paragraphs]
    assert pack.briefing.summary, "a 60% jump or fall is significant"
    expected_plural = plural and unit in ("count", "level")
    assert nv.is_plural(measure) is expected_plural
    for text in texts:
        assert text[0].isupper() and text.endswith("."), text
        assert "  " not in text and " ," not in text, text
        assert not re.search(r"\b1 crimes\b", text), text
        if expected_plural:
            assert not re.search(rf"{name} (was|has)\b", text), text
        else:
            assert not re.search(rf"{re.escape(name)} (were|have)\b", text), text
    for sentence in pack.narrative:
        if labels := _labels_of(sentence.facts):
            assert_agrees_with_label(sentence.text, labels)
    item = pack.briefing.summary[0]
    assert item.tone == ("bad" if direction > 0 else "good")


def test_catalogue_names_take_the_right_verb() -> None:
    plural = {
        "Domestic abuse crimes",
        "999 calls",
        "Web chats",
        "Incidents",
        "Drug offences",
        "Anti-social behaviour incidents",
        "Incidents with a mental health qualifier",
        "Conditional cautions (adults)",
        "Community resolutions",
        "Total contacts",
    }
    singular = {"All crime", "Burglary dwelling", "Violence with injury", "Hate crime", "Cyber crime"}
    for name in plural | singular:
        measure = MeasureSpec("m", name, "count", "neutral", "T")
        assert nv.is_plural(measure) is (name in plural), name
    rate = MeasureSpec("r", "999 calls answered within 10 seconds", "percent", "higher_is_better", "T")
    assert nv.was(rate) == "was"
    assert nv.count_noun(1, "crimes") == "1 crime" and nv.count_noun(2, "crimes") == "2 crimes"
    assert nv.singular("community resolutions") == "community resolution"


# --- control chart signals in the summary -----------------------------------------------------


def test_comparable_measure_with_a_chart_signal_on_its_as_of_month_is_in_the_summary() -> None:
    pack = build_pack("f", MAR19, [MISSING], {"mis": trend_of_six(MAR19)}, RULES, None, None)
    row, chart = pack.rows[0], pack.charts[0]
    assert {c.label for c in row.label_columns().values()} == {"Comparable"}
    assert chart.spc is not None and chart.spc.fired[-1] == ("trend of 6",)
    assert pack.briefing is not None
    (item,) = pack.briefing.summary
    (note,) = pack.briefing.footnotes
    assert (item.measure, item.column, item.label, item.tone) == ("mis", nv.CHART_COLUMN, "Higher", "bad")
    assert item.text == (
        "Missing person reports were up in March 2019: 107 reports, the 6th month in a row higher "
        "than the month before (control chart)."
    )
    assert note.number == item.footnote == 1
    assert note.text == (
        "Missing person reports, control chart: u-chart, 36 months to Mar-19, 3σ limits from Mar-16 "
        "to Feb-19: trend of 6 (6 months in a row, each higher than the one before)."
    )
    assert item.facts["rules"] == ["trend of 6"] and item.facts["chart"] == chart.as_dict()
    # Narrated in its theme, not listed as unremarkable.
    assert "mis" not in dict(pack.briefing.unremarkable)
    # The pack JSON carries the signal: rule names and the month.
    entry = pack.as_json_dict()["measures"][0]["control_chart"]
    assert entry["signal"] == {"month": "2019-03", "rules": [{"rule": "trend of 6", "direction": "up"}]}
    assert entry["chart"] == "u" and entry["months"] == 36 and entry["to"] == "2019-03"


def test_a_chart_signal_in_an_earlier_month_only_is_not_in_the_summary() -> None:
    series = {**trend_of_six(MAR19), APR19: Cell(103.0)}  # the trend stops in April
    pack = build_pack("f", APR19, [MISSING], {"mis": series}, RULES, None, None)
    chart = pack.charts[0]
    assert [(s.month, s.rules) for s in chart.signals()] == [(MAR19, ("trend of 6",))]
    assert chart.signal is None
    assert {c.label for c in pack.rows[0].label_columns().values()} == {"Comparable"}
    assert pack.briefing is not None and pack.briefing.summary == ()
    assert dict(pack.briefing.unremarkable) == {"mis": "Missing person reports"}
    assert pack.as_json_dict()["measures"][0]["control_chart"]["signal"] is None


def test_labelled_measure_is_summarised_by_its_label_not_twice() -> None:
    """A measure already in the summary by its label is not added again for its chart signal."""
    pack = simulated_pack()
    assert pack.briefing is not None
    chart = pack.chart_of("da")
    assert chart is not None and chart.signal is not None
    items = [i for i in pack.briefing.summary if i.measure == "da"]
    assert len(items) == 1 and items[0].column != nv.CHART_COLUMN
