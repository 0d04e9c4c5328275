"""Values on the wire: a tagged JSON encoding of plain Python data, and strict decoding.

Only exact built-in types travel as values: None, bool, int, float, complex, str, bytes,
list, tuple, dict, set, frozenset. Anything else (including subclasses of those, such as an
int or a list whose `__eq__` always returns True) is not a value: in the candidate's RPC
server it becomes an opaque handle, in `call` results a marker that never equals anything.
So a custom `__eq__`, `__hash__` or `__bool__` never runs on the trusted side.

    tuple {"t": [...]}  set {"s": [...]}  frozenset {"fs": [...]}  dict {"d": [[k, v], ...]}
    bytes {"b": hex}  complex {"c": [re, im]}  big int {"i": hex}  handle {"h": id, "r": type}
    opaque {"x": type}

Between the two `assert` processes (where handles are in use), numpy arrays and scalars of
a numeric, bool or str dtype also travel as values, {"nd": [dtype, shape, nested list]} and
{"ns": [dtype, value]}: the receiver builds a real array from plain data (never from the
sender's object), so the tests' own numpy (`np.allclose(f(x), y)`, `(f(x) == y).all()`)
works on the program's results, and the program's numpy on the tests' arrays.
"""

from __future__ import annotations

import cmath
import importlib
import json
import math
import re
import sys

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
        if t.__module__ == "numpy" and (arr := _encode_numpy(obj, depth)) is not None:
            return arr
        return {"h": to_handle(obj), "r": t.__name__[:80]}
    return {"x": t.__name__[:80]}


_NUMPY_KINDS = "biufcU"  # bool, int, uint, float, complex, str: never object, void, dates
_DTYPE = re.compile(r"[<>|=]?(?:[biufc][0-9]{1,2}|U[0-9]{0,7})")


def _encode_numpy(obj, depth: int):
    dtype = getattr(obj, "dtype", None)
    if dtype is None or dtype.kind not in _NUMPY_KINDS or not _DTYPE.fullmatch(dtype.str):
        return None
    if type(obj).__name__ == "ndarray":
        return {"nd": [dtype.str, list(obj.shape), encode(obj.tolist(), None, depth + 1)]}
    if getattr(obj, "ndim", None) == 0 and hasattr(obj, "item"):  # a numpy scalar
        return {"ns": [dtype.str, encode(obj.item(), None, depth + 1)]}
    return None


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
    """JSON-able -> plain data, checking every tag. Raises WireError on anything unexpected,
    and on nothing else: every byte of it may come from the candidate, and whoever decodes
    (the judge, the tests process) turns WireError into the candidate's failure, while any
    other exception would escape as the judge's own error or as an exception a test catches."""
    try:
        return _decode(data, from_handle, depth)
    except (OverflowError, RecursionError, MemoryError) as e:  # complex(10**400), a huge str()
        raise WireError(f"{type(e).__name__}: {e}") from None


def _decode(data, from_handle, depth: int):
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    t = type(data)
    if data is None or t is bool or t is int or t is str:
        return data
    if t is float:
        return data
    if t is list:
        return [_decode(v, from_handle, depth + 1) for v in data]
    if t is not dict or len(data) not in (1, 2):
        raise WireError(f"unexpected {t.__name__} on the wire")
    try:
        if "t" in data:
            return tuple(_decode(v, from_handle, depth + 1) for v in _list(data["t"]))
        if "d" in data:
            out = {}
            for pair in _list(data["d"]):
                k, v = _list(pair)
                out[_decode(k, from_handle, depth + 1)] = _decode(v, from_handle, depth + 1)
            return out
        if "s" in data:
            return {_decode(v, from_handle, depth + 1) for v in _list(data["s"])}
        if "fs" in data:
            return frozenset(_decode(v, from_handle, depth + 1) for v in _list(data["fs"]))
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
            return complex(_num(_decode(re, None, depth + 1)), _num(_decode(im, None, depth + 1)))
        if "h" in data:
            r = _type_name(data.get("r"))
            if from_handle is None or type(data["h"]) is not int:
                return Opaque(r)
            return from_handle(data["h"], r)
        if "x" in data:
            return Opaque(_str(data["x"])[:80])
        if ("nd" in data or "ns" in data) and from_handle is not None:
            return _decode_numpy(data, depth)
    except (TypeError, ValueError) as e:  # unhashable key, bad hex, wrong arity
        raise WireError(str(e)) from e
    raise WireError("unknown tag")


