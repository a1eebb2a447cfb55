"""Checks on the data directory made before a command touches it, so a failure is one clear line.

chDB lets one process at a time open a warehouse path: it holds an exclusive ``flock`` on
``<warehouse>/status`` for as long as the process runs. :func:`holders` finds that process (pid and
command line, from ``/proc``), :func:`ensure_free` refuses early with :class:`BusyError` naming it,
:func:`ensure_present` keeps reading commands from creating an empty data directory, and
:func:`ensure_writable` turns an unwritable or read-only data directory into :class:`InputError`.
Nothing here loads chDB.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from demandhub.errors import BusyError, InputError, one_line

LOCK_FILE = "status"
HUB_FILE = "hub.json"


@dataclass(frozen=True)
class Holder:
    """A process holding a data directory."""

    pid: int
    command: str

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.command})" if self.command else f"pid {self.pid}"


def embedded_path(dsn: str) -> Path | None:
    """The warehouse folder of an embedded ``chdb:///abs/path`` DSN (None for servers and memory)."""
    if not dsn.startswith("chdb:"):
        return None
    path = dsn.removeprefix("chdb://")
    if path in ("memory", ":memory:", ""):
        return None
    return Path(path)


def command_of(pid: int) -> str:
    """The command line of ``pid`` (shortened), or '' when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    words = [w.decode(errors="replace") for w in raw.split(b"\0") if w]
    if len(words) >= 3 and words[1:3] == ["-m", "demandhub.cli"]:
        words = ["demandhub", *words[3:]]
    elif words and words[0].endswith("/demandhub"):
        words = ["demandhub", *words[1:]]
    elif len(words) >= 2 and Path(words[1]).name == "demandhub":
        words = ["demandhub", *words[2:]]
    return one_line(" ".join(words), 120)


def holders(warehouse: Path) -> list[Holder]:
    """Processes (other than this one) with the warehouse's lock file open."""
    target = str((warehouse / LOCK_FILE).resolve())
    found: list[Holder] = []
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == target:
                    found.append(Holder(int(entry.name), command_of(int(entry.name))))
                    break
            except OSError:
                continue
    return found


def is_locked(warehouse: Path) -> bool:
    """Whether another open file holds the warehouse's lock (chDB's exclusive flock)."""
    lock = warehouse / LOCK_FILE
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def hub_info(data_dir: Path) -> dict[str, object] | None:
    """``{"url", "pid"}`` of a hub serving this data directory, if its process is alive."""
    path = data_dir / HUB_FILE
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return dict(info)


def hub_serving(data_dir: Path, dsn: str) -> dict[str, object] | None:
    """The running hub (``{"url", "pid"}``) whose warehouse is the one ``dsn`` names, if any: the
    hub of ``data_dir`` serves only its own ``<data_dir>/warehouse``."""
    warehouse = embedded_path(dsn)
    if warehouse is None or warehouse.resolve() != (data_dir / "warehouse").resolve():
        return None
    return hub_info(data_dir)


def ensure_free(data_dir: Path, warehouse: Path, doing: str, if_hub: str | None = None) -> None:
    """BusyError naming the holder when another process holds the warehouse; the message ends with
    ``if_hub`` (default ``doing``) when the holder is a running hub."""
    hub = hub_serving(data_dir, f"chdb://{warehouse}")
    if hub is not None:
        pid = int(str(hub["pid"]))
        raise BusyError(
            f"a hub (pid {pid}, {command_of(pid) or 'demandhub'}) is running on {data_dir} and serves "
            f"{hub['url']}; {if_hub or doing}"
        )
    if not is_locked(warehouse):
        return
    who = ", ".join(str(h) for h in holders(warehouse)) or "another process"
    raise BusyError(f"the data directory {data_dir} is in use by {who}; {doing}")


def ensure_present(data_dir: Path, warehouse: Path) -> None:
    """InputError when there is no warehouse to read (reading commands never create one)."""
    if warehouse.is_dir():
        return
    raise InputError(
        f"no data directory found at {data_dir.resolve()} (looked for the warehouse in {warehouse}); "
        "run the command from the folder you started the hub in, or pass --data-dir "
        "(or DEMANDHUB_DATA_DIR)"
    )


def ensure_writable(folder: Path) -> None:
    """Create ``folder`` if needed and prove a file can be written in it; InputError otherwise."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if exc.errno == errno.EROFS:
            reason = "read-only file system"
        raise InputError(
            f"data directory {folder} is not usable ({reason}); choose a writable one with --data-dir "
            "(or DEMANDHUB_DATA_DIR)"
        ) from exc
