"""Reference data kept as CSV (offence groups, outcome types); read by streams.domain.classification."""
