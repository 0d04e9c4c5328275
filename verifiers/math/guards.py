"""Guards that run before the parser or sympy sees anything from model text.

A policy under RL pressure learns that a grader can be made to hang, and a hang is scored
`timeout`, which trainers leave out: so every answer must end as a verdict, quickly. Two
layers, both looking at structure only, never computing a value:

- `refuse_latex(latex)`, before parsing: subscripts nested more than 3 deep (x_{y_{z_{w}}}:
  the parser's time per character grows with their depth), groups nested more than 12 deep (the ANTLR parser's
  time grows steeply with nesting: 39 levels of \\sin( took 5 s), more than 16 `|` (nested
  bars are ambiguous to it: 30 pairs, 9 s), more than 8 commands in a row (\\sin\\sin\\sin...),
  binomials latex2sympy would evaluate while parsing, symbolic matrices it would multiply out.
- `too_big(expr)`, after parsing: trees deeper than 24 (sympy's evalf doubles its work at
  each level of a continued fraction: 20 levels ran past a 10 s deadline), and values whose
  magnitude bound (`_log10_bound`, from the leaves up) is astronomical: power towers
  (10^{10^{10}}), huge factorials, sums over 10^9 terms, unevaluated integrals, (x+1)^{100000}.

An answer refused here is a scored `parse_error` (a wrong answer), never `timeout`; a refused
reference is compared as text (the data's problem). Legitimate answers stay far inside the
bounds: the labelled tables' deepest answer nests 4 groups and 7 tree levels.

    python -m pytest tests/verifiers/test_math_answers.py tests/verifiers/test_attacks_math.py -q
"""

from __future__ import annotations

import math
import re

import sympy
from sympy import Basic, MatrixBase, Symbol

__all__ = ["MAX_LOG10", "complex_special_function", "MAX_NESTING", "MAX_SUM_TERMS", "MAX_TREE_DEPTH", "degree_bound", "log10_bound",
           "refuse_latex", "too_big"]

MAX_NESTING = 12        # groups inside groups: ( [ { (the tables' answers: at most 4)
MAX_SUBSCRIPT_NESTING = 3  # x_{y_{z}}: the parser's cost per character grows with it (depth 11: 10 ms)
MAX_BARS = 16           # | characters: eight absolute values or determinants
MAX_COMMAND_RUN = 8     # \sin \sin \sin ... x: nesting without brackets
MAX_CALL_WEIGHT = 48    # function-call parentheses, each weighted by its depth (see refuse_latex)
MAX_TREE_DEPTH = 24     # levels of the parsed expression (the tables' answers: at most 7)
MAX_DEGREE = 400        # polynomial degree, bounded from the tree ((((x+1)^2+1)^2...)^2 expands)
# a parenthesis right after a name or a command (f(, \\sin(, \\Gamma^2(): the grammar cannot tell
# a call from a product there and looks ahead through the whole group
_CALL_RE = re.compile(r"(?:\\[a-zA-Z]+|[a-zA-Z])\s*(?:\^\s*(?:\{[^{}]*\}|[^{\s])\s*)?\(")
_COMMAND_RUN_RE = re.compile(r"(?:\\[a-zA-Z]+\s*){" + str(MAX_COMMAND_RUN + 1) + "}")


def _nesting_depth(s: str) -> int:
    """The deepest nesting of ( [ { groups. Clamped at 0, so that closers written first
    (`)))((((`) cannot hide the depth of what follows; mixed pairs ([1, 2)) count as one."""
    depth = deepest = 0
    for c in s:
        if c in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "})]":
            depth = max(0, depth - 1)
    return deepest


