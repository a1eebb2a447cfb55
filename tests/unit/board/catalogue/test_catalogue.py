"""The measure catalogue: every issue id present, each produced by exactly one domain, fields valid."""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from demandhub.board.catalogue.config import PackSettings
from demandhub.board.catalogue.measures import (
    READER_NAMES,
    WORDS,
    CatalogueError,
    load_catalogue,
    parse_catalogue,
    render_definition,
    resolve_setting,
)
from demandhub.board.maths.months import YearMonth
from demandhub.board.warehouse.lineage import READERS as CONTRIBUTIONS
from demandhub.board.warehouse.readers import MONTHLY_CELLS
from demandhub.errors import INPUT, describe
from demandhub.queries import contacts, crimes, incidents, social
from schemas.definitions import (
    CallDefinitions,
    CrimeDefinitions,
    Definitions,
    IncidentDefinitions,
    SocialDefinitions,
)

pytestmark = pytest.mark.unit

EVENT_IDS = [
    "contacts_999",
    "contacts_101",
    "contacts_webchat",
    "contacts_online",
    "contacts_total",
    "calls_999_answered_within_10s",
    "calls_101_answered_within_30s",
    "calls_999_abandoned_rate",
    "calls_101_abandoned_rate",
    "calls_101_primary_abandoned_rate",
    "calls_101_secondary_abandoned_rate",
    "webchat_abandoned_rate",
    "immediate_time_to_respond_mins",
    "immediate_within_target_rate",
    "priority_within_target_rate",
    "incidents_total",
    "incidents_mental_health",
    "incidents_asb",
    "immediate_share",
    "crime_all",
    "crime_violence_with_injury",
    "crime_violence_without_injury",
    "crime_burglary_dwelling",
    "crime_domestic_abuse",
    "crime_serious_sexual",
    "crime_cyber",
    "crime_rural",
    "crime_drugs",
    "crime_hate",
    "outcome_rate_all",
    "outcome_rate_burglary_dwelling",
    "outcome_rate_domestic_abuse",
    "outcome_rate_serious_sexual",
    "outcome_rate_cyber",
    "outcome_rate_hate",
    "conditional_cautions_adult",
    "conditional_cautions_youth",
    "community_resolutions",
    "crime_recorded_within_24h_rate",
    "qa_linking_queue_month_end",
    "social_threads",
    "social_first_response_within_target",
    "social_first_response_mins",
    "social_resolved_without_incident",
    "social_abandoned",
    "social_abandoned_rate",
]
DOMAINS = {"contacts": contacts, "incidents": incidents, "crimes": crimes, "social": social}

MINIMAL = """
[[measure]]
id = "x"
name = "X"
unit = "count"
polarity = "neutral"
theme = "Victims"
source = "imported"
import_sources = ["s"]
"""


def test_the_issue_lists_38_event_ids_and_the_catalogue_has_them_all() -> None:
    # The issue's 38, plus 101 abandonment per queue (primary and secondary) as board rows, plus
    # the social media channel's six (issue 22).
    catalogue = load_catalogue()
    assert len(EVENT_IDS) == 46
    assert sorted(catalogue.event_ids()) == sorted(EVENT_IDS)


def test_each_event_id_is_declared_by_exactly_one_domain_module_the_catalogue_names() -> None:
    catalogue = load_catalogue().by_id()
    for measure_id in EVENT_IDS:
        owners = [name for name, mod in DOMAINS.items() if measure_id in mod.MEASURE_IDS]
        assert owners == [catalogue[measure_id].module], measure_id


def test_survey_measures_are_imported_percentages() -> None:
    catalogue = load_catalogue()
    imported = {m.id: m for m in catalogue.measures if m.source == "imported"}
    for wanted in (
        "victim_satisfaction_overall",
        "victim_satisfaction_burglary",
        "victim_satisfaction_domestic_abuse",
        "victim_satisfaction_hate",
        "confidence_local_concerns",
    ):
        assert wanted in imported
        assert imported[wanted].spec.unit == "percent"
        assert imported[wanted].import_sources
    assert imported["victim_satisfaction_overall"].spec.as_of_lag_months > 0


