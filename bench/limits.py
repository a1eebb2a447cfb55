"""The "what limits it" paragraphs of BENCHMARKS.md, written from the profiles and figures of the
benchmark runs (re-read them when the figures move)."""

from __future__ import annotations

LIMITS: dict[str, list[str]] = {}
FIXES: list[str] = []
