"""Equivalence of two parsed math answers (sympy objects): the judging half of `math_answers`.

`equivalent(answer, reference)` is strict on purpose; a reward that accepts a wrong answer
teaches the policy to be wrong, so every rule leans towards "mismatch" when unsure:

- closed-form numbers: decimals are read as exact rationals (0.5 is 1/2, 0.333 is not 1/3);
  exact when both sides are rational (1/2^98 != 1/2^99); otherwise both are evaluated at 60
  digits and must agree to a relative 1e-50 (1e-40 when a side holds a float), i.e. be the
  same number (sqrt(8) == 2 sqrt(2),
  e^{i pi} == -1), so a decimal approximation never matches an irrational reference, however
  many digits it carries. No float rounding, no `chop`.
- expressions with variables: math-verify's symbolic comparison, and every "equal" confirmed by
  evaluating both sides at fixed rational points (this rejects math-verify's chop/tolerance
  false positives). When sympy cannot prove equality, the same point test over positive values
  decides, unless either side holds a piecewise function (|x|, floor, sign, ...) that positive
  points cannot tell apart.
- equations: `x = 3` matches `3` (an assignment: the left side is a lone variable or f(x));
  `2+2 = 4` is a computation and its last side counts; `x + 1 = 5` does not match `5`.
  Two equations or inequalities are compared by math-verify's relational rules.
- sets, tuples, intervals, matrices: structurally, elements compared with these same rules;
  an unordered reference set accepts any order; a one-row/one-column matrix is a tuple;
  an inequality in one variable is compared as the set it describes (x > 1 == (1, oo)).

Guards: `math_guards.too_big` bounds the magnitude of an expression before anything evaluates
it, so 10^{10^{10}} or 100000! is refused instead of computed.

    python -m pytest tests/verifiers/test_math_answers.py -q
"""

from __future__ import annotations

import sympy
from math_verify.grader import sympy_expr_eq
from sympy import (
    Abs,
    Basic,
    Eq,
    Expr,
    FiniteSet,
    Interval,
    MatrixBase,
    Piecewise,
    Rational,
    Set,
    Symbol,
    Tuple,
    Union,
    ceiling,
    floor,
    sign,
)
from sympy.core.function import AppliedUndef
from sympy.core.relational import Relational
from sympy.logic.boolalg import And

__all__ = ["equivalent"]

REL_TOL = 1e-40
EXACT_REL_TOL = 1e-50  # both sides exact: evaluated at 60 digits, so only rounding differs
EVAL_DIGITS = 60

_POINTS = [Rational(137, 100), Rational(251, 100), Rational(73, 100), Rational(317, 100),
           Rational(193, 100), Rational(59, 100), Rational(419, 100), Rational(113, 100)]
_PIECEWISE = (Abs, floor, ceiling, sign, Piecewise, sympy.Max, sympy.Min, sympy.Mod)


# --- numbers -----------------------------------------------------------------------------------

def _close(a: Expr, b: Expr, rel_tol: float = REL_TOL) -> bool:
    """Relative 1e-9; an exact zero only matches a value that is zero to ~40 digits; an
    infinity only matches itself (|-oo - 5| <= 1e-9 * oo holds, so it must not get that far)."""
    if not (a.is_finite and b.is_finite):
        return a == b
    if a == 0 or b == 0:
        return bool(abs(a - b) < sympy.Float(10) ** -40)
    return bool(abs(a - b) <= rel_tol * max(abs(a), abs(b)))


def _undefined(e: Basic) -> bool:
    return bool(e.has(sympy.zoo, sympy.nan))


def _infinite(e: Basic) -> bool:
    """Holds an infinity of either sign (-oo is its own singleton: e.has(oo) misses it)."""
    return bool(e.has(sympy.oo, sympy.S.NegativeInfinity))


