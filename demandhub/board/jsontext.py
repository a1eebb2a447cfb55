"""The pack's JSON text, as ``json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False)``
writes it, byte for byte, in about half its time.

With an indent the standard library encodes in Python through nested generators (its C encoder
does not indent); a pack is some 80,000 values, so the encoding was a noticeable part of a pack
built in process. :func:`dumps_indent1` walks the same tree with one list of pieces and the same
C-accelerated string escaping, ``int.__repr__`` and ``float.__repr__`` the standard library uses.
It refuses what ``json.dumps`` refuses there (NaN and infinities: ValueError; keys that are not
str, int, float, bool or None, and any value other than those, lists, tuples and dicts: TypeError);
tests/unit/board/test_jsontext.py holds it equal to ``json.dumps`` over generated trees.
"""

from __future__ import annotations

from json.encoder import encode_basestring
from typing import Any

_INFINITY = float("inf")
_float_repr = float.__repr__
_int_repr = int.__repr__


def _float(value: float) -> str:
    if value != value or value == _INFINITY or value == -_INFINITY:
        raise ValueError(f"Out of range float values are not JSON compliant: {value!r}")
    return _float_repr(value)


def _key(key: object) -> str:
    if isinstance(key, str):
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, float):
        return _float(key)
    if isinstance(key, int):
        return _int_repr(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {key.__class__.__name__}")


def dumps_indent1(data: Any) -> str:
    """``json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False)`` (module docstring)."""
    pieces: list[str] = []
    append = pieces.append

    def encode(value: Any, pad: str) -> None:
        if isinstance(value, str):
            append(encode_basestring(value))
        elif value is None:
            append("null")
        elif value is True:
            append("true")
        elif value is False:
            append("false")
        elif isinstance(value, int):
            append(_int_repr(value))
        elif isinstance(value, float):
            append(_float(value))
        elif isinstance(value, list | tuple):
            if not value:
                append("[]")
                return
            inner = pad + " "
            separator = ",\n" + inner
            append("[\n" + inner)
            for i, item in enumerate(value):
                if i:
                    append(separator)
                encode(item, inner)
            append("\n" + pad + "]")
        elif isinstance(value, dict):
            if not value:
                append("{}")
                return
            inner = pad + " "
            separator = ",\n" + inner
            append("{\n" + inner)
            for i, (key, item) in enumerate(value.items()):
                if i:
                    append(separator)
                append(encode_basestring(_key(key)) + ": ")
                encode(item, inner)
            append("\n" + pad + "}")
        else:
            raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")

    encode(data, "")
    return "".join(pieces)
