"""Concepts defined once: the queue list, warehouse times, hashes, wait edges, the active time zone.

Each test checks that a copy is derived from (or checked against) its one definition."""

from __future__ import annotations

import hashlib
import random
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from schemas import contacts, queues, shapes
from schemas.canonical import canonical_json, json_hash
from schemas.definitions import Definitions
from schemas.queues import QUEUE_LABELS, QUEUES, Queue, per_queue
from sinks.clickhouse.rollups_contacts import WAIT_EDGES, within_index
from sinks.clickhouse.times import as_utc

pytestmark = pytest.mark.unit


def test_the_queue_enum_is_the_one_list_of_queues() -> None:
    assert contacts.Queue is queues.Queue
    assert QUEUES == ("999", "101-primary", "101-secondary", "webchat")
    assert [code for code, _ in QUEUE_LABELS] == list(QUEUES)
    assert shapes.QUEUE_PATTERN == r"^(999|101-primary|101-secondary|webchat|x-[a-z][a-z0-9-]{0,31})$"
    for queue in Queue:
        assert re.fullmatch(shapes.QUEUE_PATTERN, queue.value)
    assert not re.fullmatch(shapes.QUEUE_PATTERN, "101")


def test_per_queue_gives_every_queue_a_value() -> None:
    assert per_queue(30, Q999=10) == {"999": 10, "101-primary": 30, "101-secondary": 30, "webchat": 30}
    with pytest.raises(ValueError, match="not a queue"):
        per_queue(30, Q998=10)


def test_per_queue_settings_name_every_queue() -> None:
    from demandhub.settings import Settings
    from demandhub.web.trends import TREND_QUEUES

    settings = Settings()
    assert tuple(settings.abandonment_target) == QUEUES
    assert tuple(settings.service_level_targets) == QUEUES
    assert TREND_QUEUES == QUEUE_LABELS


def test_as_utc_reads_a_naive_warehouse_time_as_utc() -> None:
    naive = datetime(2026, 3, 29, 1, 30)
    assert as_utc(naive) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert as_utc(naive).tzinfo is UTC
    plus_one = datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=1)))
    converted = as_utc(plus_one)
    assert converted.tzinfo is UTC and converted.hour == 1
    assert as_utc(None) is None


ROOT = Path(__file__).resolve().parents[2]


def _sources(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]


def test_json_is_hashed_in_one_function() -> None:
    data = {"b": [1, 2.5, {"z": 1, "a": None}], "a": "x"}
    assert canonical_json(data) == '{"a":"x","b":[1,2.5,{"a":null,"z":1}]}'
    assert canonical_json(data, compact=False) == '{"a": "x", "b": [1, 2.5, {"a": null, "z": 1}]}'
    assert json_hash(data) == hashlib.sha256(canonical_json(data).encode()).hexdigest()
    assert json_hash(data, length=16) == json_hash(data)[:16]
    with pytest.raises(ValueError):
        json_hash({"x": float("nan")}, allow_nan=False)
    defs = Definitions()
    assert defs.config_hash() == json_hash(defs.as_dict(), compact=False, length=16)
    copies = []
    for folder in ("schemas", "streams", "sinks", "demandhub", "bench"):
        for path in _sources(folder):
            if path.name == "canonical.py" and path.parent.name == "schemas":
                continue
            lines = path.read_text().splitlines()
            for i, line in enumerate(lines):
                for arg in re.findall(r"sha256\((\w+)", line):
                    before = lines[max(0, i - 3) : i]
                    if arg == "json" or any(re.search(rf"\b{arg} = json\.dumps", b) for b in before):
                        copies.append(f"{path.relative_to(ROOT)}:{i + 1}")
    assert copies == [], "JSON hashed outside schemas.canonical.json_hash"


def test_the_wait_edge_indices_in_the_migrations_follow_wait_edges() -> None:
    """Applied migrations index the rollups' ``*_within`` arrays with literal numbers; each use is
    named here by the edge it means, so a change to WAIT_EDGES fails here, not in a view."""
    sql = (ROOT / "sinks/clickhouse/migrations/0100_contacts.sql").read_text()
    assert f"-- {list(WAIT_EDGES)} seconds" in sql
    i10, i30, i60, i5 = within_index(10), within_index(30), within_index(60), within_index(5)
    named = [
        f"answered_within[{i10}] AS answered_under_10s",
        f"answered_within[{i60}] - answered_within[{i10}] AS answered_10_to_60s",
        f"answered - answered_within[{i60}] AS answered_60s_or_more",
        f"sumIf(answered_within[{i10}], queue = '999') AS a999_within",
        f"sumIf(abandoned_within[{i5}], queue = '999') AS s999",
        f"sumIf(answered_within[{i30}], queue = '101-primary') AS a101_within",
        f"sumIf(abandoned_within[{i5}], queue = 'webchat') AS sw",
    ]
    for use in named:
        assert use in sql, use
    uses = sum(len(re.findall(r"_within\[\d+\]", use)) for use in named)
    every = [
        (p.name, n)
        for p in sorted((ROOT / "sinks/clickhouse/migrations").glob("*.sql"))
        for n in re.findall(r"_within\[\d+\]", p.read_text())
    ]
    assert len(every) == uses, every


def _migration(name: str) -> str:
    return (ROOT / "sinks/clickhouse/migrations" / name).read_text()


