"""ClickHouse sink: the one client path (clickhouse-connect), ordered migrations, the batching writer."""
