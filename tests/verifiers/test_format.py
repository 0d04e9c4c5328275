"""The think/answer format verifier, including the reward hacks it must refuse."""

import pytest

from verifiers.format import FormatVerifier, check_format

GOOD = "<think>2 + 2 is 4</think>\n<answer>4</answer>"


@pytest.mark.parametrize("text", [
    GOOD,
    "<think>a</think><answer>4</answer>",
    "  <think>\nlong\nreasoning\n</think>\n\n<answer>\n\\frac{1}{2}\n</answer>\n",
    "<THINK>case</THINK><Answer>4</Answer>",
])
def test_well_formed_passes_both_modes(text):
    assert check_format(text, strict=True) == "ok"
    assert check_format(text, strict=False) == "ok"


@pytest.mark.parametrize("text, reason", [
    ("<think>a</think><answer>1</answer><answer>2</answer>", "multiple_answers"),
    ("<think>a <answer>1</answer></think><answer>1</answer>", "multiple_answers"),
    ("<think>I think <answer>3</answer></think>", "answer_in_think"),
    ("<think>a</think><answer>4</answer> Also maybe 5.", "text_after_answer"),
    ("<think>a</think><answer>4", "unclosed_tag"),
    ("<think>a<answer>4</answer>", "unclosed_tag"),
    ("<answer>4</answer><think>a</think>", "tag_order"),
    ("<think>a</think><think>b</think><answer>4</answer>", "multiple_think"),
    ("<think>a</think><answer>   </answer>", "empty_answer"),
    ("<think> </think><answer>4</answer>", "empty_think"),
    ("just 4", "no_answer"),
    ("<answer>4</answer>", "no_think"),
    ("</answer><think>a</think><answer>4", "tag_order"),
])
def test_hacks_and_breakage_fail_in_both_modes(text, reason):
    assert check_format(text, strict=True) == reason
    assert check_format(text, strict=False) == reason


@pytest.mark.parametrize("text, reason", [
    ("Sure! <think>a</think><answer>4</answer>", "text_before_think"),
    ("<think>a</think> So: <answer>4</answer>", "text_between_blocks"),
])
def test_strict_refuses_text_around_blocks_lenient_allows_it(text, reason):
    assert check_format(text, strict=True) == reason
    assert check_format(text, strict=False) == "ok"


def test_think_prefilled_prompt():
    v = FormatVerifier(think_prefilled=True)
    assert v("reasoning</think><answer>4</answer>").passed
    assert not v("<think>again</think><answer>4</answer>").passed


def test_score_shape():
    s = FormatVerifier()(GOOD)
    assert (s.value, s.passed, s.reason, s.parts) == (1.0, True, "ok", {"format": 1.0})
    s = FormatVerifier()("nothing")
    assert (s.value, s.passed, s.reason) == (0.0, False, "no_answer")


def test_non_text_completion_is_a_score_not_an_exception():
    assert FormatVerifier()(None).reason == "not_text"  # type: ignore[arg-type]


def test_bad_mode_is_refused():
    with pytest.raises(ValueError, match="strict"):
        FormatVerifier(mode="loose")


@pytest.mark.parametrize(("completion", "reason"), [
    ("<think>\u200b</think><answer>5</answer>", "empty_think"),      # zero-width space
    ("<think>\ufeff\u2060</think><answer>5</answer>", "empty_think"),  # BOM, word joiner
    ("<think>ok</think><answer>\u00ad</answer>", "empty_answer"),     # soft hyphen
])
def test_invisible_characters_do_not_count_as_content(completion, reason):
    s = FormatVerifier()(completion, None)
    assert (s.passed, s.reason) == (False, reason)


@pytest.mark.parametrize("think", ["\u2800", "\u3164\u115f", "..."])
def test_reasoning_needs_a_letter_or_digit(think):
    assert FormatVerifier()(f"<think>{think}</think><answer>5</answer>", None).reason == "empty_think"
