"""Personal data removal: pure functions, no I/O.

Every field marked with :class:`schemas.envelope.PII` is dropped (set to None) or replaced by a keyed
hash (HMAC-SHA256 with a per-force secret) before an event leaves the processor. The hash keeps
linkage (repeat callers) without the value; rotating the key breaks linkage across the rotation.

Malformed payloads that cannot be validated are scrubbed by allow-list before they are dead-lettered
(:func:`scrub_raw`): a value stays in clear only where the contract defines that field and the value
has the field's shape (a code matching its pattern, an enum value, a time, a number in range, a
reference-data value the reference data lists). Everything else, personal fields included, is replaced
by a keyed hash, and so is every key name the contract does not define.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import BaseModel

from schemas.envelope import FORCE_ID_PATTERN, Envelope, PiiTreatment, pii_fields
from schemas.events import EVENT_MODELS, json_schemas, parse_event
from streams.domain.reference import default_reference

HASH_PREFIX = "h:"
MAX_SCRUBBED_ITEMS = 64
MAX_SCRUBBED_DEPTH = 8
MAX_TIME_STRING = 64
_FORCE_ID = re.compile(FORCE_ID_PATTERN)


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """Stable pseudonym of ``value`` under ``key`` (same key and value give the same pseudonym)."""
    digest = hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()
    return HASH_PREFIX + digest[:32]


@cache
def _paths(event_type: str) -> tuple[tuple[tuple[str, ...], str, PiiTreatment], ...]:
    model = EVENT_MODELS[event_type]
    return tuple((tuple(p.split(".")), m.kind, m.treatment) for p, m in pii_fields(model))


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


def _treated(value: Any, kind: str, treatment: PiiTreatment, key: bytes) -> Any:
    """The value a personal field holds once treated (the rule of :func:`_apply`)."""
    if value is None:
        return None
    if treatment is PiiTreatment.PSEUDONYMISE and isinstance(value, str):
        return value if value.startswith(HASH_PREFIX) else keyed_hash(key, kind, value)
    return None


_Plan = dict[str, "tuple[str, PiiTreatment] | _Plan"]


@cache
def _plan(event_type: str) -> _Plan:
    """The personal fields of ``event_type`` as a tree of field names (leaf: kind and treatment)."""
    tree: _Plan = {}
    for path, kind, treatment in _paths(event_type):
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            assert isinstance(child, dict)
            node = child
        node[path[-1]] = (kind, treatment)
    return tree


def _copy_treated(model: BaseModel, plan: _Plan, key: bytes) -> BaseModel:
    """``model`` with the personal fields of ``plan`` treated; unchanged models are not copied."""
    update: dict[str, Any] = {}
    for name, step in plan.items():
        value = getattr(model, name, None)
        if value is None:  # nothing to treat (a treated None stays None)
            continue
        if isinstance(step, tuple):
            treated = _treated(value, step[0], step[1], key)
        elif isinstance(value, BaseModel):
            treated = _copy_treated(value, step, key)
        else:  # a shape the walk cannot follow: the slow path decides, as strictly as before
            raise _Unfollowable(name)
        if treated is not value:
            update[name] = treated
    return _copied(model, update) if update else model


_setattr = object.__setattr__


def _copied(model: BaseModel, update: dict[str, Any]) -> BaseModel:
    """``model.model_copy(update=update)`` (pydantic 2's shallow copy: the field values' dict copied
    and updated, the fields set joined with the updated names, no validation) for a model without
    extra or private values, as every model of the contract is (``extra="forbid"``, no private
    attributes), without the generic copying of those; any other model is copied by ``model_copy``."""
    if model.__pydantic_extra__ is not None or getattr(model, "__pydantic_private__", None) is not None:
        return model.model_copy(update=update)
    cls = type(model)
    copied = cls.__new__(cls)
    values = model.__dict__.copy()
    values.update(update)
    _setattr(copied, "__dict__", values)
    _setattr(copied, "__pydantic_extra__", None)
    _setattr(copied, "__pydantic_fields_set__", model.__pydantic_fields_set__ | update.keys())
    _setattr(copied, "__pydantic_private__", None)
    return copied


class _Unfollowable(Exception):
    """A personal field sits below a value that is not a nested model (e.g. a list of models)."""


def _revalidated(event: Envelope, key: bytes) -> Envelope:
    """De-identification by dumping, treating and validating again (the reference rule)."""
    raw = event.model_dump(mode="json")
    for path, kind, treatment in _paths(event.type):
        _apply(raw, path, kind, treatment, key)
    return parse_event(raw)


def sanitise(event: Envelope, key: bytes) -> Envelope:
    """The event with every personal-data field dropped or pseudonymised (idempotent).

    The event was validated when it was parsed; only its personal fields change (to None or to a
    keyed hash, which every personal field accepts: each is optional and a hash is a short string),
    so they are replaced on copies of the models that hold them (``model_copy``) rather than by
    dumping and validating the whole event again. Equal to :func:`_revalidated` for every event."""
    plan = _plan(event.type)
    if not plan:
        return event
    try:
        clean = _copy_treated(event, plan, key)
    except _Unfollowable:
        return _revalidated(event, key)
    assert isinstance(clean, Envelope)
    return clean


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


Node = tuple[dict[str, Any], ...]
"""The contract's schema nodes that may describe a value (several when the event type is unknown);
empty: the contract defines no field here."""


@cache
def _schemas() -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """(schema per event type, every ``$defs`` entry, the schema of an event of unknown type)."""
    per_type = json_schemas()
    defs: dict[str, Any] = {}
    for schema in per_type.values():
        defs.update(schema.get("$defs", {}))
    envelope = Envelope.model_json_schema()
    props = dict(envelope["properties"], type={"type": "string", "enum": sorted(per_type)})
    props["data"] = {"anyOf": [s["properties"]["data"] for s in per_type.values()]}
    return per_type, defs, {"type": "object", "properties": props}


def _variants(nodes: Node) -> list[dict[str, Any]]:
    """The concrete alternatives of ``nodes``: references resolved, ``anyOf`` / ``oneOf`` expanded."""
    defs = _schemas()[1]
    out: list[dict[str, Any]] = []
    pending = list(nodes)
    while pending:
        node = pending.pop(0)
        if "$ref" in node:
            pending.append(defs[str(node["$ref"]).rsplit("/", 1)[-1]])
        elif "anyOf" in node or "oneOf" in node:
            pending.extend(node.get("anyOf") or node.get("oneOf") or [])
        else:
            out.append(node)
    return out


def _is_time(value: str) -> bool:
    if len(value) > MAX_TIME_STRING:
        return False
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return False
    return parsed.tzinfo is not None


def _in_bounds(value: float, node: dict[str, Any]) -> bool:
    checks: tuple[tuple[str, Callable[[float], bool]], ...] = (
        ("minimum", lambda b: value >= b),
        ("maximum", lambda b: value <= b),
        ("exclusiveMinimum", lambda b: value > b),
        ("exclusiveMaximum", lambda b: value < b),
    )
    return all(test(node[name]) for name, test in checks if name in node)


def _fits(value: Any, node: dict[str, Any]) -> bool:
    """Whether a scalar ``value`` has the exact shape one schema alternative gives the field."""
    if "const" in node:
        return bool(value == node["const"] and type(value) is type(node["const"]))
    if "enum" in node:
        return isinstance(value, str | int) and not isinstance(value, bool) and value in node["enum"]
    kind = node.get("type")
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("integer", "number"):
        numeric = int if kind == "integer" else int | float
        return isinstance(value, numeric) and not isinstance(value, bool) and _in_bounds(value, node)
    if kind == "string" and isinstance(value, str):
        if "maxLength" in node and len(value) > int(node["maxLength"]):
            return False
        if node.get("format") == "date-time":
            return _is_time(value)
        pattern = node.get("pattern")
        return pattern is not None and re.fullmatch(str(pattern), value) is not None
    return False


def _kept(value: Any, nodes: Node, force_id: str | None) -> bool:
    """A scalar stays in clear only if the contract gives the field a shape and the value has it; a
    reference-data field also needs a value the reference data lists."""
    kinds = {str(n["x-reference"]) for n in nodes if "x-reference" in n}
    if not any(_fits(value, v) for v in _variants(nodes)):
        return False
    if kinds and isinstance(value, str):
        return any(default_reference().knows_anywhere(k, value, force_id) for k in kinds)
    return True


def _hashed(value: Any, key: bytes) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return keyed_hash(key, "scrubbed", text)


def _scrub(value: Any, nodes: Node, key: bytes, force_id: str | None, depth: int = 0) -> Any:
    if depth > MAX_SCRUBBED_DEPTH:
        return "<nested too deep>"
    if any("x-pii" in n for n in nodes):
        return _hashed(value, key) if value else None
    if isinstance(value, dict):
        props: dict[str, list[dict[str, Any]]] = {}
        for variant in _variants(nodes):
            for name, prop in variant.get("properties", {}).items():
                props.setdefault(name, []).append(prop)
        out: dict[str, Any] = {}
        for k, v in list(value.items())[:MAX_SCRUBBED_ITEMS]:
            if k in props:
                out[k] = _scrub(v, tuple(props[k]), key, force_id, depth + 1)
            else:
                out[keyed_hash(key, "scrubbed_key", str(k))] = _scrub(v, (), key, force_id, depth + 1)
        return out
    if isinstance(value, list):
        items = tuple(v["items"] for v in _variants(nodes) if v.get("type") == "array" and "items" in v)
        return [_scrub(v, items, key, force_id, depth + 1) for v in value[:MAX_SCRUBBED_ITEMS]]
    if value is None or isinstance(value, bool) or _kept(value, nodes, force_id):
        return value
    return _hashed(value, key)


def scrub_raw(raw: bytes, key: bytes) -> bytes:
    """A refused message made safe to dead-letter, by allow-list: values stay in clear only where the
    contract defines the field and the value has its shape (see the module docstring); any other value,
    every personal field and every key name the contract does not define become keyed hashes; bytes
    that are not UTF-8 JSON are replaced by their length and digest. A valid event stays valid (every
    personal field is optional and every kept value is one the contract accepts)."""
    try:
        decoded = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return json.dumps(
            {"undecodable": True, "length": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
        ).encode()
    nodes: Node = ()
    force_id: str | None = None
    if isinstance(decoded, dict):
        per_type, _defs, unknown = _schemas()
        event_type = decoded.get("type")
        nodes = (
            (per_type[event_type],) if isinstance(event_type, str) and event_type in per_type else (unknown,)
        )
        force = decoded.get("force_id")
        force_id = force if isinstance(force, str) and _FORCE_ID.fullmatch(force) else None
    return json.dumps(_scrub(decoded, nodes, key, force_id), ensure_ascii=False).encode()
