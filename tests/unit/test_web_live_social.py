"""The wallboard's social media section: shaped from ``live_social``, optional, failing alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from demandhub.queries.social import live_social
from demandhub.settings import Settings
from demandhub.web.live import LiveReaders, build_live_document, default_readers, fingerprint
from schemas.definitions import Definitions

pytestmark = pytest.mark.unit

NOW = datetime(2024, 6, 12, 21, 0, tzinfo=UTC)
RAW = {
    "waiting": 3,
    "oldest_age_seconds": 5400.0,
    "over_target": 1,
    "received_today": 40,
    "responded_today": 32,
    "within_target_today": 24,
    "abandoned_today": 2,
    "platforms": [{"platform": "facebook", "waiting": 2, "oldest_age_seconds": 5400.0}],
}


def readers(social: Any) -> LiveReaders:
    return LiveReaders(
        queues=lambda *a: [],
        incidents=lambda *a: [],
        qa=lambda *a: {"depth": 0},
        social=social,
        feeds=lambda *a: {},
    )


def test_the_social_section_carries_waiting_threads_the_oldest_and_the_target() -> None:
    settings = Settings(definitions=Definitions().with_overrides(["social.first_response_target_minutes=45"]))
    doc = build_live_document(None, settings, NOW, readers(lambda *a: RAW))  # type: ignore[arg-type]
    social = doc["social"]
    assert (social["waiting"], social["oldest_age_seconds"], social["over_target"]) == (3, 5400.0, 1)
    assert social["target_minutes"] == 45
    assert social["within_target_share_today"] == 0.75
    assert social["platforms"] == [{"platform": "facebook", "waiting": 2, "oldest_age_seconds": 5400.0}]
    assert "social" not in doc["errors"]


def test_no_first_response_today_has_no_share() -> None:
    raw = dict(RAW, responded_today=0, within_target_today=0)
    doc = build_live_document(None, Settings(), NOW, readers(lambda *a: raw))  # type: ignore[arg-type]
    assert doc["social"]["within_target_share_today"] is None


def test_a_failing_social_reader_blanks_only_its_section() -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("warehouse gone")

    doc = build_live_document(None, Settings(), NOW, readers(broken))  # type: ignore[arg-type]
    assert doc["social"] is None and doc["errors"] == {"social": "reader failed"}
    assert doc["qa"] is not None


def test_a_live_page_without_a_social_reader_does_not_start() -> None:
    with pytest.raises(TypeError, match="live readers missing for: social"):
        readers(None)


def test_the_default_readers_include_the_social_desk() -> None:
    assert default_readers(Settings()).social is live_social


def test_the_oldest_age_ticks_without_changing_the_fingerprint() -> None:
    later = dict(
        RAW, oldest_age_seconds=5460.0, platforms=[dict(RAW["platforms"][0], oldest_age_seconds=5460.0)]
    )
    one = build_live_document(None, Settings(), NOW, readers(lambda *a: RAW))  # type: ignore[arg-type]
    two = build_live_document(None, Settings(), NOW, readers(lambda *a: later))  # type: ignore[arg-type]
    three = build_live_document(None, Settings(), NOW, readers(lambda *a: dict(RAW, waiting=4)))  # type: ignore[arg-type]
    assert fingerprint(one) == fingerprint(two) != fingerprint(three)
