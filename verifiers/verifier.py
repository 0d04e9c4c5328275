"""Verifier and its combinators: `a & b` (gate), `a | b` (fallback), `w * a` (scale), `a + b` (sum).

Each combinator's repr names exactly what is rewarded, so a logged spec can be read back.

    >>> from verifiers import FormatVerifier, MathVerifier
    >>> reward = 0.1 * FormatVerifier() + MathVerifier()
    >>> reward("<think>2+2</think><answer>4</answer>", "4").value
    1.1
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any, ClassVar

from verifiers.score import Score

# Rewards are O(1); a weight beyond this is a typo or an attack, and bounding it keeps every
# sum of weighted scores far from float overflow (`1e999*math` would write `Infinity`).
MAX_WEIGHT = 1e6
# The largest |reward| any spec may produce, however it composes weights (`1e6*(1e6*a + b)`).
# Trainers normalise rewards into advantages in float32 or bf16: float32 resolves about 7
# significant digits, so next to a term of 1e6 a 0.1 format bonus or a 1.0 correct answer is
# at the edge of what survives, and a larger term drowns correctness entirely. A policy that
# may choose its spec (data does) could otherwise pick one whose shaping swamps the answer.
MAX_REWARD = 1e6
# A leaf verifier's |value| unless it says otherwise (`value_bound`); every built-in
# correctness verifier scores in [0, 1].
DEFAULT_BOUND = 1.0


def check_weight(weight: float) -> float:
    """`weight` as a float, or ValueError when it is not finite or beyond +-MAX_WEIGHT."""
    w = float(weight)
    if not math.isfinite(w) or abs(w) > MAX_WEIGHT:
        raise ValueError(f"a weight must be a finite number within +-{MAX_WEIGHT:g}, got {weight!r}")
    return w


def check_bound(verifier: Verifier) -> Verifier:
    """`verifier`, or ValueError when its value bound is not finite or beyond MAX_REWARD."""
    bound = verifier.value_bound()
    if not isinstance(bound, int | float) or not math.isfinite(bound) or not 0 <= bound <= MAX_REWARD:
        raise ValueError(f"{verifier!r:.200} may score up to {bound!r} in absolute value; the limit is "
                         f"{MAX_REWARD:g} (rewards are O(1): a larger term drowns correctness in float32)")
    return verifier


def within_bound(value: float, bound: float) -> bool:
    """Whether |value| <= bound, allowing for the rounding of a sum of floats."""
    return abs(value) <= bound * (1 + 1e-9) + 1e-12


class Verifier:
    """A callable `(completion: str, reference) -> Score` with composition operators.

    Subclasses set `name` and implement `score`. Any plain callable with that shape
    becomes a Verifier through `Verifier.wrap(fn, name)`.
    """

    name: str = "verifier"
    # For `resource_limits` entries that are words, not numbers: the allowed values, tightest
    # first (the code verifier's isolation levels).
    LIMIT_ORDER: ClassVar[dict[str, tuple[str, ...]]] = {}

    def score(self, completion: str, reference: Any) -> Score:
        raise NotImplementedError

    def __call__(self, completion: str, reference: Any = None) -> Score:
        return self.score(completion, reference)

    def children(self) -> tuple[Verifier, ...]:
        return ()

    def cache_key(self, completion: str) -> Hashable:
        """What of the completion the verdict depends on. Completions with equal keys (and the
        same reference) get the same Score, so the reward service scores them once: a math
        verifier keys on the extracted answer, so eight reasonings that end in the same
        answer cost one comparison. The default, the whole text, is always safe."""
        kids = self.children()
        return tuple(c.cache_key(completion) for c in kids) if kids else completion

    def budget_s(self, reference: Any) -> float:
        """Seconds this verifier may legitimately need beyond the service's base deadline
        (a code verifier running many tests); combinators add up their children's."""
        return sum(c.budget_s(reference) for c in self.children())

    def value_bound(self) -> float:
        """The largest |value| this verifier can score. Leaves default to DEFAULT_BOUND (1.0);
        a verifier that scores more overrides this (the shaping rewards report their weight),
        and the reward service refuses a Score beyond it as an error. Combinators derive theirs:
        a weight multiplies, a sum adds, a gate or a fallback takes the larger."""
        return DEFAULT_BOUND

    def resource_limits(self) -> dict[str, Any]:
        """The settings of this verifier that bound what it may spend or expose (time, memory,
        output, processes, isolation): numbers where smaller is tighter, or words ranked by
        `LIMIT_ORDER`. A spec chosen by data may only tighten them (`spec.check_within`), so a
        verifier with such knobs must report them here. Leaves only; the default has none."""
        return {}

    # --- composition -----------------------------------------------------------------
    def __and__(self, other: Verifier) -> Verifier:
        return Gate(self, _as_verifier(other))

    def __or__(self, other: Verifier) -> Verifier:
        return Fallback(self, _as_verifier(other))

    def __add__(self, other: Verifier) -> Verifier:
        return Sum(self, _as_verifier(other))

    def __mul__(self, weight: float) -> Verifier:
        if not isinstance(weight, int | float) or isinstance(weight, bool):
            return NotImplemented
        return Scaled(float(weight), self)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return self.name

    @staticmethod
    def wrap(fn: Callable[[str, Any], Score | float | bool], name: str | None = None,
             bound: float = DEFAULT_BOUND) -> Verifier:
        """`fn` as a Verifier; `bound`: the largest |value| it returns (see `value_bound`)."""
        return FunctionVerifier(fn, name or getattr(fn, "__name__", "fn"), bound)


