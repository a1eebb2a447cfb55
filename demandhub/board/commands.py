"""The ``demandhub board`` and ``demandhub channels`` commands (registered in :mod:`demandhub.cli`).

``demandhub board --month YYYY-MM|auto [--force F] --format json|xlsx|html|pdf|png --out PATH [--publish]``
builds the pack (``png``: page ``--page N`` of the PDF at ``--dpi``); ``--out`` may be a file or a
directory (then ``board-<force>-<month>.<ext>``), and JSON without ``--out`` goes to standard output. ``--month auto`` is the last complete month.
``--if-first-working-day`` makes the command do nothing (exit 0) unless today (local time, or
``--today``) is the first working day of the month in England and Wales. ``--publish`` stores the
figures as a new immutable version (nothing new when unchanged); it refuses (exit 3, one line
naming the sources and their watermarks) a month where more than
``board_publish_max_incomplete_share`` of the event measures are incomplete, unless
``--allow-incomplete``. Incomplete measures are named in a warning on standard error either way;
a month that has not ended and a month with no data at all are refused (see
:mod:`demandhub.board.warehouse.completeness`). ``demandhub board import FILE.csv``
imports monthly figures (see :mod:`demandhub.board.warehouse.imports`). ``demandhub board explain --month M
--measure ID [--column C] [--version N] [--limit K]`` lists the entities behind one cell, with the
deciding events and the rule that counted or excluded each (see :mod:`demandhub.board.warehouse.lineage`).

``demandhub channels --from YYYY-MM --to YYYY-MM`` prints the channel table for any period.

When a hub is running on the data directory (it owns the embedded warehouse), ``board`` and
``channels`` ask it over its API (``GET /api/board``, ``GET /api/channels``, analyst role) instead of
opening the warehouse; ``--publish``, ``import`` and custom ``--catalogue``/``--msf`` need the warehouse
itself and say so.

Exit codes (see :mod:`demandhub.errors`): 0 done (or nothing to do), 2 usage error, 3 invalid input
file, no complete month, a month not ended or without data, or an incomplete month refused for
publishing, 4 the data directory is held by another process.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from demandhub import argtypes
from demandhub.errors import BusyError, InputError, UsageError

if TYPE_CHECKING:  # the board modules are imported when a command runs, not to build the parser
    from demandhub.board.maths.months import YearMonth
    from demandhub.board.report import BoardConfig, BoardReport
    from demandhub.settings import Settings
    from schemas.definitions import Definitions
    from sinks.clickhouse.client import Warehouse

FORMATS: tuple[str, ...] = ("json", "xlsx", "html", "pdf", "png")


def add_board_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        nargs="?",
        choices=("import", "explain"),
        help="'import FILE.csv': import figures; 'explain': the entities behind one cell",
    )
    p.add_argument("file", nargs="?", help="CSV file for 'import'")
    p.add_argument("--measure", help="explain: measure id")
    p.add_argument("--column", default="current", help="explain: dashboard column (default current)")
    p.add_argument("--version", type=_positive, help="explain: compare with this published version")
    p.add_argument("--limit", type=_positive, help="explain: list at most this many entities per month")
    p.add_argument(
        "--month",
        default="auto",
        type=argtypes.month_or_auto,
        help="reporting month YYYY-MM, or auto (default)",
    )
    p.add_argument("--format", choices=FORMATS, default="json", help="output format (default json)")
    p.add_argument("--out", help="output file or directory (json: default standard output)")
    p.add_argument("--page", type=_positive, default=1, help="png: the PDF page to render (default 1)")
    p.add_argument("--dpi", type=_positive, default=100, help="png: resolution (default 100)")
    p.add_argument("--publish", action="store_true", help="store the figures as a published version")
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="--publish even when more than board_publish_max_incomplete_share of the event measures "
        "are incomplete",
    )
    p.add_argument(
        "--if-first-working-day",
        action="store_true",
        help="do nothing unless today is the first working day of the month (England and Wales)",
    )
    p.add_argument(
        "--today",
        type=argtypes.day,
        help="YYYY-MM-DD to use as today (--if-first-working-day, months not ended)",
    )
    p.add_argument("--extract-time", help="ISO timestamp printed as the extract time (tests)")
    p.add_argument(
        "--catalogue", type=argtypes.existing_file, help="measure catalogue TOML (default: packaged)"
    )
    p.add_argument("--msf", type=argtypes.existing_file, help="peer group TOML (default: packaged)")
    add_define_argument(p)
    p.add_argument(
        "--compare-define",
        action="append",
        default=[],
        type=definition_assignment,
        metavar="PATH=VALUE",
        help="also compute the pack under the definitions with this change (repeatable) and show "
        "each measure whose figures differ under both, side by side",
    )
    p.add_argument("--dsn", type=argtypes.dsn, help="ClickHouse DSN")


def add_define_argument(p: argparse.ArgumentParser) -> None:
    """``--define PATH=VALUE`` (repeatable): a definition applied for this run only."""
    p.add_argument(
        "--define",
        action="append",
        default=[],
        type=definition_assignment,
        metavar="PATH=VALUE",
        help="apply this definition for this run only, e.g. calls.abandon_convention=count_as_met "
        "(repeatable; paths: schemas/definitions.py)",
    )


def definition_assignment(text: str) -> str:
    """An argument type: ``PATH=VALUE`` naming a definition with a value that fits it (the error
    names the path, never the value)."""
    from schemas.definitions import Definitions

    try:
        Definitions().with_overrides([text])
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def apply_defines(definitions: Definitions, items: Sequence[str], option: str = "--define") -> Definitions:
    """``definitions`` with ``PATH=VALUE`` items applied; InputError (one line naming the path,
    never the value) when an item is not a definition or its value does not fit."""
    if not items:
        return definitions
    try:
        return definitions.with_overrides(items)
    except ValueError as exc:
        raise InputError(f"{option}: {exc}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 1200:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 1 and 1200")
    return value


def add_channels_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="first", required=True, type=argtypes.month, help="first month YYYY-MM")
    p.add_argument("--to", dest="last", required=True, type=argtypes.month, help="last month YYYY-MM")
    p.add_argument("--format", choices=("table", "json"), default="table")
    add_define_argument(p)
    p.add_argument("--dsn", type=argtypes.dsn, help="ClickHouse DSN")


def board_config(
    settings: Settings,
    args: argparse.Namespace | None = None,
    defines: Sequence[str] = (),
    definitions: Definitions | None = None,
) -> BoardConfig:
    """The pack's configuration: the configured definitions (``definitions``, default the
    settings') with ``defines`` (``PATH=VALUE``) applied for this run; the configured set is kept
    so the pack can say which paths were overridden."""
    from demandhub.board.catalogue.config import PackSettings
    from demandhub.board.catalogue.measures import load_catalogue
    from demandhub.board.catalogue.msf import load_msf
    from demandhub.board.maths.rules import BoardRules
    from demandhub.board.report import BoardConfig

    catalogue, msf = getattr(args, "catalogue", None), getattr(args, "msf", None)
    configured = definitions or settings.definitions
    return BoardConfig(
        catalogue=load_catalogue(Path(catalogue) if catalogue else None),
        definitions=apply_defines(configured, defines),
        rules=BoardRules(),
        pack=PackSettings(),
        msf=load_msf(Path(msf) if msf else None),
        configured=configured,
    )


def _open(settings: Settings) -> Warehouse:
    """The configured warehouse, migrated when embedded: :func:`demandhub.runtime.open_warehouse`
    without importing :mod:`demandhub.runtime` (the embedded stack's processes, the pipeline's
    wiring, authentication and the admin and history statements, none of which a pack needs)."""
    from sinks.clickhouse.client import connect
    from sinks.clickhouse.migrate import migrate, rebuild_notice

    embedded = settings.resolved_dsn.startswith("chdb:")
    if embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    wh = connect(settings.resolved_dsn)
    if embedded:
        try:
            notice = rebuild_notice(wh, migrate(wh))
        except BaseException:
            with contextlib.suppress(Exception):  # the migration's own error is the one reported
                wh.close()
            raise
        if notice:
            print(f"demandhub: {notice}", file=sys.stderr)
    return wh


class _Opening:
    """The warehouse opened (:func:`_open`) on a thread of its own, so that the pack's modules are
    imported and its configuration read meanwhile: loading and opening the engine and importing the
    board are each a large part of the command's start-up, and chDB does much of its opening
    outside Python's lock. :meth:`result` is the open warehouse, or raises what the opening raised."""

    def __init__(self, settings: Settings) -> None:
        import threading

        self._wh: Warehouse | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(settings,), name="board-open", daemon=True)
        self._thread.start()

    def _run(self, settings: Settings) -> None:
        try:
            self._wh = _open(settings)
        except BaseException as exc:  # handed to the command's thread by result()
            self._error = exc

    def result(self) -> Warehouse:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._wh is not None
        return self._wh

    def abandon(self) -> None:
        """Wait for the opening and close what it opened (the command failed meanwhile)."""
        self._thread.join()
        if self._wh is not None:
            self._wh.close()


