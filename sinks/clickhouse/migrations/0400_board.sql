-- The monthly board pack: imported monthly figures (surveys, peer forces' data, audits) and the
-- store of published figures. Written by `demandhub board import` and `demandhub board --publish`.
CREATE TABLE IF NOT EXISTS imported_monthly
(
    force_id    LowCardinality(String) COMMENT 'Force the figure belongs to (the home force or a peer force)',
    measure_id  LowCardinality(String) COMMENT 'Measure id from demandhub/board/measures.toml',
    month       Date COMMENT 'First day of the month the figure is for',
    numerator   Float64 COMMENT 'Count, or the numerator of a rate (e.g. satisfied respondents)',
    n           Nullable(Float64) COMMENT 'Denominator (e.g. respondents); NULL for counts',
    source      LowCardinality(String) COMMENT 'Supplier of the figure, e.g. victim_survey, telephone_survey, csew',
    as_of       Date COMMENT 'Date the supplier produced the figure',
    imported_at DateTime64(3, 'UTC') COMMENT 'When the file was imported',
    version     UInt64 COMMENT 'Import version (nanoseconds since the epoch); the latest import wins'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (force_id, measure_id, month, source)
COMMENT 'Monthly figures that cannot come from events, imported from suppliers'' CSV files; read with FINAL';

CREATE TABLE IF NOT EXISTS board_published
(
    force_id     LowCardinality(String) COMMENT 'Force of the pack',
    month        Date COMMENT 'Reporting month of the pack (first day)',
    as_of        Date COMMENT 'The measure''s own as-of month in that pack (first day)',
    measure_id   LowCardinality(String) COMMENT 'Measure id from the catalogue',
    column       LowCardinality(String) COMMENT 'Dashboard column: current, minus_1y, ..., v1y, v3y, perf_v_benchmark, msf',
    value        Nullable(Float64) COMMENT 'The published value (NULL when n/a or for a label column)',
    label        Nullable(String) COMMENT 'The published label for label columns (Higher, Lower, Comparable, n/a)',
    published_at DateTime64(3, 'UTC') COMMENT 'When this pack version was published',
    pack_version UInt32 COMMENT 'Version of the pack for this force and month, 1, 2, ...; never overwritten',
    config_hash  String COMMENT 'Hash of every definition and rule the pack was computed with'
)
ENGINE = MergeTree
ORDER BY (force_id, month, pack_version, measure_id, column)
COMMENT 'Every figure of every published board pack; append-only (a restatement is a new pack_version)';

CREATE TABLE IF NOT EXISTS board_pack_versions
(
    force_id     LowCardinality(String) COMMENT 'Force of the pack',
    month        Date COMMENT 'Reporting month of the pack (first day)',
    pack_version UInt32 COMMENT 'Version of the pack for this force and month',
    published_at DateTime64(3, 'UTC') COMMENT 'When it was published',
    config_hash  String COMMENT 'Hash of every definition and rule the pack was computed with',
    figures_hash String COMMENT 'SHA-256 of the published figures (an unchanged re-run publishes nothing new)',
    pack_json    String COMMENT 'The complete pack as published (JSON), for audit'
)
ENGINE = MergeTree
ORDER BY (force_id, month, pack_version)
COMMENT 'One row per published board pack version, with the whole pack as published';

CREATE VIEW IF NOT EXISTS board_published_latest
COMMENT 'The latest published figure of every force, measure, as-of month and column'
AS SELECT force_id, measure_id, as_of, column,
       argMax(value, (published_at, pack_version)) AS value,
       argMax(label, (published_at, pack_version)) AS label,
       max(published_at) AS last_published_at,
       argMax(month, (published_at, pack_version)) AS pack_month,
       argMax(pack_version, (published_at, pack_version)) AS latest_pack_version
FROM board_published
GROUP BY force_id, measure_id, as_of, column;
