"""Crime-recording events (DOMAIN 3.4): reported, recorded, reclassified, cancelled, QA/Linking, outcomes."""

from __future__ import annotations

import enum

from pydantic import Field

from schemas.envelope import Payload, PiiTreatment, UtcTime, pii_field
from schemas.incidents import HateStrand

OFFENCE_CODE_PATTERN = r"^[0-9]{1,3}[A-Z]?(/[0-9]{1,2})?$"


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
    incident_id: str | None = Field(default=None, max_length=128)
    online_report_id: str | None = Field(default=None, max_length=128)
    contact_id: str | None = Field(default=None, max_length=128)
    victim_name: str | None = pii_field("name", PiiTreatment.DROP)
    victim_dob: str | None = pii_field("date_of_birth", PiiTreatment.DROP)
    narrative: str | None = pii_field("free_text", PiiTreatment.DROP)


class CrimeRecorded(Payload):
    offence_code: str = Field(pattern=OFFENCE_CODE_PATTERN, description="Home Office offence code.")
    flags: CrimeFlags = CrimeFlags()
    district: str = Field(max_length=64)
    area: str | None = Field(default=None, max_length=64)
    occurred_at: UtcTime | None = None
    suspect_name: str | None = pii_field("name", PiiTreatment.DROP)
    address: str | None = pii_field("address", PiiTreatment.DROP)


class CrimeReclassified(Payload):
    offence_code: str = Field(pattern=OFFENCE_CODE_PATTERN)
    flags: CrimeFlags | None = None


class CrimeCancelled(Payload):
    reason: str | None = Field(default=None, max_length=64, pattern=r"^[a-z0-9_]+$")


class CrimeTransferred(Payload):
    to_force: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,31}$")


class CrimeQaQueueEntered(Payload):
    queue: str = Field(default="qa_linking", pattern=r"^[a-z0-9_]{1,32}$")


class CrimeQaQueueExited(Payload):
    queue: str = Field(default="qa_linking", pattern=r"^[a-z0-9_]{1,32}$")


class OffenderAgeBand(enum.StrEnum):
    ADULT = "adult"
    YOUTH = "youth"


class CrimeOutcomeAssigned(Payload):
    outcome_type: int = Field(ge=1, le=22, description="Home Office outcome type.")
    subtype: str | None = Field(default=None, max_length=32, pattern=r"^[a-z0-9_]+$")
    offender_age_band: OffenderAgeBand | None = None
    offender_name: str | None = pii_field("name", PiiTreatment.DROP)


class CrimeOutcomeChanged(Payload):
    outcome_type: int = Field(ge=1, le=22)
    subtype: str | None = Field(default=None, max_length=32, pattern=r"^[a-z0-9_]+$")
    offender_age_band: OffenderAgeBand | None = None
