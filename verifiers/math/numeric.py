"""Numeric evaluation of parsed answers, the half of `compare` that computes values.

    numbers_equal(a, b)                  two constant expressions: the same number?
    points_agree(a, b, symbols, signs)   two expressions at fixed points with these signs
    numeric_value(e, values, digits)     one expression's value, evaluated once per node

How much to trust a value: exact sides are evaluated to 60 digits plus the digits their
literals span (`guards.log10_bound`: 10^{-60} spans 60) and must agree to all but the
last 10, so a perturbation built from the answer's own numbers is always seen, and a
decimal, however long, never equals an irrational. A side holding a float literal is
compared to a relative 1e-40. Comparisons that would need more than 2,000 digits (120 when
a non-elementary function such as the gamma function is involved: seconds per value) are
refused, which the comparison reads as "not equal".

Where to look: rationals plus sqrt(prime)/1000, so no term periodic on a grid of rationals
(sin(100 pi x), cos(2 pi x) - 1) vanishes at them all, with every sign pattern of the
variables (all positive, all negative, alternating), so that x and sqrt(x^2) disagree.

How: each node is evaluated once, from the leaves up (`numeric_value`). sympy's own evalf
re-evaluates subtrees at rising precision, and its assumption queries evaluate them again:
its work doubled at each level of a continued fraction and grew faster on nested logs.

    python -m pytest tests/verifiers/test_math_answers.py tests/verifiers/test_attacks_math.py -q
"""

from __future__ import annotations

import sympy
from sympy import Abs, Basic, Expr, Rational, Symbol, ceiling, floor, sign

from verifiers.math.guards import MAX_LOG10, log10_bound

__all__ = ["EVAL_DIGITS", "POINTS", "REL_TOL", "close", "infinite", "numbers_equal", "numeric_value",
           "points_agree", "sign_patterns", "undefined", "varies"]

REL_TOL = 1e-40  # a side holds a float literal
EVAL_DIGITS = 60
GUARD_DIGITS = 10  # exact sides must agree to all evaluated digits but these
# Digits evaluated at most: elementary functions at 2,000 digits cost milliseconds, the
# gamma function or zeta at 1,000 digits seconds each; beyond these a comparison is refused.
MAX_DIGITS, MAX_DIGITS_SPECIAL = 2000, 120
_ELEMENTARY = (sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.cot, sympy.sec, sympy.csc,
               sympy.asin, sympy.acos, sympy.atan, sympy.acot, sympy.sinh, sympy.cosh, sympy.tanh,
               sympy.asinh, sympy.acosh, sympy.atanh, Abs, floor, ceiling, sign, sympy.Max, sympy.Min,
               sympy.Mod, sympy.re, sympy.im, sympy.arg, sympy.conjugate)
# Irrational, so that no grid-periodic term (sin(100 pi x), cos(2 pi x) - 1) vanishes at them all
POINTS = [Rational(n, 100) + sympy.sqrt(p) / 1000 for n, p in
          [(137, 2), (251, 3), (73, 5), (317, 7), (193, 11), (59, 13), (419, 17), (113, 19)]]


def close(a: Expr, b: Expr, rel_tol: Expr | float = REL_TOL) -> bool:
    """|a - b| <= rel_tol * max(|a|, |b|); an exact zero only matches a value that is zero to
    the same tolerance; an infinity only matches itself (|-oo - 5| <= 1e-9 * oo holds, so it
    must not get that far)."""
    if not (a.is_finite and b.is_finite):
        return a == b
    if a == 0 or b == 0:
        return bool(abs(a - b) < rel_tol)
    return bool(abs(a - b) <= rel_tol * max(abs(a), abs(b)))


def precision_for(a: Basic, b: Basic) -> tuple[int, Expr | float] | None:
    """(digits to evaluate at, relative tolerance) for comparing a with b; None when that
    would cost too much. Exact sides get 60 digits plus the digits their literals span, and
    must agree to all but GUARD_DIGITS: a perturbation such as 10^{-60} is then always larger
    than the tolerance."""
    if a.has(sympy.Float) or b.has(sympy.Float):
        return EVAL_DIGITS, REL_TOL
    digits = EVAL_DIGITS + int(min(log10_bound(a) + log10_bound(b), MAX_LOG10)) + 1
    special = any(not isinstance(f, _ELEMENTARY) for e in (a, b) for f in e.atoms(sympy.Function))
    if digits > (MAX_DIGITS_SPECIAL if special else MAX_DIGITS):
        return None
    return digits, sympy.Rational(1, 10 ** (digits - GUARD_DIGITS))


def flat_number(v: Basic) -> bool:
    """A number in its final form: an exact rational, a float, x + y*I of those, an infinity."""
    if v.is_Number or v in (sympy.I, sympy.zoo, sympy.nan, sympy.oo, sympy.S.NegativeInfinity):
        return True
    if v.is_Mul:  # y*I
        return len(v.args) == 2 and v.args[0].is_Number and v.args[1] is sympy.I
    if v.is_Add:  # x + y*I
        return len(v.args) == 2 and all(flat_number(a) and not a.is_Add for a in v.args)
    return False


