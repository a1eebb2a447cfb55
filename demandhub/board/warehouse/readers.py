"""The board's domain readers: which function reads the monthly cells of each catalogue ``module``.

Every event-derived measure of ``measures.toml`` names its domain reader in ``module`` (one of
:data:`~demandhub.board.catalogue.measures.READER_NAMES`, checked when the catalogue is loaded), and
:data:`MONTHLY_CELLS` maps each of those names to a :class:`MonthlyCells` reader, built by plain
imports: a reader that is missing, renamed or of another shape fails when this module is imported
(and under the type checker), not when a pack reads it.

A reader returns measure id -> month -> cell for every measure of its domain over ``first..last``.
It is given the force's entity watermarks: open incidents are judged against their targets at the
incident feed's watermark, so the same ledger gives the same figures whenever the pack is run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from demandhub.board.catalogue.measures import READER_NAMES, ReaderName
from demandhub.board.maths.cells import Cell
from demandhub.board.maths.months import YearMonth
from demandhub.queries import contacts, crimes, incidents, social
from schemas.definitions import Definitions
from sinks.clickhouse.client import Warehouse

Cells = dict[str, dict[YearMonth, Cell]]


class MonthlyCells(Protocol):
    """Reads one domain's monthly cells of every measure it serves."""

    def __call__(
        self,
        wh: Warehouse,
        force_id: str,
        first: YearMonth,
        last: YearMonth,
        definitions: Definitions,
        watermarks: Mapping[str, datetime],
        /,
    ) -> Cells: ...


class DomainCells(Protocol):
    """A domain reader's own ``monthly_cells`` (no watermarks)."""

    def __call__(
        self, wh: Warehouse, force_id: str, first: YearMonth, last: YearMonth, definitions: Definitions, /
    ) -> Cells: ...


def _without_watermarks(read: DomainCells) -> MonthlyCells:
    """``read`` as a :class:`MonthlyCells` reader, for a domain no watermark changes."""

    def cells(
        wh: Warehouse,
        force_id: str,
        first: YearMonth,
        last: YearMonth,
        definitions: Definitions,
        watermarks: Mapping[str, datetime],
        /,
    ) -> Cells:
        return read(wh, force_id, first, last, definitions)

    return cells


def incident_cells(
    wh: Warehouse,
    force_id: str,
    first: YearMonth,
    last: YearMonth,
    definitions: Definitions,
    watermarks: Mapping[str, datetime],
    /,
) -> Cells:
    """Open incidents are judged at the incident feed's watermark (module docstring)."""
    return incidents.monthly_cells(wh, force_id, first, last, definitions, now=watermarks.get("incident"))


MONTHLY_CELLS: Mapping[ReaderName, MonthlyCells] = {
    "contacts": _without_watermarks(contacts.monthly_cells),
    "incidents": incident_cells,
    "crimes": _without_watermarks(crimes.monthly_cells),
    "social": _without_watermarks(social.monthly_cells),
}
"""Reader name (a catalogue measure's ``module``) -> its monthly cells."""

AHEAD_PARTS: Mapping[ReaderName, tuple[DomainCells, ...]] = {
    "crimes": (crimes.counted_cells, crimes.qa_month_end_cells),
}
"""Readers a pack reads ahead in parts, the first (the largest) on a read handle of its own and the
others beside the remaining readers (:mod:`demandhub.board.warehouse.ahead`): the reader's cells
are its parts' cells merged in order (:func:`merge_parts`), as the reader itself merges them."""


def merge_parts(parts: Sequence[Cells]) -> Cells:
    """The cells of a reader read in parts (:data:`AHEAD_PARTS`): each measure's months from the
    parts in order (each measure is filled by one part; the others have it empty or absent)."""
    out: Cells = {}
    for part in parts:
        for measure_id, months in part.items():
            out.setdefault(measure_id, {}).update(months)
    return out


NEEDS_WATERMARKS: frozenset[ReaderName] = frozenset({"incidents"})
"""The readers given the force's watermarks: the others read the same cells without them (so a
pack may start them before it has read the ledger, :mod:`demandhub.board.warehouse.ahead`)."""

_unserved = sorted(set(READER_NAMES) - set(MONTHLY_CELLS))
if _unserved:  # a name the catalogue accepts must have a reader: refuse to start otherwise
    raise ImportError(f"board readers missing for catalogue modules: {', '.join(_unserved)}")
