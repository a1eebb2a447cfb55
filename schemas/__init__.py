"""The demandhub event contract: one versioned envelope, one discriminated union of event types.

Everything the hub accepts is defined here, once. Producers (source adapters, the simulator), processors
(streams/), the warehouse loaders (sinks/) and the tests all import these models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schemas.envelope import PII, Envelope, PiiTreatment, pii_fields
    from schemas.events import EVENT_MODELS, Event, parse_event, parse_event_json
    from schemas.topics import TOPICS, Topic, topic_for_type

# Loaded on first use: importing one submodule (e.g. schemas.definitions for the settings) must not
# build every event model, which costs about a third of a short command's start-up.
_WHERE = {
    "PII": "schemas.envelope",
    "Envelope": "schemas.envelope",
    "PiiTreatment": "schemas.envelope",
    "pii_fields": "schemas.envelope",
    "EVENT_MODELS": "schemas.events",
    "Event": "schemas.events",
    "parse_event": "schemas.events",
    "parse_event_json": "schemas.events",
    "TOPICS": "schemas.topics",
    "Topic": "schemas.topics",
    "topic_for_type": "schemas.topics",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'schemas' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
