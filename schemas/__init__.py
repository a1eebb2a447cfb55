"""The demandhub event contract: one versioned envelope, one discriminated union of event types.

Everything the hub accepts is defined here, once. Producers (source adapters, the simulator), processors
(streams/), the warehouse loaders (sinks/) and the tests all import these models.
"""

from schemas.envelope import PII, Envelope, PiiTreatment, pii_fields
from schemas.events import EVENT_MODELS, Event, parse_event, parse_event_json
from schemas.topics import TOPICS, Topic, topic_for_type

__all__ = [
    "EVENT_MODELS",
    "PII",
    "TOPICS",
    "Envelope",
    "Event",
    "PiiTreatment",
    "Topic",
    "parse_event",
    "parse_event_json",
    "pii_fields",
    "topic_for_type",
]
