"""The channel table: generated totals, stated comparison, % changes from unrounded counts."""

from __future__ import annotations

import pytest

from demandhub.board.maths.cells import Cell
from demandhub.board.maths.channels import channel_table
from demandhub.board.maths.months import YearMonth, month_range
from demandhub.board.maths.rules import BoardRules

pytestmark = pytest.mark.unit

NOV19 = YearMonth(2019, 11)


def monthly(per_month_2018: list[int], per_month_2019: int) -> dict[YearMonth, Cell | None]:
    """Counts for Jan-2018..Dec-2019: 2018 month by month, 2019 constant."""
    series: dict[YearMonth, Cell | None] = {}
    for i, m in enumerate(month_range(YearMonth(2018, 1), YearMonth(2018, 12))):
        series[m] = Cell(per_month_2018[i])
    for m in month_range(YearMonth(2019, 1), YearMonth(2019, 12)):
        series[m] = Cell(per_month_2019)
    return series


def channels() -> dict[str, dict[YearMonth, Cell | None]]:
    return {
        "webchat": monthly([0] * 6 + [100] * 6, 150),  # launched July 2018
        "999": monthly([1000] * 12, 1046),
        "101": monthly([2000] * 12, 1990),
        "online": monthly([300] * 12, 330),
    }


def test_rows_counts_and_generated_totals() -> None:
    table = channel_table(channels(), YearMonth(2019, 1), NOV19, BoardRules())
    assert table.columns == ("999", "101", "online", "webchat", "total")
    span, previous, calendar = table.rows
    # Jan..Nov 2019: 11 months each.
    assert span.counts == {
        "999": 11 * 1046,  # 11506
        "101": 11 * 1990,  # 21890
        "online": 11 * 330,  # 3630
        "webchat": 11 * 150,  # 1650
        "total": 11506 + 21890 + 3630 + 1650,  # 38676
    }
    # Jan..Nov 2018.
    assert previous.counts == {
        "999": 11000,
        "101": 22000,
        "online": 3300,
        "webchat": 5 * 100,  # Jul..Nov
        "total": 11000 + 22000 + 3300 + 500,  # 36800
    }
    # Calendar year 2018.
    assert calendar.label == "2018"
    assert calendar.counts["total"] == 12000 + 24000 + 3600 + 600


def test_pct_changes_from_unrounded_counts_as_whole_percents() -> None:
    table = channel_table(channels(), YearMonth(2019, 1), NOV19, BoardRules())
    changes = table.rows[0].pct_change
    assert changes is not None
    assert changes["999"] == pytest.approx(100 * (11506 - 11000) / 11000)  # 4.6%
    assert changes["101"] == pytest.approx(100 * (21890 - 22000) / 22000)  # -0.5% exactly
    assert changes["webchat"] == pytest.approx(100 * (1650 - 500) / 500)  # 230%
    # The total's change comes from the summed counts, not from the channels' percentages.
    assert changes["total"] == pytest.approx(100 * (38676 - 36800) / 36800)  # 5.098%
    text = table.rows[0].as_dict()["pct_change_text"]
    assert text == {"999": "+5%", "101": "-1%", "online": "+10%", "webchat": "+230%", "total": "+5%"}


def test_caption_states_the_comparison_period() -> None:
    table = channel_table(channels(), YearMonth(2019, 1), NOV19, BoardRules())
    assert "January to November 2019" in table.caption
    assert "compare with January to November 2018" in table.caption
    assert table.rows[0].compared_with == "January to November 2018"
    assert table.as_dict()["caption"] == table.caption


def test_configurable_comparison_offset() -> None:
    rules = BoardRules(channel_comparison_offset_months=6)
    table = channel_table(channels(), YearMonth(2019, 7), NOV19, rules)
    previous = table.rows[1]
    assert (previous.first, previous.last) == (YearMonth(2019, 1), YearMonth(2019, 5))
    assert "January to May 2019" in table.caption


def test_a_null_month_makes_the_channel_and_total_null() -> None:
    series = channels()
    series["online"][YearMonth(2019, 5)] = None
    table = channel_table(series, YearMonth(2019, 1), NOV19, BoardRules())
    span = table.rows[0]
    assert span.counts["online"] is None
    assert span.counts["total"] is None
    assert span.counts["999"] == 11506
    assert span.pct_change is not None
    assert span.pct_change["online"] is None
    assert span.as_dict()["counts_text"]["total"] == "n/a"


def test_empty_input_is_rejected() -> None:
    with pytest.raises(ValueError):
        channel_table({}, YearMonth(2019, 1), NOV19, BoardRules())


def test_social_media_is_shown_outside_total_contacts() -> None:
    # DOMAIN 4.1: Total contacts = 999 + 101 + online reports + web chat, the dashboard row's figure;
    # social media threads sit after the total and are not added to it.
    series = channels() | {"social": monthly([50] * 12, 80)}
    table = channel_table(series, YearMonth(2019, 1), NOV19, BoardRules())
    assert table.columns == ("999", "101", "online", "webchat", "total", "social")
    assert table.column_names["total"] == "Total contacts"
    span, previous, calendar = table.rows
    assert span.counts["social"] == 11 * 80
    assert span.counts["total"] == 11506 + 21890 + 3630 + 1650
    assert previous.counts["total"] == 36800
    assert calendar.counts["total"] == 12000 + 24000 + 3600 + 600
    assert "Social media is shown after it and not added to it" in table.caption
    gap = dict(series)
    gap["social"] = {**series["social"], YearMonth(2019, 3): None}
    assert channel_table(gap, YearMonth(2019, 1), NOV19, BoardRules()).rows[0].counts["total"] == 38676
