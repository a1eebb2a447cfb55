"""Control charts for the board pack's trend charts: the chart that suits the unit, its limits and
the rules that fire. Pure: no I/O.

Chart per unit (:func:`chart_kind`):

* ``percent`` (a proportion num/den): **p-chart**. Centre p̄ = Σnum / Σden over the baseline months;
  each month's limits p̄ ± 3·√(p̄(1 - p̄) / nᵢ) use that month's own denominator nᵢ, so a small month
  has wide limits.
* ``count``: **c-chart** when every month has the same area of opportunity (c̄ ± 3·√c̄), else a
  **u-chart** drawn on the count scale: ū = Σcᵢ / Σeᵢ over the baseline, and month i has centre
  ū·eᵢ and limits ū·eᵢ ± 3·√(ū·eᵢ). The board's counts use the days in the month as eᵢ.
* ``minutes`` (a mean), ``level`` and any other unit: **XmR** (individuals) chart. Centre x̄ of
  the baseline values, limits x̄ ± 2.66·MR̄ (2.66 = 3 / d₂, d₂ = 1.128 for moving ranges of two).

Large denominators make p- and u-charts flag ordinary month-to-month variation (the data are
over-dispersed against the binomial or Poisson model). With ``laney=True`` the p- and u-charts
become Laney's p′ and u′ charts: the within-month sigma is multiplied by σz, the XmR sigma of the
baseline's z-scores zᵢ = (yᵢ - centreᵢ) / σᵢ (σz = MR̄z / 1.128), when σz > 1; the kind then reads
``"p'"`` or ``"u'"``. When σz <= 1 the chart stays the plain p- or u-chart.

Every limit is clipped to the unit's possible range (:func:`possible_range`: never below zero;
never above 100 for a percentage). Limits come from the baseline months only (the months before
the as-of month); the other months are judged against them.

Rules (:func:`signals`), each named on the point where it fires:

* ``"beyond limits"``: the value is above the upper or below the lower limit;
* ``"run of 8"``: 8 consecutive months on the same side of the centre line (a month on the line or
  a null month ends a run); every month of the run carries it, and it fires on the 8th;
* ``"trend of 6"``: 6 consecutive months each higher (or each lower) than the one before; every
  month of the trend carries it, and it fires on the 6th.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

ChartKind = Literal["xmr", "p", "p'", "c", "u", "u'"]
Rule = Literal["beyond limits", "run of 8", "trend of 6"]
RULES: tuple[Rule, ...] = ("beyond limits", "run of 8", "trend of 6")
RUN_LENGTH = 8
TREND_LENGTH = 6
D2 = 1.128
XMR_FACTOR = 3 / D2  # 2.66

CHART_NAMES: dict[str, str] = {
    "xmr": "XmR chart",
    "p": "p-chart",
    "p'": "Laney p′-chart",
    "c": "c-chart",
    "u": "u-chart",
    "u'": "Laney u′-chart",
}

_RANGES: dict[str, tuple[float, float | None]] = {
    "count": (0.0, None),
    "percent": (0.0, 100.0),
    "minutes": (0.0, None),
    "level": (0.0, None),
}


def possible_range(unit: str) -> tuple[float, float | None]:
    """(lowest, highest or None) a value of ``unit`` can take. Every unit the board knows is a
    non-negative quantity; a percentage is at most 100."""
    return _RANGES.get(unit, (0.0, None))


def chart_kind(unit: str, equal_exposure: bool = False) -> ChartKind:
    """The chart for ``unit`` (module docstring); counts with equal exposures get a c-chart."""
    if unit == "percent":
        return "p"
    if unit == "count":
        return "c" if equal_exposure else "u"
    return "xmr"


def clip(value: float, unit: str) -> float:
    """``value`` moved into the unit's possible range."""
    low, high = possible_range(unit)
    value = max(low, value)
    return value if high is None else min(high, value)


@dataclass(frozen=True)
class Limits:
    """Centre line and limits, one entry per month (equal entries for a chart with fixed limits)."""

    centre: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]


def xmr_limits(baseline: Sequence[float], months: int) -> Limits:
    """XmR limits from ``baseline`` (at least two values), repeated over ``months`` months.
    Not clipped."""
    if len(baseline) < 2:
        raise ValueError("an XmR chart needs at least two baseline values")
    centre = math.fsum(baseline) / len(baseline)
    mr = math.fsum(abs(b - a) for a, b in itertools.pairwise(baseline)) / (len(baseline) - 1)
    half = XMR_FACTOR * mr
    return Limits((centre,) * months, (centre - half,) * months, (centre + half,) * months)


