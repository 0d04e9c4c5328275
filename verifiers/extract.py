"""Answer extraction: pull the final answer out of a model's completion. Pure string functions.

No sympy here: extraction decides *which text* is the answer; judging it is
`verifiers.math_answers`. Every function returns the answer text or None.

    extract_answer(text)   the cascade the math verifier uses, on the text outside <think>:
        1. the <answer>...</answer> block; once the model opened one, nothing else counts
           (several blocks are hedging -> None; an empty block -> None):
           1a. its boxes (`boxed_answer`), else 1b. the block itself when it is bare math,
           else 1c. "the answer is ..." inside it, else its last $...$ span, else the block
        2. the boxes anywhere: the last \\boxed{...} / \\fbox{...}, joined with the boxes
           just before it when only "and"/"or"/commas separate them (a hedge stays a hedge)
        3. GSM8K's "#### 18" line, else "the answer is ...", "final answer: ..." phrasing
           (last occurrence)
        4. a short completion (<= 300 chars, < 3 lines) is itself the answer
        5. only with last_number_fallback=True: the last number in the text. Off by default:
           a number that reasoning merely passes through (a truncated completion) is not a
           final answer, and rewarding it rewards not answering.

What is not covered: a completion that states two different answers in prose gets its last
one; prose completions longer than the short-answer limit with no box or answer phrase get None.

    python -m pytest tests/verifiers/test_extract.py -q
"""

from __future__ import annotations

import re

__all__ = [
    "answer_block",
    "answer_is",
    "boxed_answer",
    "choice_letter",
    "extract_answer",
    "last_boxed",
    "last_number",
    "strip_math_delimiters",
    "strip_think",
]

_BLOCK_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_OPEN_RE = re.compile(r"<answer>", re.IGNORECASE)
_CLOSE_RE = re.compile(r"</answer>", re.IGNORECASE)


def answer_block(text: str) -> str | None:
    """The stripped content of the single <answer>...</answer> block.

    None when there is no block, when the block is empty, or when there are several blocks:
    several answers are hedging, and rewarding the best of them would teach the model to hedge.
    A single unclosed `<answer>` at the end (a truncated generation) yields what follows it.
    """
    blocks = _BLOCK_RE.findall(text)
    if len(blocks) > 1:
        return None
    if len(blocks) == 1:
        content = blocks[0].strip()
        return content or None
    opens = list(_OPEN_RE.finditer(text))
    if len(opens) == 1 and not _CLOSE_RE.search(text):
        content = text[opens[0].end():].strip()
        return content or None
    return None


def _count_blocks(text: str) -> int:
    return len(_BLOCK_RE.findall(text))


