"""England and Wales bank holidays and the first working day that triggers the monthly pack."""

from __future__ import annotations

import argparse
import re
from datetime import date
from pathlib import Path

import pytest

from demandhub.board.commands import add_board_arguments, run_board
from demandhub.board.maths.workdays import (
    bank_holidays,
    easter_sunday,
    first_working_day,
    is_first_working_day,
    is_working_day,
)
from demandhub.settings import Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("year", "easter"),
    [
        (2000, date(2000, 4, 23)),
        (2008, date(2008, 3, 23)),
        (2019, date(2019, 4, 21)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2038, date(2038, 4, 25)),
    ],
)
def test_easter_sunday(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_bank_holidays_match_the_published_lists() -> None:
    # gov.uk/bank-holidays, England and Wales.
    assert sorted(bank_holidays(2020)) == [
        date(2020, 1, 1),
        date(2020, 4, 10),
        date(2020, 4, 13),
        date(2020, 5, 8),
        date(2020, 5, 25),
        date(2020, 8, 31),
        date(2020, 12, 25),
        date(2020, 12, 28),
    ]
    assert sorted(bank_holidays(2022)) == [
        date(2022, 1, 3),
        date(2022, 4, 15),
        date(2022, 4, 18),
        date(2022, 5, 2),
        date(2022, 6, 2),
        date(2022, 6, 3),
        date(2022, 8, 29),
        date(2022, 9, 19),
        date(2022, 12, 26),
        date(2022, 12, 27),
    ]
    assert sorted(bank_holidays(2023)) == [
        date(2023, 1, 2),
        date(2023, 4, 7),
        date(2023, 4, 10),
        date(2023, 5, 1),
        date(2023, 5, 8),
        date(2023, 5, 29),
        date(2023, 8, 28),
        date(2023, 12, 25),
        date(2023, 12, 26),
    ]
    assert sorted(bank_holidays(2021))[-2:] == [date(2021, 12, 27), date(2021, 12, 28)]


@pytest.mark.parametrize(
    ("year", "month", "first"),
    [
        (2022, 1, date(2022, 1, 4)),  # Sat 1st, Sun 2nd, Mon 3rd New Year substitute
        (2023, 1, date(2023, 1, 3)),  # Sun 1st, Mon 2nd substitute
        (2024, 4, date(2024, 4, 2)),  # Mon 1st is Easter Monday
        (2018, 4, date(2018, 4, 3)),  # Sun 1st Easter Day, Mon 2nd Easter Monday
        (2023, 5, date(2023, 5, 2)),  # Mon 1st early May bank holiday
        (2019, 6, date(2019, 6, 3)),  # Sat 1st
        (2019, 3, date(2019, 3, 1)),  # Friday
    ],
)
def test_first_working_day(year: int, month: int, first: date) -> None:
    assert first_working_day(year, month) == first
    assert is_first_working_day(first)
    assert not is_first_working_day(date(year, month, first.day + 1))


def test_weekends_and_holidays_are_not_working_days() -> None:
    assert not is_working_day(date(2019, 6, 1))
    assert not is_working_day(date(2019, 12, 25))
    assert is_working_day(date(2019, 12, 27))


def test_the_first_working_day_is_never_after_the_7th() -> None:
    # The cron example wakes on days 1-7; the command decides.
    assert max(first_working_day(y, m).day for y in range(2000, 2100) for m in range(1, 13)) <= 7


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_board_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_command_does_nothing_on_other_days(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _args("--if-first-working-day", "--today", "2022-01-03", "--format", "pdf", "--out", str(tmp_path))
    # No warehouse is opened: the command returns before reading anything.
    assert run_board(args, Settings(data_dir=tmp_path / "none")) == 0
    assert "not the first working day of the month (2022-01-04)" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


CRON = Path(__file__).resolve().parents[4] / "deploy" / "cron" / "demandhub-board.cron"


def cron_jobs() -> list[tuple[list[str], str]]:
    """(the five schedule fields, the command) of every job line."""
    jobs = []
    for line in CRON.read_text().splitlines():
        fields = line.split(None, 6)
        if line.startswith("#") or "=" in line.split(" ", 1)[0] or len(fields) < 7:
            continue
        jobs.append((fields[:5], fields[6]))
    return jobs


def test_cron_wakes_on_every_possible_first_working_day_and_lets_the_command_decide() -> None:
    (schedule, command), *others = cron_jobs()
    assert others == []
    minute, hour, days, month, weekday = schedule
    assert (minute, hour, month, weekday) == ("0", "6", "*", "*")  # weekday * (cron ORs the two)
    first, last = (int(x) for x in days.split("-"))
    assert all(first <= first_working_day(y, m).day <= last for y in range(2000, 2100) for m in range(1, 13))
    boards = re.findall(r"demandhub board ([^>;&]*)", command)
    formats = set()
    for board in boards:
        args = _args(*board.replace("$f", "pdf").split())
        assert args.month == "auto" and args.if_first_working_day and args.out
        formats.add(args.format)
    assert {"json", "pdf"} <= formats
