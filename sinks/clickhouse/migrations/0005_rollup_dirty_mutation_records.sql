-- The refresher empties the rollup dirty-bucket log entry by entry (lightweight deletes, up to 20,000
-- entries each): every delete is a mutation whose record keeps the statement with every entry id it
-- deleted. The engine keeps the last finished_mutations_to_keep records (100 by default) and parses
-- all of them whenever a process opens the warehouse, so after a catch-up every start of
-- `demandhub sql` or `board` parsed tens of megabytes of them (15 MB after a ten-year replay took
-- about 0.4 s of CPU). The log needs none of them once done: keep one; the engine's cleanup removes
-- the rest in the background.
ALTER TABLE rollup_dirty MODIFY SETTING finished_mutations_to_keep = 1;