_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![a-zA-Z])")


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """The content of the brace group opening at text[start] == '{', and the index after it."""
    depth = 0
    for i in range(start, len(text)):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            continue  # \{ and \} are literal braces, not grouping
        if c == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif c == "}" and (i == 0 or text[i - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
    return None


def _boxes(text: str) -> list[tuple[int, int, str | None]]:
    """Every box as (start, end, content); content None when its braces never close."""
    out = []
    for m in _BOX_RE.finditer(text):
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            got = _braced(text, i)
            out.append((m.start(), got[1], got[0].strip()) if got else (m.start(), len(text), None))
        else:
            token = re.match(r"[^\s$]+", text[i:])
            content = token.group(0).rstrip(".,;") if token else None
            out.append((m.start(), i + (token.end() if token else 0), content))
    return out


def last_boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} (or \\fbox{...}), nested braces respected.

    Also the brace-less form `\\boxed 5` (the token up to the next space or `$`).
    None when there is no box, the last box is empty, or its braces never close.
    """
    boxes = _boxes(text)
    if not boxes:
        return None
    return boxes[-1][2] or None


_BETWEEN_BOXES_RE = re.compile(
    r"(?:\s|\$|,|;|\\quad|\\qquad|\\text\{\s*(?:and|or)\s*\}|\band\b|\bor\b|\\[,;: ])*", re.IGNORECASE)


def boxed_answer(text: str) -> str | None:
    """The last box, joined with the boxes right before it when only separators lie between
    ("\\boxed{2} or \\boxed{3}" -> "2, 3"): several boxed candidates are one list, so a hedge
    does not match a single-valued reference, while boxed roots can match a list reference."""
    boxes = _boxes(text)
    if not boxes or not boxes[-1][2]:
        return None
    group = [boxes[-1]]
    for box in reversed(boxes[:-1]):
        between = text[box[1]:group[0][0]]
        if box[2] is None or _BETWEEN_BOXES_RE.fullmatch(between) is None:
            break
        group.insert(0, box)
    contents = list(dict.fromkeys(b[2] for b in group if b[2]))
    return ", ".join(contents)


_ANSWER_IS_RE = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|:|=|would\s+be|will\s+be)\s*[:=]?\s*",
    re.IGNORECASE,
)
_MATH_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)


def _first_math_span(text: str) -> str | None:
    m = _MATH_SPAN_RE.search(text)
    if m is None:
        return None
    return next(g for g in m.groups() if g is not None).strip() or None


def _clean_tail(s: str) -> str:
    s = s.strip().strip("*").strip()
    s = re.sub(r"[.;,!]+$", "", s).strip()  # sentence punctuation, never a decimal point inside
    return s.strip("*").strip()


def answer_is(text: str) -> str | None:
    """The answer stated as "the answer is X", "Final Answer: X", "answer = X" (last occurrence).

    Taken from the phrase's line (or the next non-empty line when the phrase ends its line):
    a \\boxed{} there wins, then the first math span ($...$, \\(...\\), $$...$$), else the
    prose up to the end of the sentence, trailing punctuation removed.
    """
    text = text.replace("**", "")
    for m in reversed(list(_ANSWER_IS_RE.finditer(text))):
        rest = text[m.end():]
        lines = [ln for ln in rest.split("\n") if ln.strip()]
        if not lines:
            continue
        # a display block may span lines: look a little further than the first line for spans
        line = lines[0]
        window = rest[: rest.find(line) + len(line)] if not line.lstrip().startswith(("$$", "\\[")) \
            else rest[:400]
        boxed = last_boxed(window)
        if boxed is not None:
            return boxed
        span = _first_math_span(window)
        if span is not None:
            return span
        sentence = re.split(r"\.\s+(?=[A-Z])", line.strip())[0]
        got = _clean_tail(sentence)
        if got:
            return got
    return None


_NUMBER_RE = re.compile(
    r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(?![\w])"
)


def last_number(text: str) -> str | None:
    """The last number in the text (thousands separators removed): '1,234.5' -> '1234.5'."""
    matches = _NUMBER_RE.findall(text)
    if not matches:
        return None
    return matches[-1].replace(",", "")


_LETTER = r"([A-E])"
_CHOICE_PATTERNS = [
    re.compile(r"\\boxed\s*\{\s*(?:\\text(?:bf)?\s*\{\s*)?\(?" + _LETTER + r"\)?\s*\}?\s*\}"),
    re.compile(
        r"(?:answer|option|choice)\s*(?:is|:)?\s*(?:option|choice)?\s*[:\s]*\(?\**" + _LETTER
        + r"\**\)?(?![A-Za-z])",
        re.IGNORECASE,
    ),
    re.compile(r"\(" + _LETTER + r"\)"),
    re.compile(r"^\s*\(?" + _LETTER + r"[).:]?\s*$"),
]


def choice_letter(text: str) -> str | None:
    """The multiple-choice letter A-E: from \\boxed{D}, "answer: C", "the answer is (B)", "(B)".

    Most specific pattern first; within one pattern, the last occurrence. Upper case only,
    so the article "a" is never read as option A.
    """
    for pattern in _CHOICE_PATTERNS:
        found = pattern.findall(text)
        if found:
            return found[-1].upper()
    return None


_DELIMS = [("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")]


def strip_math_delimiters(s: str) -> str:
    """'$x$' -> 'x', '\\[x\\]' -> 'x'; repeated until none are left around the whole string."""
    s = s.strip()
    changed = True
    while changed:
        changed = False
        for left, right in _DELIMS:
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                s = s[len(left): len(s) - len(right)].strip()
                changed = True
                break
    return s


_PROSE_RE = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{4,}")


def _from_block(block: str) -> str:
    boxed = boxed_answer(block)
    if boxed is not None:
        return boxed
    stripped = strip_math_delimiters(block)
    if stripped != block or not _PROSE_RE.search(block):
        return stripped  # the block is a bare answer ($...$ or plain math)
    said = answer_is(block)
    if said is not None:
        return said
    spans = _MATH_SPAN_RE.findall(block)
    if spans:
        return next(g for g in spans[-1] if g).strip()
    return block


_GSM8K_RE = re.compile(r"^\s*####\s*(.+?)\s*$", re.MULTILINE)
_THINK_RE = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_SHORT_CHARS, _SHORT_LINES = 300, 3


def strip_think(text: str) -> str:
    """The completion without its <think>...</think> reasoning; an unclosed <think> runs to the
    end. Reasoning is not graded: a value that appears only there is not a final answer."""
    text = _THINK_RE.sub(" ", text)
    m = re.search(r"<think>", text, re.IGNORECASE)
    if m:
        text = text[: m.start()]
    if re.search(r"</think>", text, re.IGNORECASE):
        text = re.split(r"</think>", text, flags=re.IGNORECASE)[-1]  # opening tag in the prompt
    return text


def extract_answer(text: str, last_number_fallback: bool = False) -> str | None:
    """The final answer of a completion, by the cascade in the module docstring; None if none."""
    if not text or not text.strip():
        return None
    text = strip_think(text)
    if _OPEN_RE.search(text):
        # R1 format: once the model opened an answer block, that block is the answer
        if _count_blocks(text) > 1:
            return None
        block = answer_block(text)
        return (_from_block(block) or None) if block is not None else None
    boxed = boxed_answer(text)
    if boxed is not None:
        return boxed
    if _boxes(text):
        return None  # an empty or unclosed box is a broken final answer, not a cue to guess
    hashes = _GSM8K_RE.findall(text)
    if hashes:
        return _clean_tail(hashes[-1]) or None
    said = answer_is(text)
    if said is not None:
        return said
    stripped = text.strip()
    if stripped and len(stripped) <= _SHORT_CHARS and stripped.count("\n") < _SHORT_LINES:
        # a bare answer: the whole (short) completion is the answer
        return strip_math_delimiters(stripped).rstrip(".").strip() or None
    return last_number(text) if last_number_fallback else None