def _as_verifier(x: Any) -> Verifier:
    if isinstance(x, Verifier):
        return x
    if callable(x):
        return Verifier.wrap(x)
    raise TypeError(f"cannot compose a verifier with {type(x).__name__}")


class FunctionVerifier(Verifier):
    """Wraps a callable. A float result becomes Score(value, passed=value>=1); a bool, 1.0/0.0."""

    def __init__(self, fn: Callable[[str, Any], Score | float | bool], name: str, bound: float = DEFAULT_BOUND):
        self.fn, self.name, self.bound = fn, name, float(bound)
        check_bound(self)

    def value_bound(self) -> float:
        return self.bound

    def score(self, completion: str, reference: Any) -> Score:
        out = self.fn(completion, reference)
        if isinstance(out, Score):
            s = out
        elif isinstance(out, bool):
            s = Score(float(out), out, "ok" if out else "mismatch")
        elif isinstance(out, int | float):
            s = Score(float(out), float(out) >= 1.0, "ok" if float(out) >= 1.0 else "mismatch")
        else:
            raise TypeError(f"verifier {self.name!r} returned {type(out).__name__}, expected Score, float or bool")
        return s if s.parts else Score(s.value, s.passed, s.reason, {self.name: s.value})


def _parts(s: Score, name: str) -> dict[str, float]:
    return dict(s.parts) if s.parts else {name: s.value}


def _paren(v: Verifier, parent: type) -> str:
    # Parenthesise a child whose operator binds looser than its parent's (Python precedence:
    # * > + > & > |), so the repr parses back to the same tree.
    rank = {Scaled: 3, Sum: 2, Gate: 1, Fallback: 0}
    r = repr(v)
    return f"({r})" if type(v) in rank and rank[type(v)] < rank.get(parent, 4) else r


class _Combinator(Verifier):
    """A verifier built of others: its name is its repr (the expression it stands for)."""

    @property
    def name(self) -> str:  # type: ignore[override]
        return repr(self)


class _Binary(_Combinator):
    def __init__(self, a: Verifier, b: Verifier):
        self.a, self.b = a, b
        # Computed once, from the children's own: checking each node as it is built keeps
        # the cost of a long chain linear, and no composition can exceed MAX_REWARD.
        self._bound = self._combine(a.value_bound(), b.value_bound())
        check_bound(self)

    @staticmethod
    def _combine(a: float, b: float) -> float:
        return max(a, b)  # a gate or a fallback scores one of its children's values, or 0

    def value_bound(self) -> float:
        return self._bound

    def children(self) -> tuple[Verifier, ...]:
        return (self.a, self.b)


class Gate(_Binary):
    """`a & b`: b's value only if a passed, else 0. Passed when both passed."""

    def score(self, completion: str, reference: Any) -> Score:
        sa = self.a(completion, reference)
        if not sa.passed:
            parts = _parts(sa, repr(self.a))
            return Score(0.0, False, sa.reason, parts)
        sb = self.b(completion, reference)
        return Score(sb.value, sb.passed, sb.reason, {**_parts(sa, repr(self.a)), **_parts(sb, repr(self.b))})

    def __repr__(self) -> str:
        return f"{_paren(self.a, Gate)} & {_paren(self.b, Gate)}"


class Fallback(_Binary):
    """`a | b`: the first that passes; if none passes, the last one's score."""

    def score(self, completion: str, reference: Any) -> Score:
        sa = self.a(completion, reference)
        if sa.passed:
            return sa
        sb = self.b(completion, reference)
        return Score(sb.value, sb.passed, sb.reason, {**_parts(sa, repr(self.a)), **_parts(sb, repr(self.b))})

    def __repr__(self) -> str:
        return f"{_paren(self.a, Fallback)} | {_paren(self.b, Fallback)}"


class Scaled(_Combinator):
    """`w * a`: w times a's value; passed is a's."""

    def __init__(self, weight: float, a: Verifier):
        self.weight, self.a = check_weight(weight), a
        self._bound = abs(self.weight) * a.value_bound()
        check_bound(self)

    def value_bound(self) -> float:
        return self._bound

    def children(self) -> tuple[Verifier, ...]:
        return (self.a,)

    def __mul__(self, weight: float) -> Verifier:
        # Fold nested weights so `-1 * (0.5 * a)` reads back as `-0.5*a`.
        if not isinstance(weight, int | float) or isinstance(weight, bool):
            return NotImplemented
        return Scaled(self.weight * float(weight), self.a)

    __rmul__ = __mul__

    def score(self, completion: str, reference: Any) -> Score:
        s = self.a(completion, reference)
        return Score(self.weight * s.value, s.passed, s.reason, _parts(s, repr(self.a)))

    def __repr__(self) -> str:
        return f"{self.weight:g}*{_paren(self.a, Scaled)}"


class Sum(_Binary):
    """`a + b`: the sum of values; passed when all passed; reason is the first non-ok one."""

    @staticmethod
    def _combine(a: float, b: float) -> float:
        return a + b

    def score(self, completion: str, reference: Any) -> Score:
        sa, sb = self.a(completion, reference), self.b(completion, reference)
        reason = sa.reason if sa.reason != "ok" else sb.reason
        return Score(sa.value + sb.value, sa.passed and sb.passed, reason,
                     {**_parts(sa, repr(self.a)), **_parts(sb, repr(self.b))})

    def __repr__(self) -> str:
        return f"{_paren(self.a, Sum)} + {_paren(self.b, Sum)}"
