"""The processing pipeline shared by the faust agents, file replay and the tests.

``Pipeline.process(messages)`` takes raw Kafka-like messages of one batch and, in this order:

1. decodes and validates each against the event contract; malformed or out-of-range messages become
   dead letters (scrubbed payload + reason) and the batch carries on;
2. removes personal data (drop or keyed hash) from every accepted event;
3. reloads the history of every subject in the batch (in-process cache, else the warehouse ledger),
   folds old and new histories with the domain's pure :class:`~streams.domain.base.Fold`, and keeps
   only fact rows that changed, the quarantines that started or were resolved, and the conflicting
   copies of a known ``(source, id)`` newly seen (the kept copy is the fold's, see
   :func:`~streams.domain.base.dedupe_sorted`; the ledger gets every copy that is kept at the time);
4. logs the rollup buckets the changed fact rows touch (``rollup_dirty``), writes fact rows (deleting
   any a subject no longer produces), then rejected rows and, last, the ledger rows (so a batch
   interrupted half-way is recomputed in full when it is redelivered, and a bucket whose facts may
   have changed stays logged until it is refreshed). Rollups are recomputed from the log: after
   every batch (the default), or lazily by the worker's one refresher and at the end of a replay
   (``lazy_rollups``; see :mod:`sinks.clickhouse.rollups`).

It returns a :class:`BatchReport`; the caller acknowledges (commits) the batch only after ``process``
returned. ``process`` is ``prepare`` (steps 1-3, no write) then ``write`` (step 4): the worker
prepares a fetch while the one before it is written, and a prepared batch keeps its subjects'
histories until it is written, so the next batch's folds see its events (:meth:`Pipeline.prepare`). Any exception means nothing may be acknowledged: writes are idempotent (the ledger and the
fact tables are ReplacingMergeTree on their keys), so re-processing the same messages is harmless.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from operator import itemgetter
from typing import Any, NamedTuple

from pydantic import ValidationError

from schemas.envelope import FORCE_ID_PATTERN, ID_PATTERN, Envelope
from schemas.events import EVENT_MODELS, entity_of, parse_event, parse_event_json
from schemas.topics import TOPICS
from sinks.clickhouse import history_sql
from sinks.clickhouse.client import Warehouse
from sinks.clickhouse.rollups import LazyRollup, dirty_rows, log_dirty, refresh_pending, watch_refreshes
from streams.config import PipelineConfig
from streams.domain.base import (
    Fold,
    FoldResult,
    Row,
    conflicts,
    copy_key,
    dedupe_sorted,
    fingerprint,
    sorted_distinct,
)
from streams.domain.pii import HASH_PREFIX, keyed_hash, known_key_names, sanitise, scrub_raw
from streams.domain.reference import reference_problem
from streams.history_cache import DEFAULT_MAX_EVENTS, HistoryCache, SubjectKey

log = logging.getLogger(__name__)

RollupRefresher = Sequence[LazyRollup]
"""The rollups whose buckets the rows of one fact table fall in (see :mod:`sinks.clickhouse.rollups`)."""


class RawMessage(NamedTuple):
    """One message as consumed: where it came from and its bytes. (A named tuple: made for every
    record consumed, it costs half of a frozen dataclass's construction.)"""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class DeadLetter:
    """A refused message, ready for the domain's dead-letter topic.

    ``reason`` names fields of the contract and the rules they broke, never a value sent: it goes to
    the ``error`` header and to ``rejected_events``. ``key`` is the Kafka key to send it with: the
    message's own key only when it is the subject of a valid event, else its keyed hash."""

    message: RawMessage
    reason: str
    reason_class: str
    payload: bytes  # scrubbed of personal data
    event: Envelope | None = None  # de-identified
    key: bytes | None = None

    @property
    def dlq_topic(self) -> str:
        for topic in TOPICS.values():
            if topic.name == self.message.topic:
                return topic.dlq
        return "demandhub.contacts.dlq" if not self.event else TOPICS[entity_of(self.event.type)].dlq

    def headers(self) -> list[tuple[str, bytes]]:
        m = self.message
        return [
            ("error", self.reason.encode()[:1024]),
            ("error_class", self.reason_class.encode()),
            ("source_topic", m.topic.encode()),
            ("source_partition", str(m.partition).encode()),
            ("source_offset", str(m.offset).encode()),
        ]


@dataclass
class BatchReport:
    consumed: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    quarantined: list[tuple[Envelope, str]] = field(default_factory=list)
    """Events the folds now leave out that they did not before (new, or with a new reason / copy)."""
    resolved: list[tuple[Envelope, str]] = field(default_factory=list)
    """Events quarantined before this batch that a later event made possible (with the old reason)."""
    conflicts: list[tuple[Envelope, str]] = field(default_factory=list)
    """Copies of a known (source, id) with other content, newly seen and not kept."""
    requalified: int = 0
    """Of ``quarantined``, events that were already left out (with another reason or copy)."""
    rows_written: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    accepted_by_topic: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """``accepted`` per input topic (a batch may hold several topics)."""
    duplicates_by_topic: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """``duplicates`` per input topic."""
    events: list[Envelope] = field(default_factory=list)
    new_rows: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    _grouped: tuple[int, dict[str, list[Envelope]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def events_by_entity(self) -> Mapping[str, list[Envelope]]:
        """:attr:`events` by entity (``call``, ``incident``...), in order; grouped once for every
        observer of the batch (again if events were added since)."""
        if self._grouped is not None and self._grouped[0] == len(self.events):
            return self._grouped[1]
        grouped: dict[str, list[Envelope]] = {}
        for e in self.events:
            entity = entity_of(e.type)
            found = grouped.get(entity)
            if found is None:
                grouped[entity] = [e]
            else:
                found.append(e)
        self._grouped = (len(self.events), grouped)
        return grouped

    def counted(self, entity: str) -> list[Envelope]:
        """The ``entity`` events a live counter counts: the batch's new events the folds do not leave
        out, then those taken in from the quarantine because their opening arrived (a
        ``missing_opening`` reason resolved; they were never counted before)."""
        events = self.events_by_entity().get(entity, [])
        taken_in = [
            e for e, why in self.resolved if why.startswith("missing_opening") and entity_of(e.type) == entity
        ]
        if not self.quarantined:
            return [*events, *taken_in] if taken_in else events
        refused = {e.dedup_key for e, _ in self.quarantined}
        return [e for e in (*events, *taken_in) if e.dedup_key not in refused]

    @property
    def quarantine_change(self) -> int:
        """Net change in the number of events the folds leave out: summed over every batch, the
        number left out now (an answer held until its offer arrived and was taken in counts 0)."""
        return len(self.quarantined) - self.requalified - len(self.resolved)


@dataclass(frozen=True)
class Prepared:
    """A batch decoded, de-identified and folded by :meth:`Pipeline.prepare`, not yet written."""

    report: BatchReport
    ledger: list[list[Any]]
    old_rows: dict[str, list[Row]]
    new_rows: dict[str, list[Row]]
    ingest: datetime
    histories: dict[SubjectKey, tuple[Envelope, ...]]
    """Every subject of the batch with its whole history once the batch is written."""


def _reason_class(errors: Sequence[Mapping[str, Any]]) -> str:
    kinds = {e["type"] for e in errors}
    if "union_tag_invalid" in kinds or "union_tag_not_found" in kinds:
        return "unknown_type"
    if "json_invalid" in kinds:
        return "malformed_json"
    return "invalid_fields"


SAFE_MESSAGES = frozenset(
    {
        "missing",
        "extra_forbidden",
        "string_type",
        "string_too_long",
        "string_too_short",
        "string_pattern_mismatch",
        "int_type",
        "int_parsing",
        "int_from_float",
        "float_type",
        "float_parsing",
        "bool_type",
        "bool_parsing",
        "dict_type",
        "model_type",
        "list_type",
        "tuple_type",
        "too_long",
        "too_short",
        "literal_error",
        "enum",
        "datetime_type",
        "datetime_parsing",
        "datetime_from_date_parsing",
        "timezone_aware",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "finite_number",
        "union_tag_not_found",
    }
)
"""Error types whose pydantic message is a fixed template filled only from the contract (field
constraints, allowed values) or from the parser's fixed wording, never from the input. Any other
error (``union_tag_invalid`` quotes the tag it found, ``value_error`` and custom errors quote whatever
their validator put in) is described by its type alone."""
MAX_DESCRIBED_ERRORS = 5
_JSON_POSITION = re.compile(r"line (\d+) column (\d+)")


def _path(loc: Sequence[str | int], key: bytes) -> str:
    """A field path a reason may show: contract field names and list positions in clear; any other
    key (sent by the source, so untrusted) as its keyed hash."""
    known = known_key_names()
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif part in known:
            parts.append(f".{part}" if parts else part)
        else:
            name = f"<unknown key {keyed_hash(key, 'scrubbed', str(part))}>"
            parts.append(f".{name}" if parts else name)
    return "".join(parts) or "message"


def _branch(err: Mapping[str, Any]) -> str | None:
    """The event type whose model found the error (the discriminator's branch), if any."""
    loc = err["loc"]
    return loc[0] if loc and isinstance(loc[0], str) and loc[0] in EVENT_MODELS else None


def _describe_one(err: Mapping[str, Any], key: bytes) -> str:
    kind = str(err["type"])
    loc: tuple[str | int, ...] = tuple(err["loc"])
    if _branch(err):
        loc = loc[1:]
    if kind == "json_invalid":
        at = _JSON_POSITION.search(str((err.get("ctx") or {}).get("error", "")))
        return "not valid JSON" + (f" at line {at[1]} column {at[2]}" if at else "") + " (json_invalid)"
    if kind == "union_tag_invalid":
        return "type: not an event type of the contract (union_tag_invalid)"
    if kind == "union_tag_not_found":
        return "type: missing, so the event type is unknown (union_tag_not_found)"
    rule = f"{str(err['msg'])[:200]} ({kind})" if kind in SAFE_MESSAGES else kind
    return f"{_path(loc, key)}: {rule}"


def _describe(errors: Sequence[Mapping[str, Any]], key: bytes) -> str:
    """The reason of a validation failure, built from the error types, the contract's field paths and
    its rules; never from a value, and never from a key name the contract does not define."""
    parts = [_describe_one(err, key) for err in errors[:MAX_DESCRIBED_ERRORS]]
    if len(errors) > MAX_DESCRIBED_ERRORS:
        parts.append(f"and {len(errors) - MAX_DESCRIBED_ERRORS} more errors")
    branch = _branch(errors[0]) if errors else None
    return (f"{branch}: " if branch else "") + "; ".join(parts)


SHAPE_CLASSES = ("too_large", "too_deep", "too_many_items")
"""Reason classes of messages refused unread (:func:`shape_problem`)."""


def shape_problem(raw: bytes, max_bytes: int, max_depth: int, max_items: int) -> tuple[str, str] | None:
    """Whether a message is too big to validate: ``(reason class, reason)``, or None.

    Cheap first: the byte length, then upper bounds read off the raw bytes (every level of nesting
    opens a bracket; every item of an object or array but the first follows a comma). Only a message
    past those bounds is parsed (once, at most ``max_bytes``) and walked, stopping at the first limit
    crossed. Items are object members plus array elements, at every level."""
    if len(raw) > max_bytes:
        return "too_large", f"message: {len(raw)} bytes, over the limit of {max_bytes}"
    opens = raw.count(b"{") + raw.count(b"[")
    if opens <= max_depth and raw.count(b",") + opens <= max_items:
        return None
    try:
        decoded = json.loads(raw)
    except RecursionError:
        return "too_deep", f"message: nested deeper than {max_depth} levels"
    except ValueError:
        return None  # not JSON: the validator says where
    items = 0
    pending: list[tuple[Any, int]] = [(decoded, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children = list(node.values())
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            return "too_deep", f"message: nested deeper than {max_depth} levels"
        items += len(children)
        if items > max_items:
            return "too_many_items", f"message: more than {max_items} object members and array items"
        pending.extend((child, depth + 1) for child in children)
    return None


_PEEK_SHAPES = {
    "force_id": re.compile(FORCE_ID_PATTERN),
    "type": re.compile("|".join(re.escape(t) for t in EVENT_MODELS)),
    "subject": re.compile(ID_PATTERN),
}


def _quarantine_row(
    event: Envelope, why: str, received: datetime, resolved: datetime | None, copy: str = ""
) -> list[Any]:
    """A ``rejected_events`` row of kind ``quarantine``. Its key is the event (``subject|source|id``,
    plus ``|<content hash>`` for a losing conflicting copy), so a later decision about the same event
    replaces the row (``FINAL``): a changed reason, or ``resolved_at`` once a later event made it
    possible. Open quarantines are ``kind = 'quarantine' AND resolved_at IS NULL``."""
    subject = f"{event.subject}|{event.source}|{event.id}" + (f"|{copy}" if copy else "")
    payload = json.dumps(event.model_dump(mode="json"), sort_keys=True)
    return ["", 0, 0, "quarantine", why, event.force_id, event.type, subject, received, payload, resolved]


def _peek(dl: DeadLetter) -> tuple[str, str, str]:
    """Force, type and subject of a dead letter, read best-effort from its scrubbed payload; a value
    is kept only when it has the shape the contract gives that field (a ``type`` that is no event
    type of the contract is left out, whatever it holds)."""
    if dl.event is not None:
        return dl.event.force_id, dl.event.type, dl.event.subject
    try:
        obj = json.loads(dl.payload)
    except (ValueError, RecursionError):
        return "", "", ""
    if not isinstance(obj, dict):
        return "", "", ""
    found = []
    for name, shape in _PEEK_SHAPES.items():
        value = obj.get(name)
        found.append(value if isinstance(value, str) and shape.fullmatch(value) else "")
    return found[0], found[1], found[2]


def ledger_event(
    force_id: str, subject: str, source: str, eid: str, etype: str, time: datetime, data: str
) -> Envelope:
    """A ledger row's event as the folds take it (the ledger keeps times in UTC without a zone)."""
    return parse_event(
        {
            "id": eid,
            "source": source,
            "type": etype,
            "time": time.replace(tzinfo=UTC) if time.tzinfo is None else time,
            "force_id": force_id,
            "subject": subject,
            "data": json.loads(data),
        }
    )


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_LEDGER_ENCODER = (
    c_make_encoder(None, _not_json, encode_basestring_ascii, None, ":", ",", True, False, True)
    if c_make_encoder is not None
    else None
)


def _ledger_json(data: Any) -> str:
    """``json.dumps(data, separators=(",", ":"), sort_keys=True)`` for a payload dumped by pydantic
    (plain JSON values, no cycles): the standard library's C encoder made once, instead of the
    encoder object and circular-reference bookkeeping ``json.dumps`` builds on every call (same text)."""
    if _LEDGER_ENCODER is None:
        return json.dumps(data, separators=(",", ":"), sort_keys=True)
    return "".join(_LEDGER_ENCODER(data, 0))


_TOPIC_OF_TYPE: dict[str, str] = {}


def _topic_of(event: Envelope) -> str:
    """The input topic of a valid event (an event on another topic is a dead letter)."""
    return _topic_of_type(event.type)


def _topic_of_type(event_type: str) -> str:
    """The input topic of a valid event of ``event_type``."""
    found = _TOPIC_OF_TYPE.get(event_type)
    if found is None:
        spec = TOPICS.get(entity_of(event_type))
        found = _TOPIC_OF_TYPE[event_type] = spec.name if spec else ""
    return found


class Pipeline:
    """Decode -> validate -> de-identify -> fold -> write, for batches of any topic."""

    def __init__(
        self,
        settings: PipelineConfig,
        warehouse: Warehouse,
        folds: Iterable[Fold],
        pseudonymisation_key: bytes,
        refreshers: Mapping[str, RollupRefresher] | None = None,
        cache_max_events: int = DEFAULT_MAX_EVENTS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        lazy_rollups: bool = False,
    ) -> None:
        self.settings = settings
        self.definitions = settings.definitions
        self.warehouse = warehouse
        self.key = pseudonymisation_key
        self.folds: dict[str, Fold] = {}
        for fold in folds:
            for entity in fold.entities:
                self.folds[entity] = fold
        self.refreshers = {table: tuple(r) for table, r in (refreshers or {}).items()}
        self.rollups = tuple({r.table: r for rs in self.refreshers.values() for r in rs}.values())
        self.lazy_rollups = lazy_rollups
        self._adopted = False
        """False: every batch ends with a refresh of the logged buckets; True: someone else refreshes
        them (the worker's refresher loop, the end of a replay, a reader)."""
        self.cache = HistoryCache(cache_max_events)
        """Histories of live subjects (see :mod:`streams.history_cache`)."""
        self._identities: dict[str, tuple[str, ...]] = {}
        self.now = now
        self._latest: datetime | None = None
        """The latest event time accepted, read once per batch (None outside :meth:`prepare`)."""
        self._unwritten: tuple[Prepared, ...] = ()
        """Batches prepared and not yet written, oldest first (see :meth:`prepare`)."""
        self._unwritten_lock = threading.Lock()
        self._history: Warehouse = warehouse
        """The handle subjects' histories are read on (:meth:`read_history_apart`)."""

    # -- decoding -------------------------------------------------------------------------------
    def decode(self, message: RawMessage) -> Envelope | DeadLetter:
        """The sanitised event, or a dead letter with the reason.

        The work per message is bounded before it is validated: a message over the byte, depth or
        item limits is refused unread (see :func:`shape_problem`), so no message can make the
        validator build an error per key."""
        raw, settings = message.value, self.settings
        # shape_problem's own first bounds, inline (most messages are within them); past them, it decides
        within = len(raw) <= settings.max_event_bytes
        if within:
            opens = raw.count(b"{") + raw.count(b"[")
            within = opens <= settings.max_event_depth and raw.count(b",") + opens <= settings.max_event_items
        if not within:
            problem = shape_problem(
                raw, settings.max_event_bytes, settings.max_event_depth, settings.max_event_items
            )
            if problem:
                return self._withheld(message, problem[1], problem[0])
        try:
            event = parse_event_json(raw)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            return self._dead(message, _describe(errors, self.key), _reason_class(errors))
        except (ValueError, RecursionError) as exc:  # e.g. nesting deeper than any parser allows
            return self._dead(message, f"not valid JSON ({type(exc).__name__})", "malformed_json")
        problem = self._range_problem(event)
        if problem:
            return self._dead(message, problem[1], problem[0], event)
        expected = _topic_of_type(event.type)  # the name of TOPICS[entity], "" for none
        if message.topic and expected and message.topic != expected:
            return self._dead(
                message, f"{event.type} does not belong on {message.topic}", "wrong_topic", event
            )
        return sanitise(event, self.key)

    def _range_problem(self, event: Envelope) -> tuple[str, str] | None:
        tolerance = self.settings.future_tolerance_seconds
        latest = self._latest or self.now() + timedelta(seconds=tolerance)
        if event.time > latest:
            return ("time_in_future", f"{event.type}: time: more than {tolerance} s in the future")
        if event.time.year < self.settings.earliest_event_year:
            return ("time_too_old", f"{event.type}: time: before {self.settings.earliest_event_year}")
        allowed = self.settings.allowed_forces
        if allowed and event.force_id not in allowed:
            return ("foreign_force", f"{event.type}: force_id: not a force this deployment serves")
        return reference_problem(event)

    def _dlq_key(self, message: RawMessage, event: Envelope | None) -> bytes | None:
        if message.key is None:
            return None
        if event is not None and message.key == event.subject.encode():
            return message.key
        return keyed_hash(self.key, "scrubbed", message.key.decode("utf-8", "backslashreplace")).encode()

    def _dead(
        self, message: RawMessage, reason: str, reason_class: str, event: Envelope | None = None
    ) -> DeadLetter:
        payload = scrub_raw(message.value, self.key)
        clean = sanitise(event, self.key) if event is not None else None
        return DeadLetter(message, reason, reason_class, payload, clean, self._dlq_key(message, event))

    def _withheld(self, message: RawMessage, reason: str, reason_class: str) -> DeadLetter:
        """A dead letter for a message refused unread: its payload is not even scrubbed (that would
        mean reading it); only its length and keyed digest are kept."""
        digest = hmac.new(self.key, b"withheld\x00", hashlib.sha256)
        digest.update(message.value)
        payload = {
            "undecodable": True,
            "withheld": reason_class,
            "length": len(message.value),
            "digest": HASH_PREFIX + digest.hexdigest()[:32],
        }
        return DeadLetter(
            message, reason, reason_class, json.dumps(payload).encode(), None, self._dlq_key(message, None)
        )

    # -- history --------------------------------------------------------------------------------
    def _load_histories(self, keys: set[SubjectKey]) -> dict[SubjectKey, list[Envelope]]:
        found: dict[SubjectKey, list[Envelope]] = {}
        missing: list[SubjectKey] = []
        unwritten = self._unwritten
        for key in keys:
            cached = next((p.histories[key] for p in reversed(unwritten) if key in p.histories), None)
            if cached is None:
                cached = self.cache.get(key)
            if cached is None:
                missing.append(key)
                found[key] = []
            else:
                found[key] = list(cached)
        for chunk_start in range(0, len(missing), 5000):  # one statement, whatever forces and entities
            rows = history_sql.ledger_histories(self._history, missing[chunk_start : chunk_start + 5000])
            for force_id, entity, subject, source, eid, etype, time, data in rows:
                found[(force_id, entity, subject)].append(
                    ledger_event(force_id, subject, source, eid, etype, time, data)
                )
        return found

    # -- the batch ------------------------------------------------------------------------------
    def process(self, messages: Sequence[RawMessage]) -> BatchReport:
        """Process one batch; see the module docstring for the contract."""
        return self.write(self.prepare(messages))

    def prepare(self, messages: Sequence[RawMessage]) -> Prepared:
        """Steps 1-3 of the module docstring: decode, de-identify and fold one batch, writing nothing.

        The worker prepares the next fetch while the previous one is written (:meth:`write`), at most
        one batch ahead. Its folds need every earlier event of a subject, including those of the batch
        still being written: a batch prepared and not yet written keeps its subjects' histories
        (:attr:`Prepared.histories`), and the history of a subject is read from those first, then from
        the cache, and only then from the ledger (which, for a subject in no unwritten batch, already
        holds every event of it)."""
        report = BatchReport(consumed=len(messages))
        fresh: dict[SubjectKey, list[Envelope]] = defaultdict(list)
        self._latest = self.now() + timedelta(seconds=self.settings.future_tolerance_seconds)
        try:
            for message in messages:
                decoded = self.decode(message)
                if isinstance(decoded, DeadLetter):
                    report.dead_letters.append(decoded)
                else:
                    fresh[(decoded.force_id, entity_of(decoded.type), decoded.subject)].append(decoded)
        finally:
            self._latest = None
        histories = self._load_histories(set(fresh))
        ingest = self.now()
        ledger: list[list[Any]] = []
        old_rows: dict[str, list[Row]] = defaultdict(list)
        new_rows: dict[str, list[Row]] = defaultdict(list)
        after: dict[SubjectKey, tuple[Envelope, ...]] = {}
        for key, events in fresh.items():
            accepted = report.accepted
            added = self._new_copies(histories[key], events, report)
            if not added:
                after[key] = tuple(histories[key])
                self.cache.put(key, after[key])
                continue
            if not histories[key] and report.accepted - accepted == len(added):
                # A subject with no history whose events are all distinct (no second copy of a
                # (source, id)): what follows below, minus the work it would find empty (no copies
                # to choose between, no conflict, nothing known before, no earlier fold).
                merged = sorted_distinct(added)
                report.events.extend(merged)
                ledger.extend(self._ledger_row(e, ingest) for e in merged)
                self._fold_subject(key, [], merged, old_rows, new_rows, report)
                after[key] = tuple(added)
                self.cache.put(key, after[key])
                continue
            every = [*histories[key], *added]
            prior, merged = dedupe_sorted(histories[key]), dedupe_sorted(every)
            fresh_ids = {id(e) for e in added}
            kept_now = [e for e in merged if id(e) in fresh_ids]  # new events and copies that now win
            known = {e.dedup_key for e in histories[key]}
            report.events.extend(e for e in kept_now if e.dedup_key not in known)
            ledger.extend(self._ledger_row(e, ingest) for e in kept_now)
            recorded = {copy_key(e) for e, _ in conflicts(histories[key])}
            report.conflicts.extend((e, why) for e, why in conflicts(every) if copy_key(e) not in recorded)
            if kept_now:
                self._fold_subject(key, prior, merged, old_rows, new_rows, report)
            after[key] = tuple(every)
            self.cache.put(key, after[key])
        prepared = Prepared(report, ledger, old_rows, new_rows, ingest, after)
        with self._unwritten_lock:
            self._unwritten = (*self._unwritten, prepared)
        return prepared

    def write(self, prepared: Prepared) -> BatchReport:
        """Step 4 of the module docstring for a batch from :meth:`prepare`: its report once durable.
        Batches are written in the order they were prepared. Written or failed, the batch's histories
        are no longer read by later preparations: after a failure the caller calls :meth:`forget` and
        prepares the batch again."""
        try:
            self._write(
                prepared.ledger, prepared.report, prepared.old_rows, prepared.new_rows, prepared.ingest
            )
        finally:
            with self._unwritten_lock:
                self._unwritten = tuple(p for p in self._unwritten if p is not prepared)
        return prepared.report

    def forget(self) -> None:
        """Drop every history held in process (the cache, and batches prepared but not written): a
        write failed half-way, so histories are read from the ledger again."""
        with self._unwritten_lock:
            self._unwritten = ()
        self.cache.clear()

    def read_history_apart(self) -> None:
        """Read subjects' histories on a read handle of their own from now on, so a batch is prepared
        while the writer handle is busy writing the one before (a read handle sees every statement
        the writer committed)."""
        if self._history is self.warehouse:
            self._history = self.warehouse.open_reader("history")

    @staticmethod
    def _new_copies(
        history: Sequence[Envelope], events: Sequence[Envelope], report: BatchReport
    ) -> list[Envelope]:
        """The events of a batch not yet in ``history``: new ``(source, id)`` (counted as accepted) or
        a copy of a known one with other content (a conflict); identical copies count as duplicates.
        Content is hashed only when an id is seen again."""
        copies: dict[tuple[str, str], list[Envelope]] = {}
        for e in history:
            copies.setdefault((e.source, e.id), []).append(e)
        added: list[Envelope] = []
        accepted: dict[str, int] = {}  # per event type, counted by topic once at the end
        for e in events:
            key = (e.source, e.id)  # e.dedup_key
            same_id = copies.get(key)
            if same_id is None:
                accepted[e.type] = accepted.get(e.type, 0) + 1
                copies[key] = [e]
                added.append(e)
                continue
            if fingerprint(e) in {fingerprint(c) for c in same_id}:
                report.duplicates += 1
                report.duplicates_by_topic[_topic_of(e)] += 1
                continue
            same_id.append(e)
            added.append(e)
        for etype, count in accepted.items():
            report.accepted += count
            report.accepted_by_topic[_topic_of_type(etype)] += count
        return added

    def _fold_subject(
        self,
        key: SubjectKey,
        prior: list[Envelope],
        merged: list[Envelope],
        old_rows: dict[str, list[Row]],
        new_rows: dict[str, list[Row]],
        report: BatchReport,
    ) -> None:
        """Fold the subject's history before and after the batch (one copy per event each) and keep
        what changed: fact rows (a table whose rows vanished keeps them in ``old_rows`` only, so
        :meth:`_write` withdraws them) and quarantine transitions. A quarantine is judged over the
        whole history, so an event a later arrival makes impossible is recorded in this batch too,
        and one a later arrival makes possible is recorded as resolved."""
        fold = self.folds.get(entity_of(merged[0].type))
        if fold is None:
            return
        before = fold.fold(prior, self.definitions) if prior else FoldResult()
        after = fold.fold(merged, self.definitions)
        was = {e.dedup_key: (e, why) for e, why in before.quarantined}
        now = {e.dedup_key: (e, why) for e, why in after.quarantined}
        for k, (event, why) in now.items():
            old = was.get(k)
            if old is None or old[1] != why or old[0] is not event:
                report.quarantined.append((event, why))
                report.requalified += old is not None
        report.resolved.extend(item for k, item in was.items() if k not in now)
        version = len(merged)
        for table in sorted(set(before.rows) | set(after.rows)):
            rows, previous = after.rows.get(table, []), before.rows.get(table, [])
            if rows == previous:
                continue
            old_rows[table].extend(previous)
            for row in rows:  # the fold's own new dicts (FoldResult): versioned in place, not copied
                row["version"] = version
            new_rows[table].extend(rows)

    def _ledger_row(self, event: Envelope, ingest: datetime) -> list[Any]:
        data = event.data
        # The payload alone, as ``data.model_dump(mode="json")`` (its compiled serializer, called directly).
        dumped = type(data).__pydantic_serializer__.to_python(data, mode="json")
        return [
            event.force_id,
            event.subject,
            event.source,
            event.id,
            event.type,
            event.time,
            ingest,
            _ledger_json(dumped),
        ]

    def _reject_rows(self, report: BatchReport, received: datetime) -> list[list[Any]]:
        rows: list[list[Any]] = []
        for dl in report.dead_letters:
            m = dl.message
            force, etype, subject = _peek(dl)
            rows.append(
                [
                    m.topic,
                    m.partition,
                    m.offset,
                    "dlq",
                    dl.reason,
                    force,
                    etype,
                    subject,
                    received,
                    dl.payload.decode("utf-8", "replace"),
                    None,
                ]
            )
        rows.extend(_quarantine_row(e, why, received, None) for e, why in report.quarantined)
        rows.extend(_quarantine_row(e, why, received, received) for e, why in report.resolved)
        rows.extend(
            _quarantine_row(e, why, received, None, copy=fingerprint(e)[:16]) for e, why in report.conflicts
        )
        return rows

    def _identity(self, table: str) -> tuple[str, ...]:
        """The identity columns of a fact table: its ReplacingMergeTree sorting key."""
        found = self._identities.get(table)
        if found is None:
            found = history_sql.identity_columns(self.warehouse, table)
            self._identities[table] = found
        return found

    def _withdraw(self, table: str, previous: Sequence[Row], rows: Sequence[Row]) -> None:
        """Delete the fact rows a subject had and no longer has, so a fact nobody produces any more
        is not counted. The folds keep every identity once made, so this is rare: a late closure that
        shortens an incident's grade history, or a conflicting copy that replaces the kept one (a
        queue name, an outcome event that was another type). Hence a lightweight DELETE."""
        columns = self._identity(table)
        if not columns or not previous:
            return
        identity = itemgetter(*columns)
        if {identity(r) for r in previous} <= {identity(r) for r in rows}:
            return  # every identity kept, as its very values (the usual case), so also as text
        still = {tuple(str(r[c]) for c in columns) for r in rows}
        gone = sorted({tuple(str(r[c]) for c in columns) for r in previous} - still)
        if not gone:
            return
        history_sql.delete_identities(self.warehouse, table, columns, gone)

    def _write(
        self,
        ledger: list[list[Any]],
        report: BatchReport,
        old_rows: dict[str, list[Row]],
        new_rows: dict[str, list[Row]],
        ingest: datetime,
    ) -> None:
        # The dirty-bucket log goes first and the ledger last: a subject's new events count as "seen"
        # only once its facts are durable and their rollup buckets are logged for a refresh, so a
        # batch that failed half-way is recomputed in full on retry and no bucket misses a refresh.
        wh = self.warehouse
        dirty = dirty_rows(self.refreshers, old_rows, new_rows)
        with wh.exclusive():
            watch = watch_refreshes(wh) if dirty else None
            # A bucket an earlier cycle logged is not logged again while no refresh can have read
            # that entry (see ``RefreshWatch.unlogged``): at a low rate most cycles touch buckets
            # already logged, and this is one statement fewer.
            first = watch.unlogged(dirty) if watch is not None else dirty
            log_dirty(wh, first)
            report.rows_written["rollup_dirty"] += len(first)
            # The fact tables at once (the largest first), on the writer and its siblings.
            facts = sorted(new_rows.items(), key=lambda item: -len(item[1]))
            wh.insert_beside(
                [partial(history_sql.insert_facts, table=table, rows=rows) for table, rows in facts]
            )
            for table, rows in new_rows.items():
                report.rows_written[table] += len(rows)
                report.new_rows[table].extend(rows)
            for table, previous in old_rows.items():
                self._withdraw(table, previous, new_rows.get(table, []))
            # Logged again once the facts are in, unless no refresh can have run since the first
            # log (this process's refresher holds the lease and began none meanwhile): a refresher
            # (of this or another process) that ran between the first log and the facts consumed
            # those entries and recomputed the buckets from the facts before them; these entries
            # make the next refresh see them.
            if watch is not None:
                if watch.quiet():
                    watch.logged(dirty)
                else:
                    log_dirty(wh, dirty)
                    report.rows_written["rollup_dirty"] += len(dirty)
            rejects = self._reject_rows(report, ingest)
            history_sql.insert_rejected(wh, rejects)
            report.rows_written["rejected_events"] += len(rejects)
            history_sql.insert_ledger(wh, ledger)
            report.rows_written["events"] += len(ledger)
            if not self.lazy_rollups:
                self.refresh_rollups()

    def refresh_rollups(self) -> int:
        """Recompute every logged rollup bucket now (on this pipeline's warehouse handle)."""
        if not self.rollups:
            return 0
        # The first refresh adopts this pipeline's definitions (a rollup computed under others is
        # recomputed); later ones refresh logged buckets under the recorded definitions.
        adopting = None if self._adopted else self.settings.definitions
        with self.warehouse.exclusive():
            done = refresh_pending(self.warehouse, self.rollups, definitions=adopting)
        self._adopted = True
        return done
