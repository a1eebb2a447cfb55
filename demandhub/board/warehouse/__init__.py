"""The board's warehouse I/O: the series a pack is built from, published packs, CSV imports, lineage,
completeness and the public dashboard's extract."""
