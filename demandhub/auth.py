"""Roles and credentials of the web server.

Two roles: ``supervisor`` (live page and live API) and ``analyst`` (adds read-only SQL). Credentials
are bearer tokens from the settings (``DEMANDHUB_SUPERVISOR_TOKEN`` / ``DEMANDHUB_ANALYST_TOKEN``);
the server keeps only their SHA-256 digests and compares digests in constant time. The embedded run,
when none is configured, creates random tokens once in ``<data_dir>/secrets/tokens.json`` (mode 0600).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from demandhub.settings import Settings

ROLES = ("supervisor", "analyst")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Credentials:
    """Token digests by role."""

    digests: dict[str, str]

    def role_of(self, token: str | None) -> str | None:
        """The role a presented token grants, or None."""
        if not token:
            return None
        presented = digest(token)
        role = None
        for name, expected in self.digests.items():
            if hmac.compare_digest(presented, expected):
                role = name
        return role


def _secret_file(data_dir: Path, name: str) -> Path:
    folder = data_dir / "secrets"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder / name


def embedded_tokens(settings: Settings) -> dict[str, str]:
    """Tokens in force: configured ones, else ones created once under the data directory."""
    configured = {
        "supervisor": settings.supervisor_token.get_secret_value() if settings.supervisor_token else None,
        "analyst": settings.analyst_token.get_secret_value() if settings.analyst_token else None,
    }
    if all(configured.values()):
        return {k: v for k, v in configured.items() if v}
    path = _secret_file(settings.data_dir, "tokens.json")
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for role in ROLES:
        stored.setdefault(role, secrets.token_urlsafe(24))
    path.write_text(json.dumps(stored))
    os.chmod(path, 0o600)
    return {role: configured[role] or stored[role] for role in ROLES}


def credentials(settings: Settings) -> Credentials:
    return Credentials({role: digest(tok) for role, tok in embedded_tokens(settings).items()})


def pseudonymisation_key(settings: Settings) -> bytes:
    """The keyed-hash secret: from the settings, else created once under the data directory."""
    if settings.pseudonymisation_key is not None:
        return settings.pseudonymisation_key.get_secret_value().encode()
    path = _secret_file(settings.data_dir, "pseudonymisation.key")
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        os.chmod(path, 0o600)
    return path.read_text().strip().encode()