def test_polarity_units_lags_and_themes() -> None:
    by_id = load_catalogue().by_id()
    assert by_id["crime_domestic_abuse"].spec.polarity == "neutral"
    assert by_id["crime_hate"].spec.polarity == "neutral"
    assert by_id["crime_burglary_dwelling"].spec.polarity == "lower_is_better"
    assert by_id["calls_999_answered_within_10s"].spec.polarity == "higher_is_better"
    assert by_id["immediate_time_to_respond_mins"].spec.unit == "minutes"
    assert by_id["outcome_rate_all"].spec.unit == "percent"
    assert by_id["contacts_999"].spec.as_of_lag_months == 0
    # Crime is reported for the same month as calls, as in the source papers (their FYTD equals the
    # rolling 12 in March); completeness comes from the crime settling period, not a lag.
    crime = [m for m in by_id.values() if m.source == "events" and m.module == "crimes"]
    assert crime and all(m.spec.as_of_lag_months == 0 for m in crime)
    assert {m.spec.theme for m in by_id.values()} == {"Victims", "Offenders", "Communities", "Transformation"}
    assert by_id["crime_all"].spec.noun == "crimes"


def test_every_definition_name_resolves_and_settling_names_a_setting() -> None:
    defs = Definitions().as_dict()
    settle = PackSettings().settle_hours
    for m in load_catalogue().measures:
        for name in m.definitions:
            resolve_setting(defs, name)
        if m.source == "events":
            assert m.settling in settle, m.id
    assert (
        load_catalogue()
        .by_id()["calls_999_answered_within_10s"]
        .definition_values(Definitions())["calls.abandon_convention"]
        == "answered_basis"
    )
    assert PackSettings().settle_hours["crimes"] > PackSettings().settle_hours["contacts"]


def test_specs_are_grouped_by_theme_in_catalogue_order() -> None:
    catalogue = load_catalogue()
    themes = [s.theme for s in catalogue.specs()]
    order = list(catalogue.themes)
    assert themes == sorted(themes, key=order.index)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('unit = "count"', 'unit = "litres"'), "unknown unit"),
        (('theme = "Victims"', 'theme = "Roads"'), "unknown theme"),
        (('source = "imported"', 'source = "guess"'), "source must be"),
        (('import_sources = ["s"]', "import_sources = []"), "import_sources is required"),
    ],
)
def test_a_bad_entry_is_refused(change: tuple[str, str], message: str) -> None:
    parse_catalogue(MINIMAL)  # the unchanged entry is valid
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(MINIMAL.replace(*change))


def test_unknown_definition_setting_and_duplicate_ids_are_refused() -> None:
    with pytest.raises(CatalogueError, match="unknown definition setting"):
        parse_catalogue(MINIMAL + 'definitions = ["calls.no_such_setting"]\n')
    with pytest.raises(CatalogueError, match="duplicate measure ids"):
        parse_catalogue(MINIMAL + MINIMAL)
    events = MINIMAL.replace('source = "imported"', 'source = "events"\nmodule = "contacts"')
    with pytest.raises(CatalogueError, match="entities"):
        parse_catalogue(events)


EVENTS = MINIMAL.replace(
    'source = "imported"\nimport_sources = ["s"]',
    'source = "events"\nmodule = "contacts"\nentities = ["call"]\nsettling = "contacts"',
)


def test_an_event_measure_naming_an_unregistered_reader_fails_at_load(tmp_path: Path) -> None:
    parse_catalogue(EVENTS)  # the unchanged entry is valid
    path = tmp_path / "measures.toml"
    path.write_text(EVENTS.replace('module = "contacts"', 'module = "traffic"'))
    with pytest.raises(CatalogueError) as refused:
        load_catalogue(path)
    assert str(refused.value) == (
        f"catalogue {path}: measure x: module 'traffic' is not a registered reader "
        "(contacts, incidents, crimes, social)"
    )
    assert describe(refused.value).code == INPUT  # the command's one line, as an input error
    path.write_text(EVENTS.replace('module = "contacts"\n', ""))
    with pytest.raises(CatalogueError, match=r"measure x: module .* is required"):
        load_catalogue(path)


def test_a_field_the_catalogue_does_not_define_fails_at_load() -> None:
    with pytest.raises(CatalogueError, match="measure x: unknown field 'query'"):
        parse_catalogue(MINIMAL + 'query = "imported_monthly"\n')


def test_every_reader_a_catalogue_may_name_is_registered() -> None:
    assert set(MONTHLY_CELLS) == set(READER_NAMES) == set(CONTRIBUTIONS)
    assert {m.module for m in load_catalogue().measures if m.source == "events"} == set(READER_NAMES)


