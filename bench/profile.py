"""Profile of the worker's hot path: pyinstrument over ``Pipeline.process`` on the replay path.

``bench.child profile`` builds the pipeline exactly as the worker and ``demandhub replay`` do and
puts one simulated day (one force, scale 1) through ``Pipeline.process`` in chunks of the worker's
default ``batch_max_events`` (its fetch under a backlog), sampling every 2 ms:

- on a fresh warehouse;
- on the ten-year warehouse left by the replay benchmark, for the day after its history ends (the
  cost of the same work once the fact tables hold ten years), when that warehouse exists.

The result keeps the functions with the most self time and the call tree of each profile, and the
CPU per event of the pure stages of ``Pipeline.prepare`` (decode, folds, ledger rows; measured without
the profiler by :mod:`bench.profile_stages`).
"""

from __future__ import annotations

from datetime import date

from bench import replay
from bench.harness import RunContext, ratio, run_child
from bench.result import Figure, Result
from demandhub.settings import Settings

DAY_AFTER_HISTORY = date(2025, 1, 6)
CHUNK = int(Settings.model_fields["batch_max_events"].default)


def _profile(ctx: RunContext, label: str, data_dir: str, start: date, scale: float) -> dict:
    return run_child(
        "bench.child",
        [
            "profile",
            "--data-dir",
            data_dir,
            "--start",
            start.isoformat(),
            "--days",
            "1",
            "--scale",
            str(scale),
            "--chunk",
            str(CHUNK),
        ],
        timeout=600,
        log_path=ctx.work / f"{label}.log",
    )


STAGES = {
    "decode": "decode (validation, range and reference checks, de-identification)",
    "validation": "of which pydantic validation",
    "folds": "folds (one per subject over the day)",
    "ledger_rows": "ledger rows (payload dump and JSON)",
}
"""The pure stages of ``Pipeline.prepare`` timed by :mod:`bench.profile_stages`."""


def _stages(ctx: RunContext, scale: float) -> dict:
    return run_child(
        "bench.profile_stages",
        ["--start", DAY_AFTER_HISTORY.isoformat(), "--days", "1", "--scale", str(scale)],
        timeout=600,
        log_path=ctx.work / "stages.log",
    )


def run(ctx: RunContext) -> Result:
    scale = 0.25 if ctx.quick else 1.0
    stages = _stages(ctx, scale)
    fresh = _profile(ctx, "fresh", str(ctx.work / "fresh"), DAY_AFTER_HISTORY, scale)
    history = replay.replayed_warehouse(ctx.work.parent)
    aged = _profile(ctx, "aged", history["data_dir"], DAY_AFTER_HISTORY, scale) if history else None
    figures = [
        Figure(
            "Pipeline.process, fresh warehouse",
            fresh["rate"],
            "events/s",
            f"{fresh['events']:,} events in {fresh['seconds']:.1f} s (profiler on)",
        ),
    ]
    if aged:
        figures.append(
            Figure(
                "Pipeline.process, after ten years of history",
                aged["rate"],
                "events/s",
                f"{aged['events']:,} events in {aged['seconds']:.1f} s (profiler on)",
            )
        )
    per_event = stages["us_per_event"]
    figures.extend(
        Figure(
            f"CPU per event: {label}",
            per_event[name],
            "us",
            f"{stages['events']:,} events, least of 3 runs, no warehouse (`bench/profile_stages.py`)",
        )
        for name, label in STAGES.items()
    )
    return Result(
        name="profile",
        title="Profile of the hot path (Pipeline.process)",
        command=ctx.command,
        machine=ctx.machine,
        sizes=f"one simulated day ({DAY_AFTER_HISTORY}, one force at scale {scale:g}) in chunks of "
        f"{CHUNK:,}; pyinstrument 5.1.3, 2 ms interval",
        figures=figures,
        ratio=ratio(aged["rate"], fresh["rate"]) if aged else None,
        ratio_label="rate after ten years of history / rate on a fresh warehouse",
        target="no target (explains the others)",
        met=None,
        extra={"fresh": fresh, "aged": aged, "stages": stages},
    )
