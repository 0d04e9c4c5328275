"""Guards that run before sympy evaluates anything parsed from model text.

A policy under RL pressure learns that a grader can be made to hang: power towers
(10^{10^{10}}), huge factorials, sums over 10^9 terms, unevaluated integrals, (x+1)^{100000}.
`too_big` refuses those by looking at the expression tree alone, without computing a value:
`_log10_bound` bounds the magnitude of every intermediate value from below the leaves up.

    python -m pytest tests/verifiers/test_math_answers.py -q -k big
"""

from __future__ import annotations

import math

import sympy
from sympy import Basic, MatrixBase, Symbol

__all__ = ["MAX_LOG10", "MAX_SUM_TERMS", "too_big"]

# log10 bound on any intermediate value; 2^{2005} (~600 digits) passes, 10^{10^{10}} does not
MAX_LOG10 = 20_000.0


def _log10_int(n: int) -> float:
    n = abs(n)
    if n <= 1:
        return 0.0
    return math.log10(n) if n < 10**300 else float(len(str(n)))


def _log10_bound(e: Basic, env: dict | None = None) -> float:
    """An upper bound on log10 of the largest magnitude met while evaluating `e` (>= 0;
    a variable counts as 10, or as `env` says: a summation index as its largest value)."""
    if isinstance(e, sympy.Integer):
        return _log10_int(int(e))
    if isinstance(e, sympy.Rational):
        return max(_log10_int(e.p), _log10_int(e.q))
    if isinstance(e, sympy.Float):
        return max(0.0, math.log10(abs(float(e)) + 1))
    if isinstance(e, Symbol):
        return env.get(e, 1.0) if env else 1.0
    if isinstance(e, sympy.Sum | sympy.Product):
        terms, inner = _range(e, env)
        body = _log10_bound(e.function, inner)
        return body * terms if isinstance(e, sympy.Product) else body + math.log10(terms + 1)
    if isinstance(e, sympy.Pow):
        base, exp = _log10_bound(e.args[0], env), _log10_bound(e.args[1], env)
        if exp > 300:
            return math.inf
        return max(base, 0.31) * 10 ** exp  # 0.31 > log10(2): the base may be a tiny rational
    if isinstance(e, sympy.factorial | sympy.factorial2 | sympy.gamma | sympy.subfactorial
                  | sympy.exp):
        n = _log10_bound(e.args[0], env)
        return math.inf if n > 300 else 10**n * max(n, 1.0)
    if isinstance(e, sympy.Mul):
        return sum(_log10_bound(a, env) for a in e.args)
    if not e.args:
        return 0.0
    return max(_log10_bound(a, env) for a in e.args if isinstance(a, Basic)) + math.log10(len(e.args) + 1)


def _range(e: Basic, env: dict | None) -> tuple[float, dict]:
    """How many terms a Sum/Product has (inf if its bounds are not integers), and `env` with
    each index bounded by its largest value."""
    terms, inner = 1.0, dict(env or {})
    for limit in e.limits:
        lo, hi = (limit[1], limit[2]) if len(limit) == 3 else (None, None)
        if not (isinstance(lo, sympy.Integer) and isinstance(hi, sympy.Integer)):
            return math.inf, inner
        terms *= max(int(hi) - int(lo) + 1, 0)
        inner[limit[0]] = max(_log10_int(int(lo)), _log10_int(int(hi)), 1.0)
    return terms, inner


def _work(e: Basic, env: dict | None = None) -> float:
    """Digits handled while evaluating the sums and products in `e`: terms times the size of
    a term (times the terms again when the summand is not a polynomial), nested sums multiplied out (\\sum_{n=1}^{1000} n^{-n} builds 1000 numbers of up
    to 3000 digits)."""
    if isinstance(e, sympy.Sum | sympy.Product):
        terms, inner = _range(e, env)
        per_term = max(1.0, _log10_bound(e.function, inner), _work(e.function, inner))
        indices = [limit[0] for limit in e.limits]
        if not _polynomial_in(e.function, indices):
            # exact rationals accumulate: the running sum or product of n fractions carries
            # about n times a term's digits, so the work grows with n^2
            per_term *= terms
        return terms * per_term
    return sum((_work(a, env) for a in e.args if isinstance(a, Basic)), 0.0)


def _polynomial_in(e: Basic, indices: list) -> bool:
    """Whether `e` is a polynomial in the summation indices (sympy sums those in closed form)."""
    try:
        return bool(e.is_polynomial(*indices))
    except (TypeError, ValueError, AttributeError, NotImplementedError):
        return False


MAX_SUM_TERMS = 1000
MAX_WORK = 20_000.0  # digit-terms of all sums and products: 1000 terms of 20 digits
_UNEVALUATED = (sympy.Integral, sympy.Limit, sympy.Derivative)


def _unsafe_node(e: Basic) -> bool:
    if isinstance(e, _UNEVALUATED):
        return True  # an unevaluated integral or limit is not a final answer; sympy may hang
    if isinstance(e, sympy.Sum | sympy.Product):
        for limit in e.limits:
            lo, hi = (limit[1], limit[2]) if len(limit) == 3 else (None, None)
            if not (isinstance(lo, sympy.Integer) and isinstance(hi, sympy.Integer)):
                return True
            if int(hi) - int(lo) > MAX_SUM_TERMS:
                return True
    if isinstance(e, sympy.Pow) and e.args[0].free_symbols and e.args[1].is_Number \
            and abs(e.args[1]) > 200:
        return True  # (x+1)^{10000}: simplify would expand it
    return False


def too_big(e: Basic | MatrixBase) -> bool:
    """True when evaluating `e` could produce astronomically large numbers (power towers, n!)
    or hang sympy (sums over 10^9 terms, unevaluated integrals, huge polynomial powers)."""
    parts = list(e) if isinstance(e, MatrixBase) else [e]
    try:
        for p in parts:
            if not isinstance(p, Basic):
                continue
            if _log10_bound(p) > MAX_LOG10 or _work(p) > MAX_WORK:
                return True
            if any(_unsafe_node(n) for n in sympy.preorder_traversal(p)):
                return True
        return False
    except (OverflowError, ValueError, RecursionError, TypeError):
        return True
