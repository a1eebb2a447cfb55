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

from demandhub.board.maths.workdays import first_working_day

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


def test_board_job_wakes_on_every_possible_first_working_day(fake_hub: Path) -> None:
    """The schedule reaches each month's first working day (bank holidays included) and every run
    leaves the decision to `demandhub board --if-first-working-day` with that day's date."""
    if shutil.which("date") is None:
        pytest.skip("no date(1)")
    days = schedule_days()
    woken: list[dt.date] = []
    for year in range(2021, 2028):
        for month in range(1, 13):
            last = calendar.monthrange(year, month)[1]
            for day in (d for d in days if d <= last):
                woken.append(dt.date(year, month, day))
                run_job(fake_hub, woken[-1])
            assert first_working_day(year, month) in woken, f"{year}-{month:02d} first working day missed"
    calls = (fake_hub / "calls.log").read_text().splitlines()
    assert [c.split()[0] for c in calls] == [d.isoformat() for d in woken]
    for call, day in zip(calls, woken, strict=True):
        assert call.split()[1:] == [
            "board",
            "--if-first-working-day",
            "--today",
            day.isoformat(),
            "--month",
            "auto",
            "--format",
            "pdf",
            "--out",
            "/packs/",
        ]


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