def _decode_numpy(data: dict, depth: int):
    """A real numpy array or scalar from plain data: dtype from the allowlist, values decoded
    as plain data first, the shape checked against the one claimed."""
    try:
        np = sys.modules.get("numpy") or importlib.import_module("numpy")
    except ImportError as e:
        raise WireError("numpy value, but no numpy here") from e
    if "nd" in data:
        dtype, shape, values = _list(data["nd"])
    else:
        (dtype, values), shape = _list(data["ns"]), None
    if not _DTYPE.fullmatch(_str(dtype)):
        raise WireError("dtype not allowed")
    plain = _decode(values, None, depth + 1)
    if shape is None:
        if type(plain) not in (bool, int, float, complex, str):
            raise WireError("bad numpy scalar")
        return np.dtype(dtype).type(plain)
    shape = _list(shape)
    if len(shape) > 32 or any(type(d) is not int or d < 0 for d in shape):
        raise WireError("bad shape")
    # str arrays: numpy sizes the strings itself (a claimed itemsize could ask for gigabytes)
    arr = np.array(plain, dtype=np.str_ if "U" in dtype else np.dtype(dtype))
    if arr.dtype.kind not in _NUMPY_KINDS or list(arr.shape) != shape:
        raise WireError("array does not match its shape")
    return arr


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


def _type_name(x) -> str:
    # the candidate's text: a string, cut short, never str() of a structure it chose
    return x[:80] if type(x) is str else "object"


def _num(x) -> float:
    if type(x) not in (int, float):
        raise WireError("expected a number")
    return x


# ------------------------------------------------------------------------------------------
# comparison in the trusted parent
# ------------------------------------------------------------------------------------------
# Exact wherever the expected value is exact; a tolerance only where it is a float. The peers
# agree on the principle: evalplus compares with `==` and adds a tolerance (atol 1e-6) only
# where the expected output is a float or a list of floats; LiveCodeBench's stdio grader
# compares lines as strings, then tokens as Decimals, exactly (its comment: np.isclose says
# 50000000000000000 == 50000000000000001). But both parse with Python's own int / float /
# Decimal, which also read '٤٢', '４２', '4_2' and ' 42 ' as 42: we parse ASCII spellings only.

_SEQUENCES = (list, tuple)
_SETS = (set, frozenset)
_EXACT = (type(None), bool, int, str, bytes)  # compared by type and value, never with a tolerance