def _subscript_depth(s: str) -> int:
    """The deepest nesting of subscripts: x_{y_{z}} and x_{y_z} are 2 deep. Braces count as a
    subscript level when a `_` opens them; a bare `_z` adds one level for its own token."""
    stack: list[bool] = []
    depth = deepest = 0
    last = ""  # the last character that is not a space: "{" opens a subscript after "_"
    for c in s:
        if c == "_":
            deepest = max(deepest, depth + 1)
        elif c == "{":
            stack.append(last == "_")
            depth += stack[-1]
        elif c == "}" and stack:
            depth -= stack.pop()
        if not c.isspace():
            last = c
    return deepest


def _call_weight(s: str) -> int:
    """The sum, over the parentheses that follow a name, of their nesting depth: the parser's
    time grows with it (40 copies of \\Gamma(\\Gamma(\\Gamma(x))) took 3 s, 40 of (((x))) 0.04 s)."""
    calls = {m.end() - 1 for m in _CALL_RE.finditer(s)}
    depth = weight = 0
    for i, c in enumerate(s):
        if c in "{([":
            depth += 1
            if i in calls:
                weight += depth
        elif c in "})]":
            depth = max(0, depth - 1)
    return weight


def refuse_latex(latex: str) -> str | None:
    """Why the parser must not see `latex` (a normalised answer or reference), or None."""
    if _nesting_depth(latex) > MAX_NESTING:
        return "nested too deeply"
    if _subscript_depth(latex) > MAX_SUBSCRIPT_NESTING:
        return "subscripts nested too deeply"
    if _call_weight(latex) > MAX_CALL_WEIGHT:
        return "too many nested function calls"
    if latex.count("|") > MAX_BARS:
        return "too many bars"
    if _COMMAND_RUN_RE.search(latex):
        return "too many commands in a row"
    if _SPECIAL_RE.search(latex) and _COMPLEX_HINT_RE.search(latex):
        return "special function of a complex number"  # see complex_special_function
    if _big_binomial(latex):
        return "binomial too large to evaluate"  # latex2sympy evaluates \binom while parsing
    if _costly_matrix(latex):
        return "matrix too large to compute with"
    return None


# a non-elementary function, and something that makes a value complex: latex2sympy builds
# intervals and relations over them while parsing, before `complex_special_function` can look
_SPECIAL_RE = re.compile(r"\\(?:Gamma|[dt]?binom|choose|zeta|psi|operatorname|mathrm\{[a-zA-Z]+\}\()|!")
_COMPLEX_HINT_RE = re.compile(r"(?<![a-zA-Z\\])i(?![a-zA-Z])|\\mathrm\{i\}|\\imath|\\sqrt\s*(?:\[[^\]]*\])?\s*\{\s*-"
                              r"|\(\s*-[^()]*\)\s*\^")
_BINOM_RE = re.compile(r"\\[dt]?binom|\\choose")
_BIG_BINOM_ARG = re.compile(r"\d{5,}|[\^!*]|\\times|\\cdot|\\frac")


def _big_binomial(latex: str) -> bool:
    """A \\binom whose arguments could be huge (latex2sympy evaluates it while parsing),
    including a binomial nested in another one's arguments."""
    for m in _BINOM_RE.finditer(latex):
        if m.group(0) == "\\choose":
            if _BIG_BINOM_ARG.search(latex[max(0, m.start() - 60): m.start()] + latex[m.end(): m.end() + 60]):
                return True
            continue
        args = _braced_args(latex, m.end(), 2)
        if not args or _BIG_BINOM_ARG.search(args) or _BINOM_RE.search(args):
            return True
    return False


