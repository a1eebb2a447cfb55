"""The "what limits it" paragraphs of BENCHMARKS.md, written from the profiles and figures of the
benchmark runs. They describe causes, not figures (the tables carry those): re-read them against
the profile whenever the figures move."""

from __future__ import annotations

LIMITS: dict[str, list[str]] = {
    "throughput": [
        "The worker's records do not go through faust's per-event dispatch: one aiokafka consumer "
        "in a faust task (`streams/app.py` `HotPath`) runs one `getmany` loop over the six input "
        "topics, and each fetch of up to `batch_max_events` (20,000) records is one write cycle: "
        "`Pipeline.prepare` (decode, fold) then `Pipeline.write` (one insert per table for every "
        "topic of the fetch), each in a worker thread, then the dead letters confirmed and the "
        "offsets committed. Rollups are lazy: a cycle only logs the buckets it touched, and the "
        "worker's refresher recomputes them every `rollup_refresh_seconds` (5 s by default) on a "
        "warehouse handle of its own. "
        "Under a backlog the next fetch is prepared while the one before is written (at most one "
        "write in flight), so chDB's part of the statements runs beside the next fetch's Python "
        "work; after its first ledger row the worker is bound by the Python work of a cycle (decode, "
        "folds, ledger rows, and clickhouse-connect building the inserts) under one GIL, while the "
        "bare consumer reads the same records many times faster.",
        "Inside a cycle (profile below) the pure Python work leads: decode (pydantic's validation "
        "first, then range checks and de-identification) and the folds, then building ledger rows; "
        "the warehouse "
        "statements (a handful per cycle whatever its size: one history read for the fetch's "
        "uncached subjects, the dirty-bucket log, one insert per fact table touched, the ledger) "
        "come next, and chDB lets the Python thread run during them. The worker's CPU per event is "
        "the steadiest figure of a loaded machine.",
        "Start-up is part of the figure from launch, and the bare consumer's run is mostly its own "
        "start-up and group join (tansu holds a join for about half the 6 s session timeout). The "
        "worker's join and first fetch run while the warehouse opens and migrates on a thread of its "
        "own (`streams/startup.py`); the first write cycle waits for it. So launch to the first "
        "ledger row is Python, the settings and faust's imports, then the longer of the join and "
        "opening chDB (loading its library, the engine opening every part, the migrations), then "
        "the first cycle; the start-up figures give each step from launch. With start-up fixed, the "
        "ratio from launch rises with the run's size towards the ratio after the first record.",
        "What would move it further: decode and folds off the one Python thread (processes started "
        "before chDB is imported, as a replay may), a cheaper decoder, and the consumer's group join "
        "started before faust's and the web's imports (it starts only once faust runs, and tansu "
        "holds a join for about 3 s).",
    ],
    "freshness": [
        "What is timed is the marker's ledger row becoming visible to a reader of the worker's "
        "warehouse. That is the point the wallboard can show the event: the live readers "
        "(`demandhub/web/live.py`) read fact tables, never rollups, and a write cycle writes the "
        "facts before the ledger. Not counted: the live document is then cached for up to "
        "`CACHE_TTL_SECONDS` and pushed to an open page every `STREAM_CHECK_SECONDS` (0.5 s each), "
        "which a screen adds on top. Each latency is an upper bound by up to one poll (the "
        "resolution figures: a poll's answer minus the previous poll's start).",
        "An event's way to the ledger has three parts. (1) The broker: the worker's consumer "
        "prefetches in the background, and tansu answers a fetch that found nothing only after "
        "re-checking at half the remaining wait, so the consumer's `fetch_max_wait_ms` bounds the "
        "delay (`streams.app.FETCH_MAX_WAIT_MS`, 50 ms; aiokafka's default 500 ms delayed an event "
        "by up to 250 ms, about the bare consumer's p99). The bare consumer uses the same wait, so "
        "its latency is this part alone. (2) The fetch: `getmany` returns as soon as records are "
        "prefetched (aiokafka's `Fetcher.fetched_records`), so `batch_max_seconds` is only the "
        "wait of an idle worker and never delays an event; but one write cycle runs at a time, so "
        "an event arriving during a cycle waits for it to end. (3) Its own write cycle.",
        "At 50 events/s a fetch holds one to a few events, and a write cycle costs per statement, "
        "not per event: a one-row insert into chDB writes a part (a few ms of the engine's CPU, on "
        "its query threads and later in merges, whatever the row count). A cycle sends one history "
        "read for the subjects not in the cache (on a read handle, while the cycle before is "
        "written), one insert per fact table touched and the ledger; the dirty-bucket log only for "
        "buckets not already logged since the refresher's last refresh began (in process, cycles of "
        "three events of the simulated stream with a refresh every 65 cycles: 5.66 -> 4.75 "
        "statements per cycle, the log in 10% of cycles instead of every one), and a second time "
        "after the facts only when a refresh may have read it in between. The next fetch's write "
        "begins as soon as the one before is durable; that one's dead letters and offset commit run "
        "while it is written (in worker traces at 50/s the gap from one write's end to the next "
        "write's start fell from 19-118 ms to 3-5 ms, p50, loaded machine). While a refresh runs "
        "(most of the time on a loaded machine, where one takes seconds) the log is written as before.",
        "What sets the p99 at 50/s is the rollup refresher (every `rollup_refresh_seconds`, 5 s, on "
        "its own handle): it recomputes every bucket logged since the last refresh (a tombstone and "
        "a recompute per rollup, the delete of the log entries it read) on the same two cores, and a "
        "write cycle that overlaps it takes 2.5-3.4 times as long (worker traces of trial runs on a "
        "machine at load 20-40: 127 -> 433, 254 -> 614, 380 -> 1127 ms). Eight refreshes fall in "
        "the 40 s phase, so the 20 slowest of its 2,000 markers are events that arrived during one. "
        "Fewer refreshes while the write cycles are busy (readers of rollups refresh pending "
        "buckets first, so a longer interval changes no figure), or a refresh that runs at a lower "
        "priority than the cycles (one engine thread, a higher nice value: measured, but not "
        "distinguishable from noise at that load) are the next steps. Two more were measured in "
        "same-run pairs beside the two-hour soak (whose worker took 0.8 of a core) and not kept: "
        "`rollup_refresh_seconds` 30 against 5 (50/s p99 2.16 and 2.75 s against 2.56 and 2.36 s: no "
        "difference at that load), and the embedded engine's two merge threads (`MergeMutate`, a third "
        "of a 50 events/s worker's CPU over the soak: 830 of 2,330 s in 48 minutes) at nice 10 (50/s "
        "p99 1.56 and 1.51 s against 1.28 and 1.26 s, mean write cycle 180-207 against 150-172 ms: no "
        "better, if anything worse, as parts left unmerged make every read of a cycle dearer). "
        "The poller is the benchmark's "
        "own cost, not the product's: each poll of `/api/sql` is four statements in the worker (the "
        "SQL guard's two `formatQuery` and `EXPLAIN AST`, then the query), about eleven polls a "
        "second, as many statements as the write cycles send; one open wallboard reads every "
        "0.5 s.",
        "At 1,000 events/s the worker keeps up, so the latency is not a growing backlog: fetches "
        "are larger (what arrived during the previous cycle) and the per-event work of the cycle "
        "(decode, folds, row building) adds to the fixed statement cost.",
    ],
    "replay": [
        "`demandhub replay` folds each subject once over the whole file: the lines are sharded by "
        "subject over worker processes (one per core, at most four, spawned before chDB is loaded), "
        "each shard is decoded and folded there (with the ledger's history only of subjects the "
        "warehouse already holds: none on a fresh one) and its rows encoded there as the insert "
        "bytes of each table (clickhouse-connect's Native format, by the warehouse's column types); "
        "the command's own process logs each shard's rollup buckets as it comes, holds the bytes "
        "(up to 512 MiB) and writes each table in one insert (facts, rejected events, then the "
        "ledger), and recomputes every month holding a logged rollup bucket by time range while "
        "the ledger goes in. The baseline inserts ready-made ledger rows only.",
        "Was: the shards' rows sent back as Python values and each shard inserted apart. Unpickling "
        "them and clickhouse-connect's serialising took the replay's own process about 2.7 s of "
        "CPU per 180,000 events under one interpreter lock, and eight inserts per table left eight "
        "parts in every month: the engine merged them in the background (1.1-1.3 s of CPU), "
        "`compact` merged them again (0.7-1.2 s) and the rollup rebuild's `FINAL` reads merged "
        "them as they read. Same-run pairs on a loaded two-core machine (load 26-42): 180,000 "
        "events, the replay's own process 9.6 -> 3.8 s of CPU with the workers unchanged "
        "(11.5 -> 10.9 s; encoding costs them what pickling rows did). The ten-year file, two "
        "same-run pairs at load 10-22: the ratio 0.056 -> 0.071 and 0.064 -> 0.076, the replay "
        "75.2 -> 67.1 s and 82.6 -> 68.4 s, the whole command's CPU (workers included) 58.6 -> "
        "49.1 s and 63.8 -> 50.3 s, its largest process 1.24-1.27 -> 1.04-1.09 GB resident.",
        "What limits it now is CPU in the worker processes: per 180,000 events about 11-12.5 s of "
        "decode, validation, reference checks, folds, ledger rows and encoding, against about 4 s "
        "in the command's own process (opening and migrating the fresh warehouse 1.2 s, reading "
        "the file 0.4 s, the engine's inserts about 0.6 s, the rollup rebuild 1.0-1.5 s): 82-93 us "
        "of CPU per event in all at load 26-42 (67-69 us at load 10-22). The target allows about "
        "23 us of wall time per "
        "event (4 x the quiet bulk insert's 5.8 us per row), so about 46 us of CPU on two busy "
        "cores: the per-event cost of decode and folds in the workers is what would move it now; "
        "the command's own process mostly waits for them. It holds the lines of up to 512 MiB of "
        "the file at a time (a larger file is read once per segment of its subjects).",
    ],
    "board": [
        "Both targets are measured in process, and the verdict is met only if both are. "
        "In the board profile (call tree above) most of the time is reading the warehouse "
        "(`read_board_source`: some 30 queries, every measure's monthly cells for the three domains "
        "over the whole history, district and offence-group series, watermarks, peer forces): of "
        "about 0.57 s of CPU for the ten-year pack (2 cores, chDB's threads included), some 0.41 s "
        "is statements. The largest are one scan of the ledger (`board_sql.ledger_marks`: every "
        "force's watermarks, sources and counts at once, some 60-70 ms: reading five columns of "
        "every event and grouping them by three LowCardinality keys), the NCRS timeliness read "
        "(the first report across the force's linked incidents, contacts and threads: now one "
        "`ANY LEFT JOIN` a side, its ids narrowed without recomputing the counted crimes, 61 -> "
        "49 ms), the open incidents past their target (a `FINAL` read of every incident's "
        "columns, most of its 25 ms), the QA/Linking month ends (the stays read once as steps by "
        "day, 25 -> 19 ms) and the outcome rate (two reads of `crimes`). `FINAL` itself costs "
        "nothing here any more: replay and rebuild end with one part per partition "
        "(`sinks/clickhouse/compact.py`), and each read with and without it took the same time. "
        "The rest is pure Python building the pack (pooling cells, the label tests in plain "
        "`math`, the narrative, whose 'highest since' search computes a rolling sum only for the "
        "months it reads, the district series, about 55 ms in `build_pack`) and the JSON text "
        "(`json.dumps` with an indent, about 20 ms; a hand-written walk of the pack saved 7 and "
        "was not worth a second JSON encoder). The statements no longer run one after another: the "
        "reads that depend on nothing read before them (crimes' counted cells on one read handle; "
        "the force's imported rows, contacts, social media, the QA/Linking month ends and the "
        "published figures on a second) start as the pack starts, while the command's own handle "
        "scans the ledger and reads incidents (which need the ledger's watermarks), and each is "
        "collected where it was read before (`demandhub/board/warehouse/ahead.py`; same pack "
        "bytes, same first error, both handles closed at the end). chDB runs statements of "
        "different handles at once outside Python's lock (two 3 s statements on two handles ended "
        "together). Same-process pairs, the two orders alternated, the measuring process given "
        "the CPU share of a quiet machine (its autogroup at nice -15; this machine schedules by "
        "session, so at a load of 10 a process's threads share one process's slice and the reads "
        "at once gained nothing, 1.02 of the wall, 1.08 of the CPU): 0.79 of the wall one after "
        "the other (0.50 -> 0.39-0.40 s, medians of 12 and 15) for 1.05-1.07 of the CPU (the two "
        "read handles cost about 15 ms of CPU each to open, mostly clickhouse-connect reading the "
        "engine's settings). The read phase now ends after about 0.22 s with both cores busy, so "
        "it is bound by the statements' CPU (some 0.3 s in all), and what follows it is one "
        "thread: the district series (11 ms), `build_pack` (about 55 ms), the report and the JSON "
        "text. Reading crimes in two parts (the QA/Linking month ends apart) balances the handles "
        "(the command's thread waits 10 ms for crimes instead of 20) but cannot shorten a phase "
        "bound by CPU; one read handle instead of two gave 0.82-0.85 of the wall. What is left to "
        "gain is CPU: the ledger scan (reading its five columns is about half of it, grouping by "
        "the three LowCardinality keys the rest; a hashed key, one thread or grouping by part "
        "first were no cheaper; watermarks kept by the writer as it inserts, or an aggregate "
        "projection on `events`, are a migration and a cost on every insert), the NCRS first "
        "report, the contacts reader's rollup checks (two small statements before each of its "
        "three rollup reads) and the pure Python after the reads. The narrative's "
        "'highest since' searches read back as far as the data needs, so the months read cannot "
        "be cut without making those reads lazy. The whole command "
        'takes a few seconds more, almost all of it start-up that `demandhub sql "SELECT 1"` '
        "pays too (Python imports, loading chDB's ~350 MB library, opening the warehouse).",
        "The live document is three readers (queues, open incidents, QA/Linking queue) over "
        "today's facts; the live cache (0.5 s) means concurrent pages share one computation, and "
        "requests here were spaced to miss it.",
    ],
    "scale": [
        "This machine has two cores, so more workers cannot add CPU: each worker is a full Python "
        "process with its own embedded chDB, and start-up (imports, chDB, migrations, group joins "
        "and rebalances as workers arrive) grows with their number. With the events split over more "
        "processes, each batch's `Pipeline.process` takes longer under CPU contention (the summed "
        "process time in the stored result grows with the worker count). Partitions (4 for calls, "
        "incidents and crimes, 2 for web chat and online reports) cap useful workers at 4.",
        "The headline is the rate once every worker has written its first row (from that poll to "
        "the last event), so a later worker's start-up and the group's rebalances fall outside it; "
        "start-up is the rate from launch beside it. Polls are half a second apart and a worker "
        "writes up to 20,000 events per cycle, so a run of a few cycles gives a rough rate: the "
        "figure says whether the second worker adds throughput, not by how much to the percent.",
        "Each worker here writes its own embedded warehouse, so the figures are of the processing, "
        "not of a deployment, where the workers share one ClickHouse server (see "
        "deploy/SCALING.md). On a machine with a core per worker the pipeline would scale until the "
        "shared warehouse's inserts and rollup refreshes become the limit.",
    ],
    "profile": [
        "`PyCapsule.query` is chDB executing SQL (its self time includes the statements' engine "
        "work). By call tree, `Pipeline.prepare` (no writes but the history read) is about three "
        "quarters of `Pipeline.process`: the folds (`CallFold.fold` first), decode (pydantic's "
        "`validate_json`, then `sanitise` copying the treated fields, then the reference checks), "
        "the one ledger read of the batch's uncached subjects' histories, and building ledger rows "
        "(JSON encoding and `model_dump`). `Pipeline.write` is the rest: one insert per fact table, "
        "the dirty-bucket log and the ledger; rollups are not refreshed per batch (the profile's "
        "pipeline logs buckets and one refresh runs at the end).",
        "Of the pure work, pydantic's own validation is now the largest single part: the times of "
        "the usual wire form (UTC, whole milliseconds) are read in one validator call, the ledger's "
        "JSON comes from one C encoder made once, the folds compute each contact leg's start times "
        "and each incident event's verb once and sort the kept copies once, and fold rows are "
        "versioned in place. The table above gives the CPU per event of each pure stage, measured "
        "without the profiler or a warehouse.",
        "After ten years of history (at the replay's scale) the same day is not slower: the inserts "
        "and the history read touch only the day's subjects and the rollup refresh recomputes only "
        "the logged buckets' months, so the fact tables' size does not show at this scale (the two "
        "rates differ by what else the machine did).",
    ],
    "soak": [
        "The run above is of commit d14eac4 (the history cache bounded at 10,000 events), before the "
        "write cycle's fewer statements and the prepared-while-written hot path; it ran beside other "
        "work for its first 80 minutes (load 10-40), which is where its latencies are high, and on a "
        "quiet machine for the last 40. The worker never stalled: the ledger moved in every 30-second "
        "sample and the group lag stayed under 200 records (4 s of events).",
        "Memory is not flat: after the warm-up the worker's RSS grew about 2 MiB a minute for 100 "
        "minutes, slowing in the last 20. Measured by hand since (below, 'where the worker's memory "
        "goes' and its second look): the heap settling froze in-flight reference cycles for good "
        "(each insert's context holding its rows, the web server's socket transports; about 4,000 "
        "objects a minute), now fixed (the insert context's cycle broken after each insert, a full "
        "collection after an unfreeze every five minutes). A later run of the soak with both fixes, "
        "stopped after 67 minutes, had a flat Python heap from minute 30 and sat 60-110 MiB lower minute "
        "by minute, but its RSS still rose about 1.5 MiB a minute (1.21 from minute 10 to the highest "
        "after minute 60): native memory outside Python's heap, not yet attributed. chDB's tracked "
        "memory and caches sampled through a metric in the soak, and a run without the API poller, "
        "are the next step; the two-hour run of the current code is still to be made.",
    ],
    "cli": [
        "The command's own time is imports: pydantic and the settings object take about half of its "
        "CPU, then rich (the table), urllib and argparse. When a hub answers, no chDB, ClickHouse "
        "client, Kafka, faust or web-server code is loaded, and the event models are built only when "
        "first used. The rest of the wall time is the hub's answer (the SQL guard asks the engine to "
        "parse the query before running it). A smaller figure would need the settings read without "
        "pydantic on this path.",
    ],
    "startup": [
        "From launch, both commands pay for Python, the settings (pydantic and pydantic-settings), "
        "the ClickHouse client and chDB (its library; pyarrow and numpy are not loaded: chDB is "
        "loaded with pyarrow hidden), then for opening the embedded engine: a tenth of a second on "
        "an empty warehouse. After a ten-year replay most of the opening was not the parts (some "
        "150 active, the ledger's 120 monthly partitions among them; the merged-away parts left "
        "on disk until `old_parts_lifetime` load in the background) but the rollup dirty-bucket "
        "log's mutation records: each lightweight delete of the replay kept its statement with "
        "every entry id (15 MB in all), parsed again at every open (about 0.4 s of CPU). Replay "
        "and rebuild now end by merging every table to one part per partition and truncating the "
        "emptied log, which removes those records (`sinks/clickhouse/compact.py`), and the log keeps "
        "one finished record instead of 100 while a worker refreshes (migration 0005). "
        "What is left of `demandhub sql` is Python, the settings, the client and chDB's library, "
        "the opening, and the SQL guard's catalogue (`system.functions`, about 0.1 s). "
        "No renderer (WeasyPrint, "
        "matplotlib, openpyxl, Jinja2), faust, Kafka client, web server, Prometheus client, event "
        "pipeline or fold registry is imported by either command (tests/unit/test_startup_imports.py "
        "guards this).",
        "`demandhub board` adds the board modules and the pack itself. It opens the warehouse on a "
        "thread while it imports the pack's modules and reads the pack's configuration, so chDB's "
        "opening (outside Python's lock for much of it) and the imports overlap; loading chDB's "
        "library and the imports both hold Python's lock, so they do not. Its readers no longer "
        "import the event contract (the union of every event type and the incident, crime and "
        "social media payload models: the open-incident watch rule is in "
        "`streams/domain/watch.py`), about 60 ms of CPU less; the contacts reader still imports "
        "`schemas.contacts` for its channel list. It no longer imports numpy "
        "or scipy: the label tests' distributions (normal and Student's t tails, the exact binomial "
        "test, Welch's test, Benjamini-Hochberg) are plain `math` in "
        "`demandhub/board/maths/distributions.py`, pinned against scipy.stats to a relative 1e-12 "
        "by the unit tests.",
        "In process, about two thirds of the pack's CPU is reading the warehouse "
        "(`read_board_source`: the domain readers' monthly cells over ten years, watermarks, "
        "districts, peers), now on the command's handle and two read handles at once, the rest is "
        "pure Python building it (see the board limits). The JSON text is some 20 ms. From launch, "
        "same-run pairs against the code before the reads at once (8 interleaved rounds, the "
        'measuring session at nice -15): 1.34 -> 1.23 s over `python -c "import demandhub"`, '
        "CPU 1.34 -> 1.40 s.",
    ],
}

