"""Equivalence of two parsed math answers (sympy objects): the judging half of `verifier`.

`equivalent(answer, reference)` is strict on purpose; a reward that accepts a wrong answer
teaches the policy to be wrong, so every rule leans towards "mismatch" when unsure:

- closed-form numbers: decimals are read as exact rationals (0.5 is 1/2, 0.333 is not 1/3);
  exact when both sides are rational (1/2^98 != 1/2^99); otherwise both are evaluated and
  must be the same number (sqrt(8) == 2 sqrt(2), e^{i pi} == -1). Exact values are evaluated
  to 60 digits *plus* the digits their literals span (`guards.log10_bound`) and must
  agree to all but the last 10: a perturbation made of the answer's own numbers is always
  seen (sqrt(2) + 10^{-60} is not sqrt(2); 10^{100} pi + 1 is not 10^{100} pi). A side with
  a float literal is compared to a relative 1e-40. A decimal never matches an irrational.
  How values are computed, and the digits beyond which a comparison is refused (as not
  equal): `numeric`.
- expressions with variables: evaluated at fixed irrational points (rationals plus
  sqrt(prime)/1000, so a term periodic on a grid, sin(100 pi x), never vanishes at all of
  them), with every sign pattern of the variables (all positive, all negative, alternating),
  at the same precision as above. A disagreement where both sides are real is a mismatch:
  variables are real, not positive, so x is not sqrt(x^2). Sides that agree at positive
  points and differ only where one of them is not real (branch cuts: sqrt(1/n) and
  1/sqrt(n) at n < 0) are equal when sympy proves it for positive variables. Piecewise
  functions (|x|, floor, ...) and sides no point evaluates are left to math-verify's
  symbolic comparison. A constant against an expression that varies is a mismatch at once.
- equations: `x = 3` matches `3` (an assignment: the left side is a lone variable or f(x));
  `2+2 = 4` is a computation and its last side counts; `x + 1 = 5` does not match `5`.
  Two equations or inequalities are the same when one is an exact constant times the other.
- sets, tuples, intervals, matrices: structurally, elements compared with these same rules;
  an unordered reference set accepts any order; a one-row/one-column matrix is a tuple;
  an inequality in one variable is compared as the set it describes (x > 1 == (1, oo)), if
  its polynomial degree is at most 8 (sympy's solver took minutes on x^{20} - 3x + 1 > 0).

Guards: `guards.too_big` bounds the magnitude and depth of an expression before anything
evaluates it, so 10^{10^{10}} or 100000! is refused instead of computed; simplify, whose time
has no bound, only ever sees small expressions of low degree.

    python -m pytest tests/verifiers/test_math_answers.py tests/verifiers/test_attacks_math.py -q
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

from verifiers.math.guards import degree_bound
from verifiers.math.numeric import (
    EVAL_DIGITS,
    POINTS,
    close,
    numbers_equal,
    numeric_value,
    points_agree,
    sign_patterns,
    undefined,
    varies,
)

__all__ = ["equivalent"]

MAX_INEQUALITY_DEGREE = 8  # solved exactly for its set: minutes for degree 20
# simplify, which the two symbolic fallbacks below run, has no bound on its time: they are
# tried only on expressions this small (the tables' largest answer has 23 nodes)
MAX_SIMPLIFY_NODES = 60
MAX_SIMPLIFY_DEGREE = 24  # simplify expands: ((x+1)^2+1)^2... of 25 nodes has degree 2048
_PIECEWISE = (Abs, floor, ceiling, sign, Piecewise, sympy.Max, sympy.Min, sympy.Mod)


# --- expressions -------------------------------------------------------------------------------


def _small(*es: Basic) -> bool:
    return sum(sum(1 for _ in sympy.preorder_traversal(e)) for e in es) <= MAX_SIMPLIFY_NODES \
        and all(degree_bound(e) <= MAX_SIMPLIFY_DEGREE for e in es)


def _sympy_equal(a: Expr, b: Expr) -> bool:
    """math-verify's symbolic comparison (simplify); only reached when points cannot decide."""
    return _small(a, b) and bool(sympy_expr_eq(b, a, 6, 15))


def _positive_equal(a: Expr, b: Expr) -> bool:
    """Equal when every variable is positive: sqrt(1/n) == 1/sqrt(n)."""
    if not _small(a, b):
        return False
    pos = {s: Symbol(s.name, positive=True) for s in a.free_symbols | b.free_symbols}
    try:
        return sympy.simplify(a.subs(pos) - b.subs(pos)) == 0
    except (TypeError, ValueError, AttributeError, NotImplementedError):
        return False


def _expressions_equal(a: Expr, b: Expr) -> bool:
    if undefined(a) or undefined(b):
        return False
    syms = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    if not syms:
        return numbers_equal(a, b)
    if a == b:
        return True
    if not a.free_symbols or not b.free_symbols:
        # a constant against an expression: equal only if the expression is constant too
        # (sin^2 x + cos^2 x); the constant side is never evaluated at points
        if varies(b if a.free_symbols == set() else a, syms):
            return False
    verdicts = [points_agree(a, b, syms, signs) for signs in sign_patterns(len(syms))]
    if "differ" in verdicts or "costly" in verdicts:
        # real values that differ: no reading of the variables makes them equal; or more
        # digits than can be computed in time: unsure, so not equal
        return False
    if verdicts[0] is None or a.has(*_PIECEWISE) or b.has(*_PIECEWISE):
        # |x| vs x agree at positive points: only a symbolic proof counts here
        return _sympy_equal(a, b)
    if "branch" not in verdicts:
        return True
    # equal for positive values, different only where a side is not real (branch cuts of
    # roots and logs): accept when sympy proves it with positive variables
    return verdicts[0] == "agree" and _positive_equal(a, b)


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
        if degree_bound(e, next(iter(e.free_symbols)), functions_unbounded=True) > MAX_INEQUALITY_DEGREE:
            return None  # sympy solves it exactly: minutes for degree 20
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
        sub = {s: POINTS[(i + shift) % len(POINTS)] + i for i, s in enumerate(syms)}
        fv, gv = numeric_value(f, sub, EVAL_DIGITS), numeric_value(g, sub, EVAL_DIGITS)
        if fv is None or gv is None or not (fv.is_Number and gv.is_Number) or gv == 0 or fv == 0:
            return False
        ratios.append(fv / gv)
    if not all(close(r, ratios[0]) for r in ratios):
        return False
    # a constant ratio at three points: the exact constant, confirmed exactly (a float one
    # would carry the tolerance: x + 10^{-50} = 1 would pass for x = 1)
    try:
        c = sympy.cancel(f / g)
    except (TypeError, ValueError, AttributeError, NotImplementedError, sympy.PolynomialError):
        return False
    if c.free_symbols or c == 0 or (positive and not c.is_positive):
        return False
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