def _sigma_z(z: Sequence[float]) -> float:
    if len(z) < 2:
        return 1.0
    mr = math.fsum(abs(b - a) for a, b in itertools.pairwise(z)) / (len(z) - 1)
    return mr / D2


def p_limits(
    base_num: Sequence[float], base_den: Sequence[float], dens: Sequence[float], laney: bool = False
) -> tuple[Limits, float]:
    """p-chart limits in percent for months with denominators ``dens`` (a zero denominator gives
    the centre as both limits), from the baseline's numerators and denominators; and σz (1.0 for a
    plain p-chart). Not clipped."""
    total = math.fsum(base_den)
    if total <= 0:
        raise ValueError("a p-chart needs a positive baseline denominator")
    p = math.fsum(base_num) / total

    def sd(n: float) -> float:
        return math.sqrt(p * (1 - p) / n) if n > 0 else 0.0

    factor = 1.0
    if laney:
        z = [(x / n - p) / sd(n) for x, n in zip(base_num, base_den, strict=True) if n > 0 and sd(n) > 0]
        factor = max(1.0, _sigma_z(z))
    centre = 100 * p
    lower = tuple(100 * (p - 3 * factor * sd(n)) for n in dens)
    upper = tuple(100 * (p + 3 * factor * sd(n)) for n in dens)
    return Limits((centre,) * len(dens), lower, upper), factor


def c_limits(baseline: Sequence[float], months: int) -> Limits:
    """c-chart limits c̄ ± 3√c̄ over ``months`` months. Not clipped."""
    if not baseline:
        raise ValueError("a c-chart needs baseline counts")
    c = math.fsum(baseline) / len(baseline)
    half = 3 * math.sqrt(c)
    return Limits((c,) * months, (c - half,) * months, (c + half,) * months)


def u_limits(
    base_counts: Sequence[float],
    base_exposure: Sequence[float],
    exposures: Sequence[float],
    laney: bool = False,
) -> tuple[Limits, float]:
    """u-chart limits on the count scale for months of exposure ``exposures``: centre ū·eᵢ, limits
    ū·eᵢ ± 3·σz·√(ū·eᵢ); and σz (1.0 for a plain u-chart). Not clipped."""
    total = math.fsum(base_exposure)
    if total <= 0:
        raise ValueError("a u-chart needs a positive baseline exposure")
    u = math.fsum(base_counts) / total
    factor = 1.0
    if laney and u > 0:
        z = [(c - u * e) / math.sqrt(u * e) for c, e in zip(base_counts, base_exposure, strict=True) if e > 0]
        factor = max(1.0, _sigma_z(z))
    centre = tuple(u * e for e in exposures)
    half = tuple(3 * factor * math.sqrt(c) for c in centre)
    return (
        Limits(
            centre,
            tuple(c - h for c, h in zip(centre, half, strict=True)),
            tuple(c + h for c, h in zip(centre, half, strict=True)),
        ),
        factor,
    )


def signals(
    values: Sequence[float | None], limits: Limits
) -> tuple[tuple[tuple[Rule, ...], ...], tuple[tuple[Rule, ...], ...]]:
    """Per month: (the rules it takes part in, the rules that fire on it). Null months take part
    in none and end runs and trends."""
    n = len(values)
    member: list[set[Rule]] = [set() for _ in range(n)]
    fired: list[set[Rule]] = [set() for _ in range(n)]
    for i, v in enumerate(values):
        if v is not None and (v > limits.upper[i] or v < limits.lower[i]):
            member[i].add("beyond limits")
            fired[i].add("beyond limits")

    def mark(start: int, end: int, length: int, rule: Rule) -> None:
        if end - start >= length:
            for j in range(start, end):
                member[j].add(rule)
            fired[start + length - 1].add(rule)

    # Runs: same side of the centre line.
    start, side = 0, 0
    for i in range(n + 1):
        v = values[i] if i < n else None
        s = 0 if v is None else (1 if v > limits.centre[i] else -1 if v < limits.centre[i] else 0)
        if s == 0 or s != side:
            if side != 0:
                mark(start, i, RUN_LENGTH, "run of 8")
            start, side = i, s
    # Trends: each month strictly above (below) the one before.
    start, direction = 0, 0
    for i in range(1, n + 1):
        prev, v = values[i - 1], values[i] if i < n else None
        d = 0 if prev is None or v is None else (1 if v > prev else -1 if v < prev else 0)
        if d == 0 or d != direction:
            if direction != 0:
                mark(start, i, TREND_LENGTH, "trend of 6")
            start, direction = i - 1, d
    order = {r: k for k, r in enumerate(RULES)}
    return (
        tuple(tuple(sorted(m, key=order.__getitem__)) for m in member),
        tuple(tuple(sorted(f, key=order.__getitem__)) for f in fired),
    )


