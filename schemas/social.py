"""Social media contact events: message threads on a platform (DOMAIN 3.2, issue 22).

A thread moves: received -> [assigned] -> responded (the first response, then any further ones)
-> closed, by a handler with a disposition, or by the member of the public (a thread closed by
the public before any response is abandoned). The platform is reference data
(``schemas/reference/platforms.csv``), not a list in code. No message text and no account handle
is kept in clear: text fields are dropped and the handle is pseudonymised like a phone number.
"""

from __future__ import annotations

import enum

from pydantic import Field

from schemas.envelope import Payload, PiiTreatment, pii_field
from schemas.shapes import Identifier, PlaceName, PlatformCode, reference_field


class MessageKind(enum.StrEnum):
    """How the thread reached the force on the platform."""

    DIRECT_MESSAGE = "direct_message"
    PUBLIC_POST = "public_post"
    COMMENT = "comment"


class ClosedBy(enum.StrEnum):
    HANDLER = "handler"
    PUBLIC = "public"


class SocialDisposition(enum.StrEnum):
    INCIDENT_CREATED = "incident_created"
    CRIME_REPORTED = "crime_reported"
    INTELLIGENCE = "intelligence"
    ADVICE = "advice"
    NO_ACTION = "no_action"


class SocialReceived(Payload):
    """A new message thread reached the force's social media desk."""

    platform: PlatformCode = reference_field("platform", description="Platform, from reference data.")
    message_kind: MessageKind = MessageKind.DIRECT_MESSAGE
    district: PlaceName | None = reference_field(
        "district", default=None, description="District the contact concerns, if known (coarse)."
    )
    account_handle: str | None = pii_field("social_handle", PiiTreatment.PSEUDONYMISE)
    display_name: str | None = pii_field("name", PiiTreatment.DROP)
    message_text: str | None = pii_field("free_text", PiiTreatment.DROP)


class SocialAssigned(Payload):
    """The thread was assigned to a handler (again, when it is passed on)."""

    handler_id: str | None = pii_field("staff_id", PiiTreatment.PSEUDONYMISE)


class SocialResponded(Payload):
    """The force replied on the thread; the earliest reply is the first response."""

    handler_id: str | None = pii_field("staff_id", PiiTreatment.PSEUDONYMISE)
    response_text: str | None = pii_field("free_text", PiiTreatment.DROP)


class SocialClosed(Payload):
    """The thread was closed: by a handler with a disposition, or by the member of the public."""

    closed_by: ClosedBy = ClosedBy.HANDLER
    disposition: SocialDisposition
    incident_id: Identifier | None = Field(default=None, description="Incident created from the thread.")
    crime_id: Identifier | None = Field(default=None, description="Crime reported from the thread.")
    notes: str | None = pii_field("free_text", PiiTreatment.DROP)
