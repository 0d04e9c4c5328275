"""Values on the wire: a tagged JSON encoding of plain Python data, and strict decoding.

Only exact built-in types travel as values: None, bool, int, float, complex, str, bytes,
list, tuple, dict, set, frozenset. Anything else (including subclasses of those, such as an
int or a list whose `__eq__` always returns True) is not a value: in the candidate's RPC
server it becomes an opaque handle, in `call` results a marker that never equals anything.
So a custom `__eq__`, `__hash__` or `__bool__` never runs on the trusted side.

    tuple {"t": [...]}  set {"s": [...]}  frozenset {"fs": [...]}  dict {"d": [[k, v], ...]}
    bytes {"b": hex}  complex {"c": [re, im]}  big int {"i": hex}  handle {"h": id, "r": type}
    opaque {"x": type}
"""

from __future__ import annotations

import json
import math

MAX_DEPTH = 200
_SMALL_INT = 1 << 62


class WireError(ValueError):
    """Malformed or oversized data on the wire."""


def encode(obj, to_handle=None, depth: int = 0):
    """Plain data -> JSON-able. `to_handle(obj) -> int` turns non-values into handles."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    t = type(obj)
    if obj is None or t is bool or t is str:
        return obj
    if t is int:
        return obj if -_SMALL_INT < obj < _SMALL_INT else {"i": format(obj, "x")}
    if t is float:
        return obj if math.isfinite(obj) else {"f": repr(obj)}
    if t is list:
        return [encode(v, to_handle, depth + 1) for v in obj]
    if t is tuple:
        return {"t": [encode(v, to_handle, depth + 1) for v in obj]}
    if t is dict:
        return {"d": [[encode(k, to_handle, depth + 1), encode(v, to_handle, depth + 1)]
                      for k, v in obj.items()]}
    if t is set or t is frozenset:
        return {"s" if t is set else "fs": [encode(v, to_handle, depth + 1) for v in obj]}
    if t is bytes:
        return {"b": obj.hex()}
    if t is complex:
        return {"c": [encode(obj.real), encode(obj.imag)]}
    if to_handle is not None:
        return {"h": to_handle(obj), "r": t.__name__[:80]}
    return {"x": t.__name__[:80]}


def dumps(obj, to_handle=None) -> bytes:
    return json.dumps(encode(obj, to_handle), separators=(",", ":")).encode() + b"\n"


class Opaque:
    """A value that could not travel (a custom object): equal to nothing but itself."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str):
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


def decode(data, from_handle=None, depth: int = 0):
    """JSON-able -> plain data, checking every tag. Raises WireError on anything unexpected."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    t = type(data)
    if data is None or t is bool or t is int or t is str:
        return data
    if t is float:
        return data
    if t is list:
        return [decode(v, from_handle, depth + 1) for v in data]
    if t is not dict or len(data) not in (1, 2):
        raise WireError(f"unexpected {t.__name__} on the wire")
    try:
        if "t" in data:
            return tuple(decode(v, from_handle, depth + 1) for v in _list(data["t"]))
        if "d" in data:
            out = {}
            for pair in _list(data["d"]):
                k, v = _list(pair)
                out[decode(k, from_handle, depth + 1)] = decode(v, from_handle, depth + 1)
            return out
        if "s" in data:
            return {decode(v, from_handle, depth + 1) for v in _list(data["s"])}
        if "fs" in data:
            return frozenset(decode(v, from_handle, depth + 1) for v in _list(data["fs"]))
        if "i" in data:
            return int(_str(data["i"]), 16)
        if "f" in data:
            if data["f"] not in ("nan", "inf", "-inf"):
                raise WireError("bad float")
            return float(data["f"])
        if "b" in data:
            return bytes.fromhex(_str(data["b"]))
        if "c" in data:
            re, im = _list(data["c"])
            return complex(_num(decode(re)), _num(decode(im)))
        if "h" in data:
            if from_handle is None or type(data["h"]) is not int:
                return Opaque(str(data.get("r", "object"))[:80])
            return from_handle(data["h"], str(data.get("r", "object"))[:80])
        if "x" in data:
            return Opaque(_str(data["x"])[:80])
    except (TypeError, ValueError) as e:  # unhashable key, bad hex, wrong arity
        raise WireError(str(e)) from e
    raise WireError("unknown tag")


def loads(line: bytes, from_handle=None):
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as e:
        raise WireError(f"bad JSON: {e}") from e
    return decode(data, from_handle)


def _list(x) -> list:
    if type(x) is not list:
        raise WireError("expected a list")
    return x


def _str(x) -> str:
    if type(x) is not str:
        raise WireError("expected a string")
    return x


def _num(x) -> float:
    if type(x) not in (int, float):
        raise WireError("expected a number")
    return x


# ------------------------------------------------------------------------------------------
# comparison in the trusted parent
# ------------------------------------------------------------------------------------------

def values_equal(got, expected, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> bool:
    """Does a decoded result match the expected value (from the tests object's JSON)?

    Sequences: tuples and lists compare alike (JSON has no tuples). Numbers: int == int
    exactly, floats with tolerance; bool is not a number here. A set matches a list with the
    same elements. Opaque values match nothing.
    """
    if isinstance(got, Opaque) or isinstance(expected, Opaque):
        return False
    tg, te = type(got), type(expected)
    if tg is bool or te is bool:
        return tg is te and got == expected
    if tg in (int, float) and te in (int, float):
        if tg is int and te is int:
            return got == expected
        if math.isnan(got) or math.isnan(expected):
            return math.isnan(got) and math.isnan(expected)
        return math.isclose(got, expected, rel_tol=rel_tol, abs_tol=abs_tol)
    if tg in (list, tuple) and te in (list, tuple):
        return len(got) == len(expected) and all(
            values_equal(g, e, rel_tol, abs_tol) for g, e in zip(got, expected, strict=True))
    if tg in (set, frozenset) and te in (list, tuple, set, frozenset):
        exp = list(expected)
        if len(exp) != len(got):
            return False
        rest = list(got)
        for e in exp:
            for i, g in enumerate(rest):
                if values_equal(g, e, rel_tol, abs_tol):
                    del rest[i]
                    break
            else:
                return False
        return True
    if tg is dict and te is dict:
        if len(got) != len(expected):
            return False
        gk = {(str(k) if type(k) is int and all(type(x) is str for x in expected) else k): v
              for k, v in got.items()}
        return all(k in gk and values_equal(gk[k], v, rel_tol, abs_tol) for k, v in expected.items())
    if tg is complex or te is complex:
        return complex(got) == complex(expected) if tg in (int, float, complex) and te in (int, float, complex) else False
    return tg is te and got == expected


def tokens_equal(got: str, expected: str, rel_tol: float = 1e-6, abs_tol: float = 1e-6) -> bool:
    """stdio comparison: whitespace-separated tokens; numeric tokens with tolerance."""
    a, b = got.split(), expected.split()
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x == y:
            continue
        try:
            fx, fy = float(x), float(y)
        except ValueError:
            return False
        if not (math.isfinite(fx) and math.isfinite(fy)
                and math.isclose(fx, fy, rel_tol=rel_tol, abs_tol=abs_tol)):
            return False
    return True