def _prepare_pack(settings: Settings, args: argparse.Namespace, defines: Sequence[str]) -> None:
    """Import the modules :func:`build_board` imports and read the pack's configuration (kept by
    the catalogue's and the MSF file's caches), while the warehouse opens."""
    import demandhub.board.catalogue.forces
    import demandhub.board.report
    import demandhub.board.warehouse.completeness
    import demandhub.board.warehouse.source
    import demandhub.board.warehouse.store  # noqa: F401

    board_config(settings, args, defines)


def _local_today(settings: Settings) -> date:
    return datetime.now(ZoneInfo(settings.definitions.timezone)).date()


def _today(args: argparse.Namespace, settings: Settings) -> date:
    if args.today:
        return date.fromisoformat(args.today)
    return _local_today(settings)


def _renderer(fmt: str) -> Callable[[BoardReport], bytes]:
    if fmt == "json":
        return lambda report: report.json_text().encode()
    if fmt == "xlsx":
        from demandhub.board.render.xlsx import render_xlsx

        return render_xlsx
    if fmt == "html":
        from demandhub.board.render.html import render_html

        return render_html
    from demandhub.board.render.pdf import render_pdf

    return render_pdf


def _png_of_pdf(pdf: bytes, args: argparse.Namespace | None) -> bytes:
    from demandhub.board.render.png import DEFAULT_DPI, pdf_page_png

    return pdf_page_png(pdf, getattr(args, "page", 1), getattr(args, "dpi", DEFAULT_DPI))


