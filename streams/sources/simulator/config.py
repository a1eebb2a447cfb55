"""Simulation settings: what to generate (period, forces, volume scale) and which faults to inject."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.envelope import FORCE_ID_PATTERN


class Faults(BaseModel):
    """Fault-injection switches. Rates are per generated event (0 switches a fault off).

    - ``duplicate_rate``: an exact copy (same source and id) is emitted again shortly after.
    - ``late_rate`` / ``max_lateness_seconds``: the event is held back and emitted once the stream has
      moved on by up to ``max_lateness_seconds`` of event time (its own ``time`` is unchanged).
    - ``out_of_order_rate``: the event is held back by a few seconds to two minutes of event time.
    - ``malformed_rate``: an extra, invalid copy of the event (missing or mistyped fields, unknown type,
      naive time...) with a fresh id is emitted beside it.
    - ``hostile_rate``: an extra hostile event (huge strings, wrong types, deep nesting, unknown
      fields). Invalid UTF-8 and megabyte lines only exist in bytes: ``write_jsonl`` adds those.
    - ``pii_free_text``: every personal-data field of every event carries realistic fake personal data.

    Duplicates, late and out-of-order events never change the set of distinct events; malformed and
    hostile ones are extra and are not part of the ground truth.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    late_rate: float = Field(default=0.0, ge=0, le=1)
    max_lateness_seconds: float = Field(default=3 * 86400.0, gt=0)
    out_of_order_rate: float = Field(default=0.0, ge=0, le=1)
    malformed_rate: float = Field(default=0.0, ge=0, le=1)
    hostile_rate: float = Field(default=0.0, ge=0, le=1)
    pii_free_text: bool = False

    @property
    def any_stream_faults(self) -> bool:
        """True when the event stream differs from the clean, ordered one."""
        return any(
            (
                self.duplicate_rate,
                self.late_rate,
                self.out_of_order_rate,
                self.malformed_rate,
                self.hostile_rate,
                self.pii_free_text,
            )
        )


class SimConfig(BaseModel):
    """One simulation run. Deterministic: the same config gives the same events and truth.

    ``start`` is a local (Europe/London) calendar date: the run covers local midnight of ``start`` to
    local midnight ``days`` later. A timezone-aware ``datetime`` starts the run at that instant instead
    (used by the live feed). ``scale`` multiplies every arrival volume (staffing follows the scaled
    demand); ``staffing`` multiplies every queue's planned staffing (below 1: understaffed).

    ``run`` (empty by default) is stamped into every event id and entity id (``cambs-t12`` becomes
    ``cambs-<run>-t12``), so two runs with different ``run`` never share an id. File runs leave it
    empty (their ids are a function of the seed alone); the live feed sets a fresh one per start.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date | datetime
    days: int = Field(default=1, ge=1, le=40_000)
    seed: int = 0
    forces: tuple[str, ...] = ("cambs",)
    scale: float = Field(default=1.0, gt=0, le=1000)
    staffing: float = Field(default=1.0, gt=0, le=10)
    faults: Faults = Faults()
    run: str = Field(default="", pattern=r"^[a-z0-9]{0,24}$")

    @field_validator("forces", mode="before")
    @classmethod
    def _forces(cls, value: object) -> object:
        if isinstance(value, str):
            return (value,)
        return tuple(value) if isinstance(value, list) else value

    @field_validator("forces")
    @classmethod
    def _force_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import re

        if not value:
            raise ValueError("at least one force")
        if len(set(value)) != len(value):
            raise ValueError("force ids must be distinct")
        for force in value:
            if not re.match(FORCE_ID_PATTERN, force):
                raise ValueError(f"invalid force id {force!r}")
        return value

    @field_validator("start")
    @classmethod
    def _aware(cls, value: date | datetime) -> date | datetime:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError("a datetime start must be timezone-aware")
        return value

    def without_stream_faults(self) -> SimConfig:
        """The same run with every fault switched off (same facts, clean stream)."""
        return self.model_copy(update={"faults": Faults()})
