-- Facts keep what happened; definitions are applied when figures are read. A cache of derived figures
-- (the rollups) is keyed by the hash of the definitions it was computed under (its definition_hash
-- column). This table says, per rollup, under which definitions it is complete: a reader whose
-- definitions have that hash reads the rollup, any other reader computes the same figures from the
-- facts. The row named 'active' holds the full definitions the worker runs under: the analysts' views
-- apply them at read time (view applied_definitions_active).
CREATE TABLE IF NOT EXISTS applied_definitions
(
    name            String COMMENT 'A rollup table, or active for the definitions the worker runs under',
    definition_hash String COMMENT 'Hash of the definitions (of the groups the rollup depends on; all of them for active)',
    definitions     String COMMENT 'The definitions as JSON (schemas/definitions.py Definitions.as_dict)',
    version         UInt64 COMMENT 'Server clock in nanoseconds when recorded (the latest row wins)'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY name
COMMENT 'Which definitions each rollup is complete under, and the definitions the worker runs under (use FINAL)';

CREATE VIEW IF NOT EXISTS applied_definitions_active
COMMENT 'The definitions the worker runs under (one row): the analysts views apply these when read'
AS SELECT definition_hash, definitions,
    JSONExtractString(definitions, 'definition_id') AS definition_id,
    JSONExtractString(definitions, 'version') AS definition_version,
    JSONExtractString(definitions, 'timezone') AS timezone
FROM applied_definitions FINAL
WHERE name = 'active';