@dataclass(frozen=True)
class ControlChart:
    """A measure's control chart over ``len(values)`` months; limits already clipped to the unit's
    range. ``signals[i]``: rules month i takes part in; ``fired[i]``: rules that fire on it."""

    kind: ChartKind
    unit: str
    values: tuple[float | None, ...]
    centre: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    sigma_z: float = 1.0
    signals: tuple[tuple[Rule, ...], ...] = field(default=())
    fired: tuple[tuple[Rule, ...], ...] = field(default=())

    @property
    def name(self) -> str:
        return CHART_NAMES[self.kind]

    def tail(self, months: int) -> ControlChart:
        """The last ``months`` months, the rules judged on them alone (a run is not counted from
        months that are not shown)."""
        k = max(0, len(self.values) - months)
        limits = Limits(self.centre[k:], self.lower[k:], self.upper[k:])
        member, fired = signals(self.values[k:], limits)
        return ControlChart(
            self.kind,
            self.unit,
            self.values[k:],
            limits.centre,
            limits.lower,
            limits.upper,
            self.sigma_z,
            member,
            fired,
        )


def control_chart(
    unit: str,
    values: Sequence[float | None],
    baseline: Sequence[bool],
    nums: Sequence[float | None] | None = None,
    dens: Sequence[float | None] | None = None,
    exposures: Sequence[float] | None = None,
    min_baseline: int = 12,
    laney: bool = True,
) -> ControlChart | None:
    """The control chart of one measure's months (module docstring).

    ``values[i]`` is month i's value (None when null), ``baseline[i]`` whether month i is one of the
    months the limits come from. A percentage needs ``nums`` and ``dens`` (its cells); a count may
    have ``exposures`` (e.g. days in the month; none means equal). None when fewer than
    ``min_baseline`` (at least 2) baseline months have a value.
    """
    n = len(values)
    if len(baseline) != n:
        raise ValueError("values and baseline differ in length")
    base = [i for i in range(n) if baseline[i] and values[i] is not None]
    if unit == "percent":
        if nums is None or dens is None:
            raise ValueError("a percentage's chart needs numerators and denominators")
        base = [i for i in base if nums[i] is not None and (dens[i] or 0) > 0]
    if len(base) < max(min_baseline, 2):
        return None
    factor = 1.0
    if unit == "percent":
        assert nums is not None and dens is not None
        limits, factor = p_limits(
            [float(nums[i] or 0) for i in base],
            [float(dens[i] or 0) for i in base],
            [float(d or 0) for d in dens],
            laney,
        )
        kind: ChartKind = "p'" if factor > 1 else "p"
    elif unit == "count":
        exp = list(exposures) if exposures is not None else [1.0] * n
        if len(exp) != n:
            raise ValueError("values and exposures differ in length")
        counts = [float(values[i] or 0) for i in base]
        if len({exp[i] for i in range(n)}) == 1:
            scale = exp[0]
            limits, factor = u_limits(counts, [scale] * len(base), exp, laney)
            kind = "c" if factor == 1 else "u'"
        else:
            limits, factor = u_limits(counts, [exp[i] for i in base], exp, laney)
            kind = "u'" if factor > 1 else "u"
    else:
        limits = xmr_limits([float(values[i] or 0) for i in base], n)
        kind = "xmr"
    clipped = Limits(
        tuple(clip(c, unit) for c in limits.centre),
        tuple(clip(v, unit) for v in limits.lower),
        tuple(clip(v, unit) for v in limits.upper),
    )
    member, fired = signals(values, clipped)
    return ControlChart(
        kind, unit, tuple(values), clipped.centre, clipped.lower, clipped.upper, factor, member, fired
    )


__all__ = [
    "CHART_NAMES",
    "RULES",
    "ChartKind",
    "ControlChart",
    "Limits",
    "Rule",
    "c_limits",
    "chart_kind",
    "clip",
    "control_chart",
    "p_limits",
    "possible_range",
    "signals",
    "u_limits",
    "xmr_limits",
]