def numeric_value(e: Basic, sub: dict[Symbol, Expr], digits: int) -> Basic | None:
    """The value of `e` with `sub`'s values for its variables, evaluated once per node from
    the leaves up at `digits` (+20 guard) digits; None when some part has no number value.

    Not sympy's evalf on the whole tree: it re-evaluates subtrees at rising precision, so
    its work doubles (or more) at each level of a continued fraction or a nested log (ten
    nested logs: minutes). Here each node is rebuilt from its evaluated arguments, which
    sympy evaluates at once for float arguments, or evaluated alone when it does not."""
    work = digits + 20
    values = {s: v.evalf(work) for s, v in sub.items()}
    memo: dict[Basic, Basic | None] = {}

    def walk(node: Basic) -> Basic | None:
        if node in memo:
            return memo[node]
        if isinstance(node, Symbol):
            out = values.get(node)
        elif not node.args:
            out = node if flat_number(node) else node.evalf(work)  # pi, E, I, numbers
        elif getattr(node, "bound_symbols", None):
            # a sum or a product (guarded to at most 1,000 terms): its own index is not ours
            out = node.xreplace(values).doit()
            out = out if flat_number(out) else out.evalf(work)
        else:
            args = [walk(a) for a in node.args]
            if any(a is None for a in args):
                out = None
            else:
                out = node.func(*args)
                if not (flat_number(out) or isinstance(out, sympy.logic.boolalg.BooleanAtom)):
                    # its arguments are numbers, so this costs the node alone; doit first for
                    # what the parser left unevaluated (UnevaluatedExpr, as \\gcd(6, 4) is read)
                    out = out.doit(deep=False).evalf(work)
        if out is not None and not (flat_number(out) or isinstance(out, sympy.logic.boolalg.BooleanAtom)):
            out = None
        memo[node] = out
        return out

    try:
        return walk(e)
    except (TypeError, ValueError, ArithmeticError, AttributeError, RecursionError, NotImplementedError):
        return None


def undefined(e: Basic) -> bool:
    return bool(e.has(sympy.zoo, sympy.nan))


def infinite(e: Basic) -> bool:
    """Holds an infinity of either sign (-oo is its own singleton: e.has(oo) misses it)."""
    return bool(e.has(sympy.oo, sympy.S.NegativeInfinity))


def numbers_equal(a: Expr, b: Expr) -> bool:
    if undefined(a) or undefined(b):
        return False  # 0/0 is not 0, and 12:00 (12/0) is not 1:00 (1/0)
    if a == b:
        return True
    precision = precision_for(a, b)
    if precision is None:
        return False  # more digits than can be computed in time: unsure, so not equal
    digits, tol = precision
    # exact rationals stay exact (1/2^98 != 1/2^99); no `doit` or assumption query on the
    # whole tree: each evaluates nested subtrees again (11 nested logs ran for minutes)
    av, bv = numeric_value(a, {}, digits), numeric_value(b, {}, digits)
    if av is None or bv is None or undefined(av) or undefined(bv) or infinite(av) or infinite(bv):
        return av is not None and av == bv and not undefined(av)
    if av.is_Rational and bv.is_Rational:
        return av == bv
    # otherwise equal to the precision evaluated, which covers the digits of every literal:
    # a decimal, however long, is not pi, and e^{-100} is not 0
    ar, ai = av.as_real_imag()
    br, bi = bv.as_real_imag()
    if not all(x.is_Number for x in (ar, ai, br, bi)):
        return False
    return close(ar, br, tol) and close(ai, bi, tol)


def sign_patterns(n: int) -> list[tuple[int, ...]]:
    """All positive, all negative, and for several variables both alternations: the patterns
    under which sqrt(x^2) != x and sqrt(x) sqrt(y) != sqrt(xy) show."""
    patterns = [(1,) * n, (-1,) * n]
    if n > 1:
        patterns += [tuple((-1) ** i for i in range(n)), tuple(-((-1) ** i) for i in range(n))]
    return patterns


def points_agree(a: Expr, b: Expr, syms: list[Symbol], signs: tuple[int, ...]) -> str | None:
    """Evaluate both at fixed irrational points with these signs: "differ" on a disagreement
    where both values are real, "branch" on one where a value is not real, "agree" after 3
    agreeing points, None if no point evaluates, "costly" if the precision needed is too high."""
    precision = precision_for(a, b)
    if precision is None:
        return "costly"
    digits, tol = precision
    checked, branch = 0, False
    for shift in range(len(POINTS)):
        sub = {s: signs[i] * (POINTS[(i + shift) % len(POINTS)] + i) for i, s in enumerate(syms)}
        av, bv = numeric_value(a, sub, digits), numeric_value(b, sub, digits)
        if av is None or bv is None or not (av.is_number and bv.is_number) or undefined(av) or undefined(bv) \
                or infinite(av) or infinite(bv):
            continue
        ar, ai = av.as_real_imag()
        br, bi = bv.as_real_imag()
        if not all(x.is_Number for x in (ar, ai, br, bi)):
            continue
        if not (close(ar, br, tol) and close(ai, bi, tol)):
            real = close(ai, sympy.Integer(0), tol * max(1, abs(ar))) and \
                close(bi, sympy.Integer(0), tol * max(1, abs(br)))
            if real:
                return "differ"
            branch = True
            continue
        checked += 1
        if checked >= 3:
            break
    if branch:
        return "branch"
    return "agree" if checked else None


def varies(e: Expr, syms: list[Symbol]) -> bool:
    """Whether `e` takes two different values at two of the points (so it is not a constant)."""
    values = []
    for shift in range(2):
        sub = {s: POINTS[(i + shift) % len(POINTS)] + i for i, s in enumerate(syms)}
        v = numeric_value(e, sub, EVAL_DIGITS)
        if v is None or not v.is_number or undefined(v) or infinite(v):
            return False
        values.append(v)
    return not close(values[0], values[1])
