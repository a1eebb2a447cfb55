"""Realistic-looking fake personal data for every personal-data field (``pii_free_text`` switch).

Numbers come from Ofcom's drama ranges (07700 900xxx, 01632 960xxx), emails from example domains,
streets and names from a small fixed list: plausible, never real people.
"""

from __future__ import annotations

import random
from functools import cache
from typing import Any

from schemas.envelope import pii_fields
from schemas.events import EVENT_MODELS

FIRST = ("Oliver", "Amelia", "Harry", "Isla", "Jack", "Ava", "Mohammed", "Priya", "Tomasz", "Grace")
LAST = ("Smith", "Jones", "Taylor", "Brown", "Khan", "Patel", "Nowak", "Evans", "Walker", "Wright")
STREETS = ("Mill Road", "Hills Road", "Lincoln Road", "High Street", "Station Road", "Church Lane")
TOWNS = ("Cambridge", "Peterborough", "Huntingdon", "Ely", "Wisbech", "St Neots", "March")
SNIPPETS = (
    "reports her ex-partner {name} is outside {address} banging on the door",
    "caller {name} on {phone} says youths are throwing stones at cars near {address}",
    "{name} states his van was broken into overnight at {address}, tools taken",
    "neighbour {name} ({phone}) concerned for elderly man at {address}, not seen for two days",
    "{name} reports threatening messages from {other}, email {email}",
)


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _address(rng: random.Random) -> str:
    return f"{rng.randrange(1, 180)} {rng.choice(STREETS)}, {rng.choice(TOWNS)} CB{rng.randrange(1, 25)} {rng.randrange(1, 9)}XY"


def _phone(rng: random.Random) -> str:
    return (
        f"07700 900{rng.randrange(1000):03d}" if rng.random() < 0.8 else f"01632 960{rng.randrange(1000):03d}"
    )


def _email(rng: random.Random) -> str:
    return f"{rng.choice(FIRST).lower()}.{rng.choice(LAST).lower()}{rng.randrange(100)}@example.com"


def fake_value(kind: str, leaf: str, rng: random.Random) -> Any:
    """A fake value for a personal-data field of ``kind`` (its name ``leaf`` picks lat / lon)."""
    if kind == "phone":
        return _phone(rng)
    if kind == "name":
        return _name(rng)
    if kind == "email":
        return _email(rng)
    if kind == "social_handle":
        return f"@{rng.choice(FIRST).lower()}_{rng.choice(LAST).lower()}{rng.randrange(100)}"
    if kind == "address":
        return _address(rng)
    if kind == "date_of_birth":
        return f"{rng.randrange(1940, 2010)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
    if kind == "location":
        return (
            round(52.2 + rng.random() * 0.5, 6) if leaf == "latitude" else round(-0.4 + rng.random() * 0.7, 6)
        )
    if kind in ("staff_id", "officer_id"):
        return f"{'CH' if kind == 'staff_id' else 'PC'}{rng.randrange(1000, 9999)}"
    text = rng.choice(SNIPPETS)
    return text.format(
        name=_name(rng), other=_name(rng), phone=_phone(rng), address=_address(rng), email=_email(rng)
    )


@cache
def personal_paths(event_type: str) -> tuple[tuple[tuple[str, ...], str], ...]:
    """``((path parts, kind), ...)`` of every personal-data field of ``event_type``."""
    model = EVENT_MODELS[event_type]
    return tuple((tuple(path.split(".")), marker.kind) for path, marker in pii_fields(model))


def fill_personal_fields(event: dict[str, Any], rng: random.Random) -> None:
    """Put fake personal data into every personal-data field of ``event`` (in place)."""
    for path, kind in personal_paths(event["type"]):
        obj = event
        for part in path[:-1]:
            obj = obj.setdefault(part, {})
        obj[path[-1]] = fake_value(kind, path[-1], rng)
