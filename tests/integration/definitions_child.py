"""Child process of the read-time definitions test (chDB holds one data path per process).

``python -m tests.integration.definitions_child serve DATA_DIR EVENTS.jsonl`` opens (and migrates) a
warehouse in DATA_DIR, then takes jobs, one JSON object a line on stdin, and answers each with one line
on stdout once the job's result is written to the job's ``out`` file:

- ``{"replay": [PATH=VALUE...], "out": ...}``: empty every table, replay the events from scratch
  under the configured definitions with the assignments applied (the settings, as a deployment under
  those definitions would run) and write the figures read under them, the replay's totals and, for
  every rollup, whether it is complete under those definitions (a replay ends on the rollup path);
- ``{"read": [PATH=VALUE...], "out": ...}``: write the figures read from the warehouse as it is with
  the assignments given as ``--define`` (the configured definitions stay the defaults): nothing is
  replayed.

A failing job writes ``{"failed": "..."}`` (one leaf's failure is reported by its own test) and the
child goes on with the next. Emptying the tables between replays leaves the warehouse as a fresh one
holds it (the migrations decide no table by the definitions), and saves a process start, chDB's load
and the migrations per replay.

The figures: the board pack of :data:`MONTH` (JSON) and the channel table of :data:`MONTH`.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

MONTH = "2019-01"
EXTRACT = datetime(2019, 2, 20, tzinfo=UTC)
TODAY = date(2019, 2, 20)
FORCE = "cambs"


def settings_for(data_dir: Path, defines: list[str]) -> Any:
    """Settings of a data directory (its embedded warehouse) under the definitions with ``defines``."""
    from demandhub.settings import Settings
    from schemas.definitions import Definitions

    return Settings(data_dir=data_dir, force_id=FORCE, definitions=Definitions().with_overrides(defines))


def figures(settings: Any, wh: Any, defines: list[str]) -> dict[str, Any]:
    from demandhub.board.commands import build_board, channels_table
    from demandhub.errors import InputError

    body, _ = build_board(settings, wh, MONTH, "json", EXTRACT, today=TODAY, defines=defines)
    try:
        channels: Any = channels_table(settings, wh, MONTH, MONTH, defines)
    except InputError as exc:
        channels = {"error": str(exc)}
    return {"pack": json.loads(body), "channels": channels}


def empty(wh: Any) -> None:
    """Every table emptied but the migrations' record (views hold no rows of their own)."""
    rows = wh.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND engine NOT LIKE '%View' AND name != 'schema_migrations'"
    ).rows
    for (name,) in rows:
        wh.command(f"TRUNCATE TABLE IF EXISTS `{name}`")


def replay_under(warehouse: Path, wh: Any, events: Path, defines: list[str]) -> dict[str, Any]:
    from demandhub.runtime import build_pipeline, file_messages, replay
    from sinks.clickhouse.rollups import all_rollups, reads_rollup

    settings = settings_for(warehouse, defines)
    empty(wh)
    totals = replay(build_pipeline(settings, wh, lazy_rollups=True), file_messages(events, 5000))
    result = figures(settings, wh, [])
    result["replay"] = totals.as_dict()
    result["rollups"] = {r.table: reads_rollup(wh, r.table, settings.definitions) for r in all_rollups()}
    return result


def serve(warehouse: Path, events: Path) -> None:
    from demandhub.runtime import open_warehouse

    answers = sys.stdout
    sys.stdout = sys.stderr  # stdout carries the answers only
    wh = open_warehouse(settings_for(warehouse, []))
    try:
        for line in sys.stdin:
            job = json.loads(line)
            try:
                if "replay" in job:
                    result = replay_under(warehouse, wh, events, job["replay"])
                else:
                    result = figures(settings_for(warehouse, []), wh, job["read"])
            except Exception as exc:
                result = {"failed": f"{type(exc).__name__}: {exc}"}
            Path(job["out"]).write_text(json.dumps(result))
            answers.write("done\n")
            answers.flush()
    finally:
        wh.close()


def main(argv: list[str]) -> int:
    mode, warehouse, events = argv
    if mode != "serve":
        raise SystemExit(f"unknown mode {mode!r}")
    serve(Path(warehouse), Path(events))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
