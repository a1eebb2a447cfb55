"""The National Incident Category List (NICL): category codes and their chapters (pure).

Reference data lives in ``schemas/reference/nicl_categories.csv`` (``code,chapter,description``).
:func:`parse_catalogue` turns its text into a :class:`NiclCatalogue` without I/O;
:func:`default_catalogue` reads the bundled file once. ASB incidents are those whose FINAL category is
in the anti-social behaviour chapter (DOMAIN 4.8); an unknown code belongs to no chapter.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from schemas.incidents import CATEGORY_PATTERN

ASB_CHAPTER = "ASB"
_CODE = re.compile(CATEGORY_PATTERN)


@dataclass(frozen=True)
class NiclCatalogue:
    """NICL codes mapped to their chapter."""

    chapters: dict[str, str]

    def chapter_of(self, code: str | None) -> str | None:
        """The chapter of ``code``; None for None or a code not in the list."""
        return None if code is None else self.chapters.get(code)

    def is_asb(self, code: str | None) -> bool:
        """True when ``code`` is in the anti-social behaviour chapter."""
        return self.chapter_of(code) == ASB_CHAPTER

    def codes_in(self, chapter: str) -> tuple[str, ...]:
        """Every code of ``chapter``, sorted."""
        return tuple(sorted(c for c, ch in self.chapters.items() if ch == chapter))


def parse_catalogue(text: str) -> NiclCatalogue:
    """Parse the CSV text; raises ValueError on a malformed code, a missing chapter or a repeat."""
    chapters: dict[str, str] = {}
    for line, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        code, chapter = (row.get("code") or "").strip(), (row.get("chapter") or "").strip()
        if not _CODE.match(code):
            raise ValueError(f"line {line}: {code!r} is not a NICL code")
        if not chapter:
            raise ValueError(f"line {line}: {code} has no chapter")
        if code in chapters:
            raise ValueError(f"line {line}: {code} listed twice")
        chapters[code] = chapter
    return NiclCatalogue(chapters)


@cache
def default_catalogue() -> NiclCatalogue:
    """The bundled catalogue (read once per process)."""
    path = resources.files("schemas").joinpath("reference/nicl_categories.csv")
    return parse_catalogue(path.read_text(encoding="utf-8"))
