"""Narrative sentences in the board's own patterns (DOMAIN 5.5), generated from computed facts.

Each template function returns a :class:`Sentence` when its condition holds and None otherwise.
Every sentence keeps the facts it was written from (months, values, cells, labels, tests and
p-values), so any claim can be checked against the dashboard. "significantly" is written only when
the label rule agrees (a Higher or Lower label). Null data never produces a claim.

Levels (a stock such as a queue's month-end depth) are never totalled: where a count's sentence
speaks of "the rolling 12 month total" (templates 4 and 8), a level's says "the rolling 12 month
average of {measure}" (the mean of the 12 monthly levels), and template 10 quotes that average.
Template 7 (year ending against year ending, "up by {pct} ({abs_diff})") is not written for levels:
its whole-number difference of two yearly means would print misleadingly rounded. Template 6 (this
month against the same month a year earlier) is written for levels: it compares two snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

from streams.domain.board.cells import Cell, Unit
from streams.domain.board.dashboard import (
    DashboardRow,
    LabelColumn,
    MeasureSpec,
    PeriodValue,
    period_value,
    rolling_12_months,
)
from streams.domain.board.format import (
    fmt_count,
    fmt_percent,
    fmt_value,
    join_names,
    ordinal,
)
from streams.domain.board.months import YearMonth
from streams.domain.board.rules import BoardRules
from streams.domain.board.stats import compare_cells

SeriesMap = Mapping[YearMonth, Cell | None]
Direction = Literal["up", "down"]


@dataclass(frozen=True)
class Sentence:
    """A generated sentence, the template it follows and the facts behind it."""

    text: str
    template_id: str
    facts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "template": self.template_id, "facts": self.facts}


# --- helpers -------------------------------------------------------------------------------------


def _value(series: SeriesMap, month: YearMonth, unit: Unit) -> float | None:
    cell = series.get(month)
    return None if cell is None else cell.value(unit)


def _value_text(value: float | None, unit: Unit) -> str:
    text = fmt_value(value, unit)
    return f"{text} minutes" if unit == "minutes" and value is not None else text


def _rolling_phrase(measure: MeasureSpec) -> str:
    """``"rolling 12 month total"`` for counts, ``"rolling 12 month average of {measure}"`` for
    levels (see the module docstring)."""
    if measure.unit == "level":
        return f"rolling 12 month average of {measure.name}"
    return "rolling 12 month total"


def _rolling(series: SeriesMap, month: YearMonth, unit: Unit, rules: BoardRules) -> PeriodValue:
    return period_value(series, rolling_12_months(month), unit, rules)


def _label_facts(column: LabelColumn) -> dict[str, Any]:
    return {
        "label": column.label,
        "test": column.comparison.test,
        "p_value": column.comparison.p_value,
        "subject": column.subject.header(),
        "subject_value": column.subject_value,
        "reference": column.reference.header(),
        "reference_value": column.reference_value,
    }


def _base_facts(measure: MeasureSpec, month: YearMonth) -> dict[str, Any]:
    return {"measure": measure.id, "as_of": str(month), "unit": measure.unit}


def rolling_trend(
    series: SeriesMap, unit: Unit, month: YearMonth, rules: BoardRules
) -> tuple[Direction | None, list[tuple[str, float | None]]]:
    """Direction of the rolling 12 month value over the last ``narrative_trend_months`` months:
    "up" if it rose every month, "down" if it fell every month, else None; with the values used."""
    months = [month - j for j in range(rules.narrative_trend_months, -1, -1)]
    values = [_rolling(series, m, unit, rules).value for m in months]
    facts = [(str(m), v) for m, v in zip(months, values, strict=True)]
    present = [v for v in values if v is not None]
    if len(present) < len(values):
        return None, facts
    steps = [b - a for a, b in pairwise(present)]
    if all(s > 0 for s in steps):
        return "up", facts
    if all(s < 0 for s in steps):
        return "down", facts
    return None, facts


def _last_at_least_as_extreme(
    values: Mapping[YearMonth, float | None], month: YearMonth, earliest: YearMonth, highest: bool
) -> YearMonth | None:
    """The latest month before ``month`` whose value is at least as high (or as low); None when a
    null intervenes or history runs out (then "since" cannot be claimed)."""
    target = values[month]
    assert target is not None
    probe = month - 1
    while probe >= earliest:
        v = values.get(probe)
        if v is None:
            return None
        if (v >= target) if highest else (v <= target):
            return probe
        probe = probe - 1
    return None


# --- single-measure templates --------------------------------------------------------------------


def t1_month_on_month(measure: MeasureSpec, series: SeriesMap, month: YearMonth) -> Sentence | None:
    """1. ``{measure} {rose|fell} month on month.``"""
    now, before = _value(series, month, measure.unit), _value(series, month - 1, measure.unit)
    if now is None or before is None or now == before:
        return None
    verb = "rose" if now > before else "fell"
    facts = {**_base_facts(measure, month), "value": now, "previous_month": str(month - 1)}
    facts["previous_value"] = before
    return Sentence(f"{measure.name} {verb} month on month.", "1", facts)


def t2_long_term_trend(
    measure: MeasureSpec, series: SeriesMap, month: YearMonth, rules: BoardRules
) -> Sentence | None:
    """2. ``The long term trend for {measure} continues to {increase|decline}.``"""
    direction, values = rolling_trend(series, measure.unit, month, rules)
    if direction is None:
        return None
    verb = "increase" if direction == "up" else "decline"
    facts = {**_base_facts(measure, month), "rolling_12_values": values, "direction": direction}
    return Sentence(f"The long term trend for {measure.name} continues to {verb}.", "2", facts)


def t3_record_for_month(
    measure: MeasureSpec, series: SeriesMap, month: YearMonth, rules: BoardRules
) -> Sentence | None:
    """3. ``The {highest|lowest} {measure} in {month_name} for the last {n} years.``

    n counts the current year and each earlier same month, going back while it was strictly
    lower (or higher) and not null; reported when n >= ``narrative_record_min_years``."""
    now = _value(series, month, measure.unit)
    if now is None:
        return None
    for highest in (True, False):
        years, earlier = 1, []
        while (v := _value(series, month - 12 * years, measure.unit)) is not None and (
            v < now if highest else v > now
        ):
            earlier.append((str(month - 12 * years), v))
            years += 1
        if years >= rules.narrative_record_min_years:
            word = "highest" if highest else "lowest"
            facts = {**_base_facts(measure, month), "value": now, "years": years}
            facts["earlier_same_months"] = earlier
            text = f"The {word} {measure.name} in {month.month_name()} for the last {years} years."
            return Sentence(text, "3", facts)
    return None


def _since_sentence(
    measure: MeasureSpec,
    values: Mapping[YearMonth, float | None],
    month: YearMonth,
    rules: BoardRules,
) -> tuple[bool, YearMonth] | None:
    if values.get(month) is None or not values:
        return None
    earliest = min(values)
    for highest in (True, False):
        since = _last_at_least_as_extreme(values, month, earliest, highest)
        if since is not None and month - since >= rules.narrative_since_min_months:
            return highest, since
    return None


def t4_rolling_high_since(
    measure: MeasureSpec, series: SeriesMap, month: YearMonth, rules: BoardRules
) -> Sentence | None:
    """4. ``The rolling 12 month total to the end of {month_year} is the {highest|lowest} since
    {since_month_year}.`` Counts, and levels as "the rolling 12 month average of {measure}"; "since
    X" means X was the last month at least as extreme."""
    if measure.unit not in ("count", "level") or not series:
        return None
    first = min(series) + 11
    values = {m: _rolling(series, m, measure.unit, rules).value for m in _months(first, month)}
    found = _since_sentence(measure, values, month, rules)
    if found is None:
        return None
    highest, since = found
    word = "highest" if highest else "lowest"
    facts = {**_base_facts(measure, month), "rolling_12": values[month], "since": str(since)}
    facts["since_rolling_12"] = values[since]
    text = f"The {_rolling_phrase(measure)} to the end of {month.long()} is the {word} since {since.long()}."
    return Sentence(text, "4", facts)


