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

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import Any, Literal

from demandhub.board.maths.cells import Cell, Unit
from demandhub.board.maths.dashboard import (
    DashboardRow,
    LabelColumn,
    MeasureSpec,
    PeriodValue,
    period_value,
    rolling_12_months,
)
from demandhub.board.maths.format import (
    fmt_count,
    fmt_percent,
    fmt_value,
    join_names,
    ordinal,
)
from demandhub.board.maths.months import YearMonth
from demandhub.board.maths.rules import BoardRules
from demandhub.board.maths.stats import Comparison, compare_cells
from demandhub.board.maths.trends import ChartSignal, MeasureChart

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

# Words that end a measure name's head noun phrase ("999 calls answered within 10 seconds").
_HEAD_BREAKS = (" with ", " within ", " in ", " answered", " attended", " graded", " per ", " of ")
WITHIN_NORMAL = "within normal variation"


def mid(name: str) -> str:
    """A measure name inside a sentence: its first letter lower-cased unless it starts an
    abbreviation ("All crime" -> "all crime", "QA/Linking queue" stays)."""
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def is_plural(measure: MeasureSpec) -> bool:
    """Whether a measure's name takes a plural verb: a count or level named by a plural noun
    ("Domestic abuse crimes were", "All crime was"); rates, shares and means are singular."""
    if measure.unit not in ("count", "level"):
        return False
    head = measure.name.split("(")[0].split(":")[0]
    for brk in _HEAD_BREAKS:
        head = head.split(brk)[0]
    words = head.strip().split()
    if not words:
        return False
    last = words[-1].lower()
    return last.endswith("s") and not last.endswith(("ss", "us", "is"))


def was(measure: MeasureSpec) -> str:
    """``"was"`` or ``"were"`` by the measure name's number."""
    return "were" if is_plural(measure) else "was"


def singular(noun: str) -> str:
    """The singular of a catalogue plural noun ("crimes" -> "crime", "calls" -> "call")."""
    words = noun.split()
    last = words[-1]
    if last.endswith("ies"):
        last = last[:-3] + "y"
    elif last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    return " ".join([*words[:-1], last])


def count_noun(value: float, noun: str | None) -> str:
    """``"1 crime"``, ``"40 crimes"``, or the number alone without a noun."""
    text = fmt_count(value)
    if not noun:
        return text
    return f"{text} {singular(noun) if text == '1' else noun}"


def _qualifier(label: str) -> str:
    """``", within normal variation"`` after a direction that its test found Comparable."""
    return f", {WITHIN_NORMAL}" if label == "Comparable" else ""


def _comparison_facts(comparison: Comparison) -> dict[str, Any]:
    return {"label": comparison.label, "test": comparison.test, "p_value": comparison.p_value}


def _value(series: SeriesMap, month: YearMonth, unit: Unit) -> float | None:
    cell = series.get(month)
    return None if cell is None else cell.value(unit)


def _value_text(value: float | None, unit: Unit, decimals: int = 0) -> str:
    text = fmt_value(value, unit, decimals)
    return f"{text} minutes" if unit == "minutes" and value is not None else text


def _rolling_phrase(measure: MeasureSpec) -> str:
    """``"rolling 12 month total of {measure}"`` for counts, ``"rolling 12 month average of
    {measure}"`` for levels (see the module docstring)."""
    if measure.unit == "level":
        return f"rolling 12 month average of {mid(measure.name)}"
    return f"rolling 12 month total of {mid(measure.name)}"


def _rolling(series: SeriesMap, month: YearMonth, unit: Unit, rules: BoardRules) -> PeriodValue:
    return period_value(series, rolling_12_months(month), unit, rules)


class _RollingValues(Mapping[YearMonth, float | None]):
    """The rolling 12 month value of every month from ``first`` to ``last``, each computed when
    first read: the "since" search reads only the months back to the last one as extreme."""

    def __init__(self, series: SeriesMap, unit: Unit, rules: BoardRules, first: YearMonth, last: YearMonth):
        self._series, self._unit, self._rules = series, unit, rules
        self._first, self._last = first, last
        self._known: dict[YearMonth, float | None] = {}

    def __getitem__(self, month: YearMonth) -> float | None:
        if month in self._known:
            return self._known[month]
        if not self._first <= month <= self._last:
            raise KeyError(month)
        value = _rolling(self._series, month, self._unit, self._rules).value
        self._known[month] = value
        return value

    def __iter__(self) -> Iterator[YearMonth]:
        return iter(_months(self._first, self._last))

    def __len__(self) -> int:
        return max(self._last - self._first + 1, 0)


