"""Delimiters in model text, paired in linear time: tags, braces, boxes, math spans, `####`.

    tag_pairs(text, open_re, close_re)  <answer>...</answer> and <think>...</think> pairs
    brace_partners(text)                each grouping "{" -> its "}"
    find_boxes(text)                    every \\boxed{...} / \\fbox{...} (and `\\boxed 5`)
    math_spans(text)                    the contents of $...$, $$...$$, \\(...\\), \\[...\\]
    strip_math_delimiters(s)            '$x$' -> 'x'
    gsm8k_value(text)                   the text after the last line-starting "####"

Every scan here is linear in the text, whatever it holds: extraction runs on adversarial
model output, in the reward service's parent process (cache keys, no deadline) and in its
workers (where a slow scan is a `timeout`, which escapes scoring). The patterns these
replace were quadratic: `<a>(.*?)</a>` on "<a><a><a>...", a brace scan per `\\boxed{`
(15 s for 32 KB), a lazy span regex rescanning from every unclosed `\\(` (2 s for 16 KB),
`^\\s*####` over runs of blank lines. Each one here moves forward only.

    python -m pytest tests/verifiers/test_extract.py tests/verifiers/test_attacks_math.py -q
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["BOX_RE", "Box", "brace_partners", "find_boxes", "gsm8k_value", "math_spans", "strip_math_delimiters",
           "tag_pairs"]


def tag_pairs(text: str, open_re: re.Pattern, close_re: re.Pattern) -> tuple[list[tuple[int, int]], bool]:
    """The (content start, content end) of each open...close pair, scanning left to right the
    way a lazy `open(.*?)close` findall would, and whether an open is left unclosed."""
    out, pos = [], 0
    while (o := open_re.search(text, pos)) is not None:
        c = close_re.search(text, o.end())
        if c is None:
            return out, True
        out.append((o.end(), c.start()))
        pos = c.end()
    return out, False


BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")


def brace_partners(text: str) -> dict[int, int]:
    """Index of each grouping '{' -> index of its '}', in one pass; \\{ and \\} are literal."""
    partner, stack = {}, []
    for m in re.finditer(r"(?<!\\)[{}]", text):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            partner[stack.pop()] = m.start()
    return partner


# one token: a command (\boxed \pi) or up to the next space, $ or backslash, so that a run
# of brace-less boxes ("\boxed" * 20000) does not match to the end of the text from each one
_BRACELESS_RE = re.compile(r"\\[a-zA-Z]+|[^\s$\\]+")


class Box(NamedTuple):
    start: int  # of the backslash
    end: int  # after the closing brace (or the brace-less token)
    content: slice | None  # of the text, None when the braces never close


def find_boxes(text: str) -> list[Box]:
    """Every \\boxed / \\fbox in the text, in order; contents are spans, not copies (nested
    boxes would otherwise copy the text once per level)."""
    out, partner = [], None
    for m in BOX_RE.finditer(text):
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            partner = brace_partners(text) if partner is None else partner
            close = partner.get(i)
            out.append(Box(m.start(), close + 1, slice(i + 1, close)) if close is not None
                       else Box(m.start(), len(text), None))
        else:
            token = _BRACELESS_RE.match(text, i)
            if token is None:
                out.append(Box(m.start(), i, None))
                continue
            end = token.end()
            while end > i and text[end - 1] in ".,;":
                end -= 1
            out.append(Box(m.start(), token.end(), slice(i, end)))
    return out


# (opener, closer), in the order a lazy `$$(.+?)$$|$(.+?)$|\\((.+?)\\)|\\[(.+?)\\]` tries them
_SPAN_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_SPAN_OPEN_RE = re.compile(r"\$|\\[(\[]")


def math_spans(text: str) -> list[str]:
    """The contents of the $...$, $$...$$, \\(...\\) and \\[...\\] spans, in order: what
    `_SPAN_DELIMS`' lazy regex would find, in one pass. The regex rescans to the end of the
    text from every opener that never closes (quadratic: 2 s for 16 KB of `\\(`); here each
    closer is searched for from left to right once, and not at all once it is known to be
    missing from the rest of the text."""
    out, pos = [], 0
    next_close: dict[str, int] = {}  # closer -> its first index at or after the last search start, -1: none
    while (m := _SPAN_OPEN_RE.search(text, pos)) is not None:
        at, found = m.start(), None
        for open_, close in _SPAN_DELIMS:
            if not text.startswith(open_, at):
                continue
            body = at + len(open_)
            end = next_close.get(close)
            if end is None or 0 <= end < body + 1:  # the content is at least one character (.+?)
                end = next_close[close] = text.find(close, body + 1)
            if end >= 0:
                found = (body, end, end + len(close))
                break
        if found is None:
            pos = at + 1
            continue
        out.append(text[found[0]:found[1]].strip())
        pos = found[2]
    return out


_DELIMS = [("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")]


def strip_math_delimiters(s: str) -> str:
    """'$x$' -> 'x', '\\[x\\]' -> 'x'; repeated until none are left around the whole string.
    Moves two indices instead of slicing, so that "$$$$...$$$$" costs linear time."""
    i, j = 0, len(s)
    while i < j and s[i].isspace():
        i += 1
    while j > i and s[j - 1].isspace():
        j -= 1
    changed = True
    while changed:
        changed = False
        for left, right in _DELIMS:
            if j - i >= len(left) + len(right) and s.startswith(left, i) and s.endswith(right, i, j):
                i, j = i + len(left), j - len(right)
                while i < j and s[i].isspace():
                    i += 1
                while j > i and s[j - 1].isspace():
                    j -= 1
                changed = True
                break
    return s[i:j]


_GSM8K_RE = re.compile(r"^[ \t\r\f\v]*####", re.MULTILINE)
_GSM8K_VALUE_RE = re.compile(r"\s*([^\n]*)")


def gsm8k_value(text: str) -> str | None:
    """The text after the last "####" that starts a line and has something after it, up to
    the end of that line (or of the next non-blank one); None without one. A regex such as
    `^\\s*####\\s*(.+?)\\s*$` backtracks over every run of blank lines from each of its
    starts: quadratic on a completion of newlines. Here each blank run is crossed once."""
    for m in reversed(list(_GSM8K_RE.finditer(text))):
        value = _GSM8K_VALUE_RE.match(text, m.end())
        if value.group(1) or text[m.end():value.start(1)].strip("\n"):  # something, if only a space
            return value.group(1).strip()
    return None
