"""Shaping rewards: hand-computed values; they never decide `passed`."""

import pytest

from verifiers.shaping import (
    LanguageConsistency,
    OverlongPenalty,
    RepetitionPenalty,
    language_fraction,
    overlong_penalty,
    repeated_ngram_fraction,
)


@pytest.mark.parametrize("length, expected", [(0, 0.0), (80, 0.0), (90, -0.5), (100, -1.0), (101, -1.0)])
def test_overlong_is_dapo_soft_punishment(length, expected):
    assert overlong_penalty(length, max_len=100, cache_len=20) == pytest.approx(expected)


def test_overlong_counts_words_or_chars():
    assert OverlongPenalty(100, 20)("w " * 90).value == pytest.approx(-0.5)
    assert OverlongPenalty(100, 20, unit="chars")("x" * 90).value == pytest.approx(-0.5)
    assert OverlongPenalty(100, 20)("w " * 90).passed


def test_overlong_rejects_bad_windows():
    with pytest.raises(ValueError):
        OverlongPenalty(max_len=10, cache_len=20)


def test_repetition_fraction_by_hand():
    # 10 words -> 8 trigrams, 3 unique ("the cat sat", "cat sat the", "sat the cat")
    assert repeated_ngram_fraction("the cat sat the cat sat the cat sat the", 3) == pytest.approx(1 - 3 / 8)
    assert repeated_ngram_fraction("a b", 3) == 0.0
    assert RepetitionPenalty(n=3, weight=2.0)("one two three four").value == 0.0
    assert RepetitionPenalty(n=1)("a a a a").value == pytest.approx(-0.75)


def test_language_fraction_counts_words_by_script():
    assert language_fraction("hello world", "en") == 1.0
    assert language_fraction("hello 世界", "en") == pytest.approx(1 / 3)  # 1 Latin word, 2 Han characters
    assert language_fraction("所以答案", "zh") == 1.0
    assert language_fraction("123 + 456", "en") == 1.0  # no words: nothing mixed


def test_language_reward_reads_the_think_block_and_ignores_math():
    v = LanguageConsistency("en")
    assert v("<think>Let x = 2, so \\frac{x}{2} is one</think><answer>1</answer>").value == 1.0
    mixed = v("<think>We compute 所以 the answer</think><answer>1</answer>")
    assert mixed.value == pytest.approx(4 / 6) and mixed.passed


def test_language_must_be_known():
    with pytest.raises(ValueError, match="language must be one of"):
        LanguageConsistency("xx")


def test_text_without_spaces_is_not_short_or_unrepeated():
    from verifiers.shaping import OverlongPenalty, RepetitionPenalty

    looped = "Wait\u200blet\u200bme\u200brecheck\u200b" * 500  # zero-width spaces instead of spaces
    assert OverlongPenalty(max_len=200, cache_len=50)(looped).value == -1.0
    assert RepetitionPenalty()(looped).value < -0.9
    assert RepetitionPenalty()("x" * 5000).value < -0.9        # one very long "word"
    assert RepetitionPenalty()("计算" * 1000).value < -0.9       # an unspaced script
    assert RepetitionPenalty()("The quick brown fox jumps over the lazy dog.").value == 0.0


def test_language_reward_reads_reasoning_moved_into_the_answer():
    v = LanguageConsistency("en")
    moved = v("<think>Let us compute.</think><answer>所以答案是四，因为二加二 $\\boxed{4}$</answer>")
    assert moved.value < 0.5
    assert v("<think>We compute the sum</think><answer>The answer is $\\frac{1}{2}$</answer>").value == 1.0