FIXES: list[str] = [
    "**Make the rollup refresh read only the touched buckets** (every `rollup_refresh_seconds`, "
    "from the dirty-bucket log): the fact tables are ordered by "
    "entity id, so `WHERE toStartOfFifteenMinutes(placed_at) IN (...)` with `FINAL` reads the "
    "whole force; a minmax skip index on `placed_at` / `created_at`, or reading the touched rows' "
    "ids first and aggregating only the buckets' rows, bounds the cost as history grows.",
    "**Column-oriented fact inserts** (`Warehouse.insert_dicts`): build columns instead of row "
    "lists and use `insert(..., column_oriented=True)` or `insert_arrow` (measured on this machine "
    "at about three times the row insert).",
    "**Cheaper ledger rows** (`Pipeline._ledger_row`): dump only `event.data`, not the whole "
    "envelope, before `json.dumps`.",
    "**Board watermarks without scanning the ledger**: a pack still scans the ledger once "
    "(`board_sql.ledger_marks`: every force's latest event and ingest times and counts); the writer "
    "could keep them in a small table as it inserts.",
    "**Flat worker memory**: attribute the native growth the soak shows (arenas per thread pool, "
    "`MALLOC_ARENA_MAX`, a periodic jemalloc purge, a fixed thread count).",
]
