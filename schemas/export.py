"""Export the JSON Schemas of the contract and check them for drift and backward compatibility.

``schemas/jsonschema/<type>.json`` is the published contract. :func:`check_exported` reports:
- drift: a model whose schema differs from its exported file (run `demandhub schemas export`);
- incompatibility with the exported file: a type removed, a field removed, a new required field,
  a field whose type changed, or enum values removed. Such a change needs a new event version
  (``.v2``) instead.

Constraints on a value (pattern, length) are not compared. Tightening them refuses values a producer
may send, so it is allowed in a version only as a fix: the shapes of ``schemas/shapes.py`` (issue 13)
refuse free text, names and phone numbers in fields that were always meant to carry codes, identifiers
or reference data; every golden example and every simulated event still validates (tests/unit/test_shapes.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.events import json_schemas

EXPORT_DIR = Path(__file__).parent / "jsonschema"
Shape = dict[str, tuple[frozenset[str], frozenset[str], bool]]


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def export_all(directory: Path = EXPORT_DIR) -> list[Path]:
    """Write one file per event type; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type, schema in json_schemas().items():
        path = directory / f"{event_type}.json"
        path.write_text(_dump(schema))
        written.append(path)
    return written


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs[node["$ref"].split("/")[-1]]
    return node


def _variants(node: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    node = _resolve(node, defs)
    options = node.get("anyOf") or node.get("oneOf")
    if options:
        return [v for opt in options for v in _variants(opt, defs)]
    return [node]


def shape(schema: dict[str, Any]) -> Shape:
    """Field path -> (JSON types, enum values, required) for every field, nested models included."""
    defs = schema.get("$defs", {})
    out: Shape = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        required = set(node.get("required", []))
        for name, prop in node.get("properties", {}).items():
            path = f"{prefix}{name}"
            variants = _variants(prop, defs)
            types = frozenset(str(v.get("type", "object" if "properties" in v else "any")) for v in variants)
            enums = frozenset(
                str(e) for v in variants for e in v.get("enum", [v["const"]] if "const" in v else [])
            )
            out[path] = (types, enums, name in required)
            for v in variants:
                if "properties" in v:
                    walk(v, f"{path}.")

    walk(_resolve(schema, defs), "")
    return out


def incompatibilities(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Why ``new`` would break a consumer or producer written against ``old`` (empty: compatible)."""
    before, after = shape(old), shape(new)
    problems = []
    for path, (types, enums, _required) in before.items():
        if path not in after:
            problems.append(f"field {path} removed")
            continue
        new_types, new_enums, _ = after[path]
        if not types <= new_types and "any" not in new_types:
            problems.append(f"field {path} changed type {sorted(types)} -> {sorted(new_types)}")
        if enums and not enums <= new_enums and new_enums:
            problems.append(f"field {path} lost values {sorted(enums - new_enums)}")
    for path, (_types, _enums, required) in after.items():
        if required and path not in before:
            problems.append(f"new required field {path}")
        elif required and not before[path][2]:
            problems.append(f"field {path} became required")
    return problems


def check_exported(directory: Path = EXPORT_DIR) -> list[str]:
    """Every drift and incompatibility between the models and the exported files."""
    current = json_schemas()
    problems = []
    exported = {p.name.removesuffix(".json"): p for p in directory.glob("*.json")}
    for event_type, path in sorted(exported.items()):
        old = json.loads(path.read_text())
        if event_type not in current:
            problems.append(f"{event_type}: type removed (retire it explicitly with a new version)")
            continue
        for why in incompatibilities(old, current[event_type]):
            problems.append(f"{event_type}: incompatible change: {why}")
        if _dump(current[event_type]) != path.read_text():
            problems.append(f"{event_type}: schema changed; run `demandhub schemas export`")
    for event_type in sorted(set(current) - set(exported)):
        problems.append(f"{event_type}: not exported; run `demandhub schemas export`")
    return problems
