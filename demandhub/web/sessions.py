"""Server-side sessions of the web server: browser sessions and revocable wall-screen display sessions.

Contract:
- A bearer token is exchanged for a session only at ``POST /login``; the ``demandhub_session``
  cookie then holds a random session id (256 bits), never the token. The store keeps only the
  SHA-256 digest of each id, so a copy of the store opens no session.
- A session ends ``ttl`` seconds after its last renewal. Using it after half of that renews it for
  the full ``ttl`` (:meth:`SessionStore.lookup` says so and the server sends the cookie again with
  the new ``Max-Age``). ``/logout`` ends it on the server, not only in the browser.
- A display session is for a wall screen: created by a supervisor (``POST /api/displays`` or
  ``demandhub display create``), it has a public ``handle`` (to list and revoke it) and a one-time
  pairing code, valid for ``PAIRING_SECONDS``, that the screen types into the sign-in form once.
  The code is exchanged for a session with the long ``display_ttl`` (renewed on use), role
  ``display``: the live page and live API only. Revoking the display (``DELETE
  /api/displays/{handle}`` or ``demandhub display revoke``) ends its session at once, open event
  streams included.
- The store is an SQLite file (``<data_dir>/secrets/sessions.db``, mode 0600), so sessions outlive
  a restart of the hub and the CLI can revoke a display while the hub runs. The clock is injectable.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

COOKIE = "demandhub_session"
PAIRING_SECONDS = 15 * 60
DISPLAY_ROLE = "display"
KINDS = ("browser", "display")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    digest     TEXT PRIMARY KEY,
    role       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    handle     TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS displays (
    handle          TEXT PRIMARY KEY,
    label           TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      REAL NOT NULL,
    pairing_digest  TEXT,
    pairing_expires REAL,
    revoked_at      REAL
);
"""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    """A valid session: its role, kind, display handle (empty for a browser), when it ends, and
    whether this lookup renewed it (then the cookie is sent again)."""

    role: str
    kind: str
    handle: str
    expires_at: float
    renewed: bool = False


@dataclass(frozen=True)
class Display:
    handle: str
    label: str
    created_by: str
    created_at: float
    paired: bool
    revoked_at: float | None


