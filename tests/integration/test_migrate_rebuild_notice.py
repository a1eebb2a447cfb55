"""A migration that changes what the fact tables hold tells the operator to re-fold the facts.

Migration 0103 drops the contact columns that baked a definition in and adds raw ones; facts folded
before it lack those columns until ``demandhub rebuild`` re-folds them from the ledger. Applying it to
a warehouse that already holds events says so (one line on stderr, from ``demandhub migrate`` and
from every command that opens the warehouse); a fresh warehouse says nothing.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sinks.clickhouse.migrate import load_migrations, migrations_dir

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def old_release(tmp_path: Path) -> Path:
    """The migrations of the release before the facts kept raw times only (up to 0102)."""
    older = tmp_path / "migrations"
    older.mkdir()
    for path in sorted(migrations_dir().glob("*.sql")):
        if int(path.name[:4]) <= 102:
            shutil.copy(path, older / path.name)
    return older


def test_the_reshaping_migrations_are_marked() -> None:
    assert [m.number for m in load_migrations() if m.needs_rebuild] == [103]


_SETUP = """
import sys
from pathlib import Path
from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate
path, older = sys.argv[1:3]
wh = connect("chdb://" + path)
migrate(wh, directory=Path(older))
wh.command(
    "INSERT INTO events (force_id, subject, source, id, type, time, ingest_time, data) VALUES "
    "('cambs', 'C1', 'telephony', 'e1', 'call.offered.v1', now64(3), now64(3), '{}')"
)
wh.close()
"""

_FRESH = """
import sys
from sinks.clickhouse.client import connect
from sinks.clickhouse.migrate import migrate, rebuild_notice
wh = connect("chdb://" + sys.argv[1])
print(rebuild_notice(wh, migrate(wh)))
wh.close()
"""


def python(*args: str) -> subprocess.CompletedProcess[str]:
    """A child interpreter (chDB allows one data path per process; the suite's is taken)."""
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )


def test_a_warehouse_with_events_is_told_to_rebuild_and_a_fresh_one_is_not(tmp_path: Path) -> None:
    data = tmp_path / "data"
    setup = python("-c", _SETUP, str(data / "warehouse"), str(old_release(tmp_path)))
    assert setup.returncode == 0, setup.stderr
    done = python("-m", "demandhub.cli", "migrate", "--data-dir", str(data))
    assert done.returncode == 0, done.stderr
    assert "applied 0103_contacts_raw" in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "0103_contacts_raw" in lines[0] and "demandhub rebuild" in lines[0]
    fresh = python("-c", _FRESH, str(tmp_path / "fresh"))
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.strip() == "None"  # no events: nothing to re-fold
