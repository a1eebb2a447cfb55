-- Rollups are refreshed lazily (at most once a second, by one owner) instead of after every batch.
-- The pipeline logs every rollup bucket a batch's facts touch here BEFORE it writes the facts (and so
-- before the ledger): a crash anywhere after leaves the bucket logged, and the next refresh finds it.
-- The refresher recomputes logged buckets from the deduplicated facts, then deletes exactly the
-- entries it read (an entry logged meanwhile stays for the next refresh).
CREATE TABLE IF NOT EXISTS rollup_dirty
(
    rollup_table LowCardinality(String) COMMENT 'Rollup table whose bucket must be recomputed',
    force_id  LowCardinality(String) COMMENT 'Owning force',
    bucket    DateTime('UTC') COMMENT 'Start of the bucket (15 minutes or one hour, UTC)',
    entry     UUID DEFAULT generateUUIDv4() COMMENT 'This log entry (the refresher deletes the entries it read)'
)
ENGINE = MergeTree
ORDER BY (rollup_table, force_id, bucket)
COMMENT 'Rollup buckets whose facts changed and whose rollup rows are not recomputed yet (internal)';

-- One refresher owns the refresh of the rollups of a warehouse at a time (several workers may write
-- one ClickHouse server). The holder renews its lease every cycle; expiry is on the server's clock.
CREATE TABLE IF NOT EXISTS rollup_refresh_lease
(
    name     String COMMENT 'What the lease is for (rollups)',
    holder   String COMMENT 'Process holding it (host, pid, random id)',
    expires  DateTime64(3, 'UTC') COMMENT 'When the lease lapses unless renewed (server clock)',
    version  UInt64 COMMENT 'Server clock in nanoseconds when claimed or renewed'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY name
COMMENT 'Who refreshes the rollups (internal)';