_MATRIX_ENV_RE = re.compile(r"\\begin\{([pbvBV]?matrix|array)\}(.*?)\\end\{\1\}", re.S)
_NUMERIC_MARKUP_RE = re.compile(r"\\(?:[dt]?frac|left|right|cdot|hline)(?![a-zA-Z])|\{[lcr|]+\}")
MAX_SYMBOLIC_MATRIX = 4           # rows of a symbolic matrix computed with (a 5x5 determinant: 6 s; 6x6 inverse: minutes)
MAX_DETERMINANT_TERMS = 200       # n! * t^n products for entries of t terms (4x4 of a+b: 384, 18 s)
MAX_MATRIX_POWER = 3              # exponents of symbolic entries and matrices ((a+b)^{90} entries: 15 s; A^{20}: 9 s)
_EXPONENT_RE = re.compile(r"\^\s*(?:\{([^{}]*)\}|(\S))")
# something is computed from a matrix: a determinant (\det, vmatrix, bars), a power or an inverse
_MATRIX_OP_RE = re.compile(r"\\det|\||vmatrix|\\end\{[pbvBV]?matrix\}\s*(?:\\right\s*)?[)\]]?\s*\^")
_MATRIX_POWER_RE = re.compile(r"\s*(?:\\right\s*)?[)\]|]?\s*" + _EXPONENT_RE.pattern)  # after a matrix


def _costly_matrix(latex: str) -> bool:
    """A matrix with letters (or constants such as \\pi) in it that latex2sympy would compute
    with while parsing (a determinant, an inverse, a power, a product of matrices) beyond what
    takes it a second: more than 4x4, n! * t^n beyond 200 when entries are sums of t terms,
    entries raised to powers above 3 or to symbolic ones, or the matrix itself raised to such a
    power. A lone matrix is compared entry by entry, and numeric matrices are cheap: both
    are always allowed."""
    envs = list(_MATRIX_ENV_RE.finditer(latex))
    if not envs or (len(envs) == 1 and not _MATRIX_OP_RE.search(latex)):
        return False
    small_power = lambda e: e.strip().lstrip("-").isdigit() and abs(int(e)) <= MAX_MATRIX_POWER  # noqa: E731
    for m in envs:
        rows = [r for r in m.group(2).split("\\\\") if r.strip()]
        cells = [_NUMERIC_MARKUP_RE.sub("", c).strip() for r in rows for c in r.split("&")]
        if not re.search(r"[a-zA-Z\\]", " ".join(cells)):
            continue  # numeric
        n = max([len(rows)] + [r.count("&") + 1 for r in rows])
        terms = max(1 + len(re.findall(r"[+-]", c.lstrip("+-"))) for c in cells)
        if not all(small_power(a or b) for a, b in _EXPONENT_RE.findall(" ".join(cells))):
            return True  # (a+b)^{90} in an entry: the expansion multiplies out the power too
        power = _MATRIX_POWER_RE.match(latex, m.end())
        if power and not small_power(power.group(1) or power.group(2)):
            return True
        if n > MAX_SYMBOLIC_MATRIX or math.factorial(n) * terms**n > MAX_DETERMINANT_TERMS:
            return True
    return False


def _braced_args(latex: str, i: int, count: int) -> str:
    """The text of up to `count` brace groups starting at `i` (whitespace skipped), joined."""
    out = []
    for _ in range(count):
        while i < len(latex) and latex[i].isspace():
            i += 1
        if i >= len(latex) or latex[i] != "{":
            break
        depth, j = 0, i
        while j < len(latex):
            depth += {"{": 1, "}": -1}.get(latex[j], 0)
            if depth == 0:
                break
            j += 1
        out.append(latex[i + 1:j])
        i = j + 1
    return " ".join(out)



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


def log10_bound(e: Basic) -> float:
    """An upper bound on log10 of the largest magnitude met while evaluating `e`, and so on the
    digits its literals span (10^{-60} spans 60); inf when it cannot be bounded."""
    try:
        return _log10_bound(e)
    except (OverflowError, ValueError, RecursionError, TypeError):
        return math.inf


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


