"""Months compare, hash and order as their ``(year, month)`` tuples, and month arithmetic shares one
instance per month (the pack compares and hashes months hundreds of thousands of times)."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from demandhub.board.maths.months import YearMonth

pytestmark = pytest.mark.unit

months = st.builds(YearMonth, st.integers(1900, 2200), st.integers(1, 12))


@given(months, months)
def test_equality_hash_and_order_are_the_tuples(a: YearMonth, b: YearMonth) -> None:
    ta, tb = (a.year, a.month), (b.year, b.month)
    assert (a == b) == (ta == tb)
    assert (a != b) == (ta != tb)
    assert (a < b, a <= b, a > b, a >= b) == (ta < tb, ta <= tb, ta > tb, ta >= tb)
    assert hash(a) == hash(ta)
    assert sorted([b, a]) == [YearMonth(*t) for t in sorted([tb, ta])]


@given(months, st.integers(-600, 600))
def test_arithmetic_shares_one_instance_per_month(a: YearMonth, n: int) -> None:
    later = a + n
    assert later is YearMonth.from_index(later.index)
    assert later.index == a.index + n and (later.year, later.month) == (
        divmod(a.index + n, 12)[0],
        divmod(a.index + n, 12)[1] + 1,
    )
    assert (later - n) == a and later - a == n


def test_a_month_is_not_equal_to_its_tuple_and_survives_pickling() -> None:
    m = YearMonth(2024, 11)
    assert m != (2024, 11)
    assert pickle.loads(pickle.dumps(m)) == m and hash(pickle.loads(pickle.dumps(m))) == hash(m)
    with pytest.raises(TypeError):
        _ = m < (2024, 12)  # type: ignore[operator]
    with pytest.raises(ValueError):
        YearMonth(2024, 13)
