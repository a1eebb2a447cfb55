"""The Kubernetes board CronJob builds the pack once a month, on the first working day.

The job's own shell script (from deploy/k8s/board-cronjob.yaml) is run for every day its cron
schedule wakes it over two years, with a stand-in `demandhub` on PATH that records its arguments.
"""

from __future__ import annotations

import calendar
import datetime as dt
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

CRONJOB = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "board-cronjob.yaml"


def cronjob() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CRONJOB.read_text())
    return data


def container() -> dict[str, Any]:
    spec = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (only,) = spec["containers"]
    result: dict[str, Any] = only
    return result


def schedule_days() -> list[int]:
    """Days of the month in the cron schedule (a range such as 1-3 or a list such as 1,2,3)."""
    _minute, _hour, days, month, weekday = cronjob()["spec"]["schedule"].split()
    assert (month, weekday) == ("*", "*"), "cron ORs day-of-month with day-of-week: keep weekday *"
    out: list[int] = []
    for part in days.split(","):
        first, _, last = part.partition("-")
        out += list(range(int(first), int(last or first) + 1))
    return out


def first_working_day(year: int, month: int) -> dt.date:
    day = dt.date(year, month, 1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


@pytest.fixture
def fake_hub(tmp_path: Path) -> Path:
    """A `demandhub` stand-in that appends its arguments to calls.log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "demandhub"
    script.write_text(f'#!/bin/sh\necho "$BOARD_TODAY $*" >> {tmp_path / "calls.log"}\n')
    script.chmod(0o755)
    return tmp_path


def run_job(fake_hub: Path, today: dt.date) -> subprocess.CompletedProcess[str]:
    box = container()
    env = {"PATH": f"{fake_hub / 'bin'}:/usr/bin:/bin", "BOARD_TODAY": today.isoformat()}
    env |= {e["name"]: e["value"] for e in box["env"] if "value" in e}
    return subprocess.run(
        [*box["command"], *box["args"]], env=env, capture_output=True, text=True, timeout=30, check=True
    )


def test_board_runs_once_a_month_on_the_first_working_day(fake_hub: Path) -> None:
    if shutil.which("date") is None:
        pytest.skip("no date(1)")
    days = schedule_days()
    for year in (2026, 2027):
        for month in range(1, 13):
            last = calendar.monthrange(year, month)[1]
            for day in (d for d in days if d <= last):
                run_job(fake_hub, dt.date(year, month, day))
    calls = (fake_hub / "calls.log").read_text().splitlines()
    expected = [first_working_day(y, m) for y in (2026, 2027) for m in range(1, 13)]
    assert [c.split()[0] for c in calls] == [d.isoformat() for d in expected]
    assert all(
        c.split()[1:] == ["board", "--month", "auto", "--format", "pdf", "--out", "/packs/"] for c in calls
    )


def test_board_cronjob_is_locked_down() -> None:
    spec = cronjob()["spec"]
    assert spec["timeZone"] == "Europe/London"
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    box = container()
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert box["securityContext"]["allowPrivilegeEscalation"] is False
    secrets = [e for e in box["env"] if "valueFrom" in e]
    assert [e["name"] for e in secrets] == ["DEMANDHUB_CLICKHOUSE_DSN"]