def output_path(out: str, force: str, month: YearMonth | str, fmt: str) -> Path:
    """``out`` itself, or ``out/board-<force>-<month>.<fmt>`` when it is a directory."""
    path = Path(out)
    if out.endswith(("/", "\\")) or path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        return path / f"board-{force}-{month}.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _run_import(args: argparse.Namespace, settings: Settings, wh: Warehouse | None) -> int:
    from demandhub.board.warehouse.imports import CsvImportError, import_csv

    if not args.file:
        raise UsageError("usage: demandhub board import FILE.csv")
    source = Path(args.file)
    if not source.is_file():
        raise InputError(f"no such file: {args.file}")
    config = board_config(settings, args)
    own = wh is None
    wh = wh or _open(settings)
    try:
        report = import_csv(wh, source.read_text(encoding="utf-8"), config.catalogue)
    except CsvImportError as exc:
        for problem in exc.problems:  # the full list is the command's output; stderr gets one line
            print(problem)
        raise InputError(
            f"{args.file}: {len(exc.problems)} problem(s), nothing imported"
            + (f"; first: {exc.problems[0]}" if exc.problems else "")
        ) from exc
    finally:
        if own:
            wh.close()
    print(json.dumps(report.as_dict()))
    return 0


def extract_time_of(text: str | None) -> datetime:
    """``--extract-time`` (ISO; UTC when it names no zone), or now."""
    if text:
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InputError(f"--extract-time {text!r} is not an ISO timestamp") from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC).replace(microsecond=0)


