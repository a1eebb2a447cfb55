"""Incident events (DOMAIN 3.3): created, graded / regraded, resourced, attended, qualified, closed."""

from __future__ import annotations

import enum

from pydantic import Field

from schemas.envelope import Payload, PiiTreatment, pii_field


class Grade(enum.StrEnum):
    """Canonical grades; force codes are mapped onto these at the edge."""

    IMMEDIATE = "IMMEDIATE"
    PRIORITY = "PRIORITY"  # "prompt" in the board papers
    SCHEDULED = "SCHEDULED"
    RWD = "RWD"  # resolution without deployment


class UrbanRural(enum.StrEnum):
    URBAN = "urban"
    RURAL = "rural"


class IncidentChannel(enum.StrEnum):
    C999 = "999"
    C101 = "101"
    WEBCHAT = "webchat"
    ONLINE = "online"
    SELF_INITIATED = "self_initiated"
    OTHER = "other"


class Qualifier(enum.StrEnum):
    MENTAL_HEALTH = "mental_health"
    DOMESTIC_ABUSE = "domestic_abuse"
    ASB = "asb"
    HATE = "hate"
    MISSING_PERSON = "missing_person"
    CHILD_PROTECTION = "child_protection"
    OTHER = "other"


class HateStrand(enum.StrEnum):
    RACE = "race"
    RELIGION = "religion"
    SEXUAL_ORIENTATION = "sexual_orientation"
    DISABILITY = "disability"
    TRANSGENDER = "transgender"


CATEGORY_PATTERN = r"^[A-Z][A-Z0-9_]{1,47}$"


class Location(Payload):
    """Where the incident is. Only district, area, urban/rural and a coarse beat code are kept."""

    district: str = Field(max_length=64)
    area: str | None = Field(default=None, max_length=64)
    urban_rural: UrbanRural
    beat: str | None = Field(default=None, max_length=16, description="Coarse beat code.")
    address: str | None = pii_field("address", PiiTreatment.DROP)
    latitude: float | None = pii_field("location", PiiTreatment.DROP)
    longitude: float | None = pii_field("location", PiiTreatment.DROP)


class IncidentCreated(Payload):
    channel: IncidentChannel
    opening_category: str = Field(pattern=CATEGORY_PATTERN, description="NICL category code.")
    domestic_abuse: bool = Field(default=False, description="Domestic-abuse flag at opening.")
    contact_id: str | None = Field(default=None, max_length=128)
    self_initiated: bool = False
    location: Location
    log_text: str | None = pii_field("free_text", PiiTreatment.DROP)


class IncidentGraded(Payload):
    grade: Grade
    force_code: str | None = Field(default=None, max_length=16)


class IncidentRegraded(Payload):
    old_grade: Grade
    new_grade: Grade
    reason: str | None = Field(default=None, max_length=64, pattern=r"^[a-z0-9_]+$")


class IncidentResourceAssigned(Payload):
    resource_id: str | None = pii_field("officer_id", PiiTreatment.PSEUDONYMISE)


class IncidentResourceArrived(Payload):
    resource_id: str | None = pii_field("officer_id", PiiTreatment.PSEUDONYMISE)
    delay_reason: str | None = Field(default=None, max_length=64, pattern=r"^[a-z0-9_]+$")


class IncidentQualifierAdded(Payload):
    qualifier: Qualifier
    hate_strand: HateStrand | None = None


class IncidentQualifierRemoved(Payload):
    qualifier: Qualifier


class IncidentCancelled(Payload):
    reason: str | None = Field(default=None, max_length=64, pattern=r"^[a-z0-9_]+$")


class IncidentMergedAsDuplicate(Payload):
    duplicate_of: str = Field(max_length=128)


class IncidentClosed(Payload):
    final_category: str = Field(pattern=CATEGORY_PATTERN, description="NICL category code.")
    closing_text: str | None = pii_field("free_text", PiiTreatment.DROP)


class IncidentReopened(Payload):
    reason: str | None = Field(default=None, max_length=64, pattern=r"^[a-z0-9_]+$")