def _monthly_cells(series: SeriesMap, period: PeriodValue) -> tuple[Cell, ...]:
    """The period's monthly cells: the between-month variation the overdispersed tests use."""
    return tuple(c for m in period.months if (c := series.get(m)) is not None)


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


def t1_month_on_month(
    measure: MeasureSpec, series: SeriesMap, month: YearMonth, rules: BoardRules | None = None
) -> Sentence | None:
    """1. ``{measure} {rose|fell} month on month[, within normal variation].`` The two months are
    compared by the unit's test; a Comparable result is said, so the direction is never read as a
    finding."""
    rules = rules or BoardRules()
    now, before = _value(series, month, measure.unit), _value(series, month - 1, measure.unit)
    if now is None or before is None or now == before:
        return None
    verb = "rose" if now > before else "fell"
    comparison = compare_cells(measure.unit, series.get(month), 1, series.get(month - 1), 1, rules)
    facts = {**_base_facts(measure, month), "value": now, "previous_month": str(month - 1)}
    facts.update(previous_value=before, **_comparison_facts(comparison))
    text = f"{measure.name} {verb} month on month{_qualifier(comparison.label)}."
    return Sentence(text, "1", facts)


def t2_long_term_trend(
    measure: MeasureSpec, series: SeriesMap, month: YearMonth, rules: BoardRules
) -> Sentence | None:
    """2. ``The long term trend for {measure} continues to {increase|decline}.``"""
    direction, values = rolling_trend(series, measure.unit, month, rules)
    if direction is None:
        return None
    verb = "increase" if direction == "up" else "decline"
    facts = {**_base_facts(measure, month), "rolling_12_values": values, "direction": direction}
    return Sentence(f"The long term trend for {mid(measure.name)} continues to {verb}.", "2", facts)


def t3_record_for_month(
    measure: MeasureSpec, series: SeriesMap, month: YearMonth, rules: BoardRules
) -> Sentence | None:
    """3. ``{measure} in {month_name} {was|were} the {highest|lowest} for the last {n} years.``

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
            text = (
                f"{measure.name} in {month.month_name()} {was(measure)} the {word} for the last "
                f"{years} years."
            )
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
    values = _RollingValues(series, measure.unit, rules, first, month)
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
        f"{measure.name} in {month.long()} {was(measure)} {_value_text(now, measure.unit, measure.decimals)}, the {word} for a "
        f"single month since {since.long()}."
    )
    return Sentence(text, "5", facts)


def t6_vs_same_month_last_year(
    measure: MeasureSpec, row: DashboardRow, rules: BoardRules | None = None
) -> Sentence | None:
    """6. ``{measure} {increased|decreased} compared to {month_year_1y} with {abs_diff}
    {additional|fewer} {unit}[, within normal variation].`` Counts and levels (the difference of
    two month-end levels); the two months are compared by the unit's test."""
    rules = rules or BoardRules()
    now, before = row.current.value, row.minus_1y.value
    if measure.unit not in ("count", "level") or now is None or before is None or now == before:
        return None
    up = now > before
    noun = f" {measure.noun}" if measure.noun else ""
    more = ("additional" if measure.noun else "more") if up else "fewer"
    diff = abs(now - before)
    if measure.noun and diff == 1:
        noun = f" {singular(measure.noun)}"
    comparison = compare_cells(measure.unit, row.current.cell, 1, row.minus_1y.cell, 1, rules)
    text = (
        f"{measure.name} {'increased' if up else 'decreased'} compared to "
        f"{(row.as_of - 12).long()} with {fmt_count(diff, measure.decimals)} {more}{noun}"
        f"{_qualifier(comparison.label)}."
    )
    facts = {**_base_facts(measure, row.as_of), "value": now, "value_1y": before, "diff": diff}
    facts.update(_comparison_facts(comparison))
    return Sentence(text, "6", facts)


