"""Personal data removal: pure functions, no I/O.

Every field marked with :class:`schemas.envelope.PII` is dropped (set to None) or replaced by a keyed
hash (HMAC-SHA256 with a per-force secret) before an event leaves the processor. The hash keeps
linkage (repeat callers) without the value; rotating the key breaks linkage across the rotation.
Malformed payloads that cannot be validated are scrubbed before they are dead-lettered: personal fields
by name, and every string that could carry personal data where no field says what it is (values under
unknown keys, long strings) replaced by a keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from functools import cache
from typing import Any

from schemas.envelope import Envelope, PiiTreatment, pii_fields
from schemas.events import EVENT_MODELS, parse_event

HASH_PREFIX = "h:"
MAX_SCRUBBED_STRING = 256
SAFE_UNKNOWN_STRING = re.compile(r"[A-Za-z0-9_.:+-]{0,64}")
"""Strings kept in clear under keys the contract does not know: codes, enum values, ids, ISO times.
No spaces (names, addresses, free text), no ``@`` (emails) and no run of five digits (phone numbers)."""
_DIGIT_RUN = re.compile(r"[0-9]{5}")


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """Stable pseudonym of ``value`` under ``key`` (same key and value give the same pseudonym)."""
    digest = hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
    return HASH_PREFIX + digest[:32]


@cache
def _paths(event_type: str) -> tuple[tuple[tuple[str, ...], str, PiiTreatment], ...]:
    model = EVENT_MODELS[event_type]
    return tuple((tuple(p.split(".")), m.kind, m.treatment) for p, m in pii_fields(model))


@cache
def pii_key_names() -> frozenset[str]:
    """Every field name that carries personal data in any event type (for scrubbing by name)."""
    return frozenset(path[-1] for t in EVENT_MODELS for path, _, _ in _paths(t))


def _apply(
    obj: dict[str, Any], path: tuple[str, ...], kind: str, treatment: PiiTreatment, key: bytes
) -> None:
    for part in path[:-1]:
        nxt = obj.get(part)
        if not isinstance(nxt, dict):
            return
        obj = nxt
    leaf = path[-1]
    value = obj.get(leaf)
    if value is None:
        return
    if treatment is PiiTreatment.PSEUDONYMISE and isinstance(value, str):
        if not value.startswith(HASH_PREFIX):
            obj[leaf] = keyed_hash(key, kind, value)
    else:
        obj[leaf] = None


def sanitise(event: Envelope, key: bytes) -> Envelope:
    """The event with every personal-data field dropped or pseudonymised (idempotent)."""
    paths = _paths(event.type)
    if not paths:
        return event
    raw = event.model_dump(mode="json")
    for path, kind, treatment in paths:
        _apply(raw, path, kind, treatment, key)
    return parse_event(raw)


@cache
def known_key_names() -> frozenset[str]:
    """Every field name of the envelope and of every payload model (recursively), personal or not."""
    from pydantic import BaseModel

    names: set[str] = set()
    pending: list[type[BaseModel]] = [Envelope, *EVENT_MODELS.values()]
    seen: set[type[BaseModel]] = set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            names.add(name)
            for candidate in (info.annotation, *getattr(info.annotation, "__args__", ())):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    pending.append(candidate)
    return frozenset(names)


def _safe_unknown(value: str) -> bool:
    return SAFE_UNKNOWN_STRING.fullmatch(value) is not None and not _DIGIT_RUN.search(value)


def _scrub(value: Any, key: bytes, depth: int = 0, known: bool = True) -> Any:
    """``known``: the value sits under keys the contract defines (else any string may be personal)."""
    if depth > 8:
        return "<nested too deep>"
    if isinstance(value, dict):
        names, fields = pii_key_names(), known_key_names()
        out: dict[str, Any] = {}
        for k, v in list(value.items())[:64]:
            k = str(k)[:64]
            if k in names:
                out[k] = keyed_hash(key, "scrubbed", json.dumps(v, default=str)) if v else None
            else:
                out[k] = _scrub(v, key, depth + 1, known and k in fields)
        return out
    if isinstance(value, list):
        return [_scrub(v, key, depth + 1, known) for v in value[:64]]
    if isinstance(value, str) and (
        len(value) > MAX_SCRUBBED_STRING or (not known and not _safe_unknown(value))
    ):
        return keyed_hash(key, "scrubbed", value)
    return value


def scrub_raw(raw: bytes, key: bytes) -> bytes:
    """A malformed message made safe to dead-letter: personal fields hashed by name; long strings,
    and strings under unknown keys that are not plainly codes, hashed; undecodable bytes replaced by
    their length and digest. Valid events stay valid (every
    personal field is optional)."""
    try:
        decoded = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return json.dumps(
            {"undecodable": True, "length": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
        ).encode()
    return json.dumps(_scrub(decoded, key, known=isinstance(decoded, dict)), ensure_ascii=False).encode()