class SessionStore:
    """Sessions and displays in one SQLite file; safe from several threads and processes."""

    def __init__(
        self,
        path: Path,
        ttl: float,
        display_ttl: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path, self.ttl, self.display_ttl, self.clock = path, ttl, display_ttl, clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10, isolation_level=None)
        os.chmod(path, 0o600)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def for_data_dir(cls, data_dir: Path, ttl: float, display_ttl: float) -> SessionStore:
        folder = data_dir / "secrets"
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        return cls(folder / "sessions.db", ttl, display_ttl)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def ttl_of(self, kind: str) -> float:
        return self.display_ttl if kind == "display" else self.ttl

    # -- browser sessions ------------------------------------------------------------------------
    def create(self, role: str, kind: str = "browser", handle: str = "") -> tuple[str, float]:
        """A new session id for ``role`` and when it ends (``max_age`` seconds from now)."""
        if kind not in KINDS:
            raise ValueError(f"unknown session kind {kind!r}")
        sid = secrets.token_urlsafe(32)
        expires = self.clock() + self.ttl_of(kind)
        with self._lock:
            self._db.execute(
                "INSERT INTO sessions (digest, role, kind, handle, expires_at) VALUES (?, ?, ?, ?, ?)",
                (_digest(sid), role, kind, handle, expires),
            )
        return sid, self.ttl_of(kind)

    def lookup(self, sid: str | None) -> Session | None:
        """The session of a cookie value, renewed when past half its life; None when unknown,
        expired or revoked (an expired one is removed)."""
        if not sid:
            return None
        key, now = _digest(sid), self.clock()
        with self._lock:
            row = self._db.execute(
                "SELECT role, kind, handle, expires_at FROM sessions WHERE digest = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            role, kind, handle, expires = row
            if expires <= now:
                self._db.execute("DELETE FROM sessions WHERE digest = ?", (key,))
                return None
            ttl = self.ttl_of(kind)
            if expires - now < ttl / 2:
                expires = now + ttl
                self._db.execute("UPDATE sessions SET expires_at = ? WHERE digest = ?", (expires, key))
                return Session(role, kind, handle, expires, renewed=True)
        return Session(role, kind, handle, expires)

    def end(self, sid: str | None) -> None:
        """Sign out: the session no longer opens anything."""
        if sid:
            with self._lock:
                self._db.execute("DELETE FROM sessions WHERE digest = ?", (_digest(sid),))

    def purge(self) -> int:
        """Remove expired sessions; returns how many."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM sessions WHERE expires_at <= ?", (self.clock(),))
            return int(cursor.rowcount)

    # -- display sessions ------------------------------------------------------------------------
    def create_display(self, label: str, created_by: str) -> tuple[str, str]:
        """A new display: (its public handle, a one-time pairing code for the screen's sign-in)."""
        handle, code = secrets.token_hex(6), secrets.token_urlsafe(18)
        now = self.clock()
        with self._lock:
            self._db.execute(
                "INSERT INTO displays (handle, label, created_by, created_at, pairing_digest, "
                "pairing_expires, revoked_at) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (handle, label[:80], created_by, now, _digest(code), now + PAIRING_SECONDS),
            )
        return handle, code

    def pair(self, code: str) -> tuple[str, float] | None:
        """Exchange a display's pairing code (once, before it expires) for a display session."""
        if not code:
            return None
        now = self.clock()
        with self._lock:
            row = self._db.execute(
                "SELECT handle FROM displays WHERE pairing_digest = ? AND pairing_expires > ? "
                "AND revoked_at IS NULL",
                (_digest(code), now),
            ).fetchone()
            if row is None:
                return None
            self._db.execute(
                "UPDATE displays SET pairing_digest = NULL, pairing_expires = NULL WHERE handle = ?",
                (row[0],),
            )
        return self.create(DISPLAY_ROLE, "display", row[0])

    def revoke_display(self, handle: str) -> bool:
        """End a display and its sessions; False when no such display is active."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE displays SET revoked_at = ?, pairing_digest = NULL WHERE handle = ? "
                "AND revoked_at IS NULL",
                (self.clock(), handle),
            )
            self._db.execute("DELETE FROM sessions WHERE kind = 'display' AND handle = ?", (handle,))
            return cursor.rowcount > 0

    def displays(self) -> list[Display]:
        """Every display, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT d.handle, d.label, d.created_by, d.created_at, "
                "EXISTS (SELECT 1 FROM sessions s WHERE s.kind = 'display' AND s.handle = d.handle), "
                "d.revoked_at FROM displays d ORDER BY d.created_at DESC"
            ).fetchall()
        return [Display(h, lab, by, at, bool(paired), rev) for h, lab, by, at, paired, rev in rows]


def run_display(action: str, label: str | None, handle: str | None, store: SessionStore) -> int:
    """``demandhub display create|list|revoke``: manage wall-screen displays from a shell, on the
    same store a running hub reads (a revocation takes effect at the screen's next request)."""
    import json

    from demandhub.errors import InputError, UsageError

    try:
        if action == "create":
            if not label:
                raise UsageError("display create needs --label")
            made, code = store.create_display(label, "supervisor")
            print(json.dumps({"handle": made, "label": label[:80], "pairing_code": code}))
            print(
                f"type the pairing code into the wall screen's sign-in form within {PAIRING_SECONDS // 60} "
                "minutes; it works once",
                file=sys.stderr,
            )
        elif action == "list":
            for item in store.displays():
                print(json.dumps(vars(item)))
        else:
            if not handle:
                raise UsageError("display revoke needs a HANDLE")
            if not store.revoke_display(handle):
                raise InputError(f"no active display {handle}")
            print(json.dumps({"revoked": handle}))
    finally:
        store.close()
    return 0