def _months(first: YearMonth, last: YearMonth) -> list[YearMonth]:
    return [first + i for i in range(max(last - first + 1, 0))]


def t5_single_month_high_since(
    measure: MeasureSpec, series: SeriesMap, month: YearMonth, rules: BoardRules
) -> Sentence | None:
    """5. ``{measure} in {month_year} was {value}, the {highest|lowest} for a single month since
    {since_month_year}.``"""
    if not series:
        return None
    values = {m: _value(series, m, measure.unit) for m in _months(min(series), month)}
    found = _since_sentence(measure, values, month, rules)
    if found is None:
        return None
    highest, since = found
    word = "highest" if highest else "lowest"
    now = values[month]
    facts = {**_base_facts(measure, month), "value": now, "since": str(since)}
    facts["since_value"] = values[since]
    text = (
        f"{measure.name} in {month.long()} was {_value_text(now, measure.unit)}, the {word} for a "
        f"single month since {since.long()}."
    )
    return Sentence(text, "5", facts)


def t6_vs_same_month_last_year(measure: MeasureSpec, row: DashboardRow) -> Sentence | None:
    """6. ``{measure} {increased|decreased} compared to {month_year_1y} with {abs_diff}
    {additional|fewer} {unit}.`` Counts and levels (the difference of two month-end levels)."""
    now, before = row.current.value, row.minus_1y.value
    if measure.unit not in ("count", "level") or now is None or before is None or now == before:
        return None
    up = now > before
    noun = f" {measure.noun}" if measure.noun else ""
    more = ("additional" if measure.noun else "more") if up else "fewer"
    diff = abs(now - before)
    text = (
        f"{measure.name} {'increased' if up else 'decreased'} compared to "
        f"{(row.as_of - 12).long()} with {fmt_count(diff)} {more}{noun}."
    )
    facts = {**_base_facts(measure, row.as_of), "value": now, "value_1y": before, "diff": diff}
    return Sentence(text, "6", facts)


