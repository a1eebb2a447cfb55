"""Rendering BENCHMARKS.md from the stored results (``bench/results/*.json``).

Each section shows the exact command, the machine and date of its own run, the sizes, every figure,
the headline ratio against its same-run baseline, whether the target held, and "what limits it"
(:mod:`bench.limits`, written from the profiles). Missing results are listed as not yet measured.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.limits import FIXES, LIMITS
from bench.result import Figure, Result

MANUAL = Path(__file__).parent / "manual"
"""Hand-made measurements (Markdown sections), copied in after the benchmarks' own sections."""

ORDER = ("throughput", "freshness", "replay", "board", "scale", "cli", "startup", "soak", "profile")
TITLES = {
    "throughput": "1. Whole-hub throughput",
    "freshness": "2. Freshness",
    "replay": "3. Replay",
    "board": "4. Board pack and live API",
    "scale": "5. Scale-out",
    "cli": "6. Analyst command start-up",
    "startup": "7. Board and SQL start-up",
    "soak": "8. Soak (two hours on Apache Kafka)",
    "profile": "Profile of the hot path",
}

HEADER = """# Benchmarks

Written by `make bench` (`python -m bench`); do not edit by hand. These machines are shared and noisy,
so every figure is judged as a **ratio against a baseline measured in the same run** (the bare Kafka
consumer, the warehouse's own bulk insert, `SELECT 1`, `GET /health`), with the machine, date and
exact command beside it. Timings are never asserted in the test suite.

- `make bench` runs the first seven benchmarks and the profile (about 10 minutes on 2 cores) and
  rewrites this file; `python -m bench NAME` re-runs one (the others keep their last figures and dates);
  `python -m bench --quick` is a smoke run with small sizes that publishes nothing.
- The soak (section 8) takes two hours, so it is left out of `make bench` and `--quick` and runs only
  when named: `python -m bench soak` (`--minutes N` for a shorter run, which publishes nothing).
- Every server (tansu, workers) listens on 127.0.0.1 and is stopped at the end; every wait is
  bounded. The code is in `bench/`; results are kept as JSON in `bench/results/`.
- Measurements made by hand outside `make bench` are kept in `bench/manual/*.md`, each with its
  machine, date and commands, and copied in at the end as they are.
"""


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value * 1000:,.0f} ms" if value < 1 else f"{value:,.2f} s"
    if unit in ("events/s", "rows/s"):
        return f"{value:,.0f} {unit}"
    if unit == "x":
        return f"{value:,.1f}x"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}".strip()
    return f"{value:,.3g} {unit}".strip()


def _verdict(r: Result) -> str:
    if r.met is None:
        return "no fixed target"
    return "**met**" if r.met else "**missed**"


def _ratio(r: Result) -> str:
    return "n/a" if r.ratio is None else f"{r.ratio:.3g}"


def _machine(m: dict[str, Any]) -> str:
    return (
        f"{m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gib')} GiB, Python {m.get('python')}, "
        f"{m.get('os')}; load average at start {m.get('load_average_at_start')}"
    )


def _figures(figures: list[Figure]) -> list[str]:
    lines = ["| Figure | Value | Note |", "|---|---:|---|"]
    lines += [f"| {f.label} | {_num(f.value, f.unit)} | {f.note} |" for f in figures]
    return lines


def _summary(results: dict[str, Result]) -> list[str]:
    lines = [
        "## Summary",
        "",
        "| Benchmark | Headline ratio (same run) | Target | Verdict | Run |",
        "|---|---|---|---|---|",
    ]
    for name in ORDER:
        r = results.get(name)
        if r is None:
            lines.append(f"| {TITLES[name]} | not measured yet | | | |")
            continue
        lines.append(
            f"| {TITLES[name]} | {r.ratio_label}: **{_ratio(r)}** | {r.target} | {_verdict(r)} | "
            f"{r.machine.get('date')} |"
        )
    return [*lines, ""]


def _top_frames(title: str, profile: dict[str, Any] | None) -> list[str]:
    if not profile:
        return []
    size = f"{profile['events']:,} events, " if profile.get("events") else ""
    lines = [
        f"Top frames by self time, {title} ({size}{profile['seconds']:.1f} s):",
        "",
        "| Self time | Share | Frame |",
        "|---:|---:|---|",
    ]
    for f in profile["top_self"][:12]:
        lines.append(f"| {f['seconds']:.2f} s | {100 * f['share']:.0f}% | `{f['frame']}` |")
    tree = [ln for ln in profile["tree"].splitlines() if ln.strip()]
    body = [ln for ln in tree if "|" in ln or "`-" in ln][:40]
    lines += [
        "",
        "<details><summary>Call tree (pyinstrument)</summary>",
        "",
        "```",
        *body,
        "```",
        "",
        "</details>",
        "",
    ]
    return lines


def _soak_windows(r: Result) -> list[str]:
    windows = r.extra.get("windows") or []
    if not windows:
        return []
    lines = [
        "Per window (latency = produced -> in the ledger via `/api/sql`; lag = the group's, as the "
        "broker sees it):",
        "",
        "| Window | Markers | p50 | p99 | Worker RSS max | Group lag max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for w in windows:
        lines.append(
            f"| {w['from_s'] / 60:.0f}-{w['to_s'] / 60:.0f} min | {w['markers']} | "
            f"{_num(w['p50_s'], 's')} | {_num(w['p99_s'], 's')} | {_num(w['rss_max_mib'], 'MiB')} | "
            f"{_num(w['group_lag_max'], 'records')} |"
        )
    return [*lines, ""]


def _section(name: str, r: Result) -> list[str]:
    lines = [
        f"## {TITLES[name]}",
        "",
        f"- Command: `{r.command}`{' (quick run)' if r.quick else ''}; took {r.seconds:.0f} s",
        f"- Machine: {_machine(r.machine)}; {r.machine.get('date')}",
        f"- Sizes: {r.sizes}",
        f"- Headline: {r.ratio_label} = **{_ratio(r)}**; target {r.target}: {_verdict(r)}",
        "",
        *_figures(r.figures),
        "",
    ]
    if name == "board":
        lines += _top_frames("one board pack in process", r.extra.get("readers", {}).get("board_profile"))
    if name == "startup":
        lines += _top_frames("one board pack in process", r.extra.get("pack", {}).get("board_profile"))
    if name == "profile":
        lines += _top_frames("fresh warehouse", r.extra.get("fresh"))
        lines += _top_frames("after ten years of history", r.extra.get("aged"))
    if name == "soak":
        lines += _soak_windows(r)
    if LIMITS.get(name):
        lines += ["### What limits it", ""]
        for paragraph in LIMITS[name]:
            lines += [paragraph, ""]
    return lines


def render(results: dict[str, Result]) -> str:
    """The whole BENCHMARKS.md for ``results`` (by benchmark name)."""
    lines = [HEADER, *_summary(results)]
    for name in ORDER:
        if name in results:
            lines += _section(name, results[name])
    for note in sorted(MANUAL.glob("*.md")):
        lines += [note.read_text(encoding="utf-8").rstrip(), ""]
    if FIXES:
        lines += ["## What would make it faster", ""]
        for i, fix in enumerate(FIXES, start=1):
            lines += [f"{i}. {fix}"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