def _numbers_equal(a: Expr, b: Expr) -> bool:
    if _undefined(a) or _undefined(b):
        return False  # 0/0 is not 0, and 12:00 (12/0) is not 1:00 (1/0)
    if a == b:
        return True
    a, b = a.doit(), b.doit()
    if a == b:
        return True
    if a.is_Rational and b.is_Rational:
        return False
    if a.is_Rational and b.is_rational is False or b.is_Rational and a.is_rational is False:
        return False  # a decimal, however long, is not pi
    if _undefined(a) or _undefined(b) or _infinite(a) or _infinite(b):
        return False
    if (a == 0 or b == 0) and (b if a == 0 else a).is_zero is False:
        return False  # e^{-100} is tiny, not zero
    av, bv = sympy.N(a, EVAL_DIGITS), sympy.N(b, EVAL_DIGITS)
    if not (av.is_number and bv.is_number):
        return False
    ar, ai = av.as_real_imag()
    br, bi = bv.as_real_imag()
    if not all(x.is_Number for x in (ar, ai, br, bi)):
        return False
    # exact on both sides: equal to the precision evaluated (pi 10^{45} + 1 is not pi 10^{45})
    tol = EXACT_REL_TOL if not (a.has(sympy.Float) or b.has(sympy.Float)) else REL_TOL
    return _close(ar, br, tol) and _close(ai, bi, tol)


def _points_agree(a: Expr, b: Expr, syms: list[Symbol], sign: int = 1) -> bool | None:
    """Evaluate both at fixed rational points (all positive, or all negative with sign=-1):
    False on any disagreement, True after 3 agreeing points, None if no point evaluates."""
    checked = 0
    for shift in range(len(_POINTS)):
        sub = {s: sign * (_POINTS[(i + shift) % len(_POINTS)] + i) for i, s in enumerate(syms)}
        try:
            # evalf with subs never builds the exact value, so (x+1)^{10000} stays cheap
            av, bv = a.evalf(EVAL_DIGITS, subs=sub), b.evalf(EVAL_DIGITS, subs=sub)
        except (TypeError, ValueError, ArithmeticError, AttributeError, RecursionError):
            continue
        if not (av.is_number and bv.is_number) or _undefined(av) or _undefined(bv) \
                or _infinite(av) or _infinite(bv):
            continue
        ar, ai = av.as_real_imag()
        br, bi = bv.as_real_imag()
        if not all(x.is_Number for x in (ar, ai, br, bi)):
            continue
        if not (_close(ar, br) and _close(ai, bi)):
            return False
        checked += 1
        if checked >= 3:
            break
    return True if checked else None


def _sympy_equal(a: Expr, b: Expr) -> bool:
    """math-verify's symbolic comparison (simplify); only reached when points cannot decide."""
    return bool(sympy_expr_eq(b, a, 6, 15))


def _positive_equal(a: Expr, b: Expr) -> bool:
    """Equal when every variable is positive: sqrt(1/n) == 1/sqrt(n)."""
    pos = {s: Symbol(s.name, positive=True) for s in a.free_symbols | b.free_symbols}
    try:
        return sympy.simplify(a.subs(pos) - b.subs(pos)) == 0
    except (TypeError, ValueError, AttributeError, NotImplementedError):
        return False


def _expressions_equal(a: Expr, b: Expr) -> bool:
    if _undefined(a) or _undefined(b):
        return False
    syms = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    if not syms:
        return _numbers_equal(a, b)
    positive = _points_agree(a, b, syms)
    if positive is False:
        return False
    if positive is None or a.has(*_PIECEWISE) or b.has(*_PIECEWISE):
        # |x| vs x agree at positive points: only a symbolic proof counts here
        return _sympy_equal(a, b)
    if _points_agree(a, b, syms, sign=-1) is not False:
        return True
    # equal for positive values only (branch cuts of roots and logs): accept when sympy proves
    # it with positive variables, the usual reading of contest answers
    return _positive_equal(a, b)


# --- structure ---------------------------------------------------------------------------------

