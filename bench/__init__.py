"""The benchmark suite of demandhub: ``python -m bench`` (``make bench``) runs it and rewrites
BENCHMARKS.md.

Every figure is a ratio against a baseline measured in the same run, because the machines it runs
on are shared and noisy; each result records the machine and the exact command. Timings never go
in the test suite. Benchmarks:

- ``throughput``: pre-produced events through one ``demandhub worker`` into its warehouse, against
  a bare aiokafka consumer reading the same topics.
- ``freshness``: produce time -> visible to the wallboard's readers (the ledger, polled through the
  hub's API) at 1,000 and at 50 events/s, against produce time -> received by a bare consumer.
- ``replay``: ten years of one force through ``demandhub replay``, against the warehouse's own bulk
  insert of the same ledger rows.
- ``board``: the monthly board over ten years of history and the live API, against ``SELECT 1``
  and ``GET /health``.
- ``scale``: the throughput test with 1, 2 and 4 workers in one consumer group.
- ``profile``: pyinstrument over ``Pipeline.process`` on the replay path (top frames).
"""
