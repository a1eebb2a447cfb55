"""The CloudEvents-style envelope shared by every event type, and the personal-data markers.

Contract:
- ``(source, id)`` identifies an event; a second copy of it is a duplicate and is harmless downstream.
- ``time`` is when the thing happened, timezone-aware, normalised to UTC with millisecond precision.
  All bucketing uses it (in the warehouse, when figures are read, in the calendar of
  ``definitions.timezone``).
- ``subject`` is the contact, incident or crime id and the Kafka key, so one entity stays ordered.
- Every other string field has a shape (``schemas/shapes.py``): a code pattern, or a reference-data
  value checked against the force's reference data.
- Personal data fields are declared with :data:`PII` metadata. Processors walk the model with
  :func:`pii_fields` and drop or pseudonymise every marked field before anything leaves them.
"""

from __future__ import annotations

import builtins
import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidatorFunctionWrapHandler, WrapValidator

from schemas.shapes import FORCE_ID_PATTERN as FORCE_ID_PATTERN
from schemas.shapes import IDENTIFIER_PATTERN, ForceId, Identifier, SourceCode, SpecVersion

ID_PATTERN = IDENTIFIER_PATTERN


class PiiTreatment(enum.StrEnum):
    """What a processor does with a personal-data field before the event leaves it."""

    DROP = "drop"  # free text, addresses, coordinates, names: removed
    PSEUDONYMISE = "pseudonymise"  # identifiers needed for linkage: keyed hash (HMAC-SHA256)


@dataclass(frozen=True)
class PII:
    """Field metadata: this field carries personal data of ``kind`` and gets ``treatment``."""

    kind: str
    treatment: PiiTreatment


def _iso_text_only(value: Any) -> Any:
    """A time is an ISO 8601 string (or a datetime): never a number, nor a string of digits, which
    pydantic would otherwise read as a Unix time (a phone number would become a date)."""
    if type(value) is str and ":" in value:
        return value  # the usual case, read from JSON: no number has a colon
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("a time must be an ISO 8601 string")
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    if isinstance(text, str) and _NUMERIC.fullmatch(text):
        raise ValueError("a time must be an ISO 8601 string")
    return value


_NUMERIC = re.compile(r"\s*[+-]?[0-9]+(\.[0-9]*)?\s*")


def _to_utc_ms(value: datetime) -> datetime:
    if value.utcoffset() == _NO_OFFSET:  # "Z" or +00:00 (most times): the same instant, UTC's tzinfo
        return value.replace(tzinfo=UTC, microsecond=(value.microsecond // 1000) * 1000)
    value = value.astimezone(UTC)
    return value.replace(microsecond=(value.microsecond // 1000) * 1000)


_NO_OFFSET = timedelta(0)


_UTC_MS_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{3})?(?:Z|\+00:00)"
)
"""The usual shape of a time on the wire: UTC, whole milliseconds, in the one ISO 8601 form both the
standard library and pydantic read alike."""


def _utc_time(value: Any, handler: ValidatorFunctionWrapHandler) -> datetime:
    """:func:`_iso_text_only`, pydantic's aware-datetime validation, then :func:`_to_utc_ms`; a string
    of the usual shape (:data:`_UTC_MS_TEXT`) that names a real instant is read directly (the same
    value: UTC's tzinfo, whole milliseconds), anything else takes the full path and its errors."""
    if type(value) is str and _UTC_MS_TEXT.fullmatch(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:  # e.g. February 30th: pydantic says why, below
            pass
        else:
            if parsed.tzinfo is UTC:
                return parsed
    return _to_utc_ms(handler(_iso_text_only(value)))


UtcTime = Annotated[AwareDatetime, WrapValidator(_utc_time)]
"""A timezone-aware instant, stored as UTC with millisecond precision (naive datetimes and numbers are
rejected)."""


def pii_field(kind: str, treatment: PiiTreatment, **kwargs: Any) -> Any:
    """Declare a personal-data field; the marker is also exported into the JSON Schema as ``x-pii``."""
    return Field(
        default=None,
        json_schema_extra={"x-pii": {"kind": kind, "treatment": treatment.value}},
        **kwargs,
    )


class Payload(BaseModel):
    """Base of every ``data`` payload: strict about unknown fields so typos are caught at the edge."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4096)


P = TypeVar("P", bound=Payload)


class Envelope(BaseModel):
    """Fields common to every event (CloudEvents 1.0 names plus ``force_id``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=4096)

    specversion: SpecVersion = "1.0"
    id: Identifier = Field(description="Unique within its source.")
    source: SourceCode = Field(
        description="Producing system, e.g. telephony, chat, cad, crime, portal, backfill.",
    )
    type: str = Field(description="Versioned event type, e.g. call.answered.v1.")
    time: UtcTime = Field(description="When it happened (event time), UTC.")
    force_id: ForceId = Field(description="Owning force.")
    subject: Identifier = Field(description="Contact, incident or crime id.")

    if TYPE_CHECKING:
        # Every event model (``schemas/events.py``) declares ``data`` as its own payload type; the base
        # states only that there is one. Narrow it with :meth:`payload`.
        @property
        def data(self) -> Payload: ...

    @property
    def dedup_key(self) -> tuple[str, str]:
        """The key under which copies of this event are one event."""
        return (self.source, self.id)

    def payload(self, kind: builtins.type[P]) -> P:
        """This event's payload as ``kind``; TypeError if the event carries another payload type."""
        data = self.data
        if not isinstance(data, kind):
            raise TypeError(f"{self.type} carries {type(data).__name__}, not {kind.__name__}")
        return data


def pii_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, PII]]:
    """Every personal-data field of ``model`` (recursing into nested models) as dotted paths."""
    found: list[tuple[str, PII]] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        marker = info.json_schema_extra
        if isinstance(marker, dict) and "x-pii" in marker:
            spec = marker["x-pii"]
            assert isinstance(spec, dict)
            found.append((path, PII(str(spec["kind"]), PiiTreatment(str(spec["treatment"])))))
            continue
        annotation = info.annotation
        for candidate in getattr(annotation, "__args__", (annotation,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                found.extend(pii_fields(candidate, prefix=f"{path}."))
    return found
