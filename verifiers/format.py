"""The `<think>…</think><answer>…</answer>` format verifier.

A policy under RL pressure learns any shortcut the format check allows, so both modes reject:
several think or answer blocks (hedging across answers), an answer inside the think block,
an answer before the reasoning, text after the answer, unclosed or stray tags, and an empty
answer. The modes differ only in what they allow around the blocks:

  strict   nothing but whitespace before `<think>` or between `</think>` and `<answer>`
           (with `think_prefilled=True` the prompt already ended in `<think>`, as R1's template does)
  lenient  any text before `<think>` and between the blocks (chat preambles, "Sure!")

    python -c "from verifiers.format import FormatVerifier as F; print(F()('<think>1</think><answer>2</answer>'))"
"""

from __future__ import annotations

import re
from typing import Any

from verifiers.score import Score
from verifiers.verifier import Verifier

_TAG = re.compile(r"</?\s*(think|answer)\s*>", re.IGNORECASE)


def _tags(text: str) -> list[tuple[str, int, int]]:
    """Every think/answer tag as (canonical tag, start, end), in order."""
    out = []
    for m in _TAG.finditer(text):
        closing = m.group(0)[1] == "/"
        out.append((("</" if closing else "<") + m.group(1).lower() + ">", m.start(), m.end()))
    return out


def check_format(text: str, *, strict: bool = True, think_prefilled: bool = False) -> str:
    """Return "ok" or the reason the completion breaks the format."""
    if think_prefilled:
        text = "<think>" + text
    tags = _tags(text)
    names = [t for t, _, _ in tags]
    if names.count("<answer>") == 0:
        return "no_answer"
    if names.count("<think>") == 0:
        return "no_think"
    if names.count("<answer>") > 1 or names.count("</answer>") > 1:
        return "multiple_answers"
    if names.count("<think>") > 1 or names.count("</think>") > 1:
        return "multiple_think"
    if "</think>" not in names or "</answer>" not in names:
        return "unclosed_tag"
    # Exactly one of each tag now; they must appear in this order.
    if names != ["<think>", "</think>", "<answer>", "</answer>"]:
        i_think, i_answer = names.index("<think>"), names.index("<answer>")
        if i_think < i_answer < names.index("</think>"):
            return "answer_in_think"
        return "tag_order"
    (_, _, think_open_end), (_, think_close, think_close_end), (_, ans_open, ans_open_end), \
        (_, ans_close, ans_close_end) = tags
    if _blank_free(text[ans_close_end:]):
        return "text_after_answer"
    if not _blank_free(text[ans_open_end:ans_close]):
        return "empty_answer"
    if not re.search(r"[^\W_]", _blank_free(text[think_open_end:think_close])):  # a letter or digit
        return "empty_think"
    if strict:
        if _blank_free(text[: tags[0][1]]):
            return "text_before_think"
        if _blank_free(text[think_close_end:ans_open]):
            return "text_between_blocks"
    return "ok"


# Characters that render as nothing or as blank: zero-width spaces and joiners, BOM, soft
# hyphen, the blank Braille pattern, Hangul fillers (shaping.py counts words with the same set).
INVISIBLE = "\u200b-\u200f\u2060-\u2064\ufeff\u00ad\u180e\u034f\u2800\u3164\u115f\u1160\uffa0"
_INVISIBLE_RE = re.compile(f"[\\s{INVISIBLE}]+")


def _blank_free(s: str) -> str:
    """`s` without whitespace or INVISIBLE characters: an empty-looking block must not pass as
    content."""
    return _INVISIBLE_RE.sub("", s)


class FormatVerifier(Verifier):
    """1.0 if the completion follows the think/answer format, else 0.0 with the reason."""

    name = "format"

    def __init__(self, mode: str = "strict", think_prefilled: bool = False):
        if mode not in ("strict", "lenient"):
            raise ValueError(f"format mode must be 'strict' or 'lenient', got {mode!r}")
        self.mode, self.think_prefilled = mode, bool(think_prefilled)

    def score(self, completion: str, reference: Any = None) -> Score:
        if not isinstance(completion, str):
            return Score.fail("not_text", self.name)
        reason = check_format(completion, strict=self.mode == "strict", think_prefilled=self.think_prefilled)
        ok = reason == "ok"
        return Score(float(ok), ok, reason, {self.name: float(ok)})

    def __repr__(self) -> str:
        args = []
        if self.mode != "strict":
            args.append(f"mode={self.mode}")
        if self.think_prefilled:
            args.append("think_prefilled=true")
        return f"format({', '.join(args)})" if args else "format"
