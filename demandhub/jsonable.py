"""JSON-safe form of warehouse values, shared by the web server and the CLI (imports nothing heavy,
so ``demandhub sql`` does not load the web stack to print a table)."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any


def to_jsonable(value: Any) -> Any:
    """JSON-safe form of warehouse values (datetimes as ISO with their offset, UTC when naive;
    decimals as floats)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID | bytes):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value
