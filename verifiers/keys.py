"""Keys under which the reward service shares verdicts, and the bounded tables that hold them.

Two items share a verdict (one is scored, the other gets its Score; or a verdict is cached
and found again) only when their keys are equal, so a key must be injective: the reference
`["a"]` and its JSON text `'["a"]'`, `1e999` and `"Infinity"`, `None` and `"null"`, `True` and
`"true"`, a tuple and a list are different references, judged differently, and must never
share one. `canonical` is a type-tagged, length-prefixed encoding of JSON values (and tuples):
equal encodings mean values of the same types with the same contents. It is iterative (a
reference nested 100,000 deep costs no stack) and linear in the value's size. Anything else
(a set, bytes, an object) and a non-finite float are not references the service accepts.

Keys are SHA-256 digests of these encodings, so a cached verdict costs 32 bytes of key
whatever the completion's length, and `LRU` bounds every table of parsed specs.

    pytest tests/verifiers/test_attacks_service.py -k key
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any, Generic, TypeVar

_SCALAR_TAGS = {type(None): b"N", bool: b"B", int: b"i", float: b"f", str: b"s"}
_CONTAINER_TAGS = {list: b"[", tuple: b"(", dict: b"{", frozenset: b"<", set: b"<"}


class Unkeyable(ValueError):
    """A value with no canonical encoding: a type that is not JSON, a non-finite float."""


def _base(value: Any) -> tuple[type, bytes]:
    """(the JSON type `value` is, a tag naming its exact type when it is a subclass)."""
    t = type(value)
    if t in _SCALAR_TAGS or t in _CONTAINER_TAGS:
        return t, b""
    for base in (bool, int, float, str, list, tuple, dict):
        if isinstance(value, base):  # numpy.str_, an IntEnum: keyed apart from the plain value
            return base, b"t" + _sized(f"{t.__module__}.{t.__qualname__}".encode())
    raise Unkeyable(f"a value of type {t.__name__} is not JSON")


def _sized(data: bytes) -> bytes:
    return str(len(data)).encode() + b":" + data


def _scalar(value: Any, base: type, strict: bool) -> bytes:
    if base is bool:
        return b"B1" if value else b"B0"
    if base is int:
        return b"i" + _sized(format(int(value), "x").encode())  # hex: no digit limit, linear
    if base is float:
        f = float(value)
        if strict and not math.isfinite(f):
            raise Unkeyable(f"the number {f} is not finite")
        return b"f" + _sized(f.hex().encode())  # exact: -0.0, 0.1 and 1e-300 all differ
    if base is str:
        return b"s" + _sized(str(value).encode("utf-8", "surrogatepass"))
    return b"N"


def canonical(value: Any, strict: bool = True) -> bytes:
    """The type-exact canonical encoding of `value`, or Unkeyable. `strict` (a reference):
    JSON values and tuples with finite numbers only; otherwise (a verifier's cache key) sets
    and non-finite floats too. Dict entries and set members are sorted by their own
    encodings, so insertion order does not matter."""
    out: list[bytes] = []
    stack: list[Any] = [value]
    while stack:
        v = stack.pop()
        if type(v) is _Raw:
            out.append(v)
            continue
        base, tag = _base(v)
        if tag:
            out.append(tag)
        if base in _SCALAR_TAGS:
            out.append(_scalar(v, base, strict))
            continue
        out.append(_CONTAINER_TAGS[base] + str(len(v)).encode() + b":")
        if base is dict:
            entries = sorted(((canonical(k, strict), val) for k, val in v.items()), key=lambda e: e[0])
            parts: list[Any] = []
            for k, val in entries:
                parts += [_Raw(k), val]
        elif base in (set, frozenset):
            if strict:
                raise Unkeyable(f"a value of type {type(v).__name__} is not JSON")
            parts = [_Raw(e) for e in sorted(canonical(e, strict) for e in v)]
        else:
            parts = list(v)
        stack.extend(reversed(parts))
    return b"".join(out)


class _Raw(bytes):
    """An already encoded piece, placed on `canonical`'s stack in order."""


def digest(*parts: bytes | str) -> bytes:
    """SHA-256 of the parts, each length-prefixed (so no two lists of parts collide); text as
    UTF-8 with lone surrogates kept (a completion read from a `\\ud800` escape)."""
    h = hashlib.sha256()
    for p in parts:
        data = p.encode("utf-8", "surrogatepass") if isinstance(p, str) else p
        h.update(_sized(data))
    return h.digest()


def reference_digest(reference: Any) -> bytes:
    """The digest of a reference's canonical encoding, or Unkeyable (a type that is not JSON, a
    non-finite number; RecursionError cannot happen: the encoding is iterative)."""
    return digest(b"ref", canonical(reference, strict=True))


def try_digest(value: Hashable) -> bytes | None:
    """The digest of a verifier's cache key, or None when it has no canonical encoding."""
    try:
        return digest(b"key", canonical(value, strict=False))
    except (Unkeyable, RecursionError):
        return None


K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A dict of at most `size` entries; `get` and `put` make an entry the most recent, and
    `put` past the size drops the least recent."""

    def __init__(self, size: int):
        self.size = max(1, int(size))
        self._d: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        v = self._d.get(key)
        if v is not None:
            self._d.move_to_end(key)
        return v

    def put(self, key: K, value: V) -> None:
        self._d[key] = value
        self._d.move_to_end(key)
        while len(self._d) > self.size:
            self._d.popitem(last=False)

    def __contains__(self, key: object) -> bool:
        return key in self._d

    def __len__(self) -> int:
        return len(self._d)

    def __iter__(self) -> Iterator[K]:
        return iter(list(self._d))

    def clear(self) -> None:
        self._d.clear()
