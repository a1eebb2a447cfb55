"""A benchmark's result: figures, the ratio against its same-run baseline, the target, the machine
and the exact command. Stored as ``bench/results/<name>.json``; BENCHMARKS.md is rendered from them.
``BENCH_RESULTS_DIR`` stores them elsewhere (a trial run that must not replace the published figures;
pair it with ``--out``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR") or Path(__file__).resolve().parent / "results")


@dataclass
class Figure:
    """One measured figure (``value`` in ``unit``) with a note on how it was taken."""

    label: str
    value: float | None
    unit: str
    note: str = ""


@dataclass
class Result:
    """What one benchmark measured in one run.

    ``ratio`` is the headline figure (``ratio_label`` says what over what), ``met`` whether the
    target held (None when the benchmark has no target or could not tell), ``limits`` the
    paragraphs of the "what limits it" section.
    """

    name: str
    title: str
    command: str
    machine: dict[str, Any]
    sizes: str
    figures: list[Figure]
    ratio: float | None
    ratio_label: str
    target: str
    met: bool | None
    limits: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    quick: bool = False

    def save(self, directory: Path = RESULTS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.name}.json"
        path.write_text(json.dumps(asdict(self), indent=1, default=str) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> Result:
        raw = json.loads(path.read_text())
        raw["figures"] = [Figure(**f) for f in raw.get("figures", [])]
        return cls(**raw)


def load_all(directory: Path = RESULTS_DIR) -> dict[str, Result]:
    """Every stored result by benchmark name."""
    if not directory.exists():
        return {}
    return {p.stem: Result.load(p) for p in sorted(directory.glob("*.json"))}