def t7_year_ending(
    measure: MeasureSpec, series: SeriesMap, month: YearMonth, rules: BoardRules
) -> Sentence | None:
    """7. ``{measure} {was|were} {up|down} by {pct} ({abs_diff}) comparing year ending {month_year}
    to year ending {month_year_1y}[, within normal variation].`` Counts only (not levels: module docstring); rolling 12 months
    against the 12 before."""
    if measure.unit != "count":
        return None
    now = _rolling(series, month, "count", rules).value
    before = _rolling(series, month - 12, "count", rules).value
    if now is None or before is None or before == 0 or now == before:
        return None
    pct = 100.0 * (now - before) / before
    diff = now - before
    prior = _rolling(series, month - 12, "count", rules)
    comparison = compare_cells(
        "count",
        _rolling(series, month, "count", rules).cell,
        12,
        prior.cell,
        12,
        rules,
        _monthly_cells(series, prior),
    )
    text = (
        f"{measure.name} {was(measure)} {'up' if diff > 0 else 'down'} by {fmt_percent(abs(pct))} "
        f"({fmt_count(abs(diff))}) comparing year ending {month.long()} to year ending "
        f"{(month - 12).long()}{_qualifier(comparison.label)}."
    )
    facts = {**_base_facts(measure, month), "rolling_12": now, "rolling_12_1y": before}
    facts.update(pct_change=pct, diff=diff, **_comparison_facts(comparison))
    return Sentence(text, "7", facts)