def t7_year_ending(
    measure: MeasureSpec, series: SeriesMap, month: YearMonth, rules: BoardRules
) -> Sentence | None:
    """7. ``{measure} was {up|down} by {pct} ({abs_diff}) comparing year ending {month_year} to
    year ending {month_year_1y}.`` Counts only (not levels: module docstring); rolling 12 months
    against the 12 before."""
    if measure.unit != "count":
        return None
    now = _rolling(series, month, "count", rules).value
    before = _rolling(series, month - 12, "count", rules).value
    if now is None or before is None or before == 0 or now == before:
        return None
    pct = 100.0 * (now - before) / before
    diff = now - before
    text = (
        f"{measure.name} was {'up' if diff > 0 else 'down'} by {fmt_percent(abs(pct))} "
        f"({fmt_count(abs(diff))}) comparing year ending {month.long()} to year ending "
        f"{(month - 12).long()}."
    )
    facts = {**_base_facts(measure, month), "rolling_12": now, "rolling_12_1y": before}
    facts.update(pct_change=pct, diff=diff)
    return Sentence(text, "7", facts)


def t8_benchmark_trend(
    measure: MeasureSpec, series: SeriesMap, row: DashboardRow, rules: BoardRules
) -> Sentence | None:
    """8. ``The rolling 12 month total continues to trend {upwards|downwards} and is now
    significantly {higher|lower} than the long term benchmark.`` Counts, and levels as "the rolling
    12 month average of {measure}"; needs the trend and a Perf v Benchmark label in the same
    direction."""
    if measure.unit not in ("count", "level"):
        return None
    direction, values = rolling_trend(series, measure.unit, row.as_of, rules)
    label = row.perf_v_benchmark.label
    if (direction, label) not in {("up", "Higher"), ("down", "Lower")}:
        return None
    way = "upwards" if direction == "up" else "downwards"
    text = (
        f"The {_rolling_phrase(measure)} continues to trend {way} and is now significantly "
        f"{label.lower()} than the long term benchmark."
    )
    facts = {**_base_facts(measure, row.as_of), "rolling_12_values": values}
    facts["perf_v_benchmark"] = _label_facts(row.perf_v_benchmark)
    return Sentence(text, "8", facts)


def t9_discrete_vs_averages(measure: MeasureSpec, row: DashboardRow) -> Sentence | None:
    """9. ``The discrete rate in {month_name} was significantly {higher|lower} than both the one
    and three year averages.`` Needs both labels Higher (or both Lower)."""
    label = row.v1y.label
    if label not in ("Higher", "Lower") or row.v3y.label != label:
        return None
    text = (
        f"The discrete rate in {row.as_of.month_name()} was significantly {label.lower()} than "
        "both the one and three year averages."
    )
    facts = {**_base_facts(measure, row.as_of), "v1y": _label_facts(row.v1y)}
    facts["v3y"] = _label_facts(row.v3y)
    return Sentence(text, "9", facts)


