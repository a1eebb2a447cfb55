"""The pack as a PDF typeset by WeasyPrint from the same page as the HTML (:mod:`.render_html`).

The templates' print stylesheet decides the layout: A4 landscape; a running header with the force's
display name and the pack month, and the current section; "page N of M" in the footer; a contents
page whose entries link to their sections and carry their page numbers; tables that split across
pages with their header row repeated and no row (a dashboard measure's period and figure rows
together) cut between pages; the trend charts drawn as vectors from their SVG; the revisions and the
definitions as appendices. Fonts are embedded (subset) by the engine; the PDF's outline follows the
sections and the dashboard's themes.
"""

from __future__ import annotations

from typing import Any

from demandhub.board.render.html import page_html
from demandhub.board.report import BoardReport


def render_pdf(report: BoardReport) -> bytes:
    """The PDF as bytes (module docstring)."""
    from weasyprint import HTML  # imported here: loading pango is only worth it for a PDF

    document: Any = HTML(string=page_html(report), base_url=None).render()
    pdf: bytes = document.write_pdf(pdf_identifier=b"demandhub-board-pack")
    return pdf