def degree_bound(e: Basic, x: Symbol | None = None, functions_unbounded: bool = False) -> float:
    """An upper bound on the polynomial degree of `e` in x (in all its variables when x is
    None), read from the tree without expanding it: sums take the largest degree, products
    add them, rational powers multiply them. A function of the variable (other than |.|, and
    a power with a symbolic or irrational exponent) counts as its arguments' degree, or as
    unbounded with `functions_unbounded` (what a solver needs: log(log(x)) > 1 has no bound)."""
    if isinstance(e, Symbol):
        return 1.0 if x is None or e == x else 0.0
    if not e.free_symbols or (x is not None and not e.has(x)):
        return 0.0
    if isinstance(e, sympy.Pow):
        base, exp = degree_bound(e.args[0], x, functions_unbounded), e.args[1]
        if exp.is_Rational:
            return base * abs(float(exp))
        if functions_unbounded:
            return math.inf
        return max(base, degree_bound(exp, x))  # 2^{x+1}, x^{\pi}: not a polynomial to expand
    if isinstance(e, sympy.Mul):
        return sum(degree_bound(a, x, functions_unbounded) for a in e.args)
    if functions_unbounded and isinstance(e, sympy.Function) and not isinstance(e, sympy.Abs):
        return math.inf
    return max((degree_bound(a, x, functions_unbounded) for a in e.args if isinstance(a, Basic)), default=0.0)


def _deeper_than(e: Basic, limit: int) -> bool:
    """Whether the tree of `e` has more than `limit` levels; iterative, so a tree of any depth
    is measured without recursion."""
    stack = [(e, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((a, depth + 1) for a in node.args if isinstance(a, Basic))
    return False


# functions sympy splits into real and imaginary parts in closed form; any other function of a
# complex argument has unknown parts, and a relation, |.|, max or interval over one makes
# sympy expand them without end (1/ln(Gamma(1+i)) < 3, arg(Gamma(1+i))^2)
_COMPLEX_SAFE = (sympy.exp, sympy.log, sympy.sin, sympy.cos, sympy.tan, sympy.cot, sympy.sinh, sympy.cosh,
                 sympy.tanh, sympy.re, sympy.im, sympy.Abs, sympy.conjugate, sympy.sign)


def _complex_valued(e: Basic) -> bool:
    """Whether `e` may be non-real, from its structure: I, the symbol i, a root of a negative."""
    for n in sympy.preorder_traversal(e):
        if n is sympy.I or (isinstance(n, Symbol) and n.name == "i"):
            return True
        if isinstance(n, sympy.Pow) and n.args[0].is_Number and n.args[0].is_negative \
                and not n.args[1].is_Integer:
            return True
    return False


def complex_special_function(e: Basic | MatrixBase) -> bool:
    """True when `e` applies a function other than the elementary ones to a possibly complex
    argument (\\Gamma(1+i), (i)!, \\binom{i}{2}, f(i)): no answer needs one, and sympy
    can spin forever deciding anything about it."""
    parts = list(e) if isinstance(e, MatrixBase) else [e]
    for p in parts:
        if not isinstance(p, Basic):
            continue
        for n in sympy.preorder_traversal(p):
            if isinstance(n, sympy.Function) and not isinstance(n, _COMPLEX_SAFE) \
                    and any(_complex_valued(a) for a in n.args if isinstance(a, Basic)):
                return True
    return False


def too_big(e: Basic | MatrixBase) -> bool:
    """True when evaluating `e` could take too long: a tree deeper than MAX_TREE_DEPTH, or
    astronomically large numbers (power towers, n!), or a hang in sympy (sums over 10^9 terms,
    unevaluated integrals, huge polynomial powers)."""
    parts = list(e) if isinstance(e, MatrixBase) else [e]
    try:
        for p in parts:
            if not isinstance(p, Basic):
                continue
            if _deeper_than(p, MAX_TREE_DEPTH) or degree_bound(p) > MAX_DEGREE:
                return True
            if _log10_bound(p) > MAX_LOG10 or _work(p) > MAX_WORK:
                return True
            if any(_unsafe_node(n) for n in sympy.preorder_traversal(p)):
                return True
        return False
    except (OverflowError, ValueError, RecursionError, TypeError):
        return True
