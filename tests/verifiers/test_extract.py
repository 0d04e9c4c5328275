"""Answer extraction from realistic completions: one table per function, one property per row."""

from __future__ import annotations

import pytest

from verifiers.extract import (
    answer_block,
    answer_is,
    boxed_answer,
    choice_letter,
    extract_answer,
    hedged_alternative,
    last_boxed,
    last_number,
    strip_math_delimiters,
    strip_think,
)

R1 = "<think>\nLet me work it out. 3 * 4 = 12, plus 5 is 17.\n</think>\n"


@pytest.mark.parametrize(("text", "expected"), [
    (R1 + "<answer>17</answer>", "17"),
    (R1 + "<answer>\n  \\frac{1}{2}\n</answer>", "\\frac{1}{2}"),
    ("<ANSWER>7</ANSWER>", "7"),
    (R1 + "<answer></answer>", None),
    (R1 + "<answer>   </answer>", None),
    ("<answer>1</answer> then <answer>2</answer>", None),  # several blocks: hedging
    (R1 + "<answer>42", "42"),  # truncated after the answer
    ("no tags at all", None),
])
def test_answer_block(text, expected):
    assert answer_block(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("So the area is \\boxed{24}.", "24"),
    ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}"),
    ("first \\boxed{1}, then corrected: \\boxed{2}", "2"),
    ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),  # escaped braces inside
    ("\\fbox{9}", "9"),
    ("The answer is $\\boxed 5$.", "5"),
    ("\\boxed{a{b}c", None),  # never closes
    ("\\boxed{}", None),
    ("\\boxedfoo{3}", None),  # not the \boxed command
    ("nothing", None),
])
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("The answer is either \\boxed{2} or \\boxed{3}.", "2, 3"),
    ("\\boxed{3}\\quad\\boxed{4}", "3, 4"),
    ("$\\boxed{-1}$ and $\\boxed{1}$", "-1, 1"),
    ("We got \\boxed{5} for part one. After much more work the final is \\boxed{7}", "7"),
    ("\\boxed{3} or \\boxed{3}", "3"),
])
def test_boxed_answer_joins_adjacent_boxes(text, expected):
    assert boxed_answer(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Final Answer: The final answer is $12$. I hope it is correct.", "12"),
    ("The answer is 3.5.", "3.5"),
    ("**Final Answer:** 7", "7"),
    ("Therefore, the answer is \\(x = 2\\).", "x = 2"),
    ("Final answer:\n$$\n\\frac{3}{4}\n$$", "\\frac{3}{4}"),
    ("The answer is all real numbers.", "all real numbers"),
    ("The answer is: \\boxed{9}", "9"),
    ("the answer is 4. Then I checked. The answer is 5.", "5"),
    ("I have no idea.", None),
])
def test_answer_is(text, expected):
    assert answer_is(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("She has 3 apples and 1,234 pears.", "1234"),
    ("It costs $18.50 in total.", "18.50"),
    ("temperature -4 degrees", "-4"),
    ("x2 and y3", None),  # digits glued to names are not numbers
    ("no digits", None),
])
def test_last_number(text, expected):
    assert last_number(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("The answer is (B).", "B"),
    ("answer: C", "C"),
    ("\\boxed{D}", "D"),
    ("\\boxed{\\text{(E)}}", "E"),
    ("Answer: **B**", "B"),
    ("It is a fine day", None),  # the article is not option A
])
def test_choice_letter(text, expected):
    assert choice_letter(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    (R1 + "<answer>The answer is $\\frac{1}{2}$.</answer>", "\\frac{1}{2}"),
    (R1 + "<answer>\\boxed{3}</answer>", "3"),
    (R1 + "<answer>x = 5</answer>", "x = 5"),
    (R1 + "<answer>$x^2+1$</answer>", "x^2+1"),
    (R1 + "<answer>all real numbers</answer>", "all real numbers"),
    # the think block is not graded: a value that appears only there is not the answer
    ("<think>\nThe area is 24, so the answer is 24.\n</think>", None),
    ("<think>\n\\boxed{3}\n</think>\n<answer>4</answer>", "4"),
    # once an answer block is opened, it is the answer, even if empty
    (R1 + "<answer></answer> but really \\boxed{5}", None),
    ("<answer>7</answer>\n<answer>5</answer>", None),
    ("So \\boxed{\\frac{\\sqrt{3}}{2}}. Done", "\\frac{\\sqrt{3}}{2}"),
    ("The answer is 12.\n\nWait, 3*5=15.\n\nThe final answer is $\\boxed{15}$", "15"),
    ("Adding up: 9 * 2 = $18.\n#### 18", "18"),
    ("3/4", "3/4"),  # a bare short completion is the answer itself
    ("$\\sqrt{3}$", "\\sqrt{3}"),
    ("No.", "No"),
    ("Let's compute step by step. First, 3 * 4 = 12. Then we add 5 to get 17, and next"
     + " we" * 100, None),  # long truncated reasoning: no final answer
    ("", None),
    ("   \n ", None),
])
def test_extract_answer_cascade(text, expected):
    assert extract_answer(text) == expected


