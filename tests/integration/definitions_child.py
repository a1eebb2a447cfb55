"""Child process of the read-time definitions test (chDB holds one data path per process).

``python -m tests.integration.definitions_child build DATA_DIR EVENTS.jsonl OUT.json [PATH=VALUE...]``
replays the events into a fresh warehouse whose configured definitions have the assignments applied
(the settings, as a deployment under those definitions would run) and writes the figures read under
them. ``... read DATA_DIR REQUESTS.json OUT.json`` opens an existing warehouse and, for each request
(a name and a list of ``PATH=VALUE``), writes the figures read with them given as ``--define`` (the
configured definitions stay the defaults): nothing is replayed.

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


def build(warehouse: Path, events: Path, out: Path, defines: list[str]) -> None:
    from demandhub.runtime import build_pipeline, file_messages, open_warehouse, replay

    settings = settings_for(warehouse, defines)
    wh = open_warehouse(settings)
    try:
        totals = replay(build_pipeline(settings, wh, lazy_rollups=True), file_messages(events, 5000))
        result = figures(settings, wh, [])
        result["replay"] = totals.as_dict()
    finally:
        wh.close()
    out.write_text(json.dumps(result))


def read(warehouse: Path, requests: Path, out: Path) -> None:
    from demandhub.runtime import open_warehouse

    settings = settings_for(warehouse, [])
    wh = open_warehouse(settings)
    results: dict[str, Any] = {}
    try:
        for name, defines in json.loads(requests.read_text()).items():
            try:
                results[name] = figures(settings, wh, defines)
            except Exception as exc:  # one leaf's failure is reported by its own test
                results[name] = {"failed": f"{type(exc).__name__}: {exc}"}
    finally:
        wh.close()
    out.write_text(json.dumps(results))


def main(argv: list[str]) -> int:
    mode, warehouse, source, out, *rest = argv
    if mode == "build":
        build(Path(warehouse), Path(source), Path(out), rest)
    else:
        read(Path(warehouse), Path(source), Path(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
