"""Event sources: producers of hub events (the calibrated simulator; real-system adapters later)."""
