"""Shaping rewards used in R1-style training: overlong, repetition and language consistency.

These shape `value` only; they never decide correctness, so their `passed` is always True and
`a + overlong` passes exactly when `a` does.

  overlong     DAPO's soft overlong punishment: 0 up to max_len - cache_len, then a linear
               ramp down to -1 at max_len, and -1 beyond.
  repetition   minus the fraction of repeated word n-grams (open-r1's repetition penalty),
               scaled by `weight`: a completion that loops on itself scores near -weight.
  language     the fraction of the prose (the think block, and any reasoning moved into the
               answer or between the blocks; math spans and boxes left out) written in the
               target language's script; R1 added it to stop language mixing.

Lengths are counted in words by default (`unit=chars` for characters): runs of letters or
digits, each punctuation mark, each character of an unspaced script (CJK, kana, Thai), with
zero-width characters read as spaces and very long runs split, so that text without spaces
cannot look short or unrepeated. The reward service sees text, not token ids. A trainer that knows token counts should set
max_len in the same unit it measures.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from verifiers.extract import BRACED_BODY
from verifiers.format import INVISIBLE
from verifiers.score import Score
from verifiers.verifier import Verifier, check_weight

_TAGS = re.compile(r"</?\s*(?:think|answer)\s*>", re.IGNORECASE)
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]|\\boxed\s*\{" + BRACED_BODY + r"\}", re.DOTALL)


# Invisible characters separate words as spaces do (text joined by zero-width spaces is still
# many words); a character of an unspaced script is a word; a run of letters or digits longer
# than _LONG_RUN counts as one word per _LONG_RUN characters ("x" * 5000 is not one word).
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\u0e00-\u0e7f]|[^\W_]+|[^\w\s]")
_LONG_RUN = 12


def text_words(text: str) -> list[str]:
    """The words of `text` for length and repetition, robust to text without spaces."""
    out = []
    for tok in _TOKEN.findall(_INVISIBLE.sub(" ", unicodedata.normalize("NFKC", text)).lower()):
        out += [tok[i:i + _LONG_RUN] for i in range(0, len(tok), _LONG_RUN)]
    return out


def _length(text: str, unit: str) -> int:
    return len(text) if unit == "chars" else len(text_words(text))


def overlong_penalty(length: int, max_len: int, cache_len: int) -> float:
    """DAPO eq. (13): 0 if length <= max_len - cache_len; linear to -1 at max_len; -1 past it."""
    soft_start = max_len - cache_len
    if length <= soft_start:
        return 0.0
    if length <= max_len:
        return (soft_start - length) / cache_len
    return -1.0


class OverlongPenalty(Verifier):
    name = "overlong"

    def __init__(self, max_len: int = 4096, cache_len: int = 512, unit: str = "words"):
        if not 0 < cache_len <= max_len:
            raise ValueError(f"overlong needs 0 < cache_len <= max_len, got cache_len={cache_len}, max_len={max_len}")
        if unit not in ("words", "chars"):
            raise ValueError(f"overlong unit must be 'words' or 'chars', got {unit!r}")
        self.max_len, self.cache_len, self.unit = int(max_len), int(cache_len), unit

    def score(self, completion: str, reference: Any = None) -> Score:
        v = overlong_penalty(_length(completion, self.unit), self.max_len, self.cache_len)
        return Score(v, True, "ok", {self.name: v})

    def __repr__(self) -> str:
        return f"overlong(max_len={self.max_len}, cache_len={self.cache_len}, unit={self.unit})"


def repeated_ngram_fraction(text: str, n: int = 3) -> float:
    """1 - unique/total word n-grams (words as `text_words` splits them); 0 for text shorter
    than n words."""
    words = text_words(text)
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


class RepetitionPenalty(Verifier):
    name = "repetition"

    def __init__(self, n: int = 3, weight: float = 1.0):
        if n < 1:
            raise ValueError(f"repetition n must be >= 1, got {n}")
        self.n, self.weight = int(n), check_weight(weight)  # a weight of 1e18 is a spec error

    def value_bound(self) -> float:
        return abs(self.weight)  # -weight times a fraction

    def score(self, completion: str, reference: Any = None) -> Score:
        v = -self.weight * repeated_ngram_fraction(completion, self.n)
        return Score(v, True, "ok", {self.name: v})

    def __repr__(self) -> str:
        return f"repetition(n={self.n}, weight={self.weight:g})"


# Language -> the Unicode scripts its words are written in. Scripts are read off the first
# word of each character's Unicode name (LATIN, CJK, HIRAGANA, ...), which needs no model.
_SCRIPTS = {
    "en": {"LATIN"}, "fr": {"LATIN"}, "de": {"LATIN"}, "es": {"LATIN"}, "it": {"LATIN"}, "pt": {"LATIN"},
    "zh": {"CJK"}, "ja": {"CJK", "HIRAGANA", "KATAKANA"}, "ko": {"HANGUL"},
    "ru": {"CYRILLIC"}, "uk": {"CYRILLIC"}, "ar": {"ARABIC"}, "he": {"HEBREW"}, "el": {"GREEK"},
    "hi": {"DEVANAGARI"}, "th": {"THAI"},
}
# Scripts written without spaces: each character counts as a word.
_UNSPACED = {"CJK", "HIRAGANA", "KATAKANA", "THAI"}


def _script(ch: str) -> str | None:
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else None


def script_words(text: str) -> list[str]:
    """The script of each word: a run of letters of one spaced script, or one unspaced character."""
    out: list[str] = []
    current: str | None = None
    for ch in text:
        s = _script(ch)
        if s is None:
            current = None
        elif s in _UNSPACED:
            out.append(s)
            current = None
        elif s != current:
            out.append(s)
            current = s
    return out


def language_fraction(text: str, language: str) -> float:
    """Fraction of words written in the language's script; 1.0 when the text has no words."""
    scripts = _SCRIPTS[language]
    words = script_words(text)
    if not words:
        return 1.0
    return sum(w in scripts for w in words) / len(words)


class LanguageConsistency(Verifier):
    """Value = fraction of the reasoning in the target language's script (R1's language reward)."""

    name = "language"

    def __init__(self, language: str = "en", weight: float = 1.0):
        if language not in _SCRIPTS:
            raise ValueError(f"language must be one of {sorted(_SCRIPTS)}, got {language!r}")
        self.language, self.weight = language, check_weight(weight)

    def value_bound(self) -> float:
        return abs(self.weight)  # weight times a fraction

    def score(self, completion: str, reference: Any = None) -> Score:
        # All the prose: reasoning moved into the answer block or between the blocks counts
        # too. Tags, math spans and boxes are dropped, then LaTeX commands and single-letter
        # variables, so that math does not count as English.
        text = _TAGS.sub(" ", _MATH.sub(" ", completion))
        text = re.sub(r"\\[A-Za-z]+|\b[A-Za-z]\b", " ", text)
        v = self.weight * language_fraction(text, self.language)
        return Score(v, True, "ok", {self.name: v})

    def __repr__(self) -> str:
        return f"language(language={self.language}, weight={self.weight:g})"
