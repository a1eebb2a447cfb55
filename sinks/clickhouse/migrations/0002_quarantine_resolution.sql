-- A quarantined event can become possible again: the folds re-run over a subject's whole history,
-- so an answer held out for want of an offer is taken in once the offer arrives. The pipeline then
-- writes the same quarantine row again (same key) with resolved_at set; with FINAL the open
-- quarantines are kind = 'quarantine' AND resolved_at IS NULL.
ALTER TABLE rejected_events
    ADD COLUMN IF NOT EXISTS resolved_at Nullable(DateTime64(3, 'UTC'))
    COMMENT 'Quarantine only: when a later event made the sequence possible (the event then counts in the facts); NULL while it is left out, and for dead letters';