def values_equal(got, expected, *, unordered: bool = False,
                 rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> bool:
    """Does a decoded `call` result match the expected value (from the tests object)?

    None, bool, int, str, bytes expected: the same type and value. An int result only for an
    int (not `1e9` or `1000000007.0` for 1000000007, not True for 1); bool is not a number.
    float expected: an int or float within rel_tol / abs_tol; NaN matches only NaN, an
    infinity only itself. complex expected: an int, float or complex within the tolerance.
    list or tuple expected: a list or tuple (JSON has no tuples) of the same length, element
    by element; a set never matches a list. dict expected: a dict with the same keys, in any
    order (a result's int keys meet the expected's string keys, since JSON keys are strings;
    a result holding both 1 and "1" is ambiguous and fails), values by these rules.
    set or frozenset expected (tests given as Python data): a set or frozenset whose elements
    match one to one. `unordered=True` (declared by the test, see judge.validate): the
    top-level expected list matches a list, tuple, set or frozenset with the same elements in
    any order, duplicates counted; below the top level the rules above apply.
    Opaque values (custom objects) match nothing. Never raises: a result the rules cannot
    compare (an int past float range against a float, a structure too deep to walk) is no
    match, the candidate's wrong answer, not an error of the judge.
    """
    try:
        if unordered and type(expected) in (*_SEQUENCES, *_SETS):
            return type(got) in (*_SEQUENCES, *_SETS) and _same_elements(list(got), list(expected), rel_tol, abs_tol)
        return _equal(got, expected, rel_tol, abs_tol)
    except (ArithmeticError, RecursionError, ValueError, TypeError, MemoryError):
        return False


def _equal(got, expected, rel_tol: float, abs_tol: float) -> bool:
    tg, te = type(got), type(expected)
    if te in _EXACT:
        return tg is te and got == expected
    if te is float:
        if tg is not float and tg is not int:
            return False
        if math.isnan(expected) or (tg is float and math.isnan(got)):
            return tg is float and math.isnan(got) and math.isnan(expected)
        try:
            return math.isclose(got, expected, rel_tol=rel_tol, abs_tol=abs_tol)
        except OverflowError:  # an int beyond float range is no float's value
            return False
    if te is complex:
        if tg not in (int, float, complex):
            return False
        try:
            return cmath.isclose(got, expected, rel_tol=rel_tol, abs_tol=abs_tol)
        except OverflowError:
            return False
    if te in _SEQUENCES:
        return tg in _SEQUENCES and len(got) == len(expected) and all(
            _equal(g, e, rel_tol, abs_tol) for g, e in zip(got, expected, strict=True))
    if te in _SETS:
        return tg in _SETS and _same_elements(list(got), list(expected), rel_tol, abs_tol)
    if te is dict:
        return tg is dict and _dicts_equal(got, expected, rel_tol, abs_tol)
    return False  # Opaque, or an expected value of a type no result can have


def _dicts_equal(got: dict, expected: dict, rel_tol: float, abs_tol: float) -> bool:
    if len(got) != len(expected):
        return False
    json_keys = all(type(k) is str for k in expected)
    by_key = {}
    for k, v in got.items():
        if json_keys and type(k) is int:
            try:
                k = str(k)
            except ValueError:  # beyond int -> str's digit limit: no JSON key is that long
                return False
        key = _canon(k, floats=True)
        if key is None or key in by_key:
            return False
        by_key[key] = v
    for k, v in expected.items():
        key = _canon(k, floats=True)
        if key is None or key not in by_key or not _equal(by_key[key], v, rel_tol, abs_tol):
            return False
    return True


def _canon(v, floats: bool):
    """A hashable, type-tagged stand-in for a value that compares exactly, such that
    `_canon(a) == _canon(b)` exactly when `_equal(a, b)`; None where that cannot hold (a
    float or complex, unless `floats`; a dict, whose keys compare by the expected's kind;
    an Opaque). bool stays apart from int; list and tuple are alike."""
    t = type(v)
    if t in _EXACT or (floats and t in (float, complex)):
        return (t.__name__, v)
    if t in _SEQUENCES or t in _SETS:
        items = [_canon(x, floats) for x in v]
        if any(i is None for i in items):
            return None
        return ("seq", tuple(items)) if t in _SEQUENCES else ("set", frozenset(items))
    return None


def _same_elements(got: list, expected: list, rel_tol: float, abs_tol: float) -> bool:
    """Multiset equality under `_equal`. Exact elements are counted by their canonical form
    (linear, so a result in reverse order costs no more than one in order); the rest (floats,
    dicts) are matched after sorting when they are plain numbers, else pairwise and greedily."""
    if len(got) != len(expected):
        return False
    want: dict = {}
    loose_expected = []
    for e in expected:
        key = _canon(e, floats=False)
        if key is None:
            loose_expected.append(e)
        else:
            want[key] = want.get(key, 0) + 1
    loose_got = []
    for g in got:
        key = _canon(g, floats=False)
        if key is not None and want.get(key, 0) > 0:
            want[key] -= 1
        else:
            loose_got.append(g)
    # A result element without a canonical form (a float, a dict) never equals one with it.
    if any(want.values()) or len(loose_got) != len(loose_expected):
        return False
    numbers = (int, float)
    if all(type(e) is float for e in loose_expected) and all(type(g) in numbers for g in loose_got):
        nan_g = [g for g in loose_got if type(g) is float and math.isnan(g)]
        nan_e = [e for e in loose_expected if math.isnan(e)]
        if len(nan_g) != len(nan_e):
            return False
        xs = sorted(g for g in loose_got if not (type(g) is float and math.isnan(g)))
        ys = sorted(e for e in loose_expected if not math.isnan(e))
        return all(_equal(g, e, rel_tol, abs_tol) for g, e in zip(xs, ys, strict=True))
    rest = loose_got
    for e in loose_expected:
        for i, g in enumerate(rest):
            if _equal(g, e, rel_tol, abs_tol):
                del rest[i]
                break
        else:
            return False
    return True


# stdio: tokens are separated by ASCII whitespace only; numbers are ASCII spellings only.
_ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_NUMBER_TOKEN = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def tokens_equal(got: str, expected: str, rel_tol: float = 1e-6, abs_tol: float = 1e-6) -> bool:
    """stdio comparison: the outputs split on ASCII whitespace (any amount, either end) into
    the same number of tokens, each matching by the kind of its expected token:

    - an ASCII integer (`-?[0-9]+`): the output token is exactly that spelling. Integers
      compare exactly, and a reference prints each integer one way, so no other spelling of
      it (`+42`, `042`, `42.0`, `4.2e1`, `-0` for `0`, `٤٢`, `４２`, `4_2`) is needed by a right
      program, and a tolerance (999999000 for 999999937) would pass wrong ones.
    - an ASCII decimal or exponent literal (`-1.50`, `.5`, `2e-3`, with a point or an
      exponent): the output token is an ASCII number literal (`[+-]`digits`[.digits][e±digits]`)
      within rel_tol / abs_tol of it, both finite. `inf`, `nan`, hex, underscores and
      non-ASCII digits are not numbers here.
    - anything else: the same string.
    """
    a = [t for t in _ASCII_SPACE.split(got) if t]
    b = [t for t in _ASCII_SPACE.split(expected) if t]
    if len(a) != len(b):
        return False
    return all(x == y or _close_float_token(x, y, rel_tol, abs_tol) for x, y in zip(a, b, strict=True))


def _close_float_token(x: str, y: str, rel_tol: float, abs_tol: float) -> bool:
    if not (_NUMBER_TOKEN.fullmatch(y) and any(c in y for c in ".eE") and _NUMBER_TOKEN.fullmatch(x)):
        return False  # y is an integer (exact), or no number; x no ASCII number
    fx, fy = float(x), float(y)  # safe: both are ASCII literals, which float() reads as written
    return math.isfinite(fx) and math.isfinite(fy) and math.isclose(fx, fy, rel_tol=rel_tol, abs_tol=abs_tol)
