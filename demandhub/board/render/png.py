"""One page of the PDF pack as a PNG picture (for a README, an e-mail or a slide).

The PDF (:mod:`demandhub.board.render.pdf`) is rasterised by poppler's ``pdftoppm`` (Debian's
poppler-utils), so the picture is exactly the printed page.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from demandhub.errors import InputError, UnavailableError

DEFAULT_DPI = 100


def page_count(pdf: bytes) -> int:
    """The number of pages of ``pdf`` (poppler's ``pdfinfo``)."""
    tool = shutil.which("pdfinfo")
    if tool is None:
        raise UnavailableError("pdfinfo is not installed: install poppler-utils to render PNG pages")
    done = subprocess.run([tool, "-"], input=pdf, capture_output=True, timeout=120, check=True)
    for line in done.stdout.decode(errors="replace").splitlines():
        if line.startswith("Pages:"):
            return int(line.split()[1])
    raise UnavailableError("pdfinfo printed no page count")


def pdf_page_png(pdf: bytes, page: int = 1, dpi: int = DEFAULT_DPI) -> bytes:
    """Page ``page`` (1-based) of ``pdf`` as PNG bytes at ``dpi``; InputError past the last page."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        raise UnavailableError("pdftoppm is not installed: install poppler-utils to render PNG pages")
    pages = page_count(pdf)
    if not 1 <= page <= pages:
        raise InputError(f"--page {page}: the pack has {pages} pages")
    with tempfile.TemporaryDirectory(prefix="demandhub-png-") as tmp:
        source, target = Path(tmp) / "pack.pdf", Path(tmp) / "page"
        source.write_bytes(pdf)
        args = [tool, "-png", "-r", str(dpi), "-f", str(page), "-l", str(page), "-singlefile"]
        subprocess.run([*args, str(source), str(target)], capture_output=True, timeout=300, check=True)
        return target.with_suffix(".png").read_bytes()