def build_board(
    settings: Settings,
    wh: Warehouse,
    month: str,
    fmt: str,
    extract_time: datetime,
    publish: bool = False,
    args: argparse.Namespace | None = None,
    *,
    allow_incomplete: bool = False,
    today: date | None = None,
    warn: Callable[[str], None] | None = None,
    defines: Sequence[str] = (),
    compare: Sequence[str] = (),
) -> tuple[bytes, str]:
    """The pack of ``month`` (YYYY-MM or auto) rendered as ``fmt``, and the month. Used by the
    command and by ``GET /api/board``.

    ``defines`` (``PATH=VALUE``) override the configured definitions for this pack; the pack
    prints the definitions it applied and which paths differ from the configured ones.
    ``compare`` computes the pack again under the applied definitions with these changes too and
    adds the ``comparison`` section (:func:`demandhub.board.report.comparison`). Neither can be
    published (UsageError): a published pack is computed under the configured definitions.

    InputError (one line) when the warehouse holds no complete month, the month has not ended
    (``today``, default today in the force's zone), every row is n/a with nothing incomplete, or
    ``publish`` meets more incomplete event measures than ``board_publish_max_incomplete_share``
    without ``allow_incomplete`` (the line names the sources and their watermarks). The
    completeness is in the JSON (``completeness``) and its warning goes to ``warn``
    (:mod:`demandhub.board.warehouse.completeness`)."""
    from demandhub.board.catalogue.forces import display_name
    from demandhub.board.maths.months import YearMonth
    from demandhub.board.report import auto_month, build_report, config_hash_of, start_published_ahead
    from demandhub.board.warehouse.completeness import assess, month_not_ended, no_data
    from demandhub.board.warehouse.source import read_ledger_marks, start_reads_ahead
    from demandhub.board.warehouse.store import published_versions

    if publish and (defines or compare):
        raise UsageError(
            "--publish uses the configured definitions: drop --define/--compare-define, or change "
            "the configuration (DEMANDHUB_DEFINITIONS__<GROUP>__<NAME>)"
        )
    config = board_config(settings, args, defines)
    alternative = apply_defines(config.definitions, compare, "--compare-define") if compare else None
    force = settings.force_id
    resolved = YearMonth.from_str(month) if month != "auto" else auto_month(wh, config, force)
    if resolved is None:
        raise InputError(f"no complete month for force {force}: the warehouse holds no events yet")
    if (refused := month_not_ended(resolved, today or _local_today(settings))) is not None:
        raise InputError(refused)
    # The domain readers that need no watermark start on read handles of their own while the
    # ledger is scanned here (demandhub/board/warehouse/ahead.py); build_report collects them.
    with start_reads_ahead(wh, config.catalogue, force, resolved, config.definitions, config.pack) as ahead:
        start_published_ahead(ahead, config, force, resolved)
        ahead.start(0, ("versions", force), lambda h: published_versions(h, force))
        ledger = read_ledger_marks(wh)  # one scan of the ledger: watermarks, sources, forces with events
        marks = ledger.entity_watermarks(force)
        tz = config.definitions.timezone
        completeness = assess(config.catalogue, marks, config.pack, tz, resolved)
        max_share = settings.board_publish_max_incomplete_share
        if publish and not allow_incomplete and (refused := completeness.refusal(max_share)) is not None:
            raise InputError(refused)
        report = build_report(wh, config, force, resolved, extract_time, marks, ledger, ahead)
        if not completeness.lagging and (refused := no_data(resolved, force, report.data)) is not None:
            raise InputError(refused)
        if (warning := completeness.warning()) is not None and warn is not None:
            warn(warning)
        versions = ahead.take(("versions", force))
        ever_published = bool(versions.result() if versions is not None else published_versions(wh, force))
    report = dataclasses.replace(
        report,
        data={
            **report.data,
            "completeness": completeness.as_dict(max_share),
            "ever_published": ever_published,
        },
    )
    report = dataclasses.replace(report, force_name=display_name(force, settings.force_name))
    if alternative is not None:
        from demandhub.board.report import with_comparison

        other = build_report(
            wh,
            dataclasses.replace(config, definitions=alternative),
            force,
            resolved,
            extract_time,
            marks,
            ledger,
        )
        report = with_comparison(report, other)
    if publish or report.data.get("revisions"):
        from demandhub.board.warehouse.lineage import annotate_revisions, pack_lineage, store_lineage

        revised = None if publish else {r["measure"] for r in report.data["revisions"]}
        lineage = pack_lineage(
            wh, config.catalogue, force, resolved, config.definitions, config.pack, config.rules, only=revised
        )
        annotate_revisions(wh, config.catalogue, force, report.data, lineage, config.rules)
    if publish:
        from demandhub.board.warehouse.store import publish as publish_pack

        publication = publish_pack(wh, report.data, config_hash_of(report))
        if publication.new:
            units = {m.id: m.spec.unit for m in config.catalogue.measures}
            store_lineage(wh, force, resolved, publication.pack_version, lineage, units)
        report = report.with_publication(publication.as_dict())
    if fmt == "png":
        return _png_of_pdf(_renderer("pdf")(report), args), str(resolved)
    return _renderer(fmt)(report), str(resolved)