def t8_benchmark_trend(
    measure: MeasureSpec, series: SeriesMap, row: DashboardRow, rules: BoardRules
) -> Sentence | None:
    """8. ``The rolling 12 month total of {measure} continues to trend {upwards|downwards} and is now
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
    """9. ``The discrete rate of {measure} in {month_name} was significantly {higher|lower} than both the one
    and three year averages.`` Needs both labels Higher (or both Lower)."""
    label = row.v1y.label
    if label not in ("Higher", "Lower") or row.v3y.label != label:
        return None
    text = (
        f"The discrete rate of {mid(measure.name)} in {row.as_of.month_name()} was significantly "
        f"{label.lower()} than "
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
    comparison = compare_cells(
        measure.unit, now.cell, 12, before.cell, 12, rules, _monthly_cells(series, before)
    )
    if comparison.label != "Comparable" or now.cell is None:
        return None
    if measure.unit == "percent" and now.cell.den is not None:
        value_text = t18_pct_n(now.value, now.cell.den).text
    elif measure.unit == "level" and now.value is not None:
        value_text = f"an average of {_avg_text(now.value, measure.unit, measure.decimals)}"
    else:
        value_text = _value_text(now.value, measure.unit, measure.decimals)
    facts = {**_base_facts(measure, month), "rolling_12": now.cells_dict()}
    facts.update(previous_12=before.cells_dict(), **comparison.as_dict())
    has = "have" if is_plural(measure) else "has"
    text = f"{measure.name} {has} remained comparable to the previous year at {value_text}."
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
                f"{measure.name} {was(measure)} {word} than last month and the same month in each of the "
                f"last {k} years for the {ordinal(run)} consecutive month."
            )
            facts = {**_base_facts(measure, month), "consecutive_months": run, "years": k}
            facts["values"] = [
                (str(month - j), _value(series, month - j, measure.unit)) for j in range(run + 1)
            ]
            return Sentence(text, "11", facts)
    return None


def t12_vs_average(measure: MeasureSpec, row: DashboardRow) -> Sentence | None:
    """12. ``{measure} in {month_name} {was|were} {above|below} average ({value} compared to the
    average of {avg})[, within normal variation].`` The average is the mean month of the baseline (Current v 1yr avg's reference)."""
    now, avg = row.current.value, row.v1y.reference_value
    if now is None or avg is None:
        return None
    shown_now, shown_avg = (
        _value_text(now, measure.unit, measure.decimals),
        _avg_text(avg, measure.unit, measure.decimals),
    )
    if shown_now == shown_avg:
        return None
    word = "above" if now > avg else "below"
    text = (
        f"{measure.name} in {row.as_of.month_name()} {was(measure)} {word} average ({shown_now} "
        f"compared to the average of {shown_avg}){_qualifier(row.v1y.comparison.label)}."
    )
    facts = {**_base_facts(measure, row.as_of), "v1y": _label_facts(row.v1y)}
    facts.update(_comparison_facts(row.v1y.comparison))
    return Sentence(text, "12", facts)


def _avg_text(value: float, unit: Unit, decimals: int = 0) -> str:
    """A mean month: a count's or level's to one decimal more than a whole number when it is not
    whole (to the measure's ``decimals`` when it has them)."""
    if unit in ("count", "level") and decimals == 0 and value != round(value):
        return fmt_count(value, 1)
    return _value_text(value, unit, decimals)


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
        t1_month_on_month(measure, series, m, rules),
        t6_vs_same_month_last_year(measure, row, rules),
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


# --- the briefing: summary first, a paragraph per theme, the rest listed -------------------------

Tone = Literal["bad", "neutral", "good"]
TONE_ORDER: dict[str, int] = {"bad": 0, "neutral": 1, "good": 2}
COLUMN_NAMES: dict[str, str] = {
    "v1y": "Current v 1yr avg",
    "v3y": "Current v 3yr avg",
    "perf_v_benchmark": "Perf v Benchmark",
}
TEST_NAMES: dict[str, str] = {
    "poisson_conditional_exact_binomial": "exact conditional test of two Poisson rates",
    "poisson_conditional_normal": "conditional test of two Poisson rates (normal approximation)",
    "two_proportion_z": "two-proportion z-test",
    "welch_t": "Welch's t-test",
    "welch_t_monthly_levels": "Welch's t-test on the monthly levels",
    "t_prediction_interval": "t prediction interval for one month",
    "spc_mean_k_sigma": "SPC chart: the month beyond the control limits (mean ± k·σ)",
    "quasi_poisson_t": "quasi-Poisson test of two rates (dispersion from the reference months)",
    "quasi_binomial_t": "overdispersed two-proportion test (dispersion from the reference months)",
}
# Templates narrated in a theme paragraph, in reading order (others are summary-only or noise).
PARAGRAPH_TEMPLATES: tuple[str, ...] = ("7", "6", "9", "8", "2", "3", "5", "4", "11", "13", "14")
# Templates that make a measure remarkable even when its labels are all Comparable.
REMARKABLE_TEMPLATES: frozenset[str] = frozenset({"3", "4", "5", "8", "11", "13", "14"})
SENTENCES_PER_MEASURE = 3


def tone(label: str, polarity: str) -> Tone:
    """Good or bad news by the measure's polarity; neutral for a neutral measure."""
    if polarity == "neutral" or label not in ("Higher", "Lower"):
        return "neutral"
    good = (label == "Higher") == (polarity == "higher_is_better")
    return "good" if good else "bad"


def subject(measure: MeasureSpec) -> str:
    """The measure as a sentence subject (its name)."""
    return measure.name


def _figure(value: float | None, measure: MeasureSpec) -> str:
    if value is None:
        return "n/a"
    if measure.unit in ("count", "level"):
        text = _avg_text(value, measure.unit, measure.decimals)
        if measure.noun:
            return f"{text} {singular(measure.noun) if text == '1' else measure.noun}"
        return text
    return _value_text(value, measure.unit, measure.decimals)


@dataclass(frozen=True)
class SummaryItem:
    """One significant finding: the sentence, its tone and the footnote naming its test."""

    measure: str
    name: str
    theme: str
    column: str
    label: str
    tone: Tone
    text: str
    footnote: int
    facts: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "name": self.name,
            "theme": self.theme,
            "column": self.column,
            "label": self.label,
            "tone": self.tone,
            "text": self.text,
            "footnote": self.footnote,
            "facts": self.facts,
        }


@dataclass(frozen=True)
class BriefingFootnote:
    """The comparison behind a summary item: the periods compared, the test and its p-value."""

    number: int
    measure: str
    column: str
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"number": self.number, "measure": self.measure, "column": self.column, "text": self.text}


