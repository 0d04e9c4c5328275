"""Reward spec strings: `"0.1*format + math"`, `"format & code"`, `"math | exact"`.

A restricted recursive-descent grammar, never `eval`. Operators bind as in Python, so a spec
and the Python expression that builds the same verifier read the same:

    expr    := fallback
    fallback:= gate ('|' gate)*
    gate    := sum ('&' sum)*
    sum     := product (('+' | '-') product)*
    product := atom ('*' atom)*            one side of each '*' must be a number
    atom    := NUMBER | NAME ['(' [kwarg (',' kwarg)*] ')'] | '(' expr ')' | '-' atom
    kwarg   := NAME '=' (NUMBER | NAME | 'string' | true | false)

Names are looked up in a registry (`register` adds your own). Built in: format, math, exact,
code, overlong, repetition, language.

Specs may come from data (a record's `reward_spec`, a request's `spec`), so parsing is bounded:
at most MAX_SPEC_CHARS characters, MAX_VERIFIERS verifiers and MAX_DEPTH nested parentheses or
signs; numbers in ASCII digits, finite and at most MAX_NUMBER; weights within +-MAX_WEIGHT; and
the largest |reward| the spec can produce (`Verifier.value_bound`: a weight multiplies, a sum
adds, a gate or fallback takes the larger, a shaping reward counts its weight) within
MAX_REWARD, however weights nest. Anything else is a SpecError, never another exception.
Parsing is linear in the spec's length. `check_within` is the rule for a spec chosen by data:
it may pick any verifiers, weights and composition, but no resource or isolation setting
looser than the operator's.

    python -c "from verifiers.spec import parse_spec; print(parse_spec('0.1*format + math'))"
"""

from __future__ import annotations

import importlib
import math
import operator
import re
from collections.abc import Callable, Iterable
from typing import Any

from verifiers.score import SpecError
from verifiers.verifier import Verifier, check_bound

MAX_SPEC_CHARS = 4096
MAX_VERIFIERS = 64
MAX_DEPTH = 32
MAX_NUMBER = 1e18

# ASCII only (re.ASCII): `٣*math`, `１*math` or `code(timeout_s=٣)` is a SpecError, as in
# Python source, though `\d` and float() would read them as digits.
_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<str>'[^']*'|\"[^\"]*\")|(?P<op>[-+*&|(),=]))", re.ASCII)

# The built-in verifier names: the one table that parsing, known_names, the reward service's
# worker preload and `verifiers`' lazy exports all read. "module:Class", imported on first use
# so that `import verifiers` stays light (math pulls in sympy, code the sandbox).
BUILTINS: dict[str, str] = {
    "format": "verifiers.format:FormatVerifier",
    "math": "verifiers.math.verifier:MathVerifier",
    "exact": "verifiers.math.verifier:ExactVerifier",
    "code": "verifiers.code:CodeVerifier",
    "overlong": "verifiers.shaping:OverlongPenalty",
    "repetition": "verifiers.shaping:RepetitionPenalty",
    "language": "verifiers.shaping:LanguageConsistency",
}

_REGISTRY: dict[str, Callable[..., Verifier]] = {}


