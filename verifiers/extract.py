"""Answer extraction: pull the final answer out of a model's completion. Pure string functions.

No sympy here: extraction decides *which text* is the answer; judging it is
`verifiers.math.verifier`. Every function returns the answer text or None.

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

    hedged_alternative(text)   a second candidate offered right after the final box, in the
        major phrasings: "(or possibly $\\frac13$)", "; alternatively 3", "(also 3 works)",
        "3 is also possible/valid/correct", "it could also be 3", "another answer is 3", or
        before it ("either 3 or \\boxed{2}"): the math verifier fails the completion unless
        it is the same value ("(or equivalently 0.5)" is fine).

Every scan is linear in the text (the service computes cache keys in its parent, which has
no deadline, and a slow scan in a worker is a `timeout` that escapes scoring): no regex
that can backtrack over a run it rescans, no brace or delimiter search restarted per opener.

What is not covered: a completion that states two different answers in prose gets its last
one; prose completions longer than the short-answer limit with no box or answer phrase get None.

    python -m pytest tests/verifiers/test_extract.py tests/verifiers/test_attacks_math.py -q
"""

from __future__ import annotations

import re

from verifiers.delimiters import (
    BOX_RE,
    Box,
    find_boxes,
    gsm8k_value,
    math_spans,
    strip_math_delimiters,
    tag_pairs,
)

__all__ = [
    "answer_block",
    "answer_is",
    "boxed_answer",
    "choice_letter",
    "extract_answer",
    "hedged_alternative",
    "last_boxed",
    "last_number",
    "strip_math_delimiters",
    "strip_think",
]

_OPEN_RE = re.compile(r"<answer>", re.IGNORECASE)
_CLOSE_RE = re.compile(r"</answer>", re.IGNORECASE)

def answer_block(text: str) -> str | None:
    """The stripped content of the single <answer>...</answer> block.

    None when there is no block, when the block is empty, or when there are several blocks:
    several answers are hedging, and rewarding the best of them would teach the model to hedge.
    A single unclosed `<answer>` at the end (a truncated generation) yields what follows it.
    """
    blocks, unclosed = tag_pairs(text, _OPEN_RE, _CLOSE_RE)
    if len(blocks) > 1 or (blocks and unclosed):
        return None  # "<answer>1</answer><answer>2" hedges as much as two closed blocks
    if len(blocks) == 1:
        content = text[blocks[0][0]:blocks[0][1]].strip()
        return content or None
    opens = list(_OPEN_RE.finditer(text))
    if len(opens) == 1 and not _CLOSE_RE.search(text):
        content = text[opens[0].end():].strip()
        return content or None
    return None


def _count_blocks(text: str) -> int:
    return len(tag_pairs(text, _OPEN_RE, _CLOSE_RE)[0])


def _content(text: str, box: Box) -> str | None:
    return None if box.content is None else text[box.content].strip()