def test_open_incidents_are_read_at_the_incident_feeds_watermark(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(
        incidents, "monthly_cells", lambda *args, now=None: seen.append(now) or {"immediate_mins": {}}
    )
    mark = datetime(2019, 3, 1, 12, tzinfo=UTC)
    month = YearMonth(2019, 1)
    cells = MONTHLY_CELLS["incidents"](None, "cambs", month, month, Definitions(), {"incident": mark})  # type: ignore[arg-type]
    assert cells == {"immediate_mins": {}} and seen == [mark]


ALTERNATIVE = Definitions(
    version="2.0.0",
    calls=CallDefinitions(
        service_threshold_seconds={"999": 15, "101-primary": 45, "101-secondary": 45, "webchat": 60},
        short_abandon_seconds={"999": 3, "101-primary": 4, "101-secondary": 4, "webchat": 6},
        abandon_convention="ignore",
        clock_start_999="bt_connect",
        ivr_short_abandon_seconds=None,
        dedupe_short_abandons_from_volumes=True,
    ),
    incidents=IncidentDefinitions(
        target_minutes={
            "IMMEDIATE_urban": 12,
            "IMMEDIATE_rural": 25,
            "PRIORITY_urban": 50,
            "PRIORITY_rural": 70,
        },
        response_clock="contact_offered",
        exclude_self_initiated=False,
        grade_basis="final",
        mental_health_basis="ever",
        asb_basis="qualifier_ever",
    ),
    crimes=CrimeDefinitions(
        period_basis="occurred",
        ncrs_hours=48,
        prosecution_possible_types=(1, 2, 3),
        outcome_rate_basis="cohort",
        qa_snapshot_time="18:00",
    ),
    social=SocialDefinitions(
        first_response_target_minutes=30, target_basis="received", short_abandon_minutes=5
    ),
)


def test_every_measure_has_a_definition_in_words_that_fills_under_default_and_other_settings() -> None:
    catalogue = load_catalogue()
    for defs in (Definitions(), ALTERNATIVE):
        for m in catalogue.measures:
            assert m.definition, m.id
            words = m.definition_words(defs.as_dict())
            assert words.startswith(f"{m.spec.name}: ") and "{" not in words and "}" not in words, m.id
            if m.source == "imported":
                assert "imported from" in words and "as of the month in the import file" in words, m.id
    by_id = catalogue.by_id()
    # Every setting a sentence names changes the sentence when it changes.
    for m in catalogue.measures:
        if m.source == "events" and any(d != "timezone" for d in m.definitions):
            before = m.definition_words(Definitions().as_dict())
            assert before != m.definition_words(ALTERNATIVE.as_dict()), m.id
    sl = by_id["calls_999_answered_within_10s"]
    default = sl.definition_words(Definitions().as_dict())
    assert "under 10 s, as a share of calls answered; abandoned calls are not counted" in default
    assert "(convention: answered_basis)" in default
    other = sl.definition_words(ALTERNATIVE.as_dict())
    assert "under 15 s" in other and "under 10 s" not in other
    assert "leaving out calls abandoned within the threshold" in other and "(convention: ignore)" in other
    assert "BT's connect time" in other
    target = by_id["immediate_within_target_rate"].definition_words(ALTERNATIVE.as_dict())
    assert (
        "12 minutes urban, 25 minutes rural" in target and "self-initiated incidents are included" in target
    )
    outcomes = by_id["outcome_rate_all"].definition_words(ALTERNATIVE.as_dict())
    assert "outcome types 1, 2 and 3" in outcomes and "the month the crime occurred" in outcomes


@pytest.mark.parametrize("name", sorted(WORDS))
def test_every_value_of_an_enumerated_setting_has_words(name: str) -> None:
    group, field = name.split(".")
    annotation = type(getattr(Definitions(), group)).model_fields[field].annotation
    values = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Literal else ()
    if annotation is bool:
        values = (True, False)
    for value in values:
        assert WORDS[name](value) and "{" not in WORDS[name](value), (name, value)


def test_a_definition_placeholder_naming_no_setting_fails_the_load() -> None:
    good = MINIMAL + 'definition = "answered within {calls.service_threshold_seconds.999} s"\n'
    assert parse_catalogue(good).measures[0].definition_words(Definitions().as_dict()) == (
        "X: answered within 10 s"
    )
    for bad in (
        "{calls.no_such_setting}",
        "{calls.service_threshold_seconds.998}",
        "{timezone:words}",
        "{calls.abandon_convention:shout}",
        "an open { brace",
    ):
        with pytest.raises(CatalogueError, match="definition does not render"):
            parse_catalogue(MINIMAL + f'definition = "{bad}"\n')
    with pytest.raises(KeyError):
        render_definition("{calls.abandon_convention:words}", {"calls": {"abandon_convention": "guess"}})