def explain_cell(
    settings: Settings,
    wh: Warehouse,
    month: str,
    measure: str,
    column: str,
    version: int | None = None,
    limit: int | None = None,
    defines: Sequence[str] = (),
) -> dict[str, Any]:
    """The lineage of one cell (:func:`demandhub.board.warehouse.lineage.explain`); ``month`` YYYY-MM or auto.
    Used by ``demandhub board explain`` and ``GET /api/board/explain``.

    The definitions applied: with ``version``, the ones stored with that published version (so what
    changed since is what the data changed, not the definitions), else the configured ones; with
    ``defines`` (``PATH=VALUE``) applied on top. The answer's ``definitions`` names them."""
    from demandhub.board.maths.months import YearMonth
    from demandhub.board.report import auto_month, overridden
    from demandhub.board.warehouse.lineage import explain
    from demandhub.board.warehouse.store import stored_definitions

    config = board_config(settings, defines=defines)
    force = settings.force_id
    resolved = YearMonth.from_str(month) if month != "auto" else auto_month(wh, config, force)
    if resolved is None:
        raise InputError(f"no complete month for force {force}: the warehouse holds no events yet")
    basis = "configured"
    if version is not None:
        stored = stored_definitions(wh, force, resolved, version)
        if stored is not None:
            config = board_config(settings, defines=defines, definitions=stored)
            basis = f"published version {version}"
    applied = config.definitions
    told = explain(
        wh,
        config.catalogue,
        force,
        resolved,
        measure,
        column,
        config.definitions,
        config.rules,
        config.pack,
        limit=limit,
        version=version,
    )
    told["definitions"] = {
        "definition_id": applied.definition_id,
        "version": applied.version,
        "config_hash": applied.config_hash(),
        "basis": basis,
        "overridden": overridden(settings.definitions, applied),
    }
    return told


def _run_explain(args: argparse.Namespace, settings: Settings, wh: Warehouse | None, hub: Any) -> int:
    if not args.measure:
        raise UsageError("usage: demandhub board explain --month YYYY-MM --measure ID [--column C]")
    if hub is not None:
        params: dict[str, Any] = {"month": args.month, "measure": args.measure, "column": args.column}
        params |= {k: str(v) for k, v in (("version", args.version), ("limit", args.limit)) if v}
        if _defines_of(args)[0]:
            params["define"] = _defines_of(args)[0]
        print(json.dumps(json.loads(hub.get("/api/board/explain", **params)[0]), indent=1))
        return 0
    apply_defines(settings.definitions, _defines_of(args)[0])  # a bad --define fails before opening
    own = wh is None
    wh = wh or _open(settings)
    try:
        told = explain_cell(
            settings,
            wh,
            args.month,
            args.measure,
            args.column,
            args.version,
            args.limit,
            _defines_of(args)[0],
        )
    finally:
        if own:
            wh.close()
    print(json.dumps(told, indent=1, default=str))
    return 0


def channels_table(
    settings: Settings, wh: Warehouse, first: str, last: str, defines: Sequence[str] = ()
) -> dict[str, Any]:
    """``{"force", caption, columns, rows...}``: the channel table of first..last (YYYY-MM) against a
    year earlier; InputError when there are no contact figures. Used by the command and the API.
    ``defines`` (``PATH=VALUE``) override the configured definitions; the table's ``definitions``
    names those applied (id, version, hash, the paths overridden)."""
    from demandhub.board.maths.channels import channel_table
    from demandhub.board.maths.months import YearMonth
    from demandhub.board.report import overridden
    from demandhub.board.warehouse.source import channel_series_of, force_series, imported_series

    lo, hi = YearMonth.from_str(first), YearMonth.from_str(last)
    if hi < lo:
        raise InputError(f"--to {last} is before --from {first}")
    config = board_config(settings, defines=defines)
    rules = config.rules
    start = min(lo - rules.channel_comparison_offset_months, YearMonth(hi.year - 1, 1))
    imported = imported_series(wh, config.catalogue, [settings.force_id], start, hi)
    data = force_series(
        wh,
        config.catalogue,
        settings.force_id,
        start,
        hi,
        config.definitions,
        config.pack,
        imported.get(settings.force_id, {}),
    )
    series = channel_series_of(data.series)
    if not series:
        raise InputError(f"no contact figures for force {settings.force_id}")
    defs = config.definitions
    return {
        "force": settings.force_id,
        **channel_table(series, lo, hi, rules).as_dict(),
        "definitions": {
            "definition_id": defs.definition_id,
            "version": defs.version,
            "config_hash": defs.config_hash(),
            "overridden": overridden(settings.definitions, defs),
        },
    }