def test_last_number_fallback_is_opt_in():
    text = "Let's compute. First 3 * 4 = 12, then add 5 to get 17, and next" + " we" * 100
    assert extract_answer(text) is None
    assert extract_answer(text, last_number_fallback=True) == "17"


@pytest.mark.parametrize(("text", "expected"), [
    ("$x$", "x"), ("$$x$$", "x"), ("\\(x\\)", "x"), ("\\[x\\]", "x"), ("$ $x$ $", "x"), ("x", "x"),
])
def test_strip_math_delimiters(text, expected):
    assert strip_math_delimiters(text) == expected


def test_strip_think_handles_unclosed_think():
    assert strip_think("<think>still thinking 42").strip() == ""
    # the prompt ended with "<think>": the completion opens inside the reasoning
    assert strip_think("reasoning about 7...\n</think> answer 3").strip() == "answer 3"


def test_a_box_enclosing_the_last_box_is_not_a_second_candidate():
    assert boxed_answer(r"\boxed{\boxed{1}}") == "1"
    assert boxed_answer(r"\boxed{2} or \boxed{3}") == "2, 3"


def test_the_outermost_box_around_the_last_one_is_the_answer():
    # the reader sees "2, 3": the inner box alone would let a hedge pass as 2
    assert boxed_answer(r"\boxed{\boxed{2}, 3}") == "2, 3"
    assert boxed_answer(r"\boxed{3 \text{ or } \boxed{2}}") == r"3 \text{ or } 2"
    assert boxed_answer(r"\boxed{\boxed{\boxed{7}}}") == "7"
    assert boxed_answer(r"\boxed{1} and \boxed{\boxed{2}}") == "1, 2"


@pytest.mark.parametrize("text, expected", [
    ("</answer><answer><answer>5", None),            # stray close, then two opens: no single block
    ("<answer>1</answer><answer>2", None),            # a closed block and an unclosed one: hedging
    (r"\boxed{\boxed{\boxed{", None),                 # braces never close
    ("</think><think><think>7", None),               # reasoning never closes: nothing graded
    ("<think>a</think>x<think>b</think>the answer is 4", "4"),
])
def test_adversarial_tag_and_brace_runs(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize("text, expected", [
    (r"$\boxed{\frac{1}{2}}$ (or possibly $\frac{1}{3}$ if order matters)", r"\frac{1}{3}"),
    (r"\boxed{5}, or maybe 6.", "6"),
    (r"\boxed{5}. Or, it could also be $7$.", "7"),
    (r"\boxed{4} (or \(-4\) if negative values are allowed)", "-4"),
    (r"<think>x</think><answer>\boxed{5} or perhaps $6$</answer>", "6"),
    (r"\boxed{\boxed{2}} or 3", "3"),                   # after the enclosing box
    (r"\boxed{60} minutes (or 1 hour)", None),          # a restatement in another unit: not read
    (r"\boxed{2}. This is correct or close to it.", None),
    (r"\boxed{3} or \boxed{4}", None),                  # two boxes: one list answer, extract_answer's case
    (r"<think>\boxed{1} or 2</think>\boxed{1}", None),  # the think block is not looked at
    ("the answer is 5, or maybe 6", None),               # only after a box
    (r"\boxed{5}" + " (or" + " " * 5000 + "6", None),   # beyond the window
])
def test_hedged_alternative(text, expected):
    assert hedged_alternative(text) == expected


@pytest.mark.parametrize("text, expected", [
    (r"\boxed{2} but it could be 3", "3"),
    (r"\boxed{2} --- or 3", "3"),
    (r"\boxed{2} (unless it is 3)", "3"),
    (r"\boxed{2} or three", "three"),
    (r"It is either 3 or \boxed{2}", "3"),                  # offered before the box
    (r"It is 3 or $\boxed{2}$", "3"),
    (r"\boxed{2}, but I should double-check.", None),
    (r"We get 2 or 3 candidates, and checking, \boxed{2}.", None),
])
def test_more_hedges_around_the_final_box(text, expected):
    assert hedged_alternative(text) == expected


@pytest.mark.parametrize("text, passed", [
    ("<answer>Either 7 or $5$</answer>", False),      # prose that hedges: no single span
    ("<answer>$3$, $5$</answer>", False),             # two bare values
    ("<answer>So we get $x = 5$, hence $5$.</answer>", True),   # a derivation step is fine
    ("<answer>The value is $5$.</answer>", True),
    ("The answer is not $5$.", False),
    ("Work... so the answer is not $5$. Done.", False),
])
def test_prose_answers_with_several_values_or_a_negation(text, passed):
    from verifiers.math.verifier import MathVerifier

    assert MathVerifier()(text, "5").passed is passed
