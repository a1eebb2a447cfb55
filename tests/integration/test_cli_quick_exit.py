"""`demandhub board` and `demandhub sql` end their process at once once they return
(``demandhub.cli.run``): what they wrote is in the warehouse for the next process, and their output
and exit code are whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from demandhub.cli import QUICK_EXIT
from tests.integration.test_board_warehouse import history, survey_csv

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def demandhub(data_dir: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """The executable's entry point in a process of its own, on its own data directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEMANDHUB_")}
    env["DEMANDHUB_FORCE_ID"] = "cambs"
    code = "import sys; from demandhub.cli import run; run(sys.argv[1:])"
    return subprocess.run(
        [sys.executable, "-c", code, *argv, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )


def test_a_board_import_is_durable_and_sql_answers_whole(tmp_path: Path) -> None:
    assert {"board", "sql"} <= QUICK_EXIT
    csv = tmp_path / "surveys.csv"
    csv.write_text(survey_csv(history()))
    data_dir = tmp_path / "hub"
    migrated = demandhub(data_dir, "migrate")
    assert migrated.returncode == 0, migrated.stderr

    imported = demandhub(data_dir, "board", "import", str(csv))
    assert imported.returncode == 0, imported.stderr

    # A new process sees every row the quick exit left behind.
    counted = demandhub(
        data_dir, "sql", "SELECT count() AS n FROM imported_monthly FINAL", "--format", "json"
    )
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout)[0]["n"] == 36

    # A failure still ends with its own exit code and one line on stderr.
    refused = demandhub(data_dir, "sql", "DROP TABLE imported_monthly")
    assert refused.returncode != 0
    assert len(refused.stderr.strip().splitlines()) == 1
