-- Every table removes its merged-away parts on one thread. The engine removes a table's inactive parts
-- (those a merge replaced) in the background, and when there are at least
-- concurrent_part_removal_threshold of them (100 by default) it removes them on a pool of up to 128
-- threads taken from its global pool. Those threads never end: they stay in the process as idle pool
-- threads, each keeping its own allocator cache of freed blocks. A worker's warm-up writes many small
-- parts and merges them, and its first cleanup (30 s after the start) removed over 100 at once: 120
-- threads started in that second and stayed for the rest of a two-hour soak (142 idle of the worker's
-- 177 threads; bench/manual/soak-memory-attribution.md, sixth look). In process, 152 parts merged
-- away and removed concurrently left 124 more threads; with the threshold out of reach, none. A part
-- here is a few files, so removing them one after another costs little. Any new table must carry the
-- setting too (tests/integration/test_part_removal.py checks every table of a migrated warehouse).
ALTER TABLE applied_definitions MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE board_lineage_refs MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE board_lineage_sets MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE board_pack_versions MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE board_published MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE contact_channel_15m MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE contact_legs MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE contact_queue_15m MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE contacts MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE crime_outcomes MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE crimes MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE events MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE imported_monthly MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE incident_grade_history MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE incidents MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE incidents_hourly MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE qa_queue_intervals MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE rejected_events MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE rollup_dirty MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE rollup_refresh_lease MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE schema_migrations MODIFY SETTING concurrent_part_removal_threshold = 1000000;
ALTER TABLE social_threads MODIFY SETTING concurrent_part_removal_threshold = 1000000;
