"""Run a command that dies with the process that started it.

Usage: ``python -I leash.py PARENT_PID SIGNAL COMMAND [ARG...]``

On Linux this arms the parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGNAL)``), checks that
``PARENT_PID`` is still its parent (if the parent died before the signal was armed, the child would
never get it, so it exits at once with status 0), then replaces itself with ``COMMAND`` (``execvp``:
same pid, and the death signal survives ``exec``). Elsewhere it only execs.

Why a separate program rather than ``preexec_fn``: ``preexec_fn`` runs Python in the forked child
before ``exec``, which can deadlock when the parent has threads (chDB and faust start many), and it
stops ``subprocess`` from using ``vfork``. Started through this wrapper, the child is a plain
fork+exec of the interpreter, safe at any point in the parent's life. It imports only the standard
library, so it runs in a few milliseconds before the real command starts.

Linux sends the signal when the *thread* that forked the child exits, not only the process:
start leashed children from a thread that lives as long as the process (the main thread).
"""

from __future__ import annotations

import os
import sys

PR_SET_PDEATHSIG = 1


def arm(parent: int, signum: int) -> bool:
    """Ask the kernel to send ``signum`` when the parent dies; False if it is already gone."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    return os.getppid() == parent


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print("usage: leash.py PARENT_PID SIGNAL COMMAND [ARG...]", file=sys.stderr)
        return 2
    parent, signum, command = int(argv[1]), int(argv[2]), argv[3:]
    if not arm(parent, signum):
        return 0
    os.execvp(command[0], command)
    return 127  # not reached: execvp returns only by raising


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
