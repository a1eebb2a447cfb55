-- The event ledger: every accepted event once (dedup key (source, id)), personal data already
-- removed or pseudonymised. Ordered by subject so a processor can reload an entity's history.
CREATE TABLE IF NOT EXISTS events
(
    force_id    LowCardinality(String) COMMENT 'Owning force',
    subject     String COMMENT 'Contact, incident or crime id (the Kafka key)',
    source      LowCardinality(String) COMMENT 'Producing system',
    id          String COMMENT 'Event id, unique within its source',
    type        LowCardinality(String) COMMENT 'Versioned event type, e.g. call.answered.v1',
    time        DateTime64(3, 'UTC') COMMENT 'When it happened (event time)',
    ingest_time DateTime64(3, 'UTC') COMMENT 'When the hub received it',
    data        String COMMENT 'The payload as JSON with personal data dropped or pseudonymised'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (force_id, subject, source, id)
COMMENT 'Ledger of accepted events, deduplicated on (source, id)';

-- Events that were refused: malformed (kind dlq, also on the domain .dlq topic) or impossible
-- (kind quarantine). The payload is scrubbed of personal data.
CREATE TABLE IF NOT EXISTS rejected_events
(
    topic        LowCardinality(String) COMMENT 'Topic the message came from',
    partition    UInt32 COMMENT 'Partition',
    offset       Int64 COMMENT 'Offset in the partition (or line number for file replay)',
    kind         LowCardinality(String) COMMENT 'dlq (malformed) or quarantine (impossible sequence)',
    reason       String COMMENT 'Why it was refused',
    force_id     LowCardinality(String) COMMENT 'Force if it could be read, else empty',
    type         LowCardinality(String) COMMENT 'Event type if it could be read, else empty',
    subject      String COMMENT 'Subject if it could be read, else empty',
    received_at  DateTime64(3, 'UTC') COMMENT 'When the hub refused it',
    payload      String COMMENT 'Scrubbed payload (personal data removed)'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (kind, topic, partition, offset, subject)
COMMENT 'Dead-lettered and quarantined events with their reasons';

-- Completeness watermark per force and source: the latest event time seen.
CREATE VIEW IF NOT EXISTS source_watermarks AS
SELECT force_id, source, max(time) AS watermark, max(ingest_time) AS last_ingest, count() AS events
FROM events
GROUP BY force_id, source;
