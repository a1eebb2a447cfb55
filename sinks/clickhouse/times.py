"""Times as the warehouse gives them back: a ``DateTime('UTC')`` or ``DateTime64(3, 'UTC')`` value
comes back naive (UTC without a zone) from clickhouse-connect and chDB; :func:`as_utc` makes it
aware, the one way every reader does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
@overload
def as_utc(value: datetime | None) -> datetime | None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """``value`` as an aware UTC datetime: a naive one is taken to be UTC, an aware one converted;
    None stays None."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
