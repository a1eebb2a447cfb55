"""Argument types of the command line (``type=`` of argparse) and of the reading API's parameters.

Each returns the value in its canonical form or raises ``argparse.ArgumentTypeError`` with a message
saying what was expected; the CLI reports those as input errors (exit 3) in one line. Nothing heavy is
imported here: the parser is built for every command, ``demandhub sql`` included.
"""

from __future__ import annotations

import argparse
import re
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def month(value: str) -> str:
    """``YYYY-MM`` with a month 01-12 (``2026-03``); not ``2026-3``, ``Nov 2026`` or ``2026-13``."""
    found = _MONTH.fullmatch(value.strip())
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise argparse.ArgumentTypeError(f"{value!r} is not a month: use YYYY-MM, e.g. 2026-03")
    return found.group(0)


def month_or_auto(value: str) -> str:
    """A month (see :func:`month`) or ``auto`` (the last complete month)."""
    if value.strip().lower() == "auto":
        return "auto"
    try:
        return month(value)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a month: use YYYY-MM (e.g. 2026-03) or auto"
        ) from None


def day(value: str) -> str:
    """A calendar day ``YYYY-MM-DD`` (``2026-03-29``); not ``2026-3-29`` or ``2026-02-30``."""
    text = value.strip()
    if _DAY.fullmatch(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"{value!r} is not a day: use YYYY-MM-DD, e.g. 2026-03-29")


def existing_file(value: str) -> str:
    """A path to a readable regular file."""
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file: {value}")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"not a file: {value}")
    return value


def dsn(value: str) -> str:
    """A ClickHouse DSN: ``http(s)://[user:password@]host[:port][/db]``, ``chdb:///abs/path`` or
    ``chdb://memory``. The message never repeats the value (it may hold a password)."""
    parsed = urlparse(value.strip())
    if parsed.scheme in ("http", "https"):
        try:
            port_ok = parsed.port is None or 0 < parsed.port < 65536
        except ValueError:
            port_ok = False
        if parsed.hostname and port_ok:
            return value.strip()
        raise argparse.ArgumentTypeError(
            "the ClickHouse DSN has no usable host or port: use http(s)://user:password@host:8123/db"
        )
    if parsed.scheme == "chdb":
        rest = value.strip().removeprefix("chdb://")
        if rest in ("memory", ":memory:") or rest.startswith("/"):
            return value.strip()
        raise argparse.ArgumentTypeError("an embedded DSN needs an absolute path: chdb:///abs/path")
    scheme = f"scheme {parsed.scheme!r}" if parsed.scheme else "no scheme"
    raise argparse.ArgumentTypeError(
        f"not a ClickHouse DSN ({scheme}): use http(s)://user:password@host:8123/db or chdb:///abs/path"
    )


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return number