@dataclass(frozen=True)
class ThemeParagraph:
    """One short paragraph for a theme: its remarkable measures' sentences, in order."""

    theme: str
    sentences: tuple[Sentence, ...]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    def as_dict(self) -> dict[str, Any]:
        return {
            "theme": self.theme,
            "text": self.text,
            "sentences": [s.as_dict() for s in self.sentences],
        }


@dataclass(frozen=True)
class Briefing:
    """The narrative as a briefing: the summary (worst news first), a paragraph per theme, and the
    measures that are Comparable and unremarkable (listed by name), and those with no data."""

    month: YearMonth
    summary: tuple[SummaryItem, ...]
    footnotes: tuple[BriefingFootnote, ...]
    paragraphs: tuple[ThemeParagraph, ...]
    unremarkable: tuple[tuple[str, str], ...]
    no_data: tuple[tuple[str, str], ...]
    as_of_note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": str(self.month),
            "as_of_note": self.as_of_note,
            "summary": [item.as_dict() for item in self.summary],
            "footnotes": [f.as_dict() for f in self.footnotes],
            "paragraphs": [p.as_dict() for p in self.paragraphs],
            "unremarkable": [{"measure": i, "name": n} for i, n in self.unremarkable],
            "unremarkable_text": unremarkable_text(self.unremarkable),
            "no_data": [{"measure": i, "name": n} for i, n in self.no_data],
        }

    def text(self) -> str:
        """The briefing as plain text (the golden files' form)."""
        lines = [f"Summary ({self.month.long()})", self.as_of_note]
        if not self.summary:
            lines.append("No measure is significantly higher or lower than its comparisons.")
        lines.extend(f"- {item.text} [{item.footnote}]" for item in self.summary)
        lines.extend(f"[{f.number}] {f.text}" for f in self.footnotes)
        for paragraph in self.paragraphs:
            lines += ["", paragraph.theme, paragraph.text]
        if self.unremarkable:
            lines += ["", unremarkable_text(self.unremarkable)]
        if self.no_data:
            lines += ["", "No data: " + join_names([n for _, n in self.no_data]) + "."]
        return "\n".join(lines) + "\n"


def unremarkable_text(items: tuple[tuple[str, str], ...]) -> str:
    """The Comparable, unremarkable measures in one line (listed, not narrated)."""
    if not items:
        return ""
    return "Within normal variation, with nothing else to report: " + "; ".join(n for _, n in items) + "."


def _strongest(row: DashboardRow) -> tuple[str, LabelColumn] | None:
    """The row's Higher/Lower label column with the smallest p-value (v1y first on ties)."""
    found = [(n, c) for n, c in row.label_columns().items() if c.label in ("Higher", "Lower")]
    if not found:
        return None
    return min(found, key=lambda nc: (nc[1].comparison.p_value or 0.0, list(COLUMN_NAMES).index(nc[0])))


def _pair(a: float | None, b: float | None, measure: MeasureSpec) -> tuple[str, str]:
    """Two figures as printed; a decimal more for means when they would print alike."""
    x, y = _figure(a, measure), _figure(b, measure)
    if x == y and measure.unit == "minutes" and a is not None and b is not None:
        x, y = f"{fmt_count(a, 1)} minutes", f"{fmt_count(b, 1)} minutes"
    return x, y


def summary_sentence(measure: MeasureSpec, row: DashboardRow, column: str, label: LabelColumn) -> str:
    """One summary sentence whose direction words agree with the label. A month against its
    averages: ``{measure} {was|were} {up|down} in {month}: {value} against {reference}, significantly
    {higher|lower} ({column}).`` The rolling 12 months against the benchmark: ``{measure} over the
    12 months to {month} {was|were} {up|down}: ...``."""
    up = label.label == "Higher"
    now, ref = _pair(label.subject_value, label.reference_value, measure)
    span = label.reference.header()
    way = "up" if up else "down"
    if column == "perf_v_benchmark":
        head = f"{measure.name} over the 12 months to {row.as_of.long()} {was(measure)} {way}"
        per = " a month" if measure.unit == "count" else ""
        body = f"{now}{per} against the long-term benchmark of {ref}{per} ({span})"
    else:
        head = f"{measure.name} {was(measure)} {way} in {row.as_of.long()}"
        if label.comparison.test == "spc_mean_k_sigma":
            body = f"{now} against the control chart's centre line of {ref} ({span})"
        elif measure.unit == "count":
            body = f"{now} against a monthly average of {ref} ({span})"
        else:
            body = f"{now} against {ref} ({span})"
    return f"{head}: {body}, significantly {label.label.lower()} ({COLUMN_NAMES[column]})."