def _is_assignment_lhs(e: Basic) -> bool:
    """x, f(x), |z|, f^{-1}(2), (x, y), or a name made of letters (\\angle ABC, xy): what a stated value is named by."""
    if isinstance(e, Symbol):
        return True
    if isinstance(e, Abs):
        return _is_assignment_lhs(e.args[0])
    if isinstance(e, sympy.Pow) and e.args[1] == -1 and isinstance(e.args[0], AppliedUndef):
        return True  # f^{-1}(2): the parser reads the inverse as a reciprocal
    if isinstance(e, Tuple):
        return bool(e.args) and all(isinstance(x, Symbol) for x in e.args)  # (x, y) = (6, 5)
    if isinstance(e, AppliedUndef):
        return all(isinstance(x, Symbol) for x in e.args)
    return isinstance(e, sympy.Mul) and all(isinstance(x, Symbol) for x in e.args)


def _chain(e: Basic) -> list[Basic] | None:
    """The equalities of `a = b` or `a = b = c` (latex2sympy's And of Eqs), else None."""
    if isinstance(e, Eq):
        return [e]
    if isinstance(e, And) and all(isinstance(x, Eq) for x in getattr(e, "_unsorted_args", e.args)):
        return list(getattr(e, "_unsorted_args", e.args))
    return None


def _unwrap_value(e: Basic) -> Basic | None:
    """`x = 3` -> 3, `x \\in S` -> S, `2+2 = 4` -> 4; None for an equation that is a condition
    or a chain whose sides disagree (`7 = 5`, `x = 7 = 5`)."""
    eqs = _chain(e)
    if eqs is None:
        return e
    lhs, rhs = eqs[0].lhs, eqs[-1].rhs
    sides = [lhs] + [q.rhs for q in eqs]
    if _is_assignment_lhs(lhs):
        sides = sides[1:]
    elif not (isinstance(lhs, Basic) and not lhs.free_symbols and isinstance(rhs, Expr)):
        return None  # a condition, not a value
    # `x = 7 = 5`, `2+2 = 5`: every constant side of the chain must be the value it ends in
    for side in sides[:-1]:
        if isinstance(side, Expr) and not side.free_symbols and not equivalent(side, rhs):
            return None
    return rhs


def _as_sequence(e: Basic | MatrixBase) -> list | None:
    if isinstance(e, Tuple):
        return list(e.args)
    if isinstance(e, MatrixBase) and 1 in e.shape:
        return list(e)
    if isinstance(e, Interval) and e.left_open and e.right_open and e.start.is_finite and e.end.is_finite:
        return [e.start, e.end]  # (1, 2) is a point as often as an interval; (1, \infty) is not
    return None


def _is_inequality_list(e: Basic) -> bool:
    return isinstance(e, FiniteSet) and bool(e.args) and all(
        isinstance(x, Relational | And) and _chain(x) is None for x in e.args)


def _sets_of(e: Basic) -> Set | None:
    if _is_inequality_list(e):
        # "x < 2 or x > 3" arrives as a list of inequalities: their union, of one variable
        if len(e.free_symbols) != 1:
            return None  # "x > 1, y > 2" is not a set of x
        parts = [_sets_of(x) for x in e.args]
        return None if any(p is None for p in parts) else Union(*parts)
    if isinstance(e, Set):
        return e
    if isinstance(e, Relational | And) and len(e.free_symbols) == 1 and _chain(e) is None:
        try:
            return e.as_set()
        except (NotImplementedError, TypeError, ValueError, AttributeError):
            return None
    return None


