"""Control charts: golden limits against the textbook formulas for each chart, the rules that fire,
and (hypothesis) every chart's limits inside the unit's possible range."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demandhub.board.maths.spc import (
    Limits,
    c_limits,
    chart_kind,
    control_chart,
    p_limits,
    possible_range,
    signals,
    u_limits,
    xmr_limits,
)

pytestmark = pytest.mark.unit


def test_chart_per_unit() -> None:
    assert chart_kind("percent") == "p"
    assert chart_kind("count") == "u" and chart_kind("count", equal_exposure=True) == "c"
    assert chart_kind("minutes") == "xmr" and chart_kind("level") == "xmr"
    assert possible_range("percent") == (0.0, 100.0)
    assert possible_range("count") == (0.0, None)


def test_xmr_golden() -> None:
    # Wheeler: X̄ = 12, moving ranges 2, 1, 4, 3 so MR̄ = 2.5; limits X̄ ± 2.66·MR̄ = 5.35 .. 18.65.
    limits = xmr_limits([10, 12, 11, 15, 12], 3)
    assert limits.centre == (12.0,) * 3
    assert limits.lower[0] == pytest.approx(5.35, abs=0.01)
    assert limits.upper[0] == pytest.approx(18.65, abs=0.01)


def test_p_chart_golden_limits_per_month() -> None:
    # p̄ = 20 / 200 = 0.1. n = 100: 0.1 ± 3·√(0.1·0.9/100) = 0.1 ± 0.09; n = 400: 0.1 ± 0.045.
    limits, sigma_z = p_limits([10, 10], [100, 100], [100, 400])
    assert sigma_z == 1.0
    assert limits.centre == pytest.approx((10.0, 10.0))
    assert limits.lower == pytest.approx((1.0, 5.5))
    assert limits.upper == pytest.approx((19.0, 14.5))


def test_c_chart_golden() -> None:
    # c̄ = 9: 9 ± 3·3 = 0 .. 18.
    limits = c_limits([8, 10, 9], 2)
    assert limits.centre == (9.0, 9.0) and limits.lower == (0.0, 0.0) and limits.upper == (18.0, 18.0)


def test_u_chart_golden_on_the_count_scale() -> None:
    # ū = 90 / 60 days = 1.5 a day. A 28-day month: centre 42, limits 42 ± 3·√42.
    limits, sigma_z = u_limits([30, 60], [30, 30], [28, 31])
    assert sigma_z == 1.0
    assert limits.centre == pytest.approx((42.0, 46.5))
    assert limits.lower[0] == pytest.approx(42 - 3 * math.sqrt(42))
    assert limits.upper[1] == pytest.approx(46.5 + 3 * math.sqrt(46.5))


def test_laney_widens_over_dispersed_p_chart() -> None:
    # p̄ = 0.5, n = 100 each month, σ = 0.05: z = 2, -2, 2, -2 → moving ranges 4, 4, 4 → σz = 4 / 1.128.
    limits, sigma_z = p_limits([60, 40, 60, 40], [100] * 4, [100], laney=True)
    assert sigma_z == pytest.approx(4 / 1.128)
    assert limits.upper[0] == pytest.approx(100 * (0.5 + 3 * sigma_z * 0.05))
    # Under-dispersed data keep the plain p-chart (σz is never below 1).
    _, flat = p_limits([50, 50, 50], [100, 100, 100], [100], laney=True)
    assert flat == 1.0


def test_control_chart_clips_to_the_possible_range() -> None:
    # c̄ = 1: 1 - 3 < 0 → the lower limit is 0, not -2.
    chart = control_chart("count", [1.0, 0.0, 2.0, 1.0, 1.0], [True] * 5, min_baseline=2, laney=False)
    assert chart is not None and chart.kind == "c"
    assert chart.lower == (0.0,) * 5 and chart.upper[0] == pytest.approx(4.0)
    # p̄ = 98% with n = 20: the upper limit would be 107%; it is 100.
    share = control_chart(
        "percent", [98.0, 98.0], [True, True], nums=[49, 49], dens=[50, 50], min_baseline=2, laney=False
    )
    assert share is not None and share.kind == "p"
    assert share.upper == (100.0, 100.0) and share.lower[0] == pytest.approx(
        100 * (0.98 - 3 * math.sqrt(0.98 * 0.02 / 50))
    )


def test_too_few_baseline_months_give_no_chart() -> None:
    values = [None] * 30 + [5.0] * 6
    assert control_chart("minutes", values, [True] * 35 + [False], min_baseline=12) is None


def _flat(n: int, centre: float = 10.0, half: float = 5.0) -> Limits:
    return Limits((centre,) * n, (centre - half,) * n, (centre + half,) * n)


def test_rules_fire_where_named() -> None:
    values: list[float | None] = [10, 16, 10, 11, 11.5, 11, 12, 11, 11, 11, 11, 9, 10]
    member, fired = signals(values, _flat(len(values)))
    assert fired[1] == ("beyond limits",)
    # months 3..10 are 8 in a row above the centre (month 2 is on the line): fires on month 10.
    assert fired[10] == ("run of 8",) and all("run of 8" in member[i] for i in range(3, 11))
    assert not any("run of 8" in m for m in (member[2], member[11]))
    assert not any("trend of 6" in f for f in fired)


def test_seven_in_a_row_is_not_a_run_and_a_null_breaks_it() -> None:
    values: list[float | None] = [11, 11, 11, None, 11, 11, 11, 11, 11, 11, 11]
    member, _ = signals(values, _flat(len(values)))
    assert not any(member)


def test_trend_of_six_fires_on_the_sixth() -> None:
    values: list[float | None] = [8, 9, 9.5, 10.5, 11, 12, 11.9]
    member, fired = signals(values, _flat(len(values)))
    assert fired[5] == ("trend of 6",)
    assert [("trend of 6" in m) for m in member] == [True] * 6 + [False]
    # five rises in four steps is not a trend of six
    member, _ = signals([8, 9, 10, 11, 12, 11], _flat(6))
    assert not any("trend of 6" in m for m in member)


def test_tail_judges_rules_on_the_months_shown() -> None:
    values = [11.0] * 10 + [9.0] * 3
    chart = control_chart("level", values, [True] * 13, min_baseline=2)
    assert chart is not None and any("run of 8" in f for f in chart.fired)
    shown = chart.tail(5)
    assert len(shown.values) == 5 and not any("run of 8" in s for s in shown.signals)


counts = st.integers(min_value=0, max_value=5000)
finite = st.floats(min_value=0, max_value=1e5, allow_nan=False)


@st.composite
def series(draw: st.DrawFn, unit: str) -> dict[str, list[float | None]]:
    n = draw(st.integers(min_value=2, max_value=40))
    nulls = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if unit == "percent":
        dens = draw(st.lists(st.integers(min_value=0, max_value=20000), min_size=n, max_size=n))
        nums = [draw(st.integers(min_value=0, max_value=d)) for d in dens]
        values = [None if z or d == 0 else 100 * x / d for z, x, d in zip(nulls, nums, dens, strict=True)]
        return {"values": values, "nums": list(map(float, nums)), "dens": list(map(float, dens))}
    draw_one = counts if unit == "count" else finite
    raw = draw(st.lists(draw_one, min_size=n, max_size=n))
    return {"values": [None if z else float(v) for z, v in zip(nulls, raw, strict=True)]}


@pytest.mark.parametrize("unit", ["count", "percent", "minutes", "level"])
@settings(max_examples=150, deadline=None)
@given(data=st.data(), laney=st.booleans())
def test_every_chart_limit_lies_in_the_units_range(unit: str, data: st.DataObject, laney: bool) -> None:
    s = data.draw(series(unit))
    n = len(s["values"])
    days = [float(data.draw(st.sampled_from([28, 29, 30, 31]))) for _ in range(n)]
    base = [i < n - 1 for i in range(n)]
    chart = control_chart(
        unit, s["values"], base, s.get("nums"), s.get("dens"), days, min_baseline=2, laney=laney
    )
    if chart is None:
        return
    low, high = possible_range(unit)
    for lo, c, up in zip(chart.lower, chart.centre, chart.upper, strict=True):
        assert low <= lo <= c <= up
        assert high is None or up <= high
        assert all(math.isfinite(x) for x in (lo, c, up))