def footnote_text(measure: MeasureSpec, column: str, label: LabelColumn) -> str:
    test = TEST_NAMES.get(label.comparison.test, label.comparison.test)
    p = label.comparison.p_value
    p_text = "" if p is None else (", p < 0.001" if p < 0.001 else f", p = {p:.3f}")
    return (
        f"{measure.name}, {COLUMN_NAMES[column]}: {label.subject.header()} against "
        f"{label.reference.header()}; {test}{p_text}."
    )


CHART_COLUMN = "control_chart"
"""The ``column`` of a summary item found by its control chart rather than by a label."""

_RULE_PHRASES: dict[tuple[str, str], str] = {
    ("beyond limits", "up"): "beyond limits (above the upper limit)",
    ("beyond limits", "down"): "beyond limits (below the lower limit)",
    ("run of 8", "up"): "run of 8 (8 months in a row above the centre line)",
    ("run of 8", "down"): "run of 8 (8 months in a row below the centre line)",
    ("trend of 6", "up"): "trend of 6 (6 months in a row, each higher than the one before)",
    ("trend of 6", "down"): "trend of 6 (6 months in a row, each lower than the one before)",
}


def chart_sentence(measure: MeasureSpec, chart: MeasureChart, signal: ChartSignal) -> str:
    """One summary sentence for a control chart signal at the as-of month, its direction words
    agreeing with the first rule's direction: ``{measure} {was|were} {up|down} in {month}:
    {value}, {above the upper control limit of {limit}|the 8th month in a row above the centre
    line of {centre}|the 6th month in a row higher than the month before} (control chart).``"""
    assert chart.spc is not None
    spc = chart.spc
    up = signal.direction == "up"
    value = spc.values[-1]
    head = f"{measure.name} {was(measure)} {'up' if up else 'down'} in {chart.as_of.long()}: {_figure(value, measure)}"
    rule = signal.rules[0]
    if rule == "beyond limits":
        limit = spc.upper[-1] if up else spc.lower[-1]
        side = "above the upper" if up else "below the lower"
        body = f"{side} control limit of {_figure(limit, measure)}"
    elif rule == "run of 8":
        side = "above" if up else "below"
        body = f"the 8th month in a row {side} the control chart's centre line of {_figure(spc.centre[-1], measure)}"
    else:
        body = f"the 6th month in a row {'higher' if up else 'lower'} than the month before"
    return f"{head}, {body} (control chart)."


def chart_footnote_text(measure: MeasureSpec, chart: MeasureChart, signal: ChartSignal) -> str:
    """The chart behind a signal: its type, the months shown, the months its limits come from, and
    each rule that fired on the as-of month, named as on the chart."""
    assert chart.spc is not None
    rules = "; ".join(_RULE_PHRASES[(r, d)] for r, d in zip(signal.rules, signal.directions, strict=True))
    first, last = chart.baseline
    return (
        f"{measure.name}, control chart: {chart.spc.name}, {len(chart.months)} months to "
        f"{chart.as_of.label()}, 3σ limits from {first.label()} to {last.label()}: {rules}."
    )


