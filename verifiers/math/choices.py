"""Multiple-choice answers: the option letters of a reference, and the letters an answer chooses.

    python -m pytest tests/verifiers/test_math_answers.py -q -k choice
"""

from __future__ import annotations

import re

from verifiers.delimiters import strip_math_delimiters
from verifiers.extract import choice_letter

# Matched on `_unwrap_text`'s output, whose spaces are single and never inside "(B)": each
# separator below then has one reading, so a near-miss fails in linear time (with `\s*` on
# both sides of a separator that may itself be a space, "A A A ... x" backtracked exponentially).
_LETTER = r"\(?[A-E]\)?"
_CHOICE_KEY_RE = re.compile(rf"^ ?{_LETTER}(?: ?(?:,|\band\b) ?{_LETTER})* ?$")
_LETTER_LIST_RE = re.compile(rf"^ ?{_LETTER}(?:(?: ?[,;] ?| (?:and|or) | ){_LETTER})* ?$")
_LETTER_VALUE_RE = re.compile(r"^\s*\(([A-E])\)|^\s*([A-E])\s*[.:)]")
# a letter standing as an option: not inside a word or a name (f(B), AB), nor joined to another
# by dots (A.B, B...C, B…C: neither letter is chosen)
_OPTION_RE = re.compile(r"(?<![\w\\.…])(?<!\w\()\(?([A-E])\)?(?![\w(]|[.…]+\w)")
_REJECTED_AFTER_RE = re.compile(
    r"\W*(?:is|are|was|would\s+be|seems)?\s*(?:not|never|incorrect|wrong|false|invalid|excluded|"
    r"ruled\s+out|unlikely|maybe|perhaps|possibly)\b|\W*\?", re.IGNORECASE)
_REJECTION_RE = re.compile(
    r"\b(?:not|no|never|incorrect|wrong|false|except|neither|nor|or|maybe|perhaps|possibly|"
    r"unless|but|isn't|isnt|rather)\b", re.IGNORECASE)


def choice_key(reference: str) -> frozenset[str] | None:
    r"""The option letters of a multiple-choice reference ("B", "(B)", "\text{(B)}", "A, C")."""
    text = _unwrap_text(reference)
    if not _CHOICE_KEY_RE.match(text):
        return None
    return frozenset(re.findall(r"[A-E]", text))


def choice_answer(answer: str) -> frozenset[str] | None:
    r"""The letters chosen by an extracted answer: "(B)", "\textbf{(C)}\ 15", "C, A", "B and C".

    Beyond a plain list of letters, the answer must name one option and not reject or hedge
    it: "Not (B)", "(C) is incorrect", "(A) or possibly (B)", "A.B" and "f(B)" choose nothing."""
    text = _unwrap_text(answer)
    if _LETTER_LIST_RE.match(text):
        return frozenset(re.findall(r"[A-E]", text))
    found = list(_OPTION_RE.finditer(text))
    if len({m.group(1) for m in found}) != 1:
        return None
    named = found[0].group(1)
    # "Not (B)", "Option D is wrong", "(A) or possibly (B)": a rejection before the letter or
    # right after it; the option's own text ("(B) It is not possible", "(C) neither") is fine
    if _REJECTION_RE.search(text, 0, found[0].start()) or _REJECTED_AFTER_RE.match(text, found[-1].end()):
        return None
    m = _LETTER_VALUE_RE.match(text)
    if m:
        return frozenset(m.group(1) or m.group(2))
    letter = choice_letter(answer)
    return frozenset(letter) if letter == named else None


def _unwrap_text(s: str) -> str:
    s = strip_math_delimiters(re.sub(r"\s+", " ", s))
    for _ in range(3):
        s = re.sub(r"\\(?:text|textbf|textrm|mathrm|mathbf|mbox|boxed)\s*\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"\\[,;:! ]|\\quad|\$", " ", s)
    s = re.sub(r"\( ", "(", re.sub(r" \)", ")", re.sub(r"\s+", " ", s)))  # "( B )" -> "(B)"
    return s.strip().rstrip(".").strip()