def test_the_defaults_baked_into_the_analyst_views_are_the_definitions_defaults() -> None:
    """Views of applied migrations fall back to default definitions when none are recorded as
    active; each fallback is checked against schemas/definitions.py, the one place defaults live."""
    d = Definitions()
    views = "\n".join(p.read_text() for p in sorted((ROOT / "sinks/clickhouse/migrations").glob("*.sql")))
    active_tz = f"ifNull(nullIf((SELECT any(timezone) FROM applied_definitions_active), ''), '{d.timezone}')"
    reads = views.count("(SELECT any(timezone) FROM applied_definitions_active)")
    assert reads > 0 and views.count(active_tz) == reads
    crimes = _migration("0303_crimes_raw.sql")
    c = d.crimes
    for fallback in (
        f"ifNull(nullIf(JSONExtractString(j, 'timezone'), ''), '{d.timezone}') AS timezone",
        f"JSONExtractString(j, 'crimes', 'period_basis'), ''), '{c.period_basis}') AS period_basis",
        f"JSONExtractFloat(j, 'crimes', 'ncrs_hours'), {float(c.ncrs_hours)}) AS ncrs_hours",
        f"CAST({list(c.prosecution_possible_types)}, 'Array(UInt8)')) AS prosecution_possible_types",
        f"JSONExtractString(j, 'crimes', 'outcome_rate_basis'), ''), '{c.outcome_rate_basis}')",
        f"JSONExtractString(j, 'crimes', 'qa_snapshot_time'), ''), '{c.qa_snapshot_time}')",
    ):
        assert fallback in crimes, fallback
    social = _migration("0500_social.sql")
    s = d.social
    for fallback in (
        f"JSONExtractString(active, 'timezone'), '{d.timezone}') AS tz",
        f"'first_response_target_minutes'), {s.first_response_target_minutes}) AS target_minutes",
        f"'short_abandon_minutes'), {s.short_abandon_minutes}) AS short_minutes",
        f"'target_basis'), '{s.target_basis}') AS basis",
    ):
        assert fallback in social, fallback


def test_the_simulator_draws_a_weighted_code_in_one_place() -> None:
    """ForceContext.weighted_code replaces two copies of the same loop: same code, one draw."""
    from streams.sources.simulator.context import ForceContext
    from streams.sources.simulator.reference import ONLINE_OFFENCES

    def former(rng: random.Random) -> str:
        u = rng.random() * sum(w for _, w in ONLINE_OFFENCES)
        offence = ONLINE_OFFENCES[-1][0]
        for code, w in ONLINE_OFFENCES:
            if u < w:
                offence = code
                break
            u -= w
        return offence

    for seed in range(300):
        ctx = cast(ForceContext, SimpleNamespace(rng=random.Random(seed)))
        reference = random.Random(seed)
        assert ForceContext.weighted_code(ctx, ONLINE_OFFENCES) == former(reference)
        assert ctx.rng.random() == reference.random()
    ctx = cast(ForceContext, SimpleNamespace(rng=random.Random(1)))
    assert ForceContext.weighted_code(ctx, (("only", 1.0),)) == "only"


def test_the_measures_of_a_queue_are_named_once() -> None:
    from demandhub.queries import contacts as contacts_reader
    from streams.domain.servicelevel import QUEUE_MEASURES

    assert tuple(QUEUE_MEASURES) == QUEUES
    named = [measure for measures in QUEUE_MEASURES.values() for measure, _ in measures]
    assert len(named) == len(set(named))
    assert set(named) <= set(contacts_reader.MEASURE_IDS)
    source = Path(contacts_reader.__file__).read_text()
    assert not [m for m in named if f'cells["{m}"]' in source], "a queue measure placed by hand"


def test_warehouse_times_are_made_aware_in_one_function() -> None:
    copy = re.compile(
        r"replace\(tzinfo=UTC\) if \w+\.tzinfo is None else \w+\.astimezone\(UTC\)"
        r"|astimezone\(UTC\) if \w+\.tzinfo else \w+\.replace\(tzinfo=UTC\)"
    )
    copies = [
        f"{path.relative_to(ROOT)}:{i + 1}"
        for path in _sources("schemas", "streams", "sinks", "demandhub", "bench")
        if path.relative_to(ROOT).as_posix() != "sinks/clickhouse/times.py"
        for i, line in enumerate(path.read_text().splitlines())
        if copy.search(line)
    ]
    assert copies == [], "a copy of sinks.clickhouse.times.as_utc"


def test_the_contacts_reader_names_the_contact_channels() -> None:
    """The contacts reader writes the channel list out (so the board need not import the contact
    event models); it is the contract's list, in its order."""
    from demandhub.queries import contacts as reader

    assert reader.CONTACT_CHANNELS == contacts.CONTACT_CHANNELS


def test_the_board_channels_are_listed_once() -> None:
    from demandhub.board.maths import channels
    from demandhub.board.warehouse import source
    from schemas.contacts import CONTACT_CHANNELS

    assert source.CHANNEL_MEASURES is channels.CHANNEL_MEASURES
    assert tuple(channels.CHANNEL_MEASURES) == channels.CHANNEL_ORDER
    in_total = [c for c in channels.CHANNELS if c.in_total]
    assert sorted(c.code for c in in_total) == sorted(CONTACT_CHANNELS)
    assert all(c.measure == f"contacts_{c.code}" for c in in_total)
    assert frozenset({"social"}) == channels.OUTSIDE_TOTAL
