"""Incident events (DOMAIN 3.3): created, graded / regraded, resourced, attended, qualified, closed."""

from __future__ import annotations

import enum

from pydantic import Field

from schemas.envelope import Payload, PiiTreatment, pii_field
from schemas.shapes import CATEGORY_PATTERN as CATEGORY_PATTERN
from schemas.shapes import CategoryCode, Identifier, LocalCode, PlaceName, SnakeCode, reference_field


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


class Location(Payload):
    """Where the incident is. Only district, area, urban/rural and a coarse beat code are kept."""

    district: PlaceName = reference_field("district")
    area: PlaceName | None = reference_field("area", default=None)
    urban_rural: UrbanRural
    beat: LocalCode | None = Field(default=None, description="Coarse beat code.")
    address: str | None = pii_field("address", PiiTreatment.DROP)
    latitude: float | None = pii_field("location", PiiTreatment.DROP)
    longitude: float | None = pii_field("location", PiiTreatment.DROP)


class IncidentCreated(Payload):
    channel: IncidentChannel
    opening_category: CategoryCode = Field(description="NICL category code.")
    domestic_abuse: bool = Field(default=False, description="Domestic-abuse flag at opening.")
    contact_id: Identifier | None = None
    self_initiated: bool = False
    location: Location
    log_text: str | None = pii_field("free_text", PiiTreatment.DROP)


class IncidentGraded(Payload):
    grade: Grade
    force_code: LocalCode | None = Field(default=None, description="The force's own grade code.")


class IncidentRegraded(Payload):
    old_grade: Grade
    new_grade: Grade
    reason: SnakeCode | None = None


class IncidentResourceAssigned(Payload):
    resource_id: str | None = pii_field("officer_id", PiiTreatment.PSEUDONYMISE)


class IncidentResourceArrived(Payload):
    resource_id: str | None = pii_field("officer_id", PiiTreatment.PSEUDONYMISE)
    delay_reason: SnakeCode | None = None


class IncidentQualifierAdded(Payload):
    qualifier: Qualifier
    hate_strand: HateStrand | None = None


class IncidentQualifierRemoved(Payload):
    qualifier: Qualifier


class IncidentCancelled(Payload):
    reason: SnakeCode | None = None


class IncidentMergedAsDuplicate(Payload):
    duplicate_of: Identifier


class IncidentClosed(Payload):
    final_category: CategoryCode = Field(description="NICL category code.")
    closing_text: str | None = pii_field("free_text", PiiTreatment.DROP)


class IncidentReopened(Payload):
    reason: SnakeCode | None = None