def build_briefing(
    rows: tuple[DashboardRow, ...],
    sentences: Mapping[str, list[Sentence]],
    month: YearMonth,
    charts: Mapping[str, MeasureChart] | None = None,
) -> Briefing:
    """The briefing of a pack's rows and each measure's narrative sentences (by measure id).

    The summary holds each measure with a Higher or Lower label (its strongest) and each other
    measure whose control chart (``charts``, by measure id) has a rule firing on its as-of month;
    worst news first by polarity, labelled findings before chart signals of the same tone, then by
    p-value and dashboard order."""
    found: list[tuple[int, int, float, int, SummaryItem, str]] = []
    for order, row in enumerate(rows):
        m = row.measure
        strongest = _strongest(row)
        if strongest is not None:
            column, label = strongest
            t = tone(label.label, m.polarity)
            facts = {**_base_facts(m, row.as_of), **_label_facts(label)}
            text = summary_sentence(m, row, column, label)
            item = SummaryItem(m.id, m.name, m.theme, column, label.label, t, text, 0, facts)
            note = footnote_text(m, column, label)
            found.append((TONE_ORDER[t], 0, label.comparison.p_value or 0.0, order, item, note))
            continue
        chart = (charts or {}).get(m.id)
        signal = None if chart is None else chart.signal
        if chart is None or signal is None or chart.as_of != row.as_of:
            continue
        direction = "Higher" if signal.direction == "up" else "Lower"
        t = tone(direction, m.polarity)
        facts = {
            **_base_facts(m, row.as_of),
            "chart": chart.as_dict(),
            "rules": list(signal.rules),
        }
        text = chart_sentence(m, chart, signal)
        item = SummaryItem(m.id, m.name, m.theme, CHART_COLUMN, direction, t, text, 0, facts)
        found.append((TONE_ORDER[t], 1, 0.0, order, item, chart_footnote_text(m, chart, signal)))
    found.sort(key=lambda f: f[:4])
    summary: list[SummaryItem] = []
    notes: list[BriefingFootnote] = []
    for number, (*_, item, note) in enumerate(found, start=1):
        summary.append(replace(item, footnote=number))
        notes.append(BriefingFootnote(number, item.measure, item.column, note))
    significant = {item.measure for item in summary}
    by_theme: dict[str, list[Sentence]] = {}
    unremarkable: list[tuple[str, str]] = []
    no_data: list[tuple[str, str]] = []
    for row in rows:
        m = row.measure
        own = sentences.get(m.id, [])
        if row.current.value is None:
            no_data.append((m.id, m.name))
            continue
        remarkable = m.id in significant or any(s.template_id in REMARKABLE_TEMPLATES for s in own)
        if not remarkable:
            unremarkable.append((m.id, m.name))
            continue
        chosen = sorted(
            (s for s in own if s.template_id in PARAGRAPH_TEMPLATES),
            key=lambda s: PARAGRAPH_TEMPLATES.index(s.template_id),
        )
        # Template 6 (one month a year apart) only when template 7 (year ending) is not written.
        if any(s.template_id == "7" for s in chosen):
            chosen = [s for s in chosen if s.template_id != "6"]
        by_theme.setdefault(m.theme, []).extend(chosen[:SENTENCES_PER_MEASURE])
    themes_in_order = list(dict.fromkeys(r.measure.theme for r in rows))
    paragraphs = tuple(
        ThemeParagraph(theme, tuple(by_theme[theme])) for theme in themes_in_order if by_theme.get(theme)
    )
    return Briefing(
        month,
        tuple(summary),
        tuple(notes),
        paragraphs,
        tuple(unremarkable),
        tuple(no_data),
        as_of_note(rows, month),
    )


def as_of_note(rows: tuple[DashboardRow, ...], month: YearMonth) -> str:
    """Which month each row reports: ``"Pack month: March 2019. Rows are as of March 2019, except
    the Victims theme: as of February 2019, one month behind."``; by theme when a whole theme
    lags, else by measure."""
    lagging: dict[YearMonth, list[DashboardRow]] = {}
    for row in rows:
        if row.as_of != month:
            lagging.setdefault(row.as_of, []).append(row)
    head = f"Pack month: {month.long()}."
    if not lagging:
        return f"{head} Every row is as of {month.long()}."
    parts = []
    for as_of in sorted(lagging, reverse=True):
        behind = month - as_of
        group = lagging[as_of]
        themes = list(dict.fromkeys(r.measure.theme for r in group))
        whole = [t for t in themes if all(r.as_of == as_of for r in rows if r.measure.theme == t)]
        named = [f"the {t} theme" for t in whole]
        named += [r.measure.name for r in group if r.measure.theme not in whole]
        months = "one month" if behind == 1 else f"{behind} months"
        parts.append(f"{join_names(named)}: as of {as_of.long()}, {months} behind")
    return f"{head} Rows are as of {month.long()}, except {'; '.join(parts)}."