def t10_comparable_previous_year(
    measure: MeasureSpec, series: SeriesMap, month: YearMonth, rules: BoardRules
) -> Sentence | None:
    """10. ``{measure} has remained comparable to the previous year at {value}.`` The rolling 12
    months against the 12 before, by the unit's test; percentages print as template 18, levels as
    "an average of {value}" (the mean of the 12 monthly levels)."""
    now = _rolling(series, month, measure.unit, rules)
    before = _rolling(series, month - 12, measure.unit, rules)
    comparison = compare_cells(measure.unit, now.cell, 12, before.cell, 12, rules)
    if comparison.label != "Comparable" or now.cell is None:
        return None
    if measure.unit == "percent" and now.cell.den is not None:
        value_text = t18_pct_n(now.value, now.cell.den).text
    elif measure.unit == "level" and now.value is not None:
        value_text = f"an average of {_avg_text(now.value, measure.unit)}"
    else:
        value_text = _value_text(now.value, measure.unit)
    facts = {**_base_facts(measure, month), "rolling_12": now.cells_dict()}
    facts.update(previous_12=before.cells_dict(), **comparison.as_dict())
    text = f"{measure.name} has remained comparable to the previous year at {value_text}."
    return Sentence(text, "10", facts)


def _beats_history(series: SeriesMap, month: YearMonth, unit: Unit, k: int, lower: bool) -> bool:
    now = _value(series, month, unit)
    months = [month - 1, *(month - 12 * j for j in range(1, k + 1))]
    others = [v for m in months if (v := _value(series, m, unit)) is not None]
    if now is None or len(others) < len(months):
        return False
    return all((now < v) if lower else (now > v) for v in others)


def t11_consecutive(
    measure: MeasureSpec, series: SeriesMap, month: YearMonth, rules: BoardRules
) -> Sentence | None:
    """11. ``{measure} was {lower|higher} than last month and the same month in each of the last
    {k} years for the {nth} consecutive month.``"""
    k = rules.narrative_consecutive_years
    for lower in (True, False):
        run = 0
        while _beats_history(series, month - run, measure.unit, k, lower):
            run += 1
        if run >= rules.narrative_consecutive_min_months:
            word = "lower" if lower else "higher"
            text = (
                f"{measure.name} was {word} than last month and the same month in each of the "
                f"last {k} years for the {ordinal(run)} consecutive month."
            )
            facts = {**_base_facts(measure, month), "consecutive_months": run, "years": k}
            facts["values"] = [
                (str(month - j), _value(series, month - j, measure.unit)) for j in range(run + 1)
            ]
            return Sentence(text, "11", facts)
    return None


def t12_vs_average(measure: MeasureSpec, row: DashboardRow) -> Sentence | None:
    """12. ``{measure} in {month_name} was {above|below} average ({value} compared to the average
    of {avg}).`` The average is the mean month of the baseline (Current v 1yr avg's reference)."""
    now, avg = row.current.value, row.v1y.reference_value
    if now is None or avg is None:
        return None
    shown_now, shown_avg = _value_text(now, measure.unit), _avg_text(avg, measure.unit)
    if shown_now == shown_avg:
        return None
    word = "above" if now > avg else "below"
    text = (
        f"{measure.name} in {row.as_of.month_name()} was {word} average ({shown_now} compared "
        f"to the average of {shown_avg})."
    )
    facts = {**_base_facts(measure, row.as_of), "v1y": _label_facts(row.v1y)}
    return Sentence(text, "12", facts)


def _avg_text(value: float, unit: Unit) -> str:
    if unit in ("count", "level") and value != round(value):
        return fmt_count(value, 1)
    return _value_text(value, unit)


def t17_stable(measure: MeasureSpec, row: DashboardRow) -> Sentence | None:
    """17. ``{measure} remained stable.`` When Current v 1yr, v 3yr and Perf v Benchmark are all
    Comparable."""
    columns = row.label_columns()
    if any(c.label != "Comparable" for c in columns.values()):
        return None
    facts = {**_base_facts(measure, row.as_of)}
    facts.update({name: _label_facts(c) for name, c in columns.items()})
    return Sentence(f"{measure.name} remained stable.", "17", facts)


def t18_pct_per_month(pct: float | None, total: float, months: int) -> Sentence:
    """18a. ``{pct} ({n_per_month} a month)``: a fragment for other sentences."""
    per_month = total / months
    text = f"{fmt_percent(pct)} ({fmt_count(per_month)} a month)"
    return Sentence(text, "18", {"pct": pct, "total": total, "months": months})


def t18_pct_n(pct: float | None, n: float) -> Sentence:
    """18b. ``{pct} (n={n})``: a fragment for other sentences."""
    return Sentence(f"{fmt_percent(pct)} (n={fmt_count(n)})", "18", {"pct": pct, "n": n})


# --- districts -----------------------------------------------------------------------------------


def _growth(series: SeriesMap, month: YearMonth, rules: BoardRules) -> tuple[float | None, float | None]:
    return (
        _rolling(series, month, "count", rules).value,
        _rolling(series, month - 12, "count", rules).value,
    )


