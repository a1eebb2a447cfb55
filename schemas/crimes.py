"""Crime-recording events (DOMAIN 3.4): reported, recorded, reclassified, cancelled, QA/Linking, outcomes."""

from __future__ import annotations

import enum

from pydantic import Field

from schemas.envelope import Payload, PiiTreatment, UtcTime, pii_field
from schemas.incidents import HateStrand
from schemas.shapes import OFFENCE_CODE_PATTERN as OFFENCE_CODE_PATTERN
from schemas.shapes import (
    ForceId,
    Identifier,
    OffenceCode,
    PlaceName,
    QaQueueCode,
    ShortSnakeCode,
    SnakeCode,
    reference_field,
)


class CrimeFlags(Payload):
    domestic_abuse: bool = False
    hate_strands: tuple[HateStrand, ...] = ()
    cyber: bool = False
    rural: bool = False
    modern_slavery: bool = False


class CrimeReported(Payload):
    first_reported_at: UtcTime | None = Field(
        default=None, description="When the matter was first reported, if earlier than the event."
    )
    incident_id: Identifier | None = None
    online_report_id: Identifier | None = None
    contact_id: Identifier | None = None
    victim_name: str | None = pii_field("name", PiiTreatment.DROP)
    victim_dob: str | None = pii_field("date_of_birth", PiiTreatment.DROP)
    narrative: str | None = pii_field("free_text", PiiTreatment.DROP)


class CrimeRecorded(Payload):
    offence_code: OffenceCode = Field(description="Home Office offence code.")
    flags: CrimeFlags = CrimeFlags()
    district: PlaceName = reference_field("district")
    area: PlaceName | None = reference_field("area", default=None)
    occurred_at: UtcTime | None = None
    suspect_name: str | None = pii_field("name", PiiTreatment.DROP)
    address: str | None = pii_field("address", PiiTreatment.DROP)


class CrimeReclassified(Payload):
    offence_code: OffenceCode
    flags: CrimeFlags | None = None


class CrimeCancelled(Payload):
    reason: SnakeCode | None = None


class CrimeTransferred(Payload):
    to_force: ForceId


class CrimeQaQueueEntered(Payload):
    queue: QaQueueCode = reference_field("qa_queue", default="qa_linking")


class CrimeQaQueueExited(Payload):
    queue: QaQueueCode = reference_field("qa_queue", default="qa_linking")


class OffenderAgeBand(enum.StrEnum):
    ADULT = "adult"
    YOUTH = "youth"


class CrimeOutcomeAssigned(Payload):
    outcome_type: int = Field(ge=1, le=22, description="Home Office outcome type.")
    subtype: ShortSnakeCode | None = None
    offender_age_band: OffenderAgeBand | None = None
    offender_name: str | None = pii_field("name", PiiTreatment.DROP)


class CrimeOutcomeChanged(Payload):
    outcome_type: int = Field(ge=1, le=22)
    subtype: ShortSnakeCode | None = None
    offender_age_band: OffenderAgeBand | None = None
