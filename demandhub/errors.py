"""Exit codes of the ``demandhub`` command, the errors that carry them, and the one-line messages of
known failures.

Every command ends with one of these codes; on failure it prints exactly one line on standard error
naming the problem and what to do (``--debug`` adds the traceback).

====  =============  ===================================================================================
code  name           meaning
====  =============  ===================================================================================
0     OK             done (or nothing to do)
1     INTERNAL       an unexpected error (a bug): run again with ``--debug`` and report the traceback
2     USAGE          the command line is wrong (unknown option, missing argument, malformed value)
3     INPUT          an input is not usable: a missing file, a data directory that is absent or not
                     writable, an invalid import file, no data for the month asked for
4     BUSY           the data directory is held by another process (a running hub or replay)
5     UNAVAILABLE    a dependency cannot be reached: Kafka, the ClickHouse server, a port already taken
6     DIFFERENCES    a check ran and found differences (``reconcile``, ``schemas check``)
130   INTERRUPTED    stopped with Ctrl-C (``replay`` says how far it got; re-running is safe)
====  =============  ===================================================================================

``demandhub sql`` also answers 2 when the query is refused by policy and 1 when the engine rejects it
(an unknown table, a type error), each with its own one-line message.

This module imports nothing heavy: the CLI maps exceptions by their class and module names, so no
Kafka or ClickHouse client is loaded just to recognise its errors.
"""

from __future__ import annotations

import errno
import re

OK = 0
INTERNAL = 1
USAGE = 2
INPUT = 3
BUSY = 4
UNAVAILABLE = 5
DIFFERENCES = 6
INTERRUPTED = 130

EXIT_CODES: dict[int, str] = {
    OK: "done",
    INTERNAL: "unexpected error (run again with --debug)",
    USAGE: "usage error",
    INPUT: "input error (file, argument value or data directory)",
    BUSY: "busy (the data directory is held by another process)",
    UNAVAILABLE: "a dependency is unavailable (Kafka, ClickHouse, a port)",
    DIFFERENCES: "a check found differences",
    INTERRUPTED: "interrupted",
}


class HubError(Exception):
    """A failure the command explains in one line; ``code`` is the process exit code."""

    code: int = INTERNAL

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(one_line(message))
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class UsageError(HubError):
    code = USAGE


class InputError(HubError):
    code = INPUT


class BusyError(HubError):
    code = BUSY


class UnavailableError(HubError):
    code = UNAVAILABLE


class Interrupted(HubError):
    code = INTERRUPTED


def one_line(text: str, limit: int = 400) -> str:
    """``text`` folded to one line of at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during (outermost first, no cycles)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _module(exc: BaseException) -> str:
    return type(exc).__module__ or ""


_ADDRESS = re.compile(r"address \('([^']*)', (\d+)\)")
_HOST_PORT = re.compile(r"host='([^']+)', port=(\d+)")
_ENGINE_LINE = re.compile(r"(Code: \d+\. DB::Exception: .*?)(?: Stack trace|\(version|$)")


def _port_taken(exc: OSError) -> HubError:
    found = _ADDRESS.search(str(exc))
    where = f"{found.group(1)}:{found.group(2)}" if found else "the web port"
    return UnavailableError(
        f"port {where} is already in use by another process; stop that process or choose another "
        "port with --port (or DEMANDHUB_WEB_PORT)"
    )


def _kafka(exc: BaseException) -> HubError:
    detail = one_line(str(exc).removeprefix(f"{type(exc).__name__}: ") or type(exc).__name__, 200)
    return UnavailableError(
        f"cannot reach Kafka ({type(exc).__name__}: {detail}); check that the broker is running and "
        "that --kafka / DEMANDHUB_KAFKA_BOOTSTRAP names it"
    )


def _clickhouse(exc: BaseException) -> HubError:
    name = type(exc).__name__
    text = str(exc)
    engine = _ENGINE_LINE.search(text)
    detail = one_line(engine.group(1) if engine else text.splitlines()[0] if text else name, 200)
    if name == "OperationalError" or "Connection refused" in text or "Max retries" in text:
        server = _HOST_PORT.search(text)
        at = f" at {server.group(1)}:{server.group(2)}" if server else ""
        refused = "Connection refused" in text or "NewConnectionError" in text
        why = "connection refused" if refused else "timed out" if "timed out" in text.lower() else detail
        return UnavailableError(
            f"cannot reach the ClickHouse server{at} ({why}); check that it is running and that "
            "--dsn / DEMANDHUB_CLICKHOUSE_DSN names it"
        )
    if "Unable to open the chdb engine" in text:
        return UnavailableError(
            f"cannot open the embedded warehouse ({detail}); is another process using the data "
            "directory? run again with --debug for details"
        )
    return UnavailableError(f"the warehouse reported an error: {detail}")


def _os_error(exc: OSError) -> HubError | None:
    where = f" {exc.filename}" if exc.filename else ""
    if exc.errno == errno.EADDRINUSE:
        return _port_taken(exc)
    if isinstance(exc, FileNotFoundError):
        return InputError(f"no such file or directory:{where}")
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return InputError(f"permission denied:{where}; choose a location you can write (--data-dir, --out)")
    if exc.errno == errno.EROFS:
        return InputError(f"read-only file system:{where}; choose a writable location (--data-dir, --out)")
    if exc.errno == errno.ENOSPC:
        return InputError(f"no space left on device:{where}; free some space and run again")
    if isinstance(exc, NotADirectoryError | IsADirectoryError):
        return InputError(f"{exc.strerror or 'not a directory'}:{where}")
    if exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
        return UnavailableError(f"connection refused{where}: {one_line(str(exc), 200)}")
    return None


_INPUT_ERRORS = frozenset({"MigrationChanged", "FileChangedError"})
"""Exceptions of other layers that are input errors, by class name (nothing is imported here):
``sinks.clickhouse.migrate.MigrationChanged`` (the data directory's warehouse belongs to another
version) and ``streams.replay_shards.FileChangedError`` (a replayed file changed while it was read)."""


def describe(exc: BaseException) -> HubError:
    """The one-line error (with its exit code) for ``exc``; unknown exceptions are INTERNAL."""
    chain = _chain(exc)
    for item in chain:
        if isinstance(item, HubError):
            return item
        if isinstance(item, KeyboardInterrupt):
            return Interrupted("interrupted")
    for item in chain:
        if type(item).__name__ == "HubAlreadyRunning":  # demandhub.runtime (kept free of imports here)
            return BusyError(str(item))
        if type(item).__name__ in _INPUT_ERRORS:
            return InputError(one_line(str(item)))
    for item in chain:
        module = _module(item)
        if module.startswith(("aiokafka", "kafka")):
            return _kafka(item)
        if module.startswith(("clickhouse_connect", "chdb")):
            return _clickhouse(item)
        if isinstance(item, OSError):
            mapped = _os_error(item)
            if mapped is not None:
                return mapped
    detail = one_line(str(exc), 200)
    return HubError(
        f"unexpected error {type(exc).__name__}{': ' + detail if detail else ''}; "
        "run again with --debug for the traceback",
        INTERNAL,
    )
