"""Recognising ClickHouse failures that need an operator rather than a retry alone.

The engine reports a full disk in several shapes, depending on where the write failed: a reservation
refused before writing (``Code: 243 ... not enough space. (NOT_ENOUGH_SPACE)``, what chDB 26.9 raised
when its volume filled up here), a write that hit ``ENOSPC`` (``Cannot write to file ..., errno: 28,
strerror: No space left on device``), or an ``OSError`` with ``errno.ENOSPC`` from Python itself.
clickhouse-connect wraps them all in ``DatabaseError``, so the class name alone says nothing.
"""

from __future__ import annotations

import errno
import re
from urllib.parse import urlsplit

_OUT_OF_SPACE = re.compile(
    r"NOT_ENOUGH_SPACE|\bCode: 243\b|No space left on device|\bENOSPC\b|errno: 28\b|Cannot write to file",
    re.IGNORECASE,
)


def is_out_of_space(exc: BaseException) -> bool:
    """True when ``exc`` (or an exception it was raised from) says the warehouse's disk is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            return True
        if _OUT_OF_SPACE.search(str(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


def data_location(dsn: str) -> str:
    """Where the warehouse keeps its data, for an operator: the folder of an embedded warehouse, or
    the server's host (never the DSN itself, which may carry credentials)."""
    if dsn.startswith("chdb:"):
        return dsn.removeprefix("chdb://") or dsn
    host = urlsplit(dsn).hostname or "the ClickHouse server"
    return f"the data path of the ClickHouse server at {host}"