def last_boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} (or \\fbox{...}), nested braces respected.

    Also the brace-less form `\\boxed 5` (the token up to the next space or `$`).
    None when there is no box, the last box is empty, or its braces never close.
    """
    boxes = find_boxes(text)
    if not boxes:
        return None
    return _content(text, boxes[-1]) or None


_BETWEEN_BOXES_RE = re.compile(
    r"(?:\s|\$|,|;|\\quad|\\qquad|\\text\{\s*(?:and|or)\s*\}|\band\b|\bor\b|\\[,;: ])*", re.IGNORECASE)


def boxed_answer(text: str) -> str | None:
    """The last box, joined with the boxes right before it when only separators lie between
    ("\\boxed{2} or \\boxed{3}" -> "2, 3"): several boxed candidates are one list, so a hedge
    does not match a single-valued reference, while boxed roots can match a list reference.
    A box that encloses the last one ("\\boxed{\\boxed{2}}") is not a separate candidate."""
    boxes = find_boxes(text)
    if not boxes or not _content(text, boxes[-1]):
        return None
    # The final answer is the outermost box around the last one: in \boxed{\boxed{2}, 3} the
    # reader sees "2, 3", not 2.
    final = boxes[-1]
    for box in boxes[:-1]:
        if box.content is not None and box.start < final.start and box.end >= final.end:
            final = box
            break  # boxes come in order of their start: the first enclosing one is outermost
    group = [final]
    for box in reversed(boxes[:boxes.index(final)]):
        if box.content is None or box.end > group[0].start:
            break
        if _BETWEEN_BOXES_RE.fullmatch(text, box.end, group[0].start) is None:
            break
        group.insert(0, box)
    contents = [_unboxed(text, b) for b in group]
    return ", ".join(dict.fromkeys(c for c in contents if c))


def _unboxed(text: str, box: Box) -> str:
    """A box's content with the boxes inside it unwrapped (\boxed{\boxed{1}} -> 1), in one
    pass: each inner \boxed{ and its closing brace are dropped."""
    inner = text[box.content]
    drop = bytearray(len(inner))
    for b in find_boxes(inner):
        if b.content is not None:
            drop[b.start:b.content.start] = b"\x01" * (b.content.start - b.start)
            if b.content.stop < len(inner) and inner[b.content.stop] == "}":
                drop[b.content.stop] = 1
    return "".join(c for c, d in zip(inner, drop, strict=True) if not d).strip()


# After the final box: punctuation, an optional "(", then either
#   1. words that offer an alternative ("or", "also", "another", "alternatively"), possibly
#      among filler words ("it could also be", "another possible answer is"), then a candidate;
#   2. anywhere in the window, a candidate followed by a predicate that says it is an answer
#      too ("5 is also possible", "I think 5 works too", "5 would also be correct").
# A candidate is a math span, a box, a bare number, a number word, a LaTeX command or an
# option letter, and it ends its phrase ("or 1 hour" restates in a unit and is not read).
# Matched word by word, each step an unambiguous anchored pattern, so the cost is linear.
# the `$` closing a `$\\boxed{..}$` is skipped, not one that opens a candidate ("; $5$ is also ...")
_HEDGE_OPEN_RE = re.compile(r"(?:[\s}]*\$\$?)?[\s}).,;:\-\u2013\u2014]*[(\[]?")
_HEDGE_WORD_RE = re.compile(r"[\s,:;\-\u2013\u2014]*(?:\\text\s*\{\s*)?([A-Za-z]+)\b\s*\}?")
_OFFERS = frozenset("or alternatively otherwise possibly perhaps maybe but though although unless except "
                    "also another other".split())
_FILLERS = frozenset("possibly perhaps maybe equivalently alternatively rather else also even it the answer "
                     "answers value values this that could might may would be is are was if possible "
                     "solution solutions option one result".split())
_NUMBER_WORD = (r"zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
                r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty")
# "is also possible", "works too", "would also be a valid answer": a candidate offered as an answer
_PREDICATE = (r"(?P<pred>(?:[ \t]+(?:is|are|would|could|might|may|will|also|too|as|well|be|equally|another|a|an"
              r"|possible|valid|correct|right|acceptable|fine|true|works?|solution|answer|option|possibility"
              r"|value)\b){1,8})?")
_PRED_MARKERS = frozenset("also too well equally another".split())
_PRED_AFFIRMS = frozenset("possible valid correct right acceptable fine true works work solution answer option "
                          "possibility value".split())
# a candidate ends its phrase: "(or possibly $\frac13$ if order matters)" offers 1/3, but
# "(but $n$ must be odd)" talks about n; "3! = 6" is a factorial, not an exclamation
_PHRASE_END = r"(?=[ \t]*(?:[).,;?]|!(?!\s*=)|$|(?:if|depending|when|since|instead)\b))"
# the body of a brace group with at most one level of groups inside: \boxed{\frac{1}{2}}
BRACED_BODY = r"[^{}]*(?:\{[^{}]*\}[^{}]*)*"
_HEDGE_CANDIDATE_RE = re.compile(
    r"[\s:]*(?:(?:\$\$(?P<d>[^$]+)\$\$|\$(?P<s>[^$]+)\$|\\\((?P<p>.+?)\\\)"
    r"|\\boxed\s*\{(?P<b>" + BRACED_BODY + r")\}"
    r"|(?P<n>-?\d+(?:[.,/]\d+)*)|(?P<w>" + _NUMBER_WORD + r")"
    r"|(?P<x>-?\\[a-zA-Z]+(?:\s*\{[^{}]*\})*))" + _PREDICATE + _PHRASE_END +
    r"|(?-i:\(?(?P<l>[A-E])\)?)(?![\w]))",
    re.IGNORECASE | re.DOTALL)
_OFFERED_RE = re.compile(
    r"(?<![\w\\.])(?:\$\$(?P<d>[^$]+)\$\$|\$(?P<s>[^$]+)\$|\\\((?P<p>.+?)\\\)|\\boxed\s*\{(?P<b>" + BRACED_BODY
    + r")\}|(?P<n>-?\d+(?:[.,/]\d+)*)|(?P<w>" + _NUMBER_WORD + r"))" + _PREDICATE + _PHRASE_END,
    re.IGNORECASE | re.DOTALL)
# before the final box: "either 3 or \boxed{2}", "3 or $\boxed{2}$"
_HEDGE_BEFORE_RE = re.compile(
    r"(?:\$(?P<s>[^$]{1,80})\$|\\\((?P<p>.{1,80}?)\\\)|(?<![\w.])(?P<n>-?\d+(?:[.,/]\d+)*))"
    r"[\s,]*(?:or|\\text\{\s*or\s*\})(?:\s+(?:perhaps|maybe|possibly|rather|else))?"
    r"[\s$,]*(?:\\\(|\\\[)?\s*$", re.IGNORECASE | re.DOTALL)
# before the box, for text answers: "London or \boxed{Paris}"
_WORD_BEFORE_RE = re.compile(r"(?<![\w\\])(?P<t>[A-Za-z][\w-]*)[\s,]*\bor\b[\s$,]*$", re.IGNORECASE)
_HEDGE_WINDOW = 300


def hedged_alternative(text: str, words: bool = False) -> str | None:
    """The candidate offered as an alternative right after the final box, or None.

    "\\boxed{\\frac12} (or possibly $\\frac13$ if order matters)" -> "\\frac13"; with `words`, also
    a word offered before the box ("London or \\boxed{Paris}", for text answers). Looked for in
    the answer block when there is one, else in the text outside <think>; only within
    _HEDGE_WINDOW characters of the box, and braces are matched from the last box on, so it
    is linear in the text and cheap next to `extract_answer`."""
    if not text:
        return None
    text = strip_think(text)
    if _OPEN_RE.search(text):
        text = answer_block(text) or ""
    starts = [m.start() for m in BOX_RE.finditer(text)]
    if not starts:
        return None
    box = find_boxes(text[starts[-1]:])[0]  # braces are matched in the tail only
    if box.content is None:
        return None
    end = starts[-1] + box.end  # an enclosing box's "}" is skipped as punctuation
    before = _HEDGE_BEFORE_RE.search(text, max(0, starts[-1] - 120), starts[-1])
    if before is not None:
        return next(g for g in before.group("s", "p", "n") if g is not None).strip() or None
    before = _WORD_BEFORE_RE.search(text, max(0, starts[-1] - 60), starts[-1]) if words else None
    if before is not None:
        return before.group("t")  # a text answer: "London or \boxed{Paris}"
    tail = text[end:end + _HEDGE_WINDOW]
    start = pos = _HEDGE_OPEN_RE.match(tail).end()
    offered = False
    for _ in range(10):  # "or, it could also possibly be", "another possible answer is"
        word = _HEDGE_WORD_RE.match(tail, pos)
        if word is None or word.group(1).lower() not in _OFFERS | _FILLERS:
            break
        offered = offered or word.group(1).lower() in _OFFERS
        pos = word.end()
    m = _HEDGE_CANDIDATE_RE.match(tail, pos) if offered else None
    if m is None:
        # "; 5 is also possible", "(I think 5 works too)": a value that a predicate offers as
        # an answer, anywhere in the window after the box
        for m in _OFFERED_RE.finditer(tail, start):
            words = set((m.group("pred") or "").lower().split())
            if words & _PRED_MARKERS and words & _PRED_AFFIRMS:
                break
        else:
            return None
    return next(m.group(g) for g in "dspbnwxl" if g in m.re.groupindex and m.group(g) is not None).strip() or None


_ANSWER_IS_RE = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|:|=|would\s+be|will\s+be)\s*[:=]?\s*",
    re.IGNORECASE,
)
_NEGATED_RE = re.compile(r"\s*(?:not|never|n't)\b", re.IGNORECASE)
_RELATION_RE = re.compile(r"[=<>]|\\(?:le|ge|lt|gt|neq|ne|approx|implies|Rightarrow)(?![a-zA-Z])")
_HEDGE_WORDS_RE = re.compile(r"\b(?:either|or|maybe|perhaps|possibly|not|unless|alternatively|otherwise|also"
                             r"|another)\b", re.IGNORECASE)
def _clean_tail(s: str) -> str:
    s = s.strip().strip("*").strip()
    s = s.rstrip(".;,!").strip()  # sentence punctuation, never a decimal point inside
    return s.strip("*").strip()


_MAX_PHRASES, _PHRASE_WINDOW = 32, 2000


def answer_is(text: str) -> str | None:
    """The answer stated as "the answer is X", "Final Answer: X", "answer = X" (last occurrence).

    Taken from the phrase's line (or the next non-empty line when the phrase ends its line):
    a \\boxed{} there wins, then the first math span ($...$, \\(...\\), $$...$$), else the
    prose up to the end of the sentence, trailing punctuation removed.
    """
    text = text.replace("**", "")
    # The last few phrasings, each read within a window: reading every one to the end of the
    # text is quadratic on "answer is .\n" repeated.
    for m in reversed(list(_ANSWER_IS_RE.finditer(text))[-_MAX_PHRASES:]):
        rest = text[m.end():m.end() + _PHRASE_WINDOW]
        if _NEGATED_RE.match(rest):
            return None  # "the answer is not $5$" states no answer
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
        spans = math_spans(window)
        if spans and spans[0]:
            if len(set(spans)) > 1 and _HEDGE_WORDS_RE.search(window):
                return None  # "the answer is $7$ or $5$"
            return spans[0]
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
    so the article "a" is never read as option A. Runs of whitespace count as one space (the
    patterns' adjacent `\\s*` would otherwise backtrack cubically over a long run).
    """
    text = re.sub(r"\s+", " ", text)
    for pattern in _CHOICE_PATTERNS:
        found = pattern.findall(text)
        if found:
            return found[-1].upper()
    return None


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
    spans = math_spans(block)
    if not spans:
        return block
    # the last span, unless the prose hedges ("Either 7 or $5$") or states another bare value
    # before it ("$3$, $5$"); steps of a derivation ("we get $x = 5$, hence $5$") are fine
    others = {x for x in spans[:-1] if not _RELATION_RE.search(x)} - {spans[-1]}
    return block if others or _HEDGE_WORDS_RE.search(block) else spans[-1]


_SHORT_CHARS, _SHORT_LINES = 300, 3


_THINK_OPEN_RE = re.compile(r"<think>", re.IGNORECASE)
_THINK_CLOSE_RE = re.compile(r"</think>", re.IGNORECASE)


def strip_think(text: str) -> str:
    """The completion without its <think>...</think> reasoning; an unclosed <think> runs to the
    end. Reasoning is not graded: a value that appears only there is not a final answer."""
    pairs, unclosed = tag_pairs(text, _THINK_OPEN_RE, _THINK_CLOSE_RE)
    kept, pos = [], 0
    for start, end in pairs:
        kept.append(text[pos:start - len("<think>")])
        pos = _THINK_CLOSE_RE.match(text, end).end()
    rest = text[pos:]
    if unclosed:
        rest = rest[: _THINK_OPEN_RE.search(rest).start()]
    text = " ".join([*kept, rest])
    closes = list(_THINK_CLOSE_RE.finditer(text))
    if closes:
        text = text[closes[-1].end():]  # opening tag in the prompt
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
    if find_boxes(text):
        return None  # an empty or unclosed box is a broken final answer, not a cue to guess
    hashes = gsm8k_value(text)
    if hashes is not None:
        return _clean_tail(hashes) or None
    said = answer_is(text)
    if said is not None:
        return said
    stripped = text.strip()
    if stripped and len(stripped) <= _SHORT_CHARS and stripped.count("\n") < _SHORT_LINES:
        # a bare answer: the whole (short) completion is the answer
        return strip_math_delimiters(stripped).rstrip(".").strip() or None
    return last_number(text) if last_number_fallback else None
