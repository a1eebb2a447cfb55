"""A consumer that stops silently is told apart from an idle one.

faust-streaming issues #175 and #640 report consumers that stop fetching or committing without an
error: the process is up, ``/health`` answers, and the figures quietly go stale. The worker's
consumer-lag timer (:mod:`streams.app`, every few seconds) feeds :class:`ProgressWatchdog` the
consumer's progress (the fetch positions summed over its partitions plus its committed write
cycles) and its lag. With messages waiting (lag > 0) and no progress for ``stall_seconds``, the
watchdog reports a stall: ``demandhub_consumer_stalled`` is 1 and ``/health`` answers 503 with the
reason, until progress resumes. No lag is never a stall (an idle consumer makes no progress).

Pure logic, no I/O: the caller supplies the clock readings, so the hot path pays nothing (the timer
already computes positions and lag).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ProgressWatchdog:
    """Stall state from successive (progress, lag) observations; ``stall_seconds <= 0`` disables it."""

    stall_seconds: float
    _progress: int | None = None
    _since: float | None = None
    _lag: int = 0
    _stalled_for: float = 0.0

    def observe(self, progress: int, lag: int, now: float) -> None:
        """Record the consumer's ``progress`` (any counter that moves when records are fetched or
        committed) and ``lag`` (messages waiting) at monotonic time ``now``."""
        self._lag = lag
        if lag <= 0 or progress != self._progress or self._since is None:
            self._progress = progress
            self._since = now
            self._stalled_for = 0.0
            return
        self._stalled_for = now - self._since

    def wait(self, now: float) -> None:
        """The consumer is not expected to move (the warehouse is still opening): no stall, and the
        clock restarts from ``now``."""
        self._since = now
        self._stalled_for = 0.0

    @property
    def lag(self) -> int:
        """The messages waiting at the last observation (0 before the first)."""
        return self._lag

    @property
    def stalled(self) -> bool:
        return self.stall_seconds > 0 and self._lag > 0 and self._stalled_for >= self.stall_seconds

    def reason(self) -> str | None:
        """Why the consumer counts as stalled (counts and seconds only), or None."""
        if not self.stalled:
            return None
        return (
            f"consumer stalled: no records fetched or committed for {self._stalled_for:.0f} s "
            f"with {self._lag} messages waiting (limit {self.stall_seconds:g} s)"
        )
