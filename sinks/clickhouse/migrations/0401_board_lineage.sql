-- Lineage of published board figures: the counted entities behind every event measure's month, kept
-- once per distinct content (digest), and which content each published pack version used. Written by
-- `demandhub board --publish`; read by `demandhub board explain --version` and the revision log.
CREATE TABLE IF NOT EXISTS board_lineage_sets
(
    force_id    LowCardinality(String) COMMENT 'Force of the figure',
    measure_id  LowCardinality(String) COMMENT 'Measure id from the catalogue',
    data_month  Date COMMENT 'The month the entities fall in (first day)',
    digest      String COMMENT 'Hash of the month''s counted entities and their contributions',
    entity_id   String COMMENT 'Contact, queue leg, incident or crime id (as held in the hub)',
    counted     Bool COMMENT 'Counted in the cell (only counted entities are kept)',
    num         Float64 COMMENT 'The entity''s contribution to the numerator (or count)',
    den         Nullable(Float64) COMMENT 'Its contribution to the denominator (NULL for counts and levels)',
    sumsq       Nullable(Float64) COMMENT 'Its contribution to the sum of squares (means in minutes)',
    rule        LowCardinality(String) COMMENT 'The rule that counted it'
)
ENGINE = ReplacingMergeTree
ORDER BY (force_id, measure_id, data_month, digest, entity_id)
COMMENT 'Counted entities of a measure and month as published, once per distinct content';

CREATE TABLE IF NOT EXISTS board_lineage_refs
(
    force_id     LowCardinality(String) COMMENT 'Force of the pack',
    month        Date COMMENT 'Reporting month of the pack (first day)',
    pack_version UInt32 COMMENT 'Version of the pack',
    measure_id   LowCardinality(String) COMMENT 'Measure id from the catalogue',
    data_month   Date COMMENT 'The month of the entities (first day)',
    digest       String COMMENT 'The board_lineage_sets content this version used',
    entities     UInt32 COMMENT 'Counted entities',
    num          Float64 COMMENT 'Sum of their numerators: the month''s cell numerator as published',
    den          Nullable(Float64) COMMENT 'Sum of their denominators (a level: 1, one observation)',
    sumsq        Nullable(Float64) COMMENT 'Sum of squares as published (means and levels)'
)
ENGINE = MergeTree
ORDER BY (force_id, month, pack_version, measure_id, data_month)
COMMENT 'Per published pack version: the lineage content of every event measure and month';
