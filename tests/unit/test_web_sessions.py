"""Server-side sessions: expiry, renewal, sign-out, and revocable wall-screen display sessions."""

from __future__ import annotations

from pathlib import Path

import pytest

from demandhub.web.sessions import PAIRING_SECONDS, SessionStore

pytestmark = pytest.mark.unit

TTL, DISPLAY_TTL = 3600.0, 30 * 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> SessionStore:
    return SessionStore(tmp_path / "sessions.db", TTL, DISPLAY_TTL, clock)


def test_a_session_expires_when_unused(store: SessionStore, clock: Clock) -> None:
    sid, max_age = store.create("supervisor")
    assert max_age == TTL
    assert store.lookup(sid) is not None
    clock.now += TTL + 1
    assert store.lookup(sid) is None
    assert store.lookup(sid) is None  # removed, not revived


def test_use_in_the_second_half_renews_for_the_full_lifetime(store: SessionStore, clock: Clock) -> None:
    sid, _ = store.create("analyst")
    clock.now += TTL * 0.4
    first = store.lookup(sid)
    assert first is not None and not first.renewed  # first half: no renewal, no new cookie
    clock.now += TTL * 0.3  # 70% through
    renewed = store.lookup(sid)
    assert renewed is not None and renewed.renewed and renewed.expires_at == clock.now + TTL
    clock.now += TTL * 0.9  # past the original end, within the renewed one
    assert store.lookup(sid) is not None
    assert store.lookup(sid).role == "analyst"  # type: ignore[union-attr]


def test_the_store_keeps_no_session_id_and_signing_out_ends_it(store: SessionStore, tmp_path: Path) -> None:
    sid, _ = store.create("supervisor")
    assert sid.encode() not in (tmp_path / "sessions.db").read_bytes()
    store.end(sid)
    assert store.lookup(sid) is None
    assert store.lookup("") is None and store.lookup(None) is None


def test_a_display_pairs_once_lives_long_and_is_revocable(store: SessionStore, clock: Clock) -> None:
    handle, code = store.create_display("Control room wall 1", "supervisor")
    paired = store.pair(code)
    assert paired is not None
    sid, max_age = paired
    assert max_age == DISPLAY_TTL
    assert store.pair(code) is None  # a pairing code works once
    session = store.lookup(sid)
    assert session is not None and (session.role, session.kind, session.handle) == (
        "display",
        "display",
        handle,
    )
    clock.now += DISPLAY_TTL * 0.9  # weeks later, the screen still holds its session (renewed)
    assert store.lookup(sid) is not None
    assert [(d.handle, d.paired, d.revoked_at) for d in store.displays()] == [(handle, True, None)]
    assert store.revoke_display(handle)
    assert store.lookup(sid) is None
    assert not store.revoke_display(handle)
    assert store.displays()[0].revoked_at == clock.now


def test_a_pairing_code_expires_and_a_revoked_display_cannot_pair(store: SessionStore, clock: Clock) -> None:
    _, late = store.create_display("Wall 2", "supervisor")
    clock.now += PAIRING_SECONDS + 1
    assert store.pair(late) is None
    handle, code = store.create_display("Wall 3", "supervisor")
    store.revoke_display(handle)
    assert store.pair(code) is None


def test_a_second_process_sees_a_revocation(store: SessionStore, tmp_path: Path, clock: Clock) -> None:
    """The CLI revokes through its own connection to the same file while the hub runs."""
    handle, code = store.create_display("Wall 4", "supervisor")
    sid, _ = store.pair(code) or ("", 0.0)
    cli = SessionStore(tmp_path / "sessions.db", TTL, DISPLAY_TTL, clock)
    assert cli.revoke_display(handle)
    cli.close()
    assert store.lookup(sid) is None


def test_purge_removes_only_expired_sessions(store: SessionStore, clock: Clock) -> None:
    old, _ = store.create("supervisor")
    clock.now += TTL * 0.9
    fresh, _ = store.create("analyst")
    clock.now += TTL * 0.2  # the first has expired, the second has not
    assert store.purge() == 1
    assert store.lookup(fresh) is not None and store.lookup(old) is None
