"""Every definition is applied when figures are read: changing one without a replay gives the
figures of a from-scratch replay under it.

A small simulated month is replayed once under the default definitions into W1. For every path of
``Definitions.leaves()`` an alternative value (``ALTERNATIVES``; a leaf without one fails, so a new
definition cannot be forgotten) is applied two ways: read from W1 with ``--define`` (no replay), and
replayed into a fresh W2 whose settings hold the alternative. Every cell of the board pack (and its
channel section) and the channel table must be the same. chDB holds one data path per process, so
each warehouse lives in a child process (``tests/integration/definitions_child.py``).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from schemas.definitions import Definitions
from streams.domain.board.dashboard import COLUMNS
from streams.sources.simulator import SimConfig, simulate
from streams.sources.simulator.output import write_jsonl

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# January 2019 complete (crime's ten days of settling included), a few thousand events.
SIM = SimConfig(start=date(2019, 1, 1), days=45, seed=7, scale=0.015, staffing=0.8, forces=("cambs",))
# Social media threads and crime outcomes are few at that scale: the threads and crimes of bigger
# runs are added (ids of their own), so every definition has figures to move.
SOCIAL = SimConfig(start=date(2019, 1, 1), days=45, seed=8, scale=0.3, forces=("cambs",), run="soc")
CRIMES = SimConfig(start=date(2019, 1, 1), days=45, seed=9, scale=0.06, forces=("cambs",), run="crm")
# ... and the incidents of one more, so a mental-health qualifier is removed within the month
# (incidents.mental_health_basis moves only then).
INCIDENTS = SimConfig(start=date(2019, 1, 1), days=45, seed=10, scale=0.06, forces=("cambs",), run="inc")

ALTERNATIVES: dict[str, Any] = {
    "timezone": "America/New_York",
    "calls.service_threshold_seconds": {"999": 5, "101-primary": 60, "101-secondary": 20, "webchat": 45},
    "calls.band_edges_seconds": {
        "999": [5, 30],
        "101-primary": [60, 240],
        "101-secondary": [20, 120, 900],
        "webchat": [45, 600],
    },
    "calls.short_abandon_seconds": {"999": 60, "101-primary": 120, "101-secondary": 90, "webchat": 120},
    "calls.abandon_convention": "count_as_met",
    "calls.callbacks_in_service_level": "missed",
    "calls.clock_start_999": "bt_connect",
    "calls.ivr_short_abandon_seconds": 20,
    "calls.dedupe_short_abandons_from_volumes": True,
    "incidents.grade_basis": "final",
    "incidents.response_clock": "contact_offered",
    "incidents.target_minutes": {
        "IMMEDIATE_urban": 10,
        "IMMEDIATE_rural": 14,
        "PRIORITY_urban": 40,
        "PRIORITY_rural": 90,
    },
    "incidents.amber_share": 0.5,
    "incidents.exclude_self_initiated": False,
    "incidents.mental_health_basis": "ever",
    "incidents.asb_basis": "qualifier_ever",
    "crimes.period_basis": "occurred",
    "crimes.ncrs_hours": 12,
    "crimes.prosecution_possible_types": [1, 2, 3, 4, 5, 6, 7],
    "crimes.outcome_rate_basis": "cohort",
    "crimes.qa_snapshot_time": "08:00",
    # a category the simulator produces, so rural crime moves (it makes no poaching incidents)
    "crimes.rural_incident_categories": ["PUBLIC_SAFETY_DOMESTIC_ANIMAL"],
    "social.first_response_target_minutes": 30,
    "social.target_basis": "received",
    "social.short_abandon_minutes": 0,
}


def assignment(path: str) -> str:
    return f"{path}={json.dumps(ALTERNATIVES[path])}"


def run_child(*args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMANDHUB_")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.definitions_child", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "month.jsonl"
    social = (e for e in simulate(SOCIAL) if e["type"].startswith("social."))
    crimes = (e for e in simulate(CRIMES) if e["type"].startswith("crime."))
    incidents = (e for e in simulate(INCIDENTS) if e["type"].startswith("incident."))
    write_jsonl(itertools.chain(simulate(SIM), social, crimes, incidents), path)
    return path


@pytest.fixture(scope="module")
def read_from_w1(events: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """W1 replayed once under the defaults, then read under every alternative (one child each)."""
    base = tmp_path_factory.mktemp("w1")
    run_child("build", str(base / "data"), str(events), str(base / "defaults.json"))
    requests = {path: [assignment(path)] for path in Definitions.leaves() if path in ALTERNATIVES}
    (base / "requests.json").write_text(json.dumps(requests))
    run_child("read", str(base / "data"), str(base / "requests.json"), str(base / "read.json"))
    out: dict[str, Any] = json.loads((base / "read.json").read_text())
    out["(defaults)"] = json.loads((base / "defaults.json").read_text())
    return out


def cells(result: dict[str, Any]) -> dict[str, Any]:
    """Every figure of a result: each pack cell (labels as their dict), the pack's channel section
    and the channel table."""
    pack = result["pack"]
    out: dict[str, Any] = {}
    for entry in pack["measures"]:
        for column in COLUMNS:
            out[f"{entry['id']}.{column}"] = entry[column]
    out["pack.channels"] = pack.get("channels")
    table = dict(result["channels"])
    table.pop("definitions", None)
    out["channels"] = table
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_every_leaf_has_an_alternative() -> None:
    missing = [p for p in Definitions.leaves() if p not in ALTERNATIVES]
    assert not missing, f"no alternative value for {missing}: add one to ALTERNATIVES"
    assert not set(ALTERNATIVES) - set(Definitions.leaves())
    defaults = Definitions()
    for path in Definitions.leaves():
        changed = defaults.with_overrides([assignment(path)])
        assert changed.config_hash() != defaults.config_hash(), f"{path}: the alternative is the default"


@pytest.mark.parametrize("path", Definitions.leaves())
def test_a_definition_read_without_replay_equals_a_replay_under_it(
    path: str, events: Path, read_from_w1: dict[str, Any], tmp_path: Path
) -> None:
    assert path in ALTERNATIVES, f"no alternative value for {path}: add one to ALTERNATIVES"
    read = read_from_w1[path]
    assert "failed" not in read, f"reading W1 with --define {assignment(path)}: {read.get('failed')}"
    run_child("build", str(tmp_path / "data"), str(events), str(tmp_path / "w2.json"), assignment(path))
    replayed = json.loads((tmp_path / "w2.json").read_text())
    applied = read["pack"]["definitions"]["metrics"]
    assert applied["config_hash"] == replayed["pack"]["definitions"]["metrics"]["config_hash"]
    assert list(applied["overridden"]) == [path]  # the pack names the path it overrode
    assert replayed["pack"]["definitions"]["metrics"]["overridden"] == {}
    mine, theirs = cells(read), cells(replayed)
    assert mine.keys() == theirs.keys()
    differing = {k: (mine[k], theirs[k]) for k in mine if not same(mine[k], theirs[k])}
    assert not differing, (
        f"{path}={json.dumps(ALTERNATIVES[path])}: {len(differing)} figures read from W1 with --define "
        f"differ from a replay under it, e.g. {dict(list(differing.items())[:3])}"
    )


# Leaves whose alternative moves no figure of the pack or the channel table, and why.
NO_BOARD_FIGURE: dict[str, str] = {
    "incidents.amber_share": "the open-incident watch of the live page only",
    "calls.band_edges_seconds": "the 999 answer-time bands of the public dashboard only",
}


def test_each_alternative_moves_some_figure(read_from_w1: dict[str, Any]) -> None:
    """The comparison above is not vacuous: under each alternative some figure differs from the
    defaults' (except the leaves that decide no board figure)."""
    defaults = cells(read_from_w1["(defaults)"])
    unmoved = []
    for path in Definitions.leaves():
        read = read_from_w1.get(path, {})
        if "failed" in read or path not in ALTERNATIVES:
            continue  # reported by the test of that leaf
        mine = cells(read)
        moved = [k for k in mine if not same(mine[k], defaults.get(k))]
        if bool(moved) == (path in NO_BOARD_FIGURE):
            unmoved.append(path)
    assert not unmoved, f"alternatives that move no figure (choose another value, or explain): {unmoved}"
