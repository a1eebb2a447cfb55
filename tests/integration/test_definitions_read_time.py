"""Every definition is applied when figures are read: changing one without a replay gives the
figures of a from-scratch replay under it.

A small simulated month is replayed once under the default definitions into W1. For every path of
``Definitions.leaves()`` an alternative value (``ALTERNATIVES``; a leaf without one fails, so a new
definition cannot be forgotten) is applied two ways: read from W1 with ``--define`` (no replay), and
replayed from scratch into a W2 whose settings hold the alternative (every table emptied first; the
replay must end with every rollup complete under the alternative, so W2's figures come from the
rollup path and W1's from the facts). Every cell of the board pack (and its channel section) and the
channel table must be the same. chDB holds one data path per process, so each warehouse lives in a
child process (``tests/integration/definitions_child.py``): the child of W1 reads it under every
alternative and then, like the other child, takes the replays of W2 one after another, so the
replays run on two cores without a process start, chDB's load and the migrations each.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from demandhub.board.maths.dashboard import COLUMNS
from schemas.definitions import Definitions
from streams.sources.simulator import SimConfig, simulate
from streams.sources.simulator.output import write_jsonl

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

CHILDREN = max(1, min(2, os.cpu_count() or 1))

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


def run_jobs(events: Path, base: Path, pinned: list[dict[str, Any]], shared: list[dict[str, Any]]) -> None:
    """Run the jobs in children of ``definitions_child`` (one warehouse each): the first child takes
    ``pinned`` in order before any shared job (W1 is read before a replay empties it); every child
    takes the next of ``shared`` whenever it is free. A child that dies leaves its job's result
    missing (its stderr is in ``base/child-N.log``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMANDHUB_")}
    queue = list(shared)
    lock = threading.Lock()

    def drive(n: int, own: list[dict[str, Any]]) -> None:
        with (base / f"child-{n}.log").open("wb") as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.integration.definitions_child",
                    "serve",
                    str(base / f"w{n}"),
                    str(events),
                ],
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
            assert proc.stdin is not None and proc.stdout is not None
            try:
                while True:
                    with lock:
                        job = own.pop(0) if own else queue.pop(0) if queue else None
                    if job is None:
                        break
                    proc.stdin.write(json.dumps(job) + "\n")
                    proc.stdin.flush()
                    if proc.stdout.readline() != "done\n":
                        break
            except BrokenPipeError:
                pass
            finally:
                proc.stdin.close()
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    threads = [threading.Thread(target=drive, args=(0, list(pinned)))]
    threads += [threading.Thread(target=drive, args=(n, [])) for n in range(1, CHILDREN)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def result(base: Path, name: str) -> dict[str, Any]:
    path = base / "results" / f"{name}.json"
    logs = "\n".join(p.read_text()[-1500:] for p in sorted(base.glob("child-*.log")))
    assert path.exists(), f"no result for {name}: a child died\n{logs}"
    out: dict[str, Any] = json.loads(path.read_text())
    return out


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("events") / "month.jsonl"
    social = (e for e in simulate(SOCIAL) if e["type"].startswith("social."))
    crimes = (e for e in simulate(CRIMES) if e["type"].startswith("crime."))
    incidents = (e for e in simulate(INCIDENTS) if e["type"].startswith("incident."))
    write_jsonl(itertools.chain(simulate(SIM), social, crimes, incidents), path)
    return path


@pytest.fixture(scope="module")
def runs(events: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """W1 replayed once under the defaults and read under every alternative; then a from-scratch
    replay under each alternative (W2). Results in ``runs/results/<name>.json``."""
    base = tmp_path_factory.mktemp("runs")
    (base / "results").mkdir()

    def job(kind: str, name: str, defines: list[str]) -> dict[str, Any]:
        return {kind: defines, "out": str(base / "results" / f"{name}.json")}

    leaves = [path for path in Definitions.leaves() if path in ALTERNATIVES]
    pinned = [job("replay", "(defaults)", [])]
    pinned += [job("read", f"read {path}", [assignment(path)]) for path in leaves]
    run_jobs(events, base, pinned, [job("replay", f"replay {path}", [assignment(path)]) for path in leaves])
    return base


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
def test_a_definition_read_without_replay_equals_a_replay_under_it(path: str, runs: Path) -> None:
    assert path in ALTERNATIVES, f"no alternative value for {path}: add one to ALTERNATIVES"
    read = result(runs, f"read {path}")
    assert "failed" not in read, f"reading W1 with --define {assignment(path)}: {read.get('failed')}"
    replayed = result(runs, f"replay {path}")
    assert "failed" not in replayed, f"replaying under {assignment(path)}: {replayed.get('failed')}"
    # the replay ends on the rollup path: every rollup complete under the alternative
    assert all(replayed["rollups"].values()), replayed["rollups"]
    assert replayed["replay"] == result(runs, "(defaults)")["replay"]  # the same events went in
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


def test_each_alternative_moves_some_figure(runs: Path) -> None:
    """The comparison above is not vacuous: under each alternative some figure differs from the
    defaults' (except the leaves that decide no board figure)."""
    defaults = cells(result(runs, "(defaults)"))
    unmoved = []
    for path in Definitions.leaves():
        if path not in ALTERNATIVES:
            continue  # reported by the test of that leaf
        read = result(runs, f"read {path}")
        if "failed" in read:
            continue  # reported by the test of that leaf
        mine = cells(read)
        moved = [k for k in mine if not same(mine[k], defaults.get(k))]
        if bool(moved) == (path in NO_BOARD_FIGURE):
            unmoved.append(path)
    assert not unmoved, f"alternatives that move no figure (choose another value, or explain): {unmoved}"
