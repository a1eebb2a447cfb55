"""The pack's JSON text is ``json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False)`` byte
for byte, and refuses what it refuses."""

from __future__ import annotations

import json
from enum import IntEnum, StrEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from demandhub.board.jsontext import dumps_indent1

pytestmark = pytest.mark.unit


def _reference(data: Any) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False)


scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
keys = (
    st.text()
    | st.integers(-1000, 1000)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
)
trees = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(inner, max_size=3).map(tuple)
        | st.dictionaries(keys, inner, max_size=5)
    ),
    max_leaves=40,
)


@given(trees)
def test_equal_to_json_dumps(data: Any) -> None:
    assert dumps_indent1(data) == _reference(data)


class Grade(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


def test_subclasses_of_the_json_types_are_written_as_json_writes_them() -> None:
    data = {"g": Grade.RED, "l": Level.HIGH, Level.HIGH: [(), {}, [[]], {"": {}}], 'é\n"': "\u2028"}
    assert dumps_indent1(data) == _reference(data)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), {"x": [1, float("nan")]}])
def test_out_of_range_floats_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        _reference(bad)
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        dumps_indent1(bad)


@pytest.mark.parametrize("bad", [{"d": {1, 2}}, [object()], {(1, 2): 3}, {float("nan"): 1}])
def test_what_json_refuses_is_refused(bad: Any) -> None:
    with pytest.raises((TypeError, ValueError)) as expected:
        _reference(bad)
    with pytest.raises(type(expected.value), match=str(expected.value).split(":")[0]):
        dumps_indent1(bad)