def _write_board(args: argparse.Namespace, settings: Settings, body: bytes, month: str) -> None:
    if args.out:
        path = output_path(args.out, settings.force_id, month, args.format)
        path.write_bytes(body)
        print(f"wrote {path} ({len(body):,} bytes; {settings.force_id} {month})", file=sys.stderr)
    else:
        sys.stdout.write(body.decode())


def _defines_of(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    return list(getattr(args, "define", None) or []), list(getattr(args, "compare_define", None) or [])


def run_board(
    args: argparse.Namespace, settings: Settings, wh: Warehouse | None = None, hub: Any = None
) -> int:
    """The ``board`` command (module docstring); ``wh`` is an open warehouse to use (else the
    configured one is opened and closed); ``hub`` a client of the running hub to ask instead."""
    if args.action == "explain":
        return _run_explain(args, settings, wh, hub)
    if args.action == "import":
        if hub is not None:
            raise BusyError(hub.owns("importing figures writes to the warehouse"))
        return _run_import(args, settings, wh)
    if args.if_first_working_day:
        from demandhub.board.maths.workdays import first_working_day, is_first_working_day

        today = _today(args, settings)
        if not is_first_working_day(today):
            first = first_working_day(today.year, today.month)
            print(f"{today} is not the first working day of the month ({first}); nothing to do")
            return 0
    if args.format != "json" and not args.out:
        raise UsageError(f"--out is required for --format {args.format}")
    extract_time = extract_time_of(args.extract_time)
    defines, compare = _defines_of(args)
    if args.publish and (defines or compare):
        raise UsageError("--publish uses the configured definitions: drop --define/--compare-define")
    apply_defines(apply_defines(settings.definitions, defines), compare, "--compare-define")
    if hub is not None:
        if args.publish:
            raise BusyError(hub.owns("publishing writes to the warehouse"))
        if args.catalogue or args.msf:
            raise BusyError(hub.owns("--catalogue and --msf need the warehouse itself"))
        asked = "pdf" if args.format == "png" else args.format
        body, month = hub.board(args.month, asked, extract_time.isoformat(), defines, compare)
        if args.format == "png":
            body = _png_of_pdf(body, args)
        _write_board(args, settings, body, month)
        return 0
    own = wh is None
    if wh is None:
        opening = _Opening(settings)
        try:
            _prepare_pack(settings, args, defines)
        except BaseException:
            opening.abandon()
            raise
        wh = opening.result()
    try:
        body, month = build_board(
            settings,
            wh,
            args.month,
            args.format,
            extract_time,
            args.publish,
            args,
            allow_incomplete=args.allow_incomplete,
            today=_today(args, settings),
            warn=lambda line: print(line, file=sys.stderr),
            defines=defines,
            compare=compare,
        )
    finally:
        if own:
            wh.close()
    _write_board(args, settings, body, month)
    return 0


def run_channels(
    args: argparse.Namespace, settings: Settings, wh: Warehouse | None = None, hub: Any = None
) -> int:
    """The ``channels`` command: the channel table for --from..--to against a year earlier."""
    defines = getattr(args, "define", None) or []
    apply_defines(settings.definitions, defines)  # a bad --define fails before anything opens
    if hub is not None:
        table = hub.channels(args.first, args.last, defines)
    else:
        own = wh is None
        wh = wh or _open(settings)
        try:
            table = channels_table(settings, wh, args.first, args.last, defines)
        finally:
            if own:
                wh.close()
    if args.format == "json":
        print(json.dumps(table, indent=1))
        return 0
    from demandhub.board.maths.layout import channel_rows
    from demandhub.tables import format_rows

    header, rows = channel_rows(table)
    print(table["caption"])
    print(format_rows(header, rows, "table"))
    return 0