def register(name: str, factory: Callable[..., Verifier]) -> None:
    """Make `name` usable in spec strings; `factory(**kwargs)` builds the verifier."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise SpecError(f"verifier name {name!r} is not an identifier")
    _REGISTRY[name] = factory


def registered() -> dict[str, Callable[..., Verifier]]:
    """The names `register` added and their factories (a copy): what a worker process needs
    to parse the same specs as this one."""
    return dict(_REGISTRY)


def registry() -> dict[str, str | Callable[..., Verifier]]:
    """Every name a spec may use: built-ins as "module:Class", registered names as their
    factories (a registered name shadows a built-in of the same name)."""
    return {**BUILTINS, **_REGISTRY}


def builtin_modules() -> list[str]:
    """The modules that define the built-in verifiers, in table order, each once."""
    return list(dict.fromkeys(path.partition(":")[0] for path in BUILTINS.values()))


def _builtin(name: str) -> Callable[..., Verifier] | None:
    path = BUILTINS.get(name)
    if path is None:
        return None
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def known_names() -> list[str]:
    return sorted({*BUILTINS, *_REGISTRY})


def _tokenize(spec: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    spec = spec.rstrip()
    while pos < len(spec):
        m = _TOKEN.match(spec, pos)
        if not m or m.end() == pos:
            raise SpecError(f"unexpected character {spec[pos:].lstrip()[:1]!r} at column {pos + 1} in spec {spec!r}")
        kind = m.lastgroup or "op"
        tokens.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, spec: str):
        self.spec, self.tokens, self.i = spec, _tokenize(spec), 0
        self.depth = self.verifiers = 0

    def number(self, text: str, integer: bool = False) -> float | int:
        try:
            value = int(text) if integer else float(text)
        except ValueError as e:  # more digits than int() converts
            raise self.error(f"number {text[:20]!r}... is too long") from e
        if not math.isfinite(value) or abs(value) > MAX_NUMBER:
            raise self.error(f"number {text[:20]!r} is not finite or beyond {MAX_NUMBER:g}")
        return value

    def error(self, msg: str) -> SpecError:
        col = self.tokens[self.i][2] + 1 if self.i < len(self.tokens) else len(self.spec) + 1
        return SpecError(f"{msg} at column {col} in spec {self.spec!r}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise self.error(f"expected {value!r}" if value else "unexpected end")
        self.i += 1
        return tok

    def at(self, *values: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "op" and tok[1] in values

    def parse(self) -> Verifier:
        if not self.tokens:
            raise SpecError("empty reward spec")
        v = self.expr()
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()[1]!r}")
        if not isinstance(v, Verifier):
            raise SpecError(f"spec {self.spec!r} is a bare number, not a verifier")
        try:
            return check_bound(v)  # a custom leaf that says it scores beyond MAX_REWARD
        except (TypeError, ValueError) as e:
            raise SpecError(f"{e} in spec {self.spec!r}") from e

    def expr(self) -> Any:
        v = self.gate()
        while self.at("|"):
            self.take()
            v = self.combine(operator.or_, v, self.gate())
        return v

    def gate(self) -> Any:
        v = self.sum()
        while self.at("&"):
            self.take()
            v = self.combine(operator.and_, v, self.sum())
        return v

    def sum(self) -> Any:
        v = self.product()
        while self.at("+", "-"):
            op = self.take()[1]
            rhs = self.need(self.product())
            v = self.combine(operator.add, v, rhs if op == "+" else self.scale(-1.0, rhs))
        return v

    def combine(self, op: Callable[[Any, Any], Any], a: Any, b: Any) -> Verifier:
        a, b = self.need(a), self.need(b)
        try:
            return op(a, b)
        except (TypeError, ValueError) as e:  # a sum whose bound is beyond MAX_REWARD, a bad custom bound
            raise self.error(str(e)) from e

    def product(self) -> Any:
        v = self.atom()
        while self.at("*"):
            self.take()
            rhs = self.atom()
            if not (isinstance(v, float) or isinstance(rhs, float)):
                raise self.error("'*' needs a number on one side (a weight)")
            v = self.scale(v, rhs)
        return v

    def scale(self, a: Any, b: Any) -> Any:
        try:
            v = a * b
        except (TypeError, ValueError) as e:  # a weight that is not finite or too large, a bound beyond MAX_REWARD
            raise self.error(str(e)) from e
        if isinstance(v, float) and not math.isfinite(v):
            raise self.error("a product of numbers overflows")
        return v

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"more than {MAX_DEPTH} nested parentheses or signs")

    def atom(self) -> Any:
        tok = self.peek()
        if tok is None:
            raise self.error("expected a verifier name, a number or '('")
        kind, text, _ = tok
        if kind == "num":
            self.take()
            return float(self.number(text))
        if kind == "op" and text == "-":
            self.take()
            self.nest()
            v = self.scale(-1.0, self.atom())
            self.depth -= 1
            return v
        if kind == "op" and text == "(":
            self.take()
            self.nest()
            v = self.expr()
            self.take(")")
            self.depth -= 1
            return v
        if kind == "name":
            self.take()
            self.verifiers += 1
            if self.verifiers > MAX_VERIFIERS:
                raise self.error(f"more than {MAX_VERIFIERS} verifiers")
            try:
                factory = _REGISTRY.get(text) or _builtin(text)
            except ImportError as e:
                raise SpecError(f"verifier {text!r} in spec {self.spec!r} needs a package that is "
                                f"not installed: {e}") from e
            if factory is None:
                raise SpecError(f"unknown verifier {text!r} in spec {self.spec!r}; known: {', '.join(known_names())}")
            kwargs = self.kwargs() if self.at("(") else {}
            try:
                v = factory(**kwargs)
            except Exception as e:  # noqa: BLE001 - any factory failure is this spec's error
                raise SpecError(f"bad arguments for {text!r} in spec {self.spec!r}: {e}") from e
            if not isinstance(v, Verifier):
                raise SpecError(f"{text!r} in spec {self.spec!r} built a {type(v).__name__}, not a Verifier")
            return v
        raise self.error(f"unexpected {text!r}")

    def kwargs(self) -> dict[str, Any]:
        self.take("(")
        out: dict[str, Any] = {}
        while not self.at(")"):
            key = self.take()
            if key[0] != "name":
                raise self.error(f"expected an argument name, got {key[1]!r}")
            self.take("=")
            kind, text, _ = self.take()
            if kind == "num":
                value: Any = self.number(text, integer=not any(c in text for c in ".eE"))
            elif kind == "str":
                value = text[1:-1]
            elif kind == "name":
                value = {"true": True, "false": False}.get(text.lower(), text)
            else:
                raise self.error(f"expected a value for {key[1]!r}")
            out[key[1]] = value
            if not self.at(")"):
                self.take(",")
        self.take(")")
        return out

    def need(self, v: Any) -> Verifier:
        if not isinstance(v, Verifier):
            raise self.error(f"a bare number ({v:g}) cannot be combined with '&', '|' or '+'")
        return v


def parse_spec(spec: str | Verifier) -> Verifier:
    """Build a Verifier from a spec string (a Verifier passes through unchanged)."""
    if isinstance(spec, Verifier):
        return spec
    if not isinstance(spec, str):
        raise SpecError(f"a reward spec must be a string, got {type(spec).__name__}")
    if len(spec) > MAX_SPEC_CHARS:
        raise SpecError(f"reward spec of {len(spec)} characters; the limit is {MAX_SPEC_CHARS}")
    try:
        return _Parser(spec).parse()
    except RecursionError as e:  # called from deep inside the caller's own stack
        raise SpecError(f"reward spec {spec[:80]!r} nests too deeply") from e


def leaves(verifier: Verifier) -> list[Verifier]:
    """The verifiers a composed verifier is built of, left to right (no recursion)."""
    out, stack = [], [verifier]
    while stack:
        v = stack.pop()
        kids = v.children()
        if kids:
            stack.extend(reversed(kids))
        else:
            out.append(v)
    return out


def check_within(spec: Verifier, ceiling: Verifier | Iterable[Verifier]) -> None:
    """Raise SpecError when `spec`, chosen by data, asks for more than the operator allows.

    Data may choose which verifiers score a record, with any weights and composition; it may
    not loosen a resource or isolation limit. Each verifier of `spec` that reports
    `resource_limits()` must be within those of one verifier of the same class in `ceiling`
    (the operator's specs): every number at or below, every ranked word at or before (see
    `Verifier.LIMIT_ORDER`). A class the ceiling does not use is bounded by its own defaults
    (the class built without arguments), i.e. what the operator gets by writing its bare name.
    """
    allowed: dict[type, list[dict[str, Any]]] = {}
    for c in ([ceiling] if isinstance(ceiling, Verifier) else ceiling):
        for leaf in leaves(c):
            allowed.setdefault(type(leaf), []).append(leaf.resource_limits())
    for leaf in leaves(spec):
        wanted = leaf.resource_limits()
        if not wanted:
            continue
        options = allowed.get(type(leaf))
        if options is None:
            try:
                options = [type(leaf)().resource_limits()]
            except Exception as e:  # noqa: BLE001 - no defaults to bound it by
                raise SpecError(f"{leaf.name!r} is not in the operator's spec and has no default "
                                f"limits to bound it ({e})") from e
        problems = [_looser(leaf, wanted, o) for o in options]
        if all(problems):
            raise SpecError(f"{leaf.name!r} asks for more than the operator allows: {problems[0]} "
                            "(a per-item spec may only tighten resource and isolation limits)")


def _looser(leaf: Verifier, wanted: dict[str, Any], ceiling: dict[str, Any]) -> str | None:
    """Why `wanted` is not within `ceiling`, or None when it is."""
    for knob, value in wanted.items():
        top = ceiling.get(knob)
        order = type(leaf).LIMIT_ORDER.get(knob)
        if value is None or top is None:
            if value is not top:  # None means "derived"; only the operator may set it
                return f"{knob}={value!r} where the operator has {top!r}"
        elif order is not None:
            if value not in order or top not in order or order.index(value) > order.index(top):
                return f"{knob}={value!r} is looser than the operator's {top!r} (tightest first: {', '.join(order)})"
        elif not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            return f"{knob}={value!r} is not a finite number"
        elif not isinstance(top, int | float) or value > top:
            return f"{knob}={value!r} is beyond the operator's {top!r}"
    return None
