"""Released migrations never change: a warehouse that applied one refuses to start when its file
differs ("changed after it was applied"). Each migration's checksum is recorded here when it is
released; a change to the warehouse goes into a new, higher-numbered migration."""

from __future__ import annotations

import pytest

from sinks.clickhouse.migrate import load_migrations

pytestmark = pytest.mark.unit

RELEASED = {
    1: "029d52a990aafa5e",  # core
    2: "edc33e9cfe44ae09",  # quarantine_resolution
    3: "1f6ad621c41a8e7f",  # rollup_dirty
    4: "2d2745d39b799531",  # applied_definitions
    5: "43ca4205e10c56a8",  # rollup_dirty_mutation_records
    100: "972b4178c63b4973",  # contacts
    101: "0b240769734fbe40",  # live_windows_by_exit
    102: "7a02d93e0745b718",  # contacts_board_month_thresholds
    103: "1370701b85d70fbc",  # contacts_raw
    104: "47f0dc1a5b78974d",  # contact_rollups_by_definitions
    105: "c11b9ef728e144bc",  # contact_views_read_keys
    200: "5869ffda0fe5d190",  # incidents
    201: "ad1369bb63637858",  # incident_response_graded_denominator
    202: "015e97e7b0204f42",  # incidents_raw
    203: "3e5ade9ea8a83ad5",  # incident_rollup_by_definitions
    300: "b3474fe9068bbc69",  # crimes
    301: "7fcdd1b875bdb550",  # crime_views
    302: "2bba4f8b14d30155",  # crime_first_report
    303: "42b2557e29d0bbcf",  # crimes_raw
    400: "2b7906a38973655f",  # board
    401: "77d452b0b8f9f1d1",  # board_lineage
    500: "7dffb4943af2cd18",  # social
    501: "d75ff8e0aaed01b0",  # social_first_report
    600: "e59f0d39a9e3fe6b",  # single_threaded_part_removal
}
"""Migration number -> checksum (sinks.clickhouse.migrate.Migration.checksum) as released."""


def test_no_released_migration_changed() -> None:
    changed = [
        f"{m.number:04d}_{m.name}"
        for m in load_migrations()
        if m.number in RELEASED and RELEASED[m.number] != m.checksum
    ]
    assert not changed, f"released migrations changed (write a new migration instead): {changed}"


def test_every_migration_is_recorded_once_released() -> None:
    numbers = {m.number for m in load_migrations()}
    assert numbers >= set(RELEASED), f"released migrations missing: {sorted(set(RELEASED) - numbers)}"
    assert numbers <= set(RELEASED), (
        f"record the checksums of new migrations in RELEASED: {sorted(numbers - set(RELEASED))}"
    )