def _unordered_equal(xs: list, ys: list) -> bool:
    """Some pairing of xs with ys matches every element: each pair is compared once (n^2
    comparisons, not n! orderings), then a perfect matching is searched (augmenting paths)."""
    if len(xs) != len(ys):
        return False
    if len(xs) > 24:  # beyond any answer list: sort both and compare in order
        try:
            xs, ys = sorted(xs, key=sympy.default_sort_key), sorted(ys, key=sympy.default_sort_key)
        except TypeError:
            return False
        return all(equivalent(x, y) for x, y in zip(xs, ys, strict=True))
    fits = [[j for j, y in enumerate(ys) if equivalent(x, y)] for x in xs]
    owner: dict[int, int] = {}  # y index -> x index

    def place(i: int, seen: set[int]) -> bool:
        for j in fits[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or place(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return all(fits[i] and place(i, set()) for i in range(len(xs)))


_INVERSE = {sympy.StrictGreaterThan: sympy.StrictLessThan, sympy.StrictLessThan: sympy.StrictGreaterThan,
            sympy.GreaterThan: sympy.LessThan, sympy.LessThan: sympy.GreaterThan}


def _same_up_to_factor(f: Expr, g: Expr, positive: bool) -> bool:
    """f == c*g for a constant c != 0 (c > 0 when `positive`): the same equation/inequality."""
    if _expressions_equal(f, g):
        return True
    if not positive and _expressions_equal(f, -g):
        return True
    syms = sorted(f.free_symbols | g.free_symbols, key=lambda s: s.name)
    if not syms or g == 0:
        return False
    ratios = []
    for shift in range(3):
        sub = {s: _POINTS[(i + shift) % len(_POINTS)] + i for i, s in enumerate(syms)}
        try:
            fv, gv = f.evalf(EVAL_DIGITS, subs=sub), g.evalf(EVAL_DIGITS, subs=sub)
        except (TypeError, ValueError, ZeroDivisionError, AttributeError):
            return False
        if not (fv.is_Number and gv.is_Number) or gv == 0 or fv == 0:
            return False
        ratios.append(fv / gv)
    if not all(_close(r, ratios[0]) for r in ratios):
        return False
    c = ratios[0]
    if positive and not c > 0:
        return False
    # a constant ratio at three points; confirm exactly on the candidate constant
    return _expressions_equal(f, c * g)


def _equations_equal(ea: list, eb: list) -> bool:
    la, ra, lb, rb = ea[0].lhs, ea[-1].rhs, eb[0].lhs, eb[-1].rhs
    if la == lb and _is_assignment_lhs(la):
        return equivalent(ra, rb)
    if not all(isinstance(x, Expr) for x in (la, ra, lb, rb)):
        return False
    return _same_up_to_factor(la - ra, lb - rb, positive=False)


def _inequalities_equal(a: Basic, b: Basic) -> bool:
    syms = a.free_symbols | b.free_symbols
    if len(syms) == 1 and a.free_symbols == b.free_symbols:
        sa, sb = _sets_of(a), _sets_of(b)
        if sa is not None and sb is not None:
            return _set_equal(sa, sb)
    if not (isinstance(a, Relational) and isinstance(b, Relational)):
        return False
    f, g = a.lhs - a.rhs, b.lhs - b.rhs
    if type(a) is type(b):
        return _same_up_to_factor(f, g, positive=True)
    if _INVERSE.get(type(a)) is type(b):
        return _same_up_to_factor(f, -g, positive=True)
    return False


def _evaluated(e: Basic | MatrixBase) -> Basic | MatrixBase:
    """Carry out set operations and matrix products the parser left unevaluated."""
    if isinstance(e, sympy.MatrixExpr) and not isinstance(e, MatrixBase):
        return e.doit()
    if isinstance(e, sympy.Intersection | sympy.Complement) or (
            isinstance(e, Union) and all(isinstance(x, FiniteSet) for x in e.args)):
        return e.doit()
    return e


def equivalent(answer: Basic | MatrixBase, reference: Basic | MatrixBase) -> bool:
    """True when the answer is mathematically the reference, under the rules of the docstring."""
    answer, reference = _evaluated(answer), _evaluated(reference)
    a_eq, r_eq = _chain(answer), _chain(reference)
    if a_eq is not None and r_eq is not None:
        return _equations_equal(a_eq, r_eq)
    a_ineq = isinstance(answer, Relational | And) and a_eq is None
    r_ineq = isinstance(reference, Relational | And) and r_eq is None
    if a_eq is not None or r_eq is not None:
        if a_ineq or r_ineq:
            return False  # an equation is never an inequality
        a2 = _unwrap_value(answer) if a_eq is not None else answer
        r2 = _unwrap_value(reference) if r_eq is not None else reference
        return a2 is not None and r2 is not None and equivalent(a2, r2)
    if a_ineq and r_ineq:
        return _inequalities_equal(answer, reference)
    # "x < 2 or x > 3" (a list of inequalities) against an interval union, either way round
    a_ineqs = _is_inequality_list(answer) and not isinstance(reference, FiniteSet)
    r_ineqs = _is_inequality_list(reference) and not isinstance(answer, FiniteSet)
    if a_ineq or r_ineq or a_ineqs or r_ineqs:
        sa, sr = _sets_of(answer), _sets_of(reference)
        return sa is not None and sr is not None and _set_equal(sa, sr)
    if isinstance(answer, MatrixBase) and isinstance(reference, MatrixBase):
        return answer.shape == reference.shape and all(
            equivalent(x, y) for x, y in zip(answer, reference, strict=True))
    if isinstance(reference, Interval) and isinstance(answer, Interval):
        return _set_equal(answer, reference)
    # sequences: tuples, open intervals read as points, row/column matrices
    sa, sr = _as_sequence(answer), _as_sequence(reference)
    if sr is not None and sa is not None:
        return len(sa) == len(sr) and all(equivalent(x, y) for x, y in zip(sa, sr, strict=True))
    if isinstance(reference, FiniteSet) or isinstance(answer, FiniteSet):
        if not (isinstance(reference, FiniteSet) and isinstance(answer, FiniteSet)) and any(
                isinstance(x, Set) for x in (*_elements(answer, sa), *_elements(reference, sr))):
            # {\emptyset} is not \emptyset and {{5}} is not 5: a set of sets is compared as a set
            return isinstance(answer, Set) and isinstance(reference, Set) and _set_equal(answer, reference)
        xs = _elements(answer, sa)
        ys = _elements(reference, sr)
        if isinstance(reference, FiniteSet) and isinstance(answer, FiniteSet):
            return _set_equal(answer, reference)
        if isinstance(reference, FiniteSet):
            return _unordered_equal(xs, ys)
        return len(xs) == len(ys) and all(equivalent(x, y) for x, y in zip(xs, ys, strict=True))
    if isinstance(answer, Set | MatrixBase) or isinstance(reference, Set | MatrixBase):
        return isinstance(answer, Set) and isinstance(reference, Set) and _set_equal(answer, reference)
    if isinstance(answer, Expr) and isinstance(reference, Expr):
        return _expressions_equal(answer, reference)
    return answer == reference


def _elements(e: Basic, seq: list | None) -> list:
    if isinstance(e, FiniteSet):
        xs = list(getattr(e, "_unsorted_args", e.args))
        names = [x.lhs.name if isinstance(x, Eq) and isinstance(x.lhs, Symbol) else None for x in xs]
        if None not in names and len(set(names)) == len(names):
            # "y = 5, x = 6" names its values: in (x, y) order that is (6, 5), not (5, 6)
            xs = [x for _, x in sorted(zip(names, xs, strict=True), key=lambda p: p[0])]
        return xs
    return seq if seq is not None else [e]


def _set_equal(a: Set, b: Set) -> bool:
    if a == b:
        return True
    if isinstance(a, Interval) and isinstance(b, Interval):
        return (a.left_open == b.left_open and a.right_open == b.right_open
                and equivalent(a.start, b.start) and equivalent(a.end, b.end))
    if isinstance(a, Union) and isinstance(b, Union):
        return _unordered_equal(list(a.args), list(b.args))
    if isinstance(a, FiniteSet) and isinstance(b, FiniteSet):
        return _unordered_equal(list(a.args), list(b.args))  # .args: duplicates removed
    try:
        return bool(a.symmetric_difference(b).is_empty)
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        return False
