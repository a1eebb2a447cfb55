"""The discriminated union of every event type the hub accepts, keyed on ``type``.

Event type names are ``<entity>.<verb>.v<N>``. A new version of a type is a new entry here; old
versions stay accepted until retired. The exported JSON Schemas (``schemas/jsonschema/``) are the
published contract and a test guards them against incompatible change.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union, cast

from pydantic import Field, TypeAdapter, create_model

from schemas import contacts as c
from schemas import crimes as cr
from schemas import incidents as i
from schemas import social as s
from schemas.envelope import Envelope, Payload

PAYLOADS: dict[str, type[Payload]] = {
    "call.offered.v1": c.CallOffered,
    "call.ivr_entered.v1": c.CallIvrEntered,
    "call.queued.v1": c.CallQueued,
    "call.answered.v1": c.CallAnswered,
    "call.abandoned.v1": c.CallAbandoned,
    "call.callback_requested.v1": c.CallCallbackRequested,
    "call.transferred.v1": c.CallTransferred,
    "call.ended.v1": c.CallEnded,
    "webchat.offered.v1": c.WebchatOffered,
    "webchat.answered.v1": c.WebchatAnswered,
    "webchat.abandoned.v1": c.WebchatAbandoned,
    "webchat.ended.v1": c.WebchatEnded,
    "online_report.submitted.v1": c.OnlineReportSubmitted,
    "online_report.triaged.v1": c.OnlineReportTriaged,
    "online_report.linked.v1": c.OnlineReportLinked,
    "incident.created.v1": i.IncidentCreated,
    "incident.graded.v1": i.IncidentGraded,
    "incident.regraded.v1": i.IncidentRegraded,
    "incident.resource_assigned.v1": i.IncidentResourceAssigned,
    "incident.resource_arrived.v1": i.IncidentResourceArrived,
    "incident.qualifier_added.v1": i.IncidentQualifierAdded,
    "incident.qualifier_removed.v1": i.IncidentQualifierRemoved,
    "incident.cancelled.v1": i.IncidentCancelled,
    "incident.merged_as_duplicate.v1": i.IncidentMergedAsDuplicate,
    "incident.closed.v1": i.IncidentClosed,
    "incident.reopened.v1": i.IncidentReopened,
    "crime.reported.v1": cr.CrimeReported,
    "crime.recorded.v1": cr.CrimeRecorded,
    "crime.reclassified.v1": cr.CrimeReclassified,
    "crime.cancelled.v1": cr.CrimeCancelled,
    "crime.transferred.v1": cr.CrimeTransferred,
    "crime.qa_queue_entered.v1": cr.CrimeQaQueueEntered,
    "crime.qa_queue_exited.v1": cr.CrimeQaQueueExited,
    "crime.outcome_assigned.v1": cr.CrimeOutcomeAssigned,
    "crime.outcome_changed.v1": cr.CrimeOutcomeChanged,
    "social.received.v1": s.SocialReceived,
    "social.assigned.v1": s.SocialAssigned,
    "social.responded.v1": s.SocialResponded,
    "social.closed.v1": s.SocialClosed,
}


def _model_name(event_type: str) -> str:
    entity, verb, version = event_type.split(".")
    words = [*entity.split("_"), *verb.split("_")]
    return "".join(w.capitalize() for w in words) + "Event" + version.upper()


def _envelope_model(event_type: str, payload: type[Payload]) -> type[Envelope]:
    # Literal of a value known only at run time: a type the checker cannot spell, hence the cast.
    literal_type = cast(Any, Literal)[event_type]
    return create_model(
        _model_name(event_type),
        __base__=Envelope,
        __module__=__name__,
        __doc__=payload.__doc__ or f"Envelope for {event_type}.",
        type=(literal_type, Field(description="Versioned event type.")),
        data=(payload, ...),
    )


EVENT_MODELS: dict[str, type[Envelope]] = {t: _envelope_model(t, p) for t, p in PAYLOADS.items()}

Event: Any = Annotated[Union[tuple(EVENT_MODELS.values())], Field(discriminator="type")]  # noqa: UP007
"""Any accepted event: parse with :func:`parse_event`. Its members are built at run time, so to the type
checker it is a value, not a type; every member is an :class:`Envelope`."""

_ADAPTER: TypeAdapter[Envelope] = TypeAdapter(Event)
_VALIDATOR = _ADAPTER.validator
"""The adapter's compiled validator, called directly (the adapter's methods only pass their defaults on)."""


def parse_event(obj: dict[str, Any]) -> Envelope:
    """Validate a decoded JSON object into its event model; raises pydantic.ValidationError."""
    found: Envelope = _VALIDATOR.validate_python(obj)
    return found


def parse_event_json(raw: bytes | str) -> Envelope:
    """Validate raw JSON bytes into its event model; raises pydantic.ValidationError."""
    found: Envelope = _VALIDATOR.validate_json(raw)
    return found


_ENTITIES: dict[str, str] = {t: t.split(".", 1)[0] for t in PAYLOADS}
_VERBS: dict[str, str] = {t: t.split(".")[1] for t in PAYLOADS}


def entity_of(event_type: str) -> str:
    """``call.answered.v1`` -> ``call`` (looked up for the contract's types, split for any other)."""
    found = _ENTITIES.get(event_type)
    return found if found is not None else event_type.split(".", 1)[0]


def verb_of(event_type: str) -> str:
    """``call.answered.v1`` -> ``answered`` (looked up for the contract's types, split for any other)."""
    found = _VERBS.get(event_type)
    return found if found is not None else event_type.split(".")[1]


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every event type, keyed by type (what ``demandhub schemas export`` writes)."""
    return {t: m.model_json_schema() for t, m in EVENT_MODELS.items()}
