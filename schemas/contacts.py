"""Contact events: 999 and 101 calls, web chat, online reports (DOMAIN 3.2).

A call moves: offered -> [ivr] -> queued(primary) -> answered | abandoned(stage)
-> [transferred -> queued(secondary) -> answered | abandoned(stage)] -> ended.
"""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import Field

from schemas.envelope import Payload, PiiTreatment, UtcTime, pii_field
from schemas.queues import Queue as Queue
from schemas.shapes import QUEUE_PATTERN as QUEUE_PATTERN
from schemas.shapes import Identifier, MenuCode, PlaceName, QueueCode, SnakeCode, reference_field


class CallChannel(enum.StrEnum):
    EMERGENCY_999 = "999"
    NON_EMERGENCY_101 = "101"


class ContactChannel(enum.StrEnum):
    """The channel of a contact end to end (``contacts.channel``): the two call channels, web chat
    and online reports."""

    EMERGENCY_999 = "999"
    NON_EMERGENCY_101 = "101"
    WEBCHAT = "webchat"
    ONLINE = "online"


CONTACT_CHANNELS: tuple[str, ...] = tuple(c.value for c in ContactChannel)
"""Every contact channel, in the order the board's volume cells are read (999, 101, web chat, online)."""


class AbandonStage(enum.StrEnum):
    IVR = "ivr"
    PRIMARY_QUEUE = "primary_queue"
    IN_TRANSFER = "in_transfer"
    SECONDARY_QUEUE = "secondary_queue"


class CallOffered(Payload):
    """The call reached the force (for 999, after BT's operator handed it over)."""

    channel: CallChannel
    bt_connect_time: UtcTime | None = Field(
        default=None, description="999 only: when BT's operator connected the caller, if supplied."
    )
    district: PlaceName | None = reference_field(
        "district", default=None, description="Caller's district if known (coarse), from reference data."
    )
    caller_number: str | None = pii_field("phone", PiiTreatment.PSEUDONYMISE)
    caller_name: str | None = pii_field("name", PiiTreatment.DROP)


class CallIvrEntered(Payload):
    menu: MenuCode | None = Field(default=None, description="IVR menu id, no free text.")


class CallQueued(Payload):
    queue: QueueCode = reference_field("queue")


class CallAnswered(Payload):
    queue: QueueCode = reference_field("queue")
    handler_id: str | None = pii_field("staff_id", PiiTreatment.PSEUDONYMISE)


class CallAbandoned(Payload):
    stage: AbandonStage
    queue: QueueCode | None = reference_field("queue", default=None)
    wait_seconds: float | None = Field(
        default=None, ge=0, description="Wait reported by the telephony platform (informational)."
    )


class CallCallbackRequested(Payload):
    """The caller left the queue asking to be called back: not an abandon."""

    queue: QueueCode = reference_field("queue")
    callback_number: str | None = pii_field("phone", PiiTreatment.PSEUDONYMISE)


class CallTransferred(Payload):
    from_queue: QueueCode = reference_field("queue")
    to_queue: QueueCode = reference_field("queue")


class CallEnded(Payload):
    disposition: SnakeCode
    incident_id: Identifier | None = None
    notes: str | None = pii_field("free_text", PiiTreatment.DROP)


class WebchatOffered(Payload):
    """A web-chat session was requested and joined the web-chat queue."""

    queue: QueueCode = reference_field("queue", default="webchat")
    district: PlaceName | None = reference_field("district", default=None)
    visitor_email: str | None = pii_field("email", PiiTreatment.PSEUDONYMISE)
    visitor_name: str | None = pii_field("name", PiiTreatment.DROP)


class WebchatAnswered(Payload):
    queue: QueueCode = reference_field("queue", default="webchat")
    handler_id: str | None = pii_field("staff_id", PiiTreatment.PSEUDONYMISE)


class WebchatAbandoned(Payload):
    queue: QueueCode = reference_field("queue", default="webchat")


class WebchatEnded(Payload):
    disposition: SnakeCode
    incident_id: Identifier | None = None
    transcript: str | None = pii_field("free_text", PiiTreatment.DROP)


class OnlineReportType(enum.StrEnum):
    CRIME = "crime"
    ASB = "asb"
    TRAFFIC = "traffic"
    INTELLIGENCE = "intelligence"
    OTHER = "other"


class OnlineReportSubmitted(Payload):
    report_type: OnlineReportType
    district: PlaceName | None = reference_field("district", default=None)
    reporter_name: str | None = pii_field("name", PiiTreatment.DROP)
    reporter_email: str | None = pii_field("email", PiiTreatment.PSEUDONYMISE)
    narrative: str | None = pii_field("free_text", PiiTreatment.DROP)
    address: str | None = pii_field("address", PiiTreatment.DROP)


class OnlineReportTriaged(Payload):
    outcome: Literal["crime", "incident", "no_further_action", "referred"]


class OnlineReportLinked(Payload):
    incident_id: Identifier | None = None
    crime_id: Identifier | None = None
