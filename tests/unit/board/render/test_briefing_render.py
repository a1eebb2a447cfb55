"""The briefing in the HTML pack (the same page the PDF is typeset from), and the revisions page
before anything was published."""

from __future__ import annotations

import dataclasses

import pytest

from demandhub.board.render.html import page_html
from demandhub.board.report import BoardReport
from tests.unit.board.render.test_render import report  # noqa: F401  (the module's pack fixture)

pytestmark = pytest.mark.unit


def test_the_narrative_section_prints_the_briefing(report: BoardReport) -> None:  # noqa: F811
    briefing = report.data["briefing"]
    assert briefing["summary"], "the fixture's March 2019 has significant rows"
    html = page_html(report)
    section = html[
        html.index('<section id="narrative"') : html.index("</section>", html.index('id="narrative"'))
    ]
    assert '<ul class="narrative">' not in section  # not the flat list of every sentence
    assert briefing["as_of_note"] in section
    assert briefing["as_of_note"].startswith("Pack month: March 2019.")
    first = briefing["summary"][0]
    assert first["text"].replace("'", "&#39;") in section
    assert 'id="note-1"' in section
    for paragraph in briefing["paragraphs"]:
        assert f"<h3>{paragraph['theme']}</h3>" in section


def test_revisions_say_nothing_published_yet_when_nothing_was(report: BoardReport) -> None:  # noqa: F811
    never = dataclasses.replace(report, data={**report.data, "ever_published": False, "revisions": []})
    assert "Nothing published yet" in page_html(never)
    assert "No published figure has changed" not in page_html(never)
    once = dataclasses.replace(report, data={**report.data, "ever_published": True, "revisions": []})
    assert "No published figure has changed since it was published." in page_html(once)


def test_force_display_name_from_reference_data() -> None:
    from demandhub.board.catalogue.forces import display_name, force_names

    assert display_name("cambs") == "Cambridgeshire Constabulary"
    assert display_name("cambs", "Cambs Police") == "Cambs Police"  # DEMANDHUB_FORCE_NAME wins
    assert display_name("nowhere") == "nowhere"
    assert len(force_names()) == 43
