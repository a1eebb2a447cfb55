"""Most similar forces: effective-dated peer groups per force (``msf.toml``).

:meth:`MsfConfig.peers` returns the peers of a force for a month: the configured group in effect
(``from <= month <= to``; the latest ``from`` wins when groups overlap), or, when none is in effect,
every other force present in the warehouse. The home force is never its own peer.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from demandhub.board.maths.months import YearMonth


@dataclass(frozen=True)
class PeerGroup:
    force: str
    first: YearMonth
    last: YearMonth | None
    peers: tuple[str, ...]

    def covers(self, month: YearMonth) -> bool:
        return self.first <= month and (self.last is None or month <= self.last)


@dataclass(frozen=True)
class MsfConfig:
    groups: tuple[PeerGroup, ...]
    digest: str

    def peers(self, force: str, month: YearMonth, present: Iterable[str]) -> tuple[str, ...]:
        """Peer forces of ``force`` for ``month`` (see the module docstring), sorted."""
        effective = [g for g in self.groups if g.force == force and g.covers(month)]
        if effective:
            chosen = max(effective, key=lambda g: g.first)
            return tuple(sorted(p for p in chosen.peers if p != force))
        return tuple(sorted({p for p in present if p != force}))

    def as_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.digest,
            "groups": [
                {
                    "force": g.force,
                    "from": str(g.first),
                    "to": None if g.last is None else str(g.last),
                    "peers": list(g.peers),
                }
                for g in self.groups
            ],
            "default": "every other force present in the warehouse",
        }


@lru_cache(maxsize=8)
def parse_msf(text: str) -> MsfConfig:
    """Parse ``msf.toml`` text; ValueError on a malformed group. Immutable: the same text gives the
    same object (parsed once per process)."""
    data = tomllib.loads(text)
    groups = []
    for entry in data.get("group", []):
        try:
            last = entry.get("to")
            group = PeerGroup(
                force=str(entry["force"]),
                first=YearMonth.from_str(str(entry["from"])),
                last=None if last is None else YearMonth.from_str(str(last)),
                peers=tuple(str(p) for p in entry["peers"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"msf.toml: group needs force, from and peers ({exc})") from exc
        if group.last is not None and group.last < group.first:
            raise ValueError(f"msf.toml: group for {group.force} ends before it starts")
        groups.append(group)
    return MsfConfig(tuple(groups), hashlib.sha256(text.encode()).hexdigest())


def load_msf(path: Path | None = None) -> MsfConfig:
    """The peer groups at ``path`` (default: the packaged ``msf.toml``)."""
    default = Path(str(resources.files("demandhub.board.catalogue") / "msf.toml"))
    return parse_msf((path or default).read_text())
