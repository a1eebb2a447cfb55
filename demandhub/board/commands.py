"""The ``demandhub board`` and ``demandhub channels`` commands (registered in :mod:`demandhub.cli`).

``demandhub board --month YYYY-MM|auto [--force F] --format json|xlsx|html|pdf --out PATH [--publish]``
builds the pack; ``--out`` may be a file or a directory (then ``board-<force>-<month>.<ext>``), and
JSON without ``--out`` goes to standard output. ``--month auto`` is the last complete month.
``--if-first-working-day`` makes the command do nothing (exit 0) unless today (local time, or
``--today``) is the first working day of the month in England and Wales. ``--publish`` stores the
figures as a new immutable version (nothing new when unchanged). ``demandhub board import FILE.csv``
imports monthly figures (see :mod:`demandhub.board.imports`).

``demandhub channels --from YYYY-MM --to YYYY-MM`` prints the channel table for any period.

Exit codes: 0 done (or nothing to do), 1 invalid input file, 2 usage error or no complete month.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from demandhub.board.catalogue import load_catalogue
from demandhub.board.config import PackSettings
from demandhub.board.layout import channel_rows
from demandhub.board.msf import load_msf
from demandhub.board.report import BoardConfig, BoardReport, auto_month, build_report, config_hash_of
from demandhub.board.workdays import first_working_day, is_first_working_day
from demandhub.settings import Settings
from sinks.clickhouse.client import Warehouse
from streams.domain.board.months import YearMonth
from streams.domain.board.rules import BoardRules

FORMATS: tuple[str, ...] = ("json", "xlsx", "html", "pdf")


def add_board_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", choices=("import",), help="'import FILE.csv': import figures")
    p.add_argument("file", nargs="?", help="CSV file for 'import'")
    p.add_argument("--month", default="auto", help="reporting month YYYY-MM, or auto (default)")
    p.add_argument("--format", choices=FORMATS, default="json", help="output format (default json)")
    p.add_argument("--out", help="output file or directory (json: default standard output)")
    p.add_argument("--publish", action="store_true", help="store the figures as a published version")
    p.add_argument(
        "--if-first-working-day",
        action="store_true",
        help="do nothing unless today is the first working day of the month (England and Wales)",
    )
    p.add_argument("--today", help="YYYY-MM-DD to use as today (for --if-first-working-day)")
    p.add_argument("--extract-time", help="ISO timestamp printed as the extract time (tests)")
    p.add_argument("--catalogue", type=Path, help="measure catalogue TOML (default: packaged)")
    p.add_argument("--msf", type=Path, help="peer group TOML (default: packaged)")
    p.add_argument("--dsn", help="ClickHouse DSN")


def add_channels_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="first", required=True, help="first month YYYY-MM")
    p.add_argument("--to", dest="last", required=True, help="last month YYYY-MM")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--dsn", help="ClickHouse DSN")


def board_config(settings: Settings, args: argparse.Namespace) -> BoardConfig:
    return BoardConfig(
        catalogue=load_catalogue(getattr(args, "catalogue", None)),
        definitions=settings.definitions,
        rules=BoardRules(),
        pack=PackSettings(),
        msf=load_msf(getattr(args, "msf", None)),
    )


def _open(settings: Settings) -> Warehouse:
    from demandhub.runtime import open_warehouse

    return open_warehouse(settings, apply_migrations=settings.resolved_dsn.startswith("chdb:"))


def _today(args: argparse.Namespace, settings: Settings) -> date:
    if args.today:
        return date.fromisoformat(args.today)
    return datetime.now(ZoneInfo(settings.definitions.timezone)).date()


def _renderer(fmt: str) -> Callable[[BoardReport], bytes]:
    if fmt == "json":
        return lambda report: report.json_text().encode()
    if fmt == "xlsx":
        from demandhub.board.render_xlsx import render_xlsx

        return render_xlsx
    if fmt == "html":
        from demandhub.board.render_html import render_html

        return render_html
    from demandhub.board.render_pdf import render_pdf

    return render_pdf


def output_path(out: str, force: str, month: YearMonth, fmt: str) -> Path:
    """``out`` itself, or ``out/board-<force>-<month>.<fmt>`` when it is a directory."""
    path = Path(out)
    if out.endswith(("/", "\\")) or path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        return path / f"board-{force}-{month}.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _resolve_month(
    args: argparse.Namespace, wh: Warehouse, config: BoardConfig, force: str
) -> YearMonth | None:
    if args.month != "auto":
        return YearMonth.from_str(args.month)
    return auto_month(wh, config, force)


def _run_import(args: argparse.Namespace, settings: Settings, wh: Warehouse | None) -> int:
    from demandhub.board.imports import CsvImportError, import_csv

    if not args.file:
        print("usage: demandhub board import FILE.csv", file=sys.stderr)
        return 2
    config = board_config(settings, args)
    own = wh is None
    wh = wh or _open(settings)
    try:
        report = import_csv(wh, Path(args.file).read_text(encoding="utf-8"), config.catalogue)
    except CsvImportError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    finally:
        if own:
            wh.close()
    print(json.dumps(report.as_dict()))
    return 0


def _extract_time(args: argparse.Namespace) -> datetime:
    if args.extract_time:
        value = datetime.fromisoformat(args.extract_time)
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def run_board(args: argparse.Namespace, settings: Settings, wh: Warehouse | None = None) -> int:
    """The ``board`` command (module docstring); ``wh`` is an open warehouse to use (else the
    configured one is opened and closed)."""
    if args.action == "import":
        return _run_import(args, settings, wh)
    if args.if_first_working_day:
        today = _today(args, settings)
        if not is_first_working_day(today):
            first = first_working_day(today.year, today.month)
            print(f"{today} is not the first working day of the month ({first}); nothing to do")
            return 0
    if args.format != "json" and not args.out:
        print(f"--out is required for --format {args.format}", file=sys.stderr)
        return 2
    config = board_config(settings, args)
    force = settings.force_id
    own = wh is None
    wh = wh or _open(settings)
    try:
        month = _resolve_month(args, wh, config, force)
        if month is None:
            print(f"no complete month for force {force}: the warehouse holds no events yet", file=sys.stderr)
            return 2
        report = build_report(wh, config, force, month, _extract_time(args))
        if args.publish:
            from demandhub.board.store import publish

            publication = publish(wh, report.data, config_hash_of(report))
            report = report.with_publication(publication.as_dict())
    finally:
        if own:
            wh.close()
    body = _renderer(args.format)(report)
    if args.out:
        path = output_path(args.out, force, month, args.format)
        path.write_bytes(body)
        print(f"wrote {path} ({len(body):,} bytes; {force} {month})", file=sys.stderr)
    else:
        sys.stdout.write(body.decode())
    return 0


def run_channels(args: argparse.Namespace, settings: Settings, wh: Warehouse | None = None) -> int:
    """The ``channels`` command: the channel table for --from..--to against a year earlier."""
    from demandhub.board.source import channel_series_of, force_series, imported_series
    from streams.domain.board.channels import channel_table

    first, last = YearMonth.from_str(args.first), YearMonth.from_str(args.last)
    if last < first:
        print("--to is before --from", file=sys.stderr)
        return 2
    config = board_config(settings, args)
    rules = config.rules
    start = min(first - rules.channel_comparison_offset_months, YearMonth(last.year - 1, 1))
    own = wh is None
    wh = wh or _open(settings)
    try:
        imported = imported_series(wh, config.catalogue, [settings.force_id], start, last)
        data = force_series(
            wh,
            config.catalogue,
            settings.force_id,
            start,
            last,
            config.definitions,
            config.pack,
            imported.get(settings.force_id, {}),
        )
    finally:
        if own:
            wh.close()
    series = channel_series_of(data.series)
    if not series:
        print(f"no contact figures for force {settings.force_id}", file=sys.stderr)
        return 2
    table = channel_table(series, first, last, rules).as_dict()
    if args.format == "json":
        print(json.dumps({"force": settings.force_id, **table}, indent=1))
        return 0
    from demandhub.cli import _format_rows

    header, rows = channel_rows(table)
    print(table["caption"])
    print(_format_rows(header, rows, "table"))
    return 0