def district_growth(
    district_series: Mapping[str, SeriesMap], month: YearMonth, rules: BoardRules
) -> dict[str, dict[str, float | None]]:
    """Per district: rolling 12 at ``month``, a year earlier, and the % change."""
    out: dict[str, dict[str, float | None]] = {}
    for district, series in district_series.items():
        now, before = _growth(series, month, rules)
        pct = None if now is None or not before else 100.0 * (now - before) / before
        out[district] = {"rolling_12": now, "rolling_12_1y": before, "pct_change": pct}
    return out


def t13_district_growth(
    measure: MeasureSpec,
    district_series: Mapping[str, SeriesMap],
    month: YearMonth,
    rules: BoardRules,
) -> Sentence | None:
    """13. ``All districts have seen growth year on year; however {districts} have recorded over
    {threshold}% growth when comparing year ending {month_year} to {month_year_1y}.``"""
    growth = district_growth(district_series, month, rules)
    pcts = {d: p for d, g in growth.items() if (p := g["pct_change"]) is not None}
    if not growth or len(pcts) < len(growth) or min(pcts.values()) <= 0:
        return None
    threshold = rules.narrative_district_growth_pct
    over = sorted((d for d, p in pcts.items() if p > threshold), key=lambda d: -pcts[d])
    if not over:
        return None
    text = (
        f"All districts have seen growth year on year; however {join_names(over)} have recorded "
        f"over {threshold:g}% growth when comparing year ending {month.long()} to "
        f"{(month - 12).long()}."
    )
    facts = {**_base_facts(measure, month), "threshold_pct": threshold, "districts": growth}
    facts["over_threshold"] = over
    return Sentence(text, "13", facts)


def t14_growth_drivers(
    measure: MeasureSpec,
    district: str,
    group_series: Mapping[str, SeriesMap],
    month: YearMonth,
    rules: BoardRules,
) -> Sentence | None:
    """14. ``In {district} this growth is driven by {offence_groups}.`` The groups with the largest
    increases in the rolling 12 months (top ``narrative_top_groups``, increases only)."""
    changes: dict[str, float] = {}
    for group, series in group_series.items():
        now, before = _growth(series, month, rules)
        if now is not None and before is not None:
            changes[group] = now - before
    top = sorted((g for g, c in changes.items() if c > 0), key=lambda g: -changes[g])
    top = top[: rules.narrative_top_groups]
    if not top:
        return None
    text = f"In {district} this growth is driven by {join_names(top)}."
    facts = {**_base_facts(measure, month), "district": district, "group_changes": changes}
    facts["top_groups"] = top
    return Sentence(text, "14", facts)


def narrate_districts(
    measure: MeasureSpec,
    district_series: Mapping[str, SeriesMap],
    group_district_series: Mapping[str, Mapping[str, SeriesMap]] | None,
    month: YearMonth,
    rules: BoardRules,
) -> list[Sentence]:
    """Template 13, then template 14 for each district it names (when group series are given)."""
    headline = t13_district_growth(measure, district_series, month, rules)
    if headline is None:
        return []
    out = [headline]
    for district in headline.facts["over_threshold"]:
        groups = (group_district_series or {}).get(district)
        if groups:
            driver = t14_growth_drivers(measure, district, groups, month, rules)
            if driver is not None:
                out.append(driver)
    return out


def narrate_measure(
    measure: MeasureSpec, series: SeriesMap, row: DashboardRow, rules: BoardRules
) -> list[Sentence]:
    """All single-measure sentences that hold for ``row``, in reading order.

    Template 2 is dropped when 8 (the stronger trend claim) holds; 17 when 10 holds."""
    m = row.as_of
    eight = t8_benchmark_trend(measure, series, row, rules)
    ten = t10_comparable_previous_year(measure, series, m, rules)
    candidates = [
        t1_month_on_month(measure, series, m),
        t6_vs_same_month_last_year(measure, row),
        t7_year_ending(measure, series, m, rules),
        t12_vs_average(measure, row),
        t9_discrete_vs_averages(measure, row),
        t3_record_for_month(measure, series, m, rules),
        t5_single_month_high_since(measure, series, m, rules),
        t4_rolling_high_since(measure, series, m, rules),
        t11_consecutive(measure, series, m, rules),
        eight or t2_long_term_trend(measure, series, m, rules),
        ten,
        None if ten is not None else t17_stable(measure, row),
    ]
    return [s for s in candidates if s is not None]
