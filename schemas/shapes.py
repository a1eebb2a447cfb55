"""The shape of every string field of the contract, defined once and reused by every payload.

A string field is one of three things:

- a **code** with a length and character pattern (identifiers, force ids, reasons, beats, menus);
  every code starts with a letter and holds no spaces and no ``@``, so it cannot carry a name, an
  address, an email or a bare phone number;
- a **reference-data value** (districts, areas, queues): shaped here and, in the pipeline, checked
  against the force's reference data in ``schemas/reference/`` (unknown values are dead-lettered); such
  fields are declared with :func:`reference_field` and exported into the JSON Schema as ``x-reference``;
- a **personal field** (``schemas.envelope.pii_field``): dropped or pseudonymised before anything is kept.

Nothing else: free text that is not marked personal has no place in the contract.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from schemas.queues import QUEUES

IDENTIFIER_PATTERN = r"^[A-Za-z][A-Za-z0-9._:/-]{0,127}$"
"""Event, contact, incident and crime ids: a letter first (so never a bare phone number), then letters,
digits and ``. _ : / -``; at most 128 characters."""
FORCE_ID_PATTERN = r"^[a-z][a-z0-9_-]{1,31}$"
SOURCE_PATTERN = r"^[a-z][a-z0-9._-]{0,63}$"
SNAKE_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
"""Lower-case codes from a source's own list (dispositions, reasons): a letter, then ``a-z 0-9 _``."""
SHORT_SNAKE_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
MENU_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"
LOCAL_CODE_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,15}$"
"""Short force-local codes (beats, force grade codes): a letter, then letters, digits, ``_ -``."""
PLACE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9 ._'&()-]{0,63}$"
"""The shape of a district or area name; whether it is one is decided by the reference data."""
QUEUE_PATTERN = rf"^({'|'.join(QUEUES)}|x-[a-z][a-z0-9-]{{0,31}})$"
"""Canonical contact queues, or a force-specific ``x-`` queue listed in ``schemas/reference/queues.csv``."""
QA_QUEUE_PATTERN = SHORT_SNAKE_CODE_PATTERN
CATEGORY_PATTERN = r"^[A-Z][A-Z0-9_]{1,47}$"
"""NICL category codes."""
OFFENCE_CODE_PATTERN = r"^[0-9]{1,3}[A-Z]?(/[0-9]{1,2})?$"
"""Home Office offence codes (at most three digits: never a phone number)."""
SPECVERSION_PATTERN = r"^1\.0$"
PLATFORM_PATTERN = SHORT_SNAKE_CODE_PATTERN
"""Social media platform codes; which platforms a force serves is reference data
(``schemas/reference/platforms.csv``)."""

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN, max_length=128)]
ForceId = Annotated[str, StringConstraints(pattern=FORCE_ID_PATTERN, max_length=32)]
SourceCode = Annotated[str, StringConstraints(pattern=SOURCE_PATTERN, max_length=64)]
SnakeCode = Annotated[str, StringConstraints(pattern=SNAKE_CODE_PATTERN, max_length=64)]
ShortSnakeCode = Annotated[str, StringConstraints(pattern=SHORT_SNAKE_CODE_PATTERN, max_length=32)]
MenuCode = Annotated[str, StringConstraints(pattern=MENU_PATTERN, max_length=64)]
LocalCode = Annotated[str, StringConstraints(pattern=LOCAL_CODE_PATTERN, max_length=16)]
PlaceName = Annotated[str, StringConstraints(pattern=PLACE_NAME_PATTERN, max_length=64)]
QueueCode = Annotated[str, StringConstraints(pattern=QUEUE_PATTERN, max_length=34)]
QaQueueCode = Annotated[str, StringConstraints(pattern=QA_QUEUE_PATTERN, max_length=32)]
CategoryCode = Annotated[str, StringConstraints(pattern=CATEGORY_PATTERN, max_length=48)]
OffenceCode = Annotated[str, StringConstraints(pattern=OFFENCE_CODE_PATTERN, max_length=8)]
SpecVersion = Annotated[str, StringConstraints(pattern=SPECVERSION_PATTERN, max_length=3)]
PlatformCode = Annotated[str, StringConstraints(pattern=PLATFORM_PATTERN, max_length=32)]

REFERENCE_KINDS = ("district", "area", "queue", "qa_queue", "platform")
"""What a reference-data field holds; the pipeline checks each kind against the force's reference data."""


def reference_field(kind: str, **kwargs: Any) -> Any:
    """Declare a reference-data field; exported into the JSON Schema as ``x-reference``."""
    if kind not in REFERENCE_KINDS:
        raise ValueError(f"unknown reference kind {kind!r}")
    return Field(json_schema_extra={"x-reference": kind}, **kwargs)


def reference_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str]]:
    """Every reference-data field of ``model`` (recursing into nested models) as (dotted path, kind)."""
    found: list[tuple[str, str]] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        marker = info.json_schema_extra
        if isinstance(marker, dict) and "x-reference" in marker:
            found.append((path, str(marker["x-reference"])))
            continue
        annotation = info.annotation
        for candidate in getattr(annotation, "__args__", (annotation,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                found.extend(reference_fields(candidate, prefix=f"{path}."))
    return found
