"""Ordered, idempotent warehouse migrations.

Migration files live in ``sinks/clickhouse/migrations/NNNN_name.sql``; statements are separated by a
line holding only ``;``-terminated SQL (split on ``;`` at line end). Applied migrations are recorded in
``schema_migrations`` with a checksum; a changed file that was already applied is an error (write a
new migration instead). Every statement must itself be idempotent (``IF NOT EXISTS``) so a migration
interrupted half-way can be re-run. Ranges: 0001-0099 core, 0100 calls, 0200 incidents, 0300 crimes,
0400 board, 0500 readers, 0600 engine settings over every table.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from sinks.clickhouse.client import Warehouse

MIGRATIONS_TABLE = "schema_migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    @property
    def needs_rebuild(self) -> bool:
        """The migration changes what the fact tables hold: facts folded before it must be re-folded
        from the ledger (``demandhub rebuild``). Marked by a line ``-- needs: rebuild``."""
        return any(ln.strip() == "-- needs: rebuild" for ln in self.sql.splitlines())

    def statements(self) -> list[str]:
        """The migration's statements, comments removed."""
        lines = [ln for ln in self.sql.splitlines() if not ln.strip().startswith("--")]
        parts = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
        return [p.strip() for p in parts if p.strip()]


def migrations_dir() -> Path:
    return Path(str(resources.files("sinks.clickhouse") / "migrations"))


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """All migration files in order; duplicate numbers are an error."""
    found: dict[int, Migration] = {}
    for path in sorted((directory or migrations_dir()).glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"badly named migration {path.name}")
        number = int(match.group(1))
        if number in found:
            raise ValueError(f"two migrations numbered {number:04d}")
        found[number] = Migration(number, match.group(2), path.read_text())
    return [found[n] for n in sorted(found)]


def _ensure_table(wh: Warehouse) -> None:
    wh.command(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (number UInt32, name String, "
        "checksum String, applied_at DateTime64(3, 'UTC')) ENGINE = ReplacingMergeTree ORDER BY number"
    )


def applied(wh: Warehouse) -> dict[int, str]:
    """Applied migration numbers with their checksums."""
    _ensure_table(wh)
    rows = wh.query(f"SELECT number, checksum FROM {MIGRATIONS_TABLE} FINAL").rows
    return {int(n): str(c) for n, c in rows}


class MigrationChanged(RuntimeError):
    """An applied migration's file differs from what the warehouse applied (its checksum)."""


def pending(wh: Warehouse, directory: Path | None = None) -> list[Migration]:
    """Migrations not yet applied; raises if an applied one changed on disk."""
    done = applied(wh)
    out = []
    for m in load_migrations(directory):
        if m.number in done:
            if done[m.number] != m.checksum:
                raise MigrationChanged(
                    f"migration {m.number:04d}_{m.name} changed after it was applied: this warehouse was "
                    "migrated by another version of demandhub; run that version, or write the change "
                    "as a new migration instead"
                )
            continue
        out.append(m)
    return out


def migrate(wh: Warehouse, dry_run: bool = False, directory: Path | None = None) -> list[Migration]:
    """Apply pending migrations in order (or only return them with ``dry_run``)."""
    todo = pending(wh, directory)
    if dry_run:
        return todo
    for m in todo:
        for statement in m.statements():
            wh.command(statement)
        # Recorded as soon as applied, one insert each (about 10 ms embedded): a migration's
        # statements can be run again over its own partial effect, not over a later migration's (an
        # older `CREATE OR REPLACE VIEW` names a column a later migration drops), so a process killed
        # here must leave at most the migration in hand applied and unrecorded.
        wh.insert(
            MIGRATIONS_TABLE,
            [[m.number, m.name, m.checksum, datetime.now(UTC)]],
            ["number", "name", "checksum", "applied_at"],
        )
    return todo


def rebuild_notice(wh: Warehouse, applied_now: list[Migration]) -> str | None:
    """One line telling the operator to run ``demandhub rebuild`` when a migration just applied
    changed the fact tables of a warehouse whose ledger already holds events; None otherwise."""
    reshaping = [m for m in applied_now if m.needs_rebuild]
    if not reshaping:
        return None
    if int(wh.query("SELECT count() FROM events").rows[0][0]) == 0:
        return None
    names = ", ".join(f"{m.number:04d}_{m.name}" for m in reshaping)
    return (
        f"migration {names} changed the fact tables of a warehouse that already holds events: run "
        "`demandhub rebuild` to re-fold them from the events ledger (figures read before that use the "
        "facts as they were)"
    )
