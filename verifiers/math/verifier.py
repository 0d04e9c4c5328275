r"""The `math` and `exact` verifiers: extract the final answer, compare it with the reference.

    MathVerifier()(completion, reference) -> Score    name "math"
    math_equal(answer, reference) -> bool             the comparison alone, on answer strings
    ExactVerifier()(completion, reference) -> Score   name "exact": normalised string equality

Pipeline of `math`: `extract.extract_answer` -> `normalize.normalize_answer` (both
sides) -> fast paths -> latex2sympy parse -> `compare.equivalent`. Reasons: "ok",
"no_answer" (nothing extracted), "mismatch", "hedged" (right, but followed by a different
alternative: "\boxed{2} (or possibly 3)", "\boxed{2}; 3 is also possible"), "parse_error"
(the answer does not parse, is longer than MAX_ANSWER_CHARS, or MAX_PARSED_CHARS unless it
is a plain number, or is beyond the structural bounds of `guards`: nested too deeply,
astronomically large, too costly to evaluate).
All of these are scored wrong answers: no answer, however built, makes the verifier run to
the service's deadline (`timeout`, which trainers leave unscored). An empty or unparsable
reference raises `BadReference`; a reference beyond the bounds is compared as text.

Decisions (each one is a test in tests/verifiers/test_math_answers.py):
- A reference made of option letters A-E ("B", "(B)", "\text{(B)}", "A, C") is a
  multiple-choice key: the set of letters the answer picks must equal it ("(B) 12" picks B;
  "B and C" or "(A) (B) (C) (D) (E)" picks several and fails a single-letter key).
- Prose answers ("all real numbers", "no solution", "yes", "second", "five") are mapped to
  their math meaning where they have one (R, the empty set, 2, 5), otherwise compared as
  canonical lower-case words. A prose answer never matches a non-prose reference. A leading
  yes/no counts only when nothing after it (in the answer or the 200 characters that follow
  it) has the other polarity, in any major language, or takes it back ("Yes. Nein.", "Yes (jk)").
- Percent: the sign is a unit and is dropped on both sides: 50\% matches 50 and 50\%, but
  not 0.5 or 1/2 (an answer in a different unit than the question asked for).
- \pm inside a fraction or root, which the parser cannot read (\frac{-1 \pm \sqrt5}{2}),
  is expanded into its two values, so it matches both roots listed; \pm and \mp in one
  answer take opposite signs together (the usual convention).
- Numbers: exact rational arithmetic when both sides are plain numbers (decimals, fractions,
  scientific notation); 0.333 is not 1/3. See math_compare for irrational values: exact
  sides are compared to more digits than their literals span, so sqrt(2) + 10^{-60} fails.
- A relation is not a value: `4 \approx 5`, `4 \sim 4`, `4 < 5` are not 4. The one
  exception is an exact value with its decimal, `\frac{2}{3} \approx 0.667`: it is the
  exact value when the decimal is that value rounded or truncated to the digits it shows.
- An alternative offered after the final box fails a right answer as "hedged", unless it is
  the same value, the same value in another unit (50\%, 60^\circ), or one of the values the
  answer lists ("\boxed{2, 3} (3 is also a solution)").

Safety: model text is never given to eval/exec, sympify or parse_expr. It is parsed only by
latex2sympy (an ANTLR grammar; its only sympify calls receive lexer NUMBER tokens or sympy
objects). math-verify's `parse` is not used: its plain-expression path calls parse_expr.
No signal.alarm: the reward service bounds time by killing workers; the guards here (length
cap, `guards`' structural bounds, linear-time extraction) make every answer end quickly.

Caching: parsed strings (reference and answers) and verdicts on (normalised answer,
normalised reference) are memoised, so a GRPO group of 8 sharing a reference parses it once;
the cache key (extracted answer and hedge) is computed once per distinct completion.

    python -m pytest tests/verifiers/test_math_answers.py tests/verifiers/test_attacks_math.py -q
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from fractions import Fraction
from functools import lru_cache
from typing import Any

import sympy
from latex2sympy2_extended import latex2sympy
from math_verify.grader import should_treat_as_complex
from sympy.core.relational import Relational
from sympy.logic.boolalg import Boolean

from verifiers.extract import extract_answer, hedged_alternative
from verifiers.math.choices import choice_answer, choice_key
from verifiers.math.compare import equivalent
from verifiers.math.guards import complex_special_function, refuse_latex, too_big
from verifiers.math.normalize import (
    Normalized,
    canonical_text,
    normalize_answer,
    taken_back_after,
    text_answer,
)
from verifiers.score import BadReference, Score
from verifiers.verifier import Verifier

__all__ = ["ExactVerifier", "MathVerifier", "choice_answer", "choice_key", "math_equal", "math_verdict"]

MAX_ANSWER_CHARS = 2000
# An answer longer than this, as the parser sees it (decimals written as fractions), is not
# parsed: the grammar costs up to ~2 ms a character (a list of 331 copies of 3.14: 5 s). Plain
# numbers of any length up to MAX_ANSWER_CHARS are compared without it. The tables' longest
# answer has 390 characters.
MAX_PARSED_CHARS = 1000
_INT = r"-?\d+"
_DEC = r"-?(?:\d+\.\d*|\.\d+|\d+)"
_NUMBER_FORMS = [
    re.compile(rf"^({_DEC})$"),
    re.compile(rf"^({_INT})\s*/\s*({_INT})$"),
    re.compile(rf"^(-?)\\frac\{{({_INT})\}}\{{({_INT})\}}$"),
    re.compile(rf"^({_DEC})\s*(?:\\times|\\cdot|\*)\s*10\^\{{?({_INT})\}}?$"),
]


def exact_number(latex: str) -> Fraction | None:
    r"""The exact value of a plain number: 12, -0.25, 3/4, \frac{3}{4}, 1.5\times10^{3}; else None."""
    s = latex.replace(" ", "")
    if s.startswith("+"):
        s = s[1:]
    for i, pattern in enumerate(_NUMBER_FORMS):
        m = pattern.match(s)
        if m is None:
            continue
        if i == 0:
            return Fraction(m.group(1))
        if i == 1:
            return None if int(m.group(2)) == 0 else Fraction(int(m.group(1)), int(m.group(2)))
        if i == 2:
            den = int(m.group(3))
            if den == 0:
                return None
            value = Fraction(int(m.group(2)), den)
            return -value if m.group(1) else value
        exponent = int(m.group(2))
        if abs(exponent) > 1000:
            return None
        return Fraction(m.group(1)) * Fraction(10) ** exponent
    return None


# 2.5, and .5 with no integer part (not after a name or a command: x.5, \\cdot.5 stay as written)
_DECIMAL_RE = re.compile(r"(?:(?<![\d.])(\d+)|(?<![\w.\\}]))\.(\d+)(?![\d.])")


def _exact_decimals(latex: str) -> str:
    r"""`2.5x` -> `(\frac{25}{10})x`: decimals become exact fractions before parsing, so that no
    float (15 significant digits) ever decides an equality."""
    def frac(m: re.Match) -> str:
        if len(m.group(2)) > 400:
            return m.group(0)
        return rf"(\frac{{{m.group(1) or ''}{m.group(2)}}}{{1{'0' * len(m.group(2))}}})"
    return _DECIMAL_RE.sub(frac, latex)


_PRIME_RE = re.compile(r"[a-zA-Z)}]\s*'")
_IMAGINARY_RE = re.compile(r"(?<![a-zA-Z\\])i(?![a-zA-Z])")  # 3i, 2+i, i\pi; not \pi, sin


@lru_cache(maxsize=8192)
def _parse(latex: str) -> tuple[Any, str | None]:
    """(sympy object, None) or (None, why); cached, so failures are remembered too."""
    if not latex:
        return None, "empty"
    refused = refuse_latex(latex)
    if refused is not None:
        return None, refused
    if _APPROX_RE.search(latex):
        return None, "approximate relation"  # the parser would keep one side of it
    if _PRIME_RE.search(latex.rpartition("=")[2]):
        return None, "derivative prime"  # the parser drops it: (x^2)' would read as x^2 (a
        # primed name left of "=", f'(x) = 2x, only names the value)
    complex_ = should_treat_as_complex(latex) or bool(_IMAGINARY_RE.search(latex))
    try:
        expr = latex2sympy(_exact_decimals(latex), is_real=not complex_,
                           convert_degrees=False, normalization_config=None)
    except Exception as e:  # noqa: BLE001 - latex2sympy raises bare Exception on syntax errors
        expanded = _expand_pm(latex)
        if expanded is not None:
            return _parse_expanded(expanded)
        return None, f"{type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''}"
    if too_big(expr):
        return None, "too large to evaluate"
    if complex_special_function(expr):
        return None, "special function of a complex number"
    if complex_ and hasattr(expr, "free_symbols"):
        # latex2sympy leaves i as a symbol; in an answer that reads as complex it is the unit
        try:
            expr = _imaginary_unit(expr)
        except (TypeError, ValueError, AttributeError) as e:  # (1, 3+4i) as an interval, max(3+4i, 7)
            return None, f"{type(e).__name__}: {str(e)[:80]}"
    if isinstance(expr, sympy.logic.boolalg.BooleanAtom):
        # an equation decided to true/false (i = 0 with i the unit, x = 3 \pm 4i): that is no
        # answer, and false would equal every other false
        expanded = _expand_pm(latex)
        return _parse_expanded(expanded) if expanded is not None else (None, "evaluates to true/false")
    return expr, None


def _parse_expanded(latex: str) -> tuple[Any, str | None]:
    """`_parse` of a \\pm expansion, which is about twice its source's length: held to the
    same size limit as every other string the parser sees."""
    if len(_exact_decimals(latex)) > MAX_PARSED_CHARS:
        return None, "too long to parse"
    return _parse(latex)


def _imaginary_unit(expr: Any) -> Any:
    """`expr` with the symbol i replaced by the unit I. A relation is rebuilt side by side and
    never evaluated: `subs` on a whole relation makes sympy decide it (is 2/ln(i!) < 3? it
    evaluates re and im of 1/log(gamma(1+I)) without end), and decides `x = 3 \\pm 4i` to false."""
    if not any(getattr(s, "name", "") == "i" for s in getattr(expr, "free_symbols", ())):
        return expr
    if isinstance(expr, Relational):
        return expr.func(_imaginary_unit(expr.lhs), _imaginary_unit(expr.rhs), evaluate=False)
    if isinstance(expr, Boolean) and not isinstance(expr, sympy.Expr) or isinstance(expr, sympy.Tuple):
        # And/Or of relations, a tuple of equations: rebuilt from rebuilt parts, unevaluated
        return expr.func(*(_imaginary_unit(a) for a in expr.args), evaluate=False) \
            if not isinstance(expr, sympy.Tuple) else sympy.Tuple(*(_imaginary_unit(a) for a in expr.args))
    return expr.subs({s: sympy.I for s in expr.free_symbols if getattr(s, "name", "") == "i"})


_PM_RE = re.compile(r"\\(pm|mp)(?![a-zA-Z])")


def _expand_pm(latex: str) -> str | None:
    r"""`\frac{-1 \pm \sqrt{5}}{2}` -> `\frac{-1 + \sqrt{5}}{2}, \frac{-1 - \sqrt{5}}{2}` (and
    `x = A \pm B` -> `x = A + B, A - B`): the two values of a \pm the grammar cannot read.
    Every \pm takes one sign and every \mp the other. None unless the \pm or \mp are all
    right of the last "=" (the expansion has none left, so parsing it cannot come back here)."""
    lhs, eq, rhs = latex.rpartition("=")
    if not _PM_RE.search(rhs) or _PM_RE.search(lhs):
        return None  # nothing to expand, or a \pm on the left (no reading; and no regress)
    plus = _PM_RE.sub(lambda m: " + " if m.group(1) == "pm" else " - ", rhs)
    minus = _PM_RE.sub(lambda m: " - " if m.group(1) == "pm" else " + ", rhs)
    return f"{lhs}{eq} {plus.strip()}, {minus.strip()}"


@lru_cache(maxsize=4096)
def _normalized_reference(reference: str) -> Normalized:
    return normalize_answer(reference)


# latex2sympy reads `a \approx b` as a (or as b when a is a name), so `4 \approx 5` would be 4
_APPROX_RE = re.compile(r"\\(?:approx|thickapprox|approxeq|simeq|sim|thicksim|cong|doteq|propto|asymp)(?![a-zA-Z])")
_ROUNDING_RE = re.compile(r"^-?(\d*)(?:\.(\d+))?$")


def _approximation(a: Normalized, r: Normalized) -> str:
    """The verdict on `exact \\approx decimal`: an answer that is a relation between two values
    is not either value, unless the right side is the left side rounded or truncated to the
    digits it shows: `\\frac{\\sqrt3}{2} \\approx 0.866` is the exact value with its decimal,
    `4 \\approx 5` and `\\pi \\approx 3.2` are no answer. \\sim, \\propto, \\cong are never a value."""
    parts = _APPROX_RE.split(a.latex)
    if len(parts) != 2 or not re.search(r"\\(?:thick)?approx(?:eq)?(?![a-zA-Z])", a.latex):
        return "mismatch"
    exact, approx = parts[0].strip(), parts[1].strip().replace(",", "")
    digits = _ROUNDING_RE.match(approx.replace(" ", ""))
    if not exact or digits is None or len(approx) > 60 or _verdict(Normalized(exact, a.percent), r) != "ok":
        return "mismatch"  # (a decimal of more than 60 digits is not shown to a reader)
    ref, _ = _parse(r.latex)
    if isinstance(ref, sympy.Equality):
        ref = ref.rhs  # x = \frac{1}{3}
    if not isinstance(ref, sympy.Expr) or ref.free_symbols:
        return "mismatch"
    try:
        value, shown = sympy.N(ref, len(approx) + 20), sympy.Rational(approx)
        unit = sympy.Rational(1, 10 ** len(digits.group(2) or ""))
        rounded = abs(value - shown) <= unit / 2
        truncated = value * shown >= 0 and 0 <= abs(value) - abs(shown) < unit
        return "ok" if bool(rounded) or bool(truncated) else "mismatch"
    except (TypeError, ValueError, ArithmeticError):
        return "mismatch"


@lru_cache(maxsize=65536)
def _verdict(a: Normalized, r: Normalized) -> str:
    """"ok", "mismatch" or "parse_error" for normalised answer vs normalised reference."""
    if _APPROX_RE.search(a.latex) and not _APPROX_RE.search(r.latex):
        return _approximation(a, r)
    a_latex, r_latex = a.latex, r.latex
    if a_latex == r_latex:
        return "ok"
    ta, tr = text_answer(a_latex), text_answer(r_latex, leading_yes_no=False)
    if ta is not None and not ta[1] or tr is not None and not tr[1]:
        # prose on at least one side: equal only as the same canonical words
        return "ok" if ta is not None and tr is not None and ta == tr else "mismatch"
    if ta is not None:
        a_latex = ta[0]
    if tr is not None:
        r_latex = tr[0]
    if a_latex == r_latex:
        return "ok"
    fa, fr = exact_number(a_latex), exact_number(r_latex)
    if fa is not None and fr is not None:
        return "ok" if fa == fr else "mismatch"
    ref, why = _parse(r_latex)
    if ref is None:
        # a reference our grammar cannot read (1, 3, 5, \ldots, 2n-1): only the same string matches
        return "ok" if canonical_text(a_latex) == canonical_text(r_latex) else "mismatch"
    if len(_exact_decimals(a_latex)) > MAX_PARSED_CHARS:
        return "parse_error"  # the parser's own time: ~2 ms a character on long lists
    ans, _ = _parse(a_latex)
    if ans is None:
        return "parse_error"
    return "ok" if _safe_equivalent(ans, ref) else "mismatch"


def _safe_equivalent(answer: Any, reference: Any) -> bool:
    try:
        return equivalent(answer, reference)
    except (TypeError, ValueError, AttributeError, NotImplementedError, ArithmeticError,
            RecursionError, sympy.SympifyError, sympy.polys.polyerrors.PolynomialError):
        # sympy raised on a malformed answer: data, not infrastructure, so it is a mismatch
        return False


def _check_reference(reference: Any) -> str:
    if not isinstance(reference, str | int | float) or isinstance(reference, bool):
        raise BadReference(f"math reference must be a string or number, got {type(reference).__name__}")
    ref = str(reference).strip()
    if len(ref) > MAX_ANSWER_CHARS:  # before any work on it
        raise BadReference(f"math reference is {len(ref)} characters long (at most {MAX_ANSWER_CHARS})")
    if not ref or not normalize_answer(ref).latex:
        raise BadReference("math reference is empty")
    depth = 0
    for c in re.sub(r"\\[{}]", "", ref):
        depth += {"{": 1, "}": -1}.get(c, 0)
        if depth < 0:
            break
    if depth != 0:
        raise BadReference(f"math reference has unbalanced braces: {ref!r}")
    return ref


def math_verdict(answer: str, reference: str) -> str:
    """"ok", "mismatch" or "parse_error" for an extracted answer against a reference string."""
    ref = _check_reference(reference)
    if len(answer) > MAX_ANSWER_CHARS:
        return "parse_error"
    a = normalize_answer(answer)
    if not a.latex:
        return "parse_error"
    return _verdict(a, _normalized_reference(ref))


def math_equal(answer: str, reference: str) -> bool:
    """True when the answer string is mathematically the reference (see the module docstring)."""
    return math_verdict(answer, reference) == "ok"


def _top_level_items(answer: str) -> list[str]:
    """"2, \\frac{1}{2}, (3, 4)" -> ["2", "\\frac{1}{2}", "(3, 4)"]: split at commas outside groups."""
    items, depth, start = [], 0, 0
    for i, c in enumerate(answer):
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            items.append(answer[start:i])
            start = i + 1
    return [x.strip() for x in [*items, answer[start:]] if x.strip()]


def _same_alternative(completion: str, answer: str) -> bool:
    """No alternative is offered after the final box, or it is the answer's value, or one of
    the values the answer lists ("\\boxed{2, 3} (3 is also a solution)" offers nothing new)."""
    alt = hedged_alternative(completion)
    if alt is None:
        return True
    try:
        if math_equal(alt, answer):
            return True
        items = _top_level_items(answer)
        if len(items) > 1 and any(math_equal(alt, item) for item in items[:32]):
            return True
        # the same value in another unit: "\frac12 (or 50\%)", "\frac{\pi}{3} (or 60^\circ)"
        a = normalize_answer(alt)
        if a.percent:
            scaled = rf"\frac{{{a.latex}}}{{100}}"
        elif re.search(r"\\circ|°|\\degree", alt):
            scaled = rf"\frac{{({a.latex}) \pi}}{{180}}"
        else:
            return False
        return math_equal(scaled, answer)
    except BadReference:  # the answer, standing in for a reference, is not a valid one
        return False


_KEYED_CHARS = 65_536  # longer completions are not memoised (the service keys them by text)


def _answer_key(completion: str, words: bool) -> Hashable:
    """The cache key of both verifiers, computed once per distinct completion: a GRPO batch
    repeats completions, and the service computes keys in its parent, without a deadline."""
    if len(completion) > _KEYED_CHARS:
        return ("answer", extract_answer(completion), hedged_alternative(completion, words=words))
    return _memo_answer_key(completion, words)


@lru_cache(maxsize=256)
def _memo_answer_key(completion: str, words: bool) -> Hashable:
    return ("answer", extract_answer(completion), hedged_alternative(completion, words=words))


_TAKE_BACK_CHARS = 200  # the text after a yes/no answer that is read for a retraction


def _yes_no_taken_back(completion: str, answer: str) -> bool:
    """A "yes"/"no" answer that the text right after it takes back: extraction stops at the
    sentence ("The answer is: Yes. Nein." extracts "Yes"), so the next words are read here."""
    t = text_answer(answer)
    if t is None or t[0] not in ("yes", "no"):
        return False
    at = completion.rfind(answer)
    if at < 0:
        return False
    tail = completion[at + len(answer): at + len(answer) + _TAKE_BACK_CHARS]
    return taken_back_after(t[0], tail)


class MathVerifier(Verifier):
    """Extracts the final answer and compares it symbolically with the reference."""

    name = "math"

    def cache_key(self, completion: str) -> Hashable:
        """The extracted answer (and any hedged alternative): the verdict depends on nothing
        else, so eight reasonings that end in the same answer are compared once."""
        return _answer_key(completion or "", False)

    def score(self, completion: str, reference: Any) -> Score:
        ref = _check_reference(reference)
        if not isinstance(completion, str):
            return Score.fail("not_text", self.name)
        key = choice_key(ref)
        if key is not None:
            return self._score_choice(completion, key)
        answer = extract_answer(completion or "")
        if answer is None:
            return Score.fail("no_answer", self.name)
        reason = math_verdict(answer, ref)
        if reason == "ok" and not _same_alternative(completion or "", answer):
            reason = "hedged"
        if reason == "ok" and _yes_no_taken_back(completion, answer):
            reason = "hedged"
        if reason == "ok":
            return Score(1.0, True, "ok", {self.name: 1.0})
        return Score.fail(reason, self.name)

    def _score_choice(self, completion: str, key: frozenset[str]) -> Score:
        answer = extract_answer(completion or "")
        if answer is None:
            return Score.fail("no_answer", self.name)
        letters = choice_answer(answer)
        if letters is None:
            return Score.fail("mismatch", self.name)
        alt = hedged_alternative(completion or "")
        if letters == key and alt is not None and choice_answer(alt) != letters:
            return Score.fail("hedged", self.name)
        if letters == key:
            return Score(1.0, True, "ok", {self.name: 1.0})
        return Score.fail("mismatch", self.name)


class ExactVerifier(Verifier):
    r"""Normalised string equality: whitespace, case, $ and \text{} do not matter; nothing else."""

    name = "exact"

    def cache_key(self, completion: str) -> Hashable:
        """The extracted answer and any hedged alternative, words included."""
        return _answer_key(completion or "", True)

    def score(self, completion: str, reference: Any) -> Score:
        if reference is None or not str(reference).strip():
            raise BadReference("exact reference is empty")
        if not isinstance(completion, str):
            return Score.fail("not_text", self.name)
        answer = extract_answer(completion or "")
        if answer is None:
            return Score.fail("no_answer", self.name)
        alt = hedged_alternative(completion, words=True)
        if alt is not None and canonical_text(alt) != canonical_text(answer):
            return Score.fail("hedged", self.name)
        if canonical_text(answer) == canonical_text(str(reference)):
            return Score(1.0, True, "ok", {self.name: 1.0})
        return Score.fail("mismatch", self.name)
