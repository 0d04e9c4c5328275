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

    python -c "from verifiers.spec import parse_spec; print(parse_spec('0.1*format + math'))"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from verifiers.score import SpecError
from verifiers.verifier import Verifier

_TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<str>'[^']*'|\"[^\"]*\")|(?P<op>[-+*&|(),=]))")

_REGISTRY: dict[str, Callable[..., Verifier]] = {}


def register(name: str, factory: Callable[..., Verifier]) -> None:
    """Make `name` usable in spec strings; `factory(**kwargs)` builds the verifier."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise SpecError(f"verifier name {name!r} is not an identifier")
    _REGISTRY[name] = factory


def _builtin(name: str) -> Callable[..., Verifier] | None:
    # Imported on first use so that `import verifiers` stays light (code pulls in sandboxes).
    if name == "format":
        from verifiers.format import FormatVerifier
        return FormatVerifier
    if name == "math":
        from verifiers.math_answers import MathVerifier
        return MathVerifier
    if name == "exact":
        from verifiers.math_answers import ExactVerifier
        return ExactVerifier
    if name == "code":
        from verifiers.code import CodeVerifier
        return CodeVerifier
    if name in ("overlong", "repetition", "language"):
        from verifiers import shaping
        return {"overlong": shaping.OverlongPenalty, "repetition": shaping.RepetitionPenalty,
                "language": shaping.LanguageConsistency}[name]
    return None


def known_names() -> list[str]:
    return sorted({"format", "math", "exact", "code", "overlong", "repetition", "language", *_REGISTRY})


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
        return v

    def expr(self) -> Any:
        v = self.gate()
        while self.at("|"):
            self.take()
            v = self.need(v) | self.need(self.gate())
        return v

    def gate(self) -> Any:
        v = self.sum()
        while self.at("&"):
            self.take()
            v = self.need(v) & self.need(self.sum())
        return v

    def sum(self) -> Any:
        v = self.product()
        while self.at("+", "-"):
            op = self.take()[1]
            rhs = self.need(self.product())
            v = self.need(v) + (rhs if op == "+" else -1.0 * rhs)
        return v

    def product(self) -> Any:
        v = self.atom()
        while self.at("*"):
            self.take()
            rhs = self.atom()
            if isinstance(v, float) or isinstance(rhs, float):
                v = v * rhs
            else:
                raise self.error("'*' needs a number on one side (a weight)")
        return v

    def atom(self) -> Any:
        tok = self.peek()
        if tok is None:
            raise self.error("expected a verifier name, a number or '('")
        kind, text, _ = tok
        if kind == "num":
            self.take()
            return float(text)
        if kind == "op" and text == "-":
            self.take()
            return -1.0 * self.atom()
        if kind == "op" and text == "(":
            self.take()
            v = self.expr()
            self.take(")")
            return v
        if kind == "name":
            self.take()
            try:
                factory = _REGISTRY.get(text) or _builtin(text)
            except ImportError as e:
                raise SpecError(f"verifier {text!r} in spec {self.spec!r} needs a package that is "
                                f"not installed: {e}") from e
            if factory is None:
                raise SpecError(f"unknown verifier {text!r} in spec {self.spec!r}; known: {', '.join(known_names())}")
            kwargs = self.kwargs() if self.at("(") else {}
            try:
                return factory(**kwargs)
            except (TypeError, ValueError) as e:
                raise SpecError(f"bad arguments for {text!r} in spec {self.spec!r}: {e}") from e
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
                value: Any = float(text) if any(c in text for c in ".eE") else int(text)
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
    return _Parser(spec).parse()
