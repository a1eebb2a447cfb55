"""``python -m bench.forecast_error``: the demand forecast's error on held-back weeks -> docs/FORECAST.md.

The simulator generates ``--weeks`` weeks of one force; contacts entering each wallboard queue are
counted per 15 minutes (the figure the live page forecasts); the last ``--held-back`` weeks are held
back and forecast hour by hour, ``horizon`` hours ahead, from earlier data only
(:func:`streams.domain.forecast.backtest`). Errors are weighted absolute percentage errors of hourly
totals (sum of |forecast - actual| / sum of actual), beside two baselines, and the share of
15-minute counts inside the 80 % band. Pure computation: no broker, no warehouse.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from schemas.queues import QUEUES
from streams.domain.forecast import BacktestResult, backtest, slot_start
from streams.sources.simulator import SimConfig, Simulation

TZ = "Europe/London"
OUT = Path(__file__).resolve().parents[1] / "docs" / "FORECAST.md"


def counts(config: SimConfig) -> dict[str, dict[datetime, float]]:
    """Contacts entering each queue per 15-minute slot (UTC slot start)."""
    out: dict[str, dict[datetime, float]] = {q: defaultdict(float) for q in QUEUES}
    for e in Simulation(config).events():
        if e["type"] == "call.queued.v1":
            queue = e["data"]["queue"]
        elif e["type"] == "webchat.offered.v1":
            queue = "webchat"
        else:
            continue
        if queue in out:
            out[queue][slot_start(datetime.fromisoformat(e["time"]))] += 1
    return out


def floor(mean: float) -> float:
    """Expected |error| / mean of even a perfect forecast of a Poisson count of ``mean``."""
    return math.sqrt(2 / math.pi) / math.sqrt(mean) if mean > 0 else 0.0


def run(
    start: date, weeks: int, held_back: int, history_weeks: int, scale: float, seed: int, horizon: int
) -> list[tuple[str, BacktestResult]]:
    config = SimConfig(start=start, days=7 * weeks, seed=seed, scale=scale)
    series = counts(config)
    first = datetime.combine(start, datetime.min.time(), UTC)
    held = [start + timedelta(days=7 * (weeks - held_back) + i) for i in range(7 * held_back)]
    return [(q, backtest(series[q], held, history_weeks, TZ, first, horizon_hours=horizon)) for q in QUEUES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.forecast_error", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--start", default="2024-01-08", help="first simulated day (a Monday)")
    parser.add_argument("--weeks", type=int, default=10, help="simulated weeks in all")
    parser.add_argument("--held-back", type=int, default=2, help="last weeks forecast and scored")
    parser.add_argument("--history-weeks", type=int, default=4, help="past weeks behind the band")
    parser.add_argument("--horizon", type=int, default=4, help="hours ahead")
    parser.add_argument("--scales", default="1,10", help="volume scales to score (comma-separated)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    began = time.monotonic()
    start = date.fromisoformat(args.start)
    sections = []
    for scale in (float(s) for s in args.scales.split(",")):
        results = run(start, args.weeks, args.held_back, args.history_weeks, scale, args.seed, args.horizon)
        rows = [
            f"| {q} | {r.actual_total / r.hours:,.1f} | **{r.wape_model:.1%}** | {r.wape_seasonal:.1%} | "
            f"{r.wape_naive:.1%} | {floor(r.actual_total / r.hours):.1%} | {r.band_coverage:.0%} |"
            for q, r in results
        ]
        n = results[0][1]
        sections.append(
            f"### Volume scale {scale:g}\n\n"
            f"{n.forecasts} forecast origins (every hour of the held-back days), {n.hours} hourly totals per queue.\n\n"
            "| Queue | Contacts per hour (held back) | WAPE: model | WAPE: band alone | WAPE: same slot last week "
            "| Poisson floor | 15-min counts inside the 80 % band |\n|---|---:|---:|---:|---:|---:|---:|\n"
            + "\n".join(rows)
            + "\n"
        )
    command = "python -m bench.forecast_error " + shlex.join(argv if argv is not None else sys.argv[1:])
    text = f"""# Demand forecast: error on held-back weeks

Written by `{command.strip()}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC ({time.monotonic() - began:.0f} s);
do not edit by hand. The model is in `streams/domain/forecast.py`; the live page and `GET /api/live/trends`
use it for the next {args.horizon} hours of offered contacts per queue, and `GET /api/live/staffing` sizes
call handlers on it.

- **Data**: the simulator (seed {args.seed}), {args.weeks} weeks of one force from {start}; contacts entering
  each queue per 15 minutes. The last {args.held_back} weeks are held back.
- **Model**: for each 15-minute slot, the mean of the same weekday and local time over the previous
  {args.history_weeks} weeks (the band: mean +/- 1.28 x the larger of their spread and the Poisson spread), times
  today's level (actual / expected over the last three hours, shrunk towards 1 by 20 contacts).
- **Scored**: from every hour of the held-back days, the next {args.horizon} hours, each forecast from earlier
  data only; hourly totals compared with what arrived. WAPE = sum |forecast - actual| / sum actual (lower is
  better). Baselines: the band alone (no level) and the same slot one week earlier.
- **Reading it**: at scale 1 a queue takes a few contacts per hour, and most of the error is the Poisson noise
  no forecast can remove ("Poisson floor": even the true rate m misses by about 0.8 sqrt(m) an hour).
  At larger volumes the error falls towards the simulator's day-to-day swings (8 % sd); today's level is
  what catches a day running above or below normal, and pays off once that swing shows above the noise.

{chr(10).join(sections)}"""
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
