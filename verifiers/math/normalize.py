r"""String normalisation of a math answer before it is parsed: pure functions, no sympy.

`normalize_answer(s)` turns what models and datasets write into LaTeX that latex2sympy reads
the same way for equal answers, and records the things it removed that still matter:

    1{,}000, 1\,000, 1\!000      -> 1000          (thousands separators: digit groups of 3 only)
    1,2  /  1, 2                 -> kept          (a list is never glued into 12)
    1.5e3, 1.5E-3                -> 1.5\times10^{3}
    0.\overline{3}, 0.1\overline{6} -> \frac{1}{3}, \frac{1}{6}   (exact)
    30^\circ, 30°, 30\degree     -> 30            (degrees are dropped, never converted)
    50\%, 50 percent             -> 50, percent=True (the caller decides what a percent means)
    10\text{ cm}, 5 apples, 7 m  -> 10, 5, 7      (a trailing unit from `units.UNITS`; a single
                                                   letter only in `<number> <letter>`, so
                                                   x+2c keeps its c; "3 opposite" keeps its word)
    \sqrt(2), \sqrt2, \frac12    -> \sqrt{2}, \sqrt{2}, \frac{1}{2}
    \dfrac, \left(, \displaystyle, $...$ -> \frac, (, (removed), ...

`text_answer(s)` recognises prose answers ("all real numbers", "yes", "second") and maps the
ones with a mathematical meaning to LaTeX (`\mathbb{R}`, `\emptyset`, `2`); other prose is
compared as canonical lower-case words. `canonical_text(s)` is the `exact` verifier's form.

    python -m pytest tests/verifiers/test_math_answers.py -q
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from verifiers.delimiters import strip_math_delimiters
from verifiers.math.units import unit_words

__all__ = ["Normalized", "canonical_text", "normalize_answer", "text_answer"]


@dataclass(frozen=True, slots=True)
class Normalized:
    latex: str
    percent: bool = False


_UNICODE = {
    "π": r"\pi ", "√": r"\sqrt", "∞": r"\infty ", "−": "-", "–": "-", "×": r"\times ",
    "·": r"\cdot ", "÷": "/", "≤": r"\le ", "≥": r"\ge ", "≠": r"\ne ", "∪": r"\cup ",
    "∩": r"\cap ", "∅": r"\emptyset ", "ℝ": r"\mathbb{R}", "\u2009": " ", "\u00a0": " ",
    "\u202f": " ", "≈": r"\approx ", "≃": r"\simeq ", "≅": r"\cong ", "∼": r"\sim ", "∝": r"\propto ",
    "≡": r"\equiv ",
}

_SPACE_CMDS = r"(?:(?<!\\)\\[,;: ]|\\quad|\\qquad|\\thinspace|~)"
_THOUSANDS_GROUP_RE = re.compile(r"(?<![\d.])(\d{1,3})((?:(?:\{,\}|" + _SPACE_CMDS + r"|\\!)\d{3})+)(?![\d])")
_PLAIN_THOUSANDS_RE = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_SCI_RE = re.compile(r"(?<![\w\\.}])(\d+(?:\.\d+)?|\.\d+)[eE]([+-]?\d+)(?![\w.])")
_REPEAT_RE = re.compile(r"(?<![\d.])(-?)(\d*)\.(\d*)\\(?:overline|bar|dot)\s*\{(\d+)\}")
_DEGREE_RE = re.compile(
    r"\^\s*\{?\s*\\circ\s*\}?|\^\s*\{\s*\\text\{\s*o\s*\}\s*\}|°|\\degree|(?<=[\d}])\s*\\circ(?![a-zA-Z])")  # not f \circ g
_TRIG_DEGREE_RE = re.compile(
    r"(\\(?:sin|cos|tan|cot|sec|csc)\s*\(?\s*)(\d+(?:\.\d+)?)\s*(?:\^\s*\{?\s*\\circ\s*\}?|°|\\degree)")
_ELLIPSIS_RE = re.compile(r"^-?\d*\.\d{1,64}\s*(?:\\ldots|\.\.\.|…)$")
# cubic in the digits (prefix x period x repeats): only tried on at most 64 digits, above
_ELLIPSIS_REPEAT_RE = re.compile(r"^(-?\d*)\.(\d*?)(\d+?)\3+\s*(?:\\ldots|\.\.\.|…)$")
_PERCENT_RE = re.compile(r"\s*(?:\\%|%|\\text\{\s*\\?%\s*\}|\\text\{\s*percent\s*\}|\bpercent\b)\s*$")
_UNIT_TEXT_RE = re.compile(
    r"(?<=[\d}).\s])\s*\\(?:text|mbox|mathrm|textrm|rm)\s*\{\s*([a-zA-Z][a-zA-Z .]*)\}(?:\^\s*\{?\d\}?)?\s*$"
)
_UNIT_WORDS_RE = re.compile(r"(?<=[\d}])\s+([a-zA-Z]{2,}(?:\s+[a-zA-Z]{2,})*)(?:\^\s*\{?\d\}?)?\s*$")


# Trailing words dropped as a unit: an allowlist (as math-verify and lighteval strip a known
# list of units). A denylist of words that change a value could never be complete: "3 opposite",
# "5 twelfths", "4 inverted", "2 kilo", "7 nah" all passed with it. Nouns that count objects
# are kept only where the labelled tables need them (apples, eggs, ...): a policy gains nothing
# from them, they leave the number as it was.
_RELATION_RE = re.compile(r"[<>]|\\(?:le|ge|leq|geq|lt|gt)(?![a-zA-Z])")


def _list_separator(m: re.Match) -> str:
    """"and"/"or" between answers is a list ("3 and 5"); but "and" between two inequalities is
    their intersection, which a list (read as a union) would turn into its opposite, so it
    is left in place and the answer does not parse."""
    if "and" in m.group(0) and _RELATION_RE.search(m.string, 0, m.start()) \
            and _RELATION_RE.search(m.string, m.end()):
        return m.group(0)
    return ", "


def _from_base(m: re.Match) -> str:
    """A numeral with its base, as one canonical token: a question that asks for base 2 wants
    the base-2 digits, so 11 is not 1011_2 although they are the same number."""
    return rf"\text{{{m.group(1)}_{int(m.group(2))}}}"


def _strip_unit_words(s: str) -> str:
    """`10 cm`, `5 apples`, `3 square feet` -> the number; `2 xy`, `2 pi` and `5 million` keep
    their words."""
    m = _UNIT_WORDS_RE.search(s)
    if m is not None and unit_words(m.group(1).lower().split()):
        return s[: m.start()].strip()
    m = _UNIT_TEXT_RE.search(s)
    if m is not None and unit_words(re.findall(r"[a-z]+", m.group(1).lower())):
        return s[: m.start()].strip()
    return s


_PAREN_REPEAT_RE = re.compile(r"(?<![\d.\w])(-?\d*)\.(\d*)\((\d+)\)")  # 0.1(6)
# Products the parser reads as sums: an integer (not a subscript, exponent or decimal digit)
# or ")" before "(number)", "[number]" or "\\{number\\}" (2[3], 2\\{3\\}: 5 to the parser), a closing
# bracket before an integer ((2)3); an integer, ")" or a whole \binom{a}{b} before \binom. Not
# \log_2(8), \sin^{-1}(1), 0.1(6) or the "}" of \sum_{k=0}^{10}.
_IMPLICIT_PRODUCT_RE = re.compile(
    r"((?<![\w^_{.\\])\d+|\)|\]|\\\})\s*(?=\(\s*-?[\d.]+\s*\)|\[\s*-?[\d.]+\s*\]|\\\{\s*-?[\d.]+\s*\\\})"
    r"|((?:\)|\]|\\\})(?=\s*\d))"
    r"|((?<![\w^_{.\\])\d+|\)|\\[dt]?binom\s*\{[^{}]*\}\s*\{[^{}]*\})\s*(?=\\[dt]?binom(?![a-zA-Z]))")
# `5 m`, `3 g`, `2 h`: a number and a one-letter unit; not 3 i, 2 e or 5 x
_NUMBER_LETTER_RE = re.compile(r"^(-?\d+(?:\.\d+)?)\s+[mgshlLKAVWJN]$")
# 1011_2, 11_{2}, 1011_{(2)}: a numeral written with its base
_BASE_RE = re.compile(r"(?<![\w\\])(\d+)\s*_\s*\{?\s*\(?(\d{1,2})\)?\s*\}?(?![\d\w])")
_WRAPPER_RE = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_AND_OR_RE = re.compile(r"\s*,?\s*(?:\\text\{\s*(?:and|or)\s*\}|\\(?:quad|qquad)\s*(?:and|or)\b|(?<![a-zA-Z\\])(?:and|or)(?![a-zA-Z]))\s*")


def _fix_call_parens(s: str, cmd: str) -> str:
    r"""`\sqrt(2x+1)` -> `\sqrt{2x+1}`, with balanced parentheses (models write LaTeX like code)."""
    out, i = [], 0
    while True:
        j = s.find(cmd + "(", i)
        if j < 0:
            out.append(s[i:])
            return "".join(out)
        k, depth = j + len(cmd), 0
        for k in range(j + len(cmd), len(s)):
            depth += {"(": 1, ")": -1}.get(s[k], 0)
            if depth == 0:
                break
        if depth != 0:
            out.append(s[i:])
            return "".join(out)
        out.append(s[i:j] + cmd + "{" + s[j + len(cmd) + 1:k] + "}")
        i = k + 1


def _fix_sqrt_frac(s: str) -> str:
    r"""`\sqrt2` -> `\sqrt{2}`, `\frac12` -> `\frac{1}{2}`, `\frac1{2}` -> `\frac{1}{2}`."""
    s = re.sub(r"\\sqrt\s*(\d|[a-zA-Z](?![a-zA-Z]))", r"\\sqrt{\1}", s)
    s = re.sub(r"\\frac\s*(\d|[a-zA-Z])\s*(\d|[a-zA-Z])", r"\\frac{\1}{\2}", s)
    s = re.sub(r"\\frac\s*(\d|[a-zA-Z])\s*\{", r"\\frac{\1}{", s)
    s = re.sub(r"\\frac\s*(\{[^{}]*\})\s*(\d|[a-zA-Z])(?![a-zA-Z])", r"\\frac\1{\2}", s)
    return s


def _repeating(m: re.Match) -> str:
    sign, whole, fixed, rep = m.group(1), m.group(2) or "0", m.group(3), m.group(4)
    # x = whole.fixed(rep)(rep)... = whole + (fixed.rep - fixed) / (10^len(fixed) * (10^len(rep) - 1))
    value = Fraction(int(whole)) + Fraction(int(fixed or "0"), 10 ** len(fixed))
    value += Fraction(int(rep), 10 ** len(fixed) * (10 ** len(rep) - 1))
    if sign:
        value = -value
    return rf"\frac{{{value.numerator}}}{{{value.denominator}}}" if value.denominator != 1 \
        else str(value.numerator)


def normalize_answer(s: str) -> Normalized:
    """The normalised LaTeX of one answer (see the module docstring for every rule)."""
    # Runs of whitespace become one space first, and again once the LaTeX spacing commands are
    # spaces: patterns below put `\s*` next to `\s*` (`\s*,?\s*or`), which backtracks
    # cubically over a long run (5 s for a 2,000-character answer).
    s = re.sub(r"\s+", " ", s).strip()
    for k, v in _UNICODE.items():
        s = s.replace(k, v)
    s = strip_math_delimiters(s)
    m = re.fullmatch(r"\*\*(.+)\*\*", s, re.DOTALL)  # markdown bold around the whole answer
    if m:
        s = strip_math_delimiters(m.group(1))
    s = s.replace("\\$", "").replace("$", "")
    s = re.sub(r"\\(?:displaystyle|textstyle|limits|mathrm\{\s*\}|!)", "", s)
    s = re.sub(r"\\[dtc]frac", r"\\frac", s)
    s = re.sub(r"\\left\s*\.|\\right\s*\.", "", s)
    s = re.sub(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|big|Big)(?![a-zA-Z])\s*", "", s)
    s = re.sub(r"\\varnothing|\\O(?![a-zA-Z])|\\\{\s*\\\}", r"\\emptyset", s)
    s = s.replace("\\lbrace", "\\{").replace("\\rbrace", "\\}").replace("\\dots", "\\ldots")
    s = re.sub(r"\\(?:cdots|ldots)", r"\\ldots", s)
    # thousands separators between digit groups of exactly three: 1{,}000 and 1\,000
    # \mathrm{4}, \textbf{7}, \mathrm{e}: a wrapper around math, not around words
    s = re.sub(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox)\s*\{([^{}]*)\}",
               lambda m: m.group(1) if not re.search(r"[a-zA-Z]{2}", m.group(1)) else m.group(0), s)
    s = _THOUSANDS_GROUP_RE.sub(lambda m: m.group(1) + re.sub(r"\D", "", m.group(2)), s)
    s = re.sub(r"\s+", " ", re.sub(_SPACE_CMDS, " ", s))
    s = s.replace("{,}", ",")
    # degrees inside a trig function are converted (sin 30° = 1/2); elsewhere they are a unit
    s = _TRIG_DEGREE_RE.sub(lambda m: rf"{m.group(1)}{{\frac{{{m.group(2)}\pi}}{{180}}}}", s)
    s = _DEGREE_RE.sub("", s)
    s = s.strip()
    if _ELLIPSIS_RE.match(s):
        s = _ELLIPSIS_REPEAT_RE.sub(lambda m: rf"{m.group(1)}.{m.group(2)}\overline{{{m.group(3)}}}", s)
    s = s.strip().rstrip(".").strip()
    percent = False
    m = _PERCENT_RE.search(s)
    if m and m.start() > 0:
        percent, s = True, s[: m.start()].strip()
    # units: a trailing \text{...} or plain words after a number; `5 m` only when that is all
    for _ in range(2):
        s = _strip_unit_words(s)
    s = _BASE_RE.sub(_from_base, s)
    m = _NUMBER_LETTER_RE.match(s)
    if m:
        s = m.group(1)
    if _PLAIN_THOUSANDS_RE.match(s):
        s = s.replace(",", "")
    s = _SCI_RE.sub(lambda m: rf"{m.group(1)}\times10^{{{m.group(2)}}}", s)
    s = _PAREN_REPEAT_RE.sub(r"\1.\2\\overline{\3}", s)  # 0.1(6): the 6 repeats
    s = _REPEAT_RE.sub(_repeating, s)
    s = _fix_call_parens(s, "\\sqrt")
    s = re.sub(r"(?<!\\)\bsqrt", r"\\sqrt", s)
    s = _fix_sqrt_frac(s)
    s = _AND_OR_RE.sub(_list_separator, s) if re.search(r"[\d}]", s) else s
    s = re.sub(r"^\s*=\s*", "", s)  # "= 5"
    # latex2sympy reads 2(3) as 5 and 2\binom{4}{2} as 8: make those products explicit
    s = _IMPLICIT_PRODUCT_RE.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + r" \cdot ", s)
    s = re.sub(r"\s+", " ", s).strip().rstrip(",;").strip()
    return Normalized(s, percent)


# --- prose answers ---------------------------------------------------------------------------

_NUMBER_WORDS = {
    w: str(i) for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split())
}
_ORDINALS = {
    w: str(i) for i, w in enumerate(
        "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
        "twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
        "twentieth".split())
}
_REALS = {
    "all real numbers", "all reals", "real numbers", "the real numbers", "all real values",
    "every real number", "any real number", "the set of all real numbers", "all real x",
    "all x", "x is any real number", "x can be any real number",
}
_EMPTY = {
    "no solution", "no solutions", "no real solution", "no real solutions", "none",
    "empty set", "the empty set", "there is no solution", "there are no solutions",
    "no real roots", "no such number", "no real number",
}
_SHORT_WORDS = {"odd", "all", "not", "one", "two", "six", "ten", "and", "dne", "any", "yes", "are",
                "the", "for", "but", "nor", "off", "red", "box", "cat", "dog", "day", "man", "men"}
_YES_NO = {"yes": "yes", "true": "yes", "no": "no", "false": "no"}
# after a leading yes/no, words that take it back or hedge it: the sentence is then prose
_HEDGING_WORDS = {
    "not", "cannot", "can't", "cant", "impossible", "never", "isn't", "isnt", "doesn't", "doesnt",
    "don't", "dont", "wrong", "incorrect", "actually", "wait", "however", "but", "or", "unless",
    "although", "though", "nor", "neither", "unlikely", "maybe", "perhaps", "possibly", "except",
}
# the other polarity, in the major languages, and retractions: after a leading yes/no any of
# these makes the answer prose ("Yes, nope", "Yes. Nein.", "No... Affirmative.", "Yes (jk)")
_YES_WORDS = {"yes", "yeah", "yep", "yup", "yea", "aye", "affirmative", "indeed", "ja", "oui", "si", "sí",
              "sim", "da", "да", "是", "是的", "对", "對", "はい", "네", "예", "evet", "tak", "igen", "haan"}
_NO_WORDS = {"no", "nope", "nah", "nay", "negative", "false", "nein", "non", "não", "nao", "нет", "net",
             "否", "不", "不是", "没有", "沒有", "いいえ", "아니요", "아니오", "아니", "hayır", "hayir", "nie",
             "nee", "nej", "ei", "nem", "nahin", "nahi", "lo"}
_RETRACTIONS = {"jk", "kidding", "joking", "scratch", "retract", "retracted", "ignore", "disregard",
                "mind", "contrary", "opposite", "reverse", "reversed", "instead", "otherwise", "thought",
                "rather", "undo", "revoke", "withdraw", "withdrawn", "correction"}
# ...of which these agree with a leading "no" ("No, because it is not prime.")
_NEGATIONS = {"not", "cannot", "can't", "cant", "impossible", "never", "isn't", "isnt", "doesn't",
              "doesnt", "don't", "dont", "wrong", "incorrect", "neither", "nor", "unlikely"}
# names latex2sympy reads as functions or constants, so a word made of them is not prose
_MATH_WORDS = {
    "sin", "cos", "tan", "cot", "sec", "csc", "log", "ln", "exp", "sqrt", "frac", "pi", "infty",
    "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "max", "min", "gcd", "lcm", "det",
    "mod", "bmod", "pmod", "cup", "cap", "le", "ge", "leq", "geq", "neq", "in", "times", "cdot",
    "pm", "mp", "emptyset", "varnothing", "mathbb", "begin", "end", "pmatrix", "bmatrix",
    "matrix", "vmatrix", "ldots", "binom", "choose", "sum", "prod", "int", "lim", "to", "circ",
    "alpha", "beta", "gamma", "delta", "theta", "lambda", "mu", "sigma", "omega", "phi", "rho",
    "tau", "epsilon", "varepsilon", "overline", "text", "mathrm", "mathbf", "operatorname",
    "dfrac", "tfrac", "boxed", "hat", "vec", "bar", "dots", "cdots", "infinity", "approx",
    "lfloor", "rfloor", "lceil", "rceil", "floor", "ceil", "wedge", "vee", "land", "lor", "setminus",
    "subset", "subseteq", "mid", "ne", "lt", "gt", "quad", "qquad", "mathcal", "mathit", "left",
    "right", "displaystyle", "arg", "deg", "dim", "ker", "hom", "inf", "sup",
}


def _words(s: str) -> str:
    s = strip_math_delimiters(s.strip().replace("\u2019", "'").replace("\u2018", "'"))
    for _ in range(3):
        s = _WRAPPER_RE.sub(r"\1", s)
    s = s.replace("\\", " ").replace("$", " ")
    s = re.sub(r"[^\w\s'-]", " ", s.lower())
    s = re.sub(r"\s+", " ", s).strip()
    return re.sub(r"^(?:the|a|an) ", "", s)


def takes_back(polarity: str, words: list[str] | str) -> bool:
    """Whether words after a "yes" or "no" take it back or hedge it: a word of the other
    polarity in any of the major languages ("Yes, nope", "Yes. Nein.", "No... Affirmative."),
    a retraction ("Yes (jk)", "scratch that") or a hedge. Negations agree with a "no"."""
    if isinstance(words, str):
        words = _words(words).split()
    is_no = polarity == "no"
    vetoes = ((_HEDGING_WORDS - _NEGATIONS) | _YES_WORDS if is_no else _HEDGING_WORDS | _NO_WORDS) | _RETRACTIONS
    other = [o for o in (_YES_WORDS if is_no else _NO_WORDS) if not o.isascii()]
    return any(x in vetoes or x in _YES_NO and _YES_NO[x] != polarity
               or not x.isascii() and any(o in x for o in other) for x in words)


# What takes back a yes/no from the text *after* the answer. That text is usually the
# explanation ("Yes. It's not hard to see why...", "since there is no counterexample"), so the
# general hedging words and negations are not read there: only a clause that opens with a word
# of the other polarity, a hedge or a retraction ("Yes. Nein.", "No... Affirmative.",
# "Yes (jk)", "Yes. Scratch that."), or a retraction phrase anywhere.
_CLAUSE_RE = re.compile(r"[.,;:!?()\[\]{}\n\u2014\u2013\u2026\u3002\uff0c\uff1b]+")
_OPENING_VETOES = {"maybe", "perhaps", "possibly", "idk", "wait", "jk", "kidding", "joking", "scratch",
                   "retract", "retracted", "disregard", "undo", "revoke", "withdraw", "withdrawn",
                   "correction"}
_RETRACTION_PHRASES = re.compile(r"\b(?:just kidding|scratch that|never ?mind|on second thought|"
                                 r"i take (?:it|that) back|disregard (?:that|this))\b")


def taken_back_after(polarity: str, tail: str) -> bool:
    """Whether the text after a "yes"/"no" answer takes it back (see _OPENING_VETOES)."""
    if _RETRACTION_PHRASES.search(tail.lower()):
        return True
    other = _YES_WORDS if polarity == "no" else _NO_WORDS
    wide = [o for o in other if not o.isascii()]
    for clause in _CLAUSE_RE.split(tail):
        words = _words(clause).split()
        if not words:
            continue
        first = words[0]
        if first in _OPENING_VETOES or first in other or any(first.startswith(o) for o in wide):
            return True
    return False


def text_answer(s: str, leading_yes_no: bool = True) -> tuple[str, bool] | None:
    """A prose answer as (form, is_math): math forms are LaTeX to parse, others canonical words.

    None when `s` is not prose (no word of three or more letters outside LaTeX commands and
    math names, and not a yes/no or number/ordinal word). With `leading_yes_no`, a sentence
    that starts with yes/no and does not take it back is that word ("Yes, it is possible");
    references are read without it, so "Yes, n = 5" keeps its n = 5.
    """
    w = _words(s)
    if not w:
        return None
    if w in _REALS:
        return r"\mathbb{R}", True
    m = re.fullmatch(r"(?:" + "|".join(sorted(_REALS, key=len, reverse=True)) + r")\s+(?:except|but not|other than)\s+(?:x\s*=\s*)?(-?[\w.]+)", w)
    if m:
        return rf"\mathbb{{R}} \setminus \{{{m.group(1)}\}}", True
    if w in _EMPTY:
        return r"\emptyset", True
    if w in _YES_NO:
        return _YES_NO[w], False
    first, *rest = w.split()
    if leading_yes_no and first in _YES_NO and not takes_back(_YES_NO[first], rest):
        return _YES_NO[first], False  # "Yes, it is possible." (not "Yes, it is impossible")
    if w in _NUMBER_WORDS:
        return _NUMBER_WORDS[w], True
    if w in _ORDINALS:
        return _ORDINALS[w], True
    m = re.fullmatch(r"(\d+)\s*(?:st|nd|rd|th)", w)
    if m:
        return m.group(1), True
    if w in {"infinity", "infinite", "positive infinity"}:
        return r"\infty", True
    stripped = re.sub(r"\\[a-zA-Z]+", " ", strip_math_delimiters(s))
    stripped = _WRAPPER_RE.sub(r"\1", stripped)
    # a run of 3 letters is usually a product of variables (abc, xyz); 4+ letters is a word
    prose = [t for t in re.findall(r"[a-zA-Z]{3,}", stripped)
             if t.lower() not in _MATH_WORDS and (len(t) >= 4 or t.lower() in _SHORT_WORDS)]
    if re.search(r"\\text\s*\{[^{}]*[a-zA-Z]{2,}", s) and not re.search(r"\d", _words(s)):
        return w, False
    return (w, False) if prose else None


def canonical_text(s: str) -> str:
    r"""The `exact` verifier's form: $ and \text{} stripped, lower case, no whitespace, no final '.'."""
    s = strip_math_delimiters(s.strip())
    for _ in range(3):
        s = _WRAPPER_RE.sub(r"\1", s)
    s = s.replace("\\$", "").replace("$", "")
    s = re.sub(r"\\[,;:! ]", "", s)
    s = re.sub(r"\s+", "", s).lower()
    return s.rstrip(".")
