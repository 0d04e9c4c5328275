r"""Attacks on the math verifier, written as a policy under RL pressure would try them (issue #16,
items 12-14): answers that stall the grader (a stall is scored `timeout`, which trainers leave
out, so it escapes the penalty of a wrong answer), completions that make answer extraction
slow, and wrong answers that pass.

Every answer that can stall runs in a forked child with a generous hang guard: a regression
fails the test instead of hanging the suite. No test depends on how fast this machine is,
except the scaling test, which compares two sizes of the same input with a wide margin.

    python -m pytest tests/verifiers/test_attacks_math.py -q
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from verifiers import math_answers
from verifiers.extract import extract_answer, hedged_alternative
from verifiers.math.verifier import MathVerifier, math_verdict
from verifiers.runtime.local import UNSCORED_REASONS, RewardService

math = MathVerifier()
HANG_GUARD_S = 60.0  # the fixed code needs well under a second for any case below


def _child(queue: Any, fn: Callable, args: tuple) -> None:
    queue.put(fn(*args))


def in_child(fn: Callable, *args: Any, timeout_s: float = HANG_GUARD_S) -> Any:
    """fn(*args) in a forked child, killed after timeout_s (a hang fails the test)."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, fn, args), daemon=True)
    proc.start()
    try:
        return queue.get(timeout=timeout_s)
    except Exception:  # noqa: BLE001 - queue.Empty, or the child died: both fail the test below
        pytest.fail(f"{getattr(fn, '__name__', fn)} did not finish within {timeout_s} s")
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=5)


def reason_of(completion: str, reference: str) -> tuple[str, bool]:
    s = math(completion, reference)
    return s.reason, s.passed


def nest(open_: str, middle: str, close: str, n: int) -> str:
    return open_ * n + middle + close * n


# --- item 12: answers that stall the grader end as a scored wrong answer ----------------------

SYMBOLIC_REF, NUMERIC_REF = "x^2+1", "\\frac{1+\\sqrt{5}}{2}"

STALLS = {
    # each ran past a 10 s deadline (or took seconds) before the structural bounds
    "continued fraction, 20 levels, symbolic": nest("1+\\frac{1}{", "x", "}", 20),
    "continued fraction, 20 levels, numeric": nest("1+\\frac{1}{", "2", "}", 20),
    "continued fraction in an equation": "x = " + nest("1+\\frac{1}{", "2", "}", 20),
    "continued fraction in an inequality": "x > " + nest("1+\\frac{1}{", "2", "}", 20),
    "continued fraction in an interval": "(" + nest("1+\\frac{1}{", "2", "}", 18) + ", \\infty)",
    "reciprocals without \\frac": nest("1/(1+", "x", ")", 20),
    "nested logs": nest("\\log(", "x", ")", 10),
    "nested logs of a number": nest("\\log(", "5", ")", 11),
    "nested logs at the nesting limit": nest("\\log(", "x", ")", 12),
    "nested sines": nest("\\sin(", "x", ")", 39),
    "sines without parentheses": "\\sin " * 30 + "x",
    "nested absolute values": nest("|", "x", "-1|", 30),
    "nested square roots": nest("\\sqrt{x+", "x", "}", 39),
    "nested parentheses": nest("(x+", "x", ")", 39),
    "symbolic power tower": nest("x^{", "x", "}", 39),
    "exponential tower": nest("e^{", "x", "}", 39),
    "nested squares (degree 2048)": nest("(1+", "x", ")^{2}", 11),
    "many nested gamma calls": "+".join([nest("\\Gamma(", "x", ")", 3)] * 60),
    "many nested sine calls": "+".join([nest("\\sin(", "x", ")", 5)] * 40),
    "long list of decimals": ", ".join(["3.14"] * 330),
    "long list of sets": ", ".join(["\\{1\\}"] * 280),
    "long sum of powers": "+".join(["x^{2}"] * 330),
    "high-degree inequality": "x^{150} + x > 2",
    "degree-20 inequality": "x^{20} - 3x + 1 > 0",
    "nested log inequality": "\\log(\\log(\\log(x))) > 1",
    "perturbation needing 19,000 digits, gamma": "\\Gamma(x) + 10^{-19000}",
    "perturbation needing 19,000 digits, logs": nest("\\log(", "x", ")", 6) + " + 10^{-19000}",
    "perturbation needing 19,000 digits, sine": "\\sin x + 10^{-19000}",
}


@pytest.mark.parametrize("reference", [SYMBOLIC_REF, NUMERIC_REF, "5"])
@pytest.mark.parametrize("answer", list(STALLS.values()), ids=list(STALLS))
def test_costly_answers_end_as_a_scored_wrong_answer(answer, reference):
    reason, passed = in_child(reason_of, f"\\boxed{{{answer}}}", reference)
    assert not passed and reason not in UNSCORED_REASONS, reason


@pytest.mark.parametrize("answer", [
    nest("1+\\frac{1}{", "2", "}", 6),          # within the bounds: evaluated, and still a number
    "\\sqrt{2} + \\sqrt{3}", "e^{\\pi}", "\\frac{355}{113}", "10^{100}",
])
def test_a_number_is_not_an_expression_in_a_variable(answer):
    assert in_child(math_verdict, answer, SYMBOLIC_REF) == "mismatch"


def test_a_constant_expression_still_matches_a_number():
    assert math_verdict("\\sin^2 x + \\cos^2 x", "1") == "ok"
    assert math_verdict("1", "\\sin^2 x + \\cos^2 x") == "ok"


def test_a_stall_does_not_reach_the_services_deadline():
    # before: the worker was killed at the deadline and the item came back `timeout`, unscored
    with RewardService("math", workers=1, timeout_s=20.0) as service:
        out = service.score([f"\\boxed{{{STALLS['continued fraction, 20 levels, symbolic']}}}", "\\boxed{x^2+1}"],
                            [SYMBOLIC_REF, SYMBOLIC_REF])
    assert [s.reason for s in out] == ["parse_error", "ok"]


def test_a_complex_reference_is_the_datas_problem_not_a_stall():
    reference = nest("1+\\frac{1}{", "x", "}", 20)
    assert in_child(reason_of, f"\\boxed{{{reference}}}", reference) == ("ok", True)  # the same text
    reason, passed = in_child(reason_of, "\\boxed{x}", reference)
    assert not passed and reason == "mismatch"


@pytest.mark.parametrize("answer, reference", [
    (nest("1+\\frac{1}{", "x", "}", 5), "\\frac{8x+5}{5x+3}"),   # a continued fraction within bounds
    ("\\sqrt{2+\\sqrt{2+\\sqrt{2}}}", "2\\cos\\frac{\\pi}{16}"),
    ("\\ln(\\ln(e^{e}))", "1"),
    ("(x+1)^{2}(x-1)^{2}", "(x^2-1)^2"),
    ("x^2 - 1 > 0", "x < -1 \\text{ or } x > 1"),
])
def test_answers_within_the_bounds_are_still_compared(answer, reference):
    assert in_child(math_verdict, answer, reference) == "ok"


# --- item 13: extraction is linear; a key is computed once per distinct completion ---------

ADVERSARIAL = {
    # the text repeated to the requested size; each was quadratic or worse in some scan
    "answer block of \\(": lambda n: "<answer>Thus " + "\\(" * (n // 2) + "</answer>",
    "answer block of \\[": lambda n: "<answer>So " + "\\[" * (n // 2) + "</answer>",
    "unclosed answer block of $$": lambda n: "<answer>Hence " + "$$ " * (n // 3),
    "GSM8K line of dots": lambda n: "#### " + "." * n + "x",
    "GSM8K marker then blank lines": lambda n: "####" + "\n" * n + "x",
    "blank lines": lambda n: "\n" * n + "x",
    "dollar signs": lambda n: "$" * n,
    "unclosed boxes": lambda n: "\\boxed{" * (n // 7),
    "unbalanced braces": lambda n: "\\boxed{1}" + "{" * n,
    "boxes then an open hedge": lambda n: "\\boxed{5} (or " + " " * n,
    "answer phrase then spaces": lambda n: "The answer is" + " " * n + "x",
    # a brace-less box's token ran to the end of the text from every box (120 KB: a timeout)
    "brace-less boxes": lambda n: "\\boxed" * (n // 6),
    "brace-less fboxes": lambda n: "\\fbox" * (n // 5),
    "brace-less boxes of a dot": lambda n: "\\boxed." * (n // 7),
    "brace-less fboxes of a digit": lambda n: "\\fbox1" * (n // 6),
    "mixed openers": lambda n: ("\\( \\[ $ $$ \\boxed{ { ( <answer> " * (n // 32))[:n],
}


def _extraction_cost(text: str) -> float:
    """Seconds for everything the verifier does with a completion: the answer and the hedge
    (what the cache key, run in the service's parent, is made of), and the whole score."""
    # The garbage collector's passes grow with the number of live objects (a box found per
    # `\\fbox` is one), which is not the extraction's own work: it is paused while timing.
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        extract_answer(text)
        hedged_alternative(text)
        hedged_alternative(text, words=True)
        math(text, "5")
        math(text, "B")  # a multiple-choice key reads the letters too
        return time.perf_counter() - start
    finally:
        gc.enable()


@pytest.mark.parametrize("make", list(ADVERSARIAL.values()), ids=list(ADVERSARIAL))
def test_a_100kb_adversarial_completion_is_scored_without_hanging(make):
    in_child(_extraction_cost, make(100_000), timeout_s=20.0)


def _scaling(make: Callable[[int], str]) -> float:
    """How much longer 8x the input takes (best of 5 runs each, to shed scheduling noise)."""
    small, large = make(12_500), make(100_000)
    t_small = min(_extraction_cost(small) for _ in range(5))
    t_large = min(_extraction_cost(large) for _ in range(5))
    return t_large / max(t_small, 1e-4)


@pytest.mark.parametrize("make", list(ADVERSARIAL.values()), ids=list(ADVERSARIAL))
def test_extraction_work_grows_linearly(make):
    # 8x the input: linear work takes ~8x, quadratic ~64x; the bound leaves a factor 3 for noise
    assert in_child(_scaling, make, timeout_s=120.0) < 24


def test_a_cache_key_is_computed_once_per_distinct_completion(monkeypatch):
    calls = []
    real = math_answers.extract_answer
    monkeypatch.setattr(math_answers, "extract_answer", lambda text, *a, **k: calls.append(text) or real(text, *a, **k))
    completion = "\\(" * 16_000 + " so \\boxed{7} (test_a_cache_key_is_computed_once)"
    keys = [math.cache_key(completion) for _ in range(32)]
    assert len(set(keys)) == 1 and len(calls) == 1
    assert math.cache_key(completion + " ") != () and len(calls) == 2  # another completion, another key


# --- item 14: wrong answers that passed -------------------------------------------------------

@pytest.mark.parametrize("completion", [
    "\\boxed{4}; 5 is also possible",
    "\\boxed{4} (also 5 works)",
    "\\boxed{4}. 5 is also a valid answer.",
    "\\boxed{4}; $5$ would also be correct.",
    "\\boxed{4} (5 works too)",
    "\\boxed{4}, and 5 is equally valid.",
    "\\boxed{4}. It could also be 5.",
    "\\boxed{4}. Another answer is 5.",
    "\\boxed{4}. Another possible answer is $5$.",
    "\\boxed{4}. The other answer is 5.",
    "\\boxed{4}, alternatively $\\frac{10}{2}$.",
    "\\boxed{4} or 5",
    "\\boxed{4} (or also 5)",
    "\\boxed{4}, though 5 also works",
    "\\boxed{4} (I think 5 also works)",
    "\\boxed{4}. Everything checks out. 5 is also possible.",
    "\\boxed{4} (note: five is also correct)",
    "<answer>\\boxed{4} (also 5 works)</answer>",
    "The answer is $4$; $5$ is also possible.",
    "The answer is \\(4\\). Also, \\(5\\) works.",
])
def test_an_alternative_offered_after_the_final_answer_is_a_hedge(completion):
    assert not math(completion, "4").passed


@pytest.mark.parametrize("completion, reference", [
    ("\\boxed{4} (also written as $2^2$)", "4"),        # a remark, no second value
    ("\\boxed{4}. Also, note that 4 is even.", "4"),
    ("\\boxed{4} (or equivalently $\\frac{8}{2}$)", "4"),  # the same value again
    ("\\boxed{4}; $4.0$ is also correct.", "4"),
    ("\\boxed{2, 3} (3 is also a solution)", "2, 3"),   # one of the listed values
    ("\\boxed{3}. The other root is $-5$, which we discard.", "3"),
    ("\\boxed{12}. Note that 3 is also a factor.", "12"),
    ("\\boxed{4} (the value 2 is also valid for the other root)", "4"),
])
def test_remarks_after_the_final_answer_are_not_hedges(completion, reference):
    assert math(completion, reference).passed


@pytest.mark.parametrize("answer", [
    "4 \\approx 5", "4 ≈ 5", "x \\approx 4", "4 \\approx 4.9", "4 \\approx 4 \\approx 5",
    "4 \\sim 4", "4 \\simeq 4", "4 \\propto 5", "4 \\cong 4", "4 \\neq 5", "4 \\ne 4",
    "4 < 5", "4 > 3", "4 \\le 5", "4 \\geq 4", "4 \\leq 4",
])
def test_a_relation_between_values_is_not_a_value(answer):
    assert not math(f"\\boxed{{{answer}}}", "4").passed


@pytest.mark.parametrize("answer, reference", [
    ("\\frac{\\sqrt{3}}{2} \\approx 0.866", "\\frac{\\sqrt{3}}{2}"),  # the exact value and its decimal
    ("\\frac{2}{3} \\approx 0.667", "\\frac23"),
    ("\\frac{2}{3} \\approx 0.666", "\\frac23"),                  # truncated is fine too
    ("\\pi \\approx 3.14", "\\pi"), ("-\\sqrt{2} \\approx -1.41", "-\\sqrt{2}"),
    ("x = 4", "4"), ("2+2 = 4", "4"),
])
def test_an_exact_value_with_its_own_decimal_still_passes(answer, reference):
    assert math(f"\\boxed{{{answer}}}", reference).passed


@pytest.mark.parametrize("answer, reference", [
    ("\\frac{\\sqrt{3}}{2} \\approx 0.5", "\\frac{\\sqrt{3}}{2}"),   # the decimal is another number
    ("\\pi \\approx 3.2", "\\pi"), ("4 \\approx 4.5", "4"),
])
def test_an_exact_value_with_a_wrong_decimal_fails(answer, reference):
    assert not math(f"\\boxed{{{answer}}}", reference).passed


@pytest.mark.parametrize("answer, reference", [
    ("x", "\\sqrt{x^2}"), ("\\sqrt{x^2}", "x"), ("x^3", "\\sqrt{x^6}"), ("x", "\\sqrt[4]{x^4}"),
    ("x", "(x^2)^{\\frac{1}{2}}"), ("xy", "\\sqrt{x^2 y^2}"), ("\\sqrt{x}\\sqrt{y}", "\\sqrt{xy}"),
    ("x", "|x|"), ("-x", "\\sqrt{x^2}"),
])
def test_variables_are_not_assumed_positive(answer, reference):
    assert math_verdict(answer, reference) == "mismatch"


@pytest.mark.parametrize("answer, reference", [
    ("|x|", "\\sqrt{x^2}"), ("\\frac{1}{\\sqrt{n}}", "\\sqrt{\\frac{1}{n}}"), ("x", "(\\sqrt{x})^2"),
    ("2\\log x", "\\log(x^2)"),   # equal wherever both are real: a branch cut is not a difference
])
def test_identities_over_the_reals_still_pass(answer, reference):
    assert math_verdict(answer, reference) == "ok"


@pytest.mark.parametrize("answer", [
    "x+\\sin(100\\pi x)", "x+\\sin(2\\pi x)", "x+\\cos(2\\pi x)-1", "x\\cos(200\\pi x)",
    "x+\\sin^2(100\\pi x)", "x+\\tan(100\\pi x)", "x+\\sin(1000\\pi x)", "x + \\sin(100\\pi y)",
    "x+\\sin(10^{6}\\pi x)",
])
def test_periodic_terms_do_not_vanish_at_the_check_points(answer):
    assert math_verdict(answer, "x") == "mismatch"


def test_a_periodic_identity_still_passes():
    assert math_verdict("\\sin^2(100\\pi x) + \\cos^2(100\\pi x)", "1") == "ok"
    assert math_verdict("2\\sin(50\\pi x)\\cos(50\\pi x)", "\\sin(100\\pi x)") == "ok"


@pytest.mark.parametrize("answer, reference", [
    ("\\sqrt2 + 10^{-60}", "\\sqrt2"), ("\\sqrt2 - 10^{-55}", "\\sqrt{2}"), ("\\sqrt{2}(1+10^{-70})", "\\sqrt2"),
    ("\\pi + 10^{-100}", "\\pi"), ("e + \\frac{1}{10^{80}}", "e"), ("\\sqrt{2} + 2^{-300}", "\\sqrt2"),
    ("10^{100}\\pi+1", "10^{100}\\pi"), ("x + 10^{-50}", "x"), ("x(1 + 10^{-60})", "x"),
    ("\\sin x + 10^{-45}", "\\sin x"), ("x + 10^{-50} = 1", "x = 1"), ("x + 10^{-50} > 1", "x > 1"),
    ("\\sqrt{2} + 10^{-1500}", "\\sqrt{2}"),   # past the digits evaluated: refused, never accepted
])
def test_tiny_perturbations_of_exact_values_are_not_equal(answer, reference):
    assert in_child(math_verdict, answer, reference) == "mismatch"


@pytest.mark.parametrize("answer, reference", [
    ("\\sqrt{8}", "2\\sqrt2"), ("\\frac{\\pi}{4}", "\\arctan 1"), ("2x = 2", "x = 1"),
    ("\\sqrt{2}x - \\sqrt{2} = 0", "x - 1 = 0"), ("10^{100}\\pi", "\\pi \\cdot 10^{100}"),
    ("\\frac{1}{2^{2005}}", "2^{-2005}"), ("\\log_2 8", "3"),
    ("\\gcd(6, 4)", "2"), ("\\operatorname{lcm}(6, 4)", "12"),   # left unevaluated by the parser
])
def test_exactly_equal_values_still_pass(answer, reference):
    assert math_verdict(answer, reference) == "ok"


# --- red team round 2: a complex relation that sympy tries to decide ------------------------

COMPLEX_STALLS = [
    "\\frac{2}{\\ln(i!)} < 3", "\\frac{1}{\\ln \\Gamma(i)} = 1", "\\frac{1}{\\ln \\Gamma(1+i)} \\le 1",
    "\\log_{\\Gamma(1+i)} e \\le 1", "\\log_{\\binom{i}{\\sqrt{2}}}{e} \\le 1",
    "\\frac{1}{\\ln \\binom{i}{\\sqrt{2}}} \\le 1", "\\frac{1}{\\ln \\Gamma(1+i)} \\ne 1",
    "x \\le 1 \\text{ or } \\frac{1}{\\ln \\Gamma(1+i)} \\le 1", "(\\frac{1}{\\ln \\Gamma(1+i)}, 1)",
    "\\max(\\frac{1}{\\ln \\Gamma(1+i)}, 1)", "|\\frac{1}{\\ln \\Gamma(1+i)}| \\le 1",
    "(\\frac{1}{\\ln \\Gamma(1+\\sqrt{-1})}, 1)", "\\arg(\\Gamma(1+i))^2",
]


@pytest.mark.parametrize("reference", ["3", "x \\le 1", "(3, 1)"])
@pytest.mark.parametrize("answer", COMPLEX_STALLS)
def test_a_relation_over_a_complex_special_value_is_a_scored_wrong_answer(answer, reference):
    for completion in (f"<answer>\\boxed{{{answer}}}</answer>", f"The answer is ${answer}$."):
        reason, passed = in_child(reason_of, completion, reference)
        assert not passed and reason in ("mismatch", "parse_error"), reason


@pytest.mark.parametrize("answer, reference", [
    ("3+4i", "3+4i"), ("e^{i\\pi/4}", "\\frac{\\sqrt2}{2}(1+i)"), ("x = 3 \\pm 4i", "x = 3+4i, 3-4i"),
    ("\\Gamma(5)", "24"), ("\\Gamma(x)", "(x-1)!"), ("\\frac{1}{1+i}", "\\frac{1-i}{2}"),
])
def test_complex_and_special_values_still_compare(answer, reference):
    assert in_child(math_verdict, answer, reference) == "ok"


def _nested_subscript(depth: int) -> str:
    out = "1"
    for name in "pqrstuvwxyz"[:depth]:
        out = f"{name}_{{{out}}}"
    return out


PARSER_COSTLY = {
    # 1,006 characters of subscripts 11 deep: 10 s in the parser (10 ms a character)
    "nested subscripts, 11 deep": "+".join([_nested_subscript(11)] * 18),
    "nested subscripts, 6 deep": "+".join([_nested_subscript(6)] * 30),
    "nested subscripts, 4 deep, bare": "+".join(["a_{b_{c_{d_1}}}"] * 60),
    # a \pm expanded to about twice its length, past MAX_PARSED_CHARS: 3.7 s
    "\\pm expansion of 997 characters": "x = \\frac{" + "+".join(["x_{1}"] * 163) + " \\pm 1}{2}",
}


def _parser_inputs(answer: str, reference: str) -> tuple[str, list[str]]:
    from verifiers.math import verifier
    seen: list[str] = []
    real = verifier.latex2sympy
    verifier.latex2sympy = lambda s, *a, **k: seen.append(s) or real(s, *a, **k)
    verifier._parse.cache_clear()
    try:
        return math(f"\\boxed{{{answer}}}", reference).reason, seen
    finally:
        verifier.latex2sympy = real


@pytest.mark.parametrize("answer", list(PARSER_COSTLY.values()), ids=list(PARSER_COSTLY))
def test_no_string_beyond_the_parsers_bounds_reaches_it(answer):
    from verifiers.math.verifier import MAX_PARSED_CHARS
    reason, seen = in_child(_parser_inputs, answer, "5")
    assert reason in ("mismatch", "parse_error")
    four_deep = re.compile(r"(?:_\{?[a-z0-9]){4}")
    assert all(len(s) <= MAX_PARSED_CHARS and not four_deep.search(s) for s in seen), [len(s) for s in seen]


@pytest.mark.parametrize("answer, reference", [
    ("x_{n_{k}} + 1", "1 + x_{n_{k}}"), ("a_{1} + a_{2}", "a_2 + a_1"), ("x = 1 \\pm \\sqrt{2}", "x = 1+\\sqrt2, 1-\\sqrt2"),
])
def test_subscripts_within_the_bounds_still_compare(answer, reference):
    assert math_verdict(answer, reference) == "ok"


# --- red team round 2: trailing words that change or withdraw the value -----------------------

@pytest.mark.parametrize("words", [
    "opposite", "twelfths", "millionths", "cube", "square", "fold", "inverted", "negated", "kilo",
    "grand", "gross", "myriad", "deficit", "debt", "lost", "reversed", "unlikely", "doubtful", "nah",
    "bogus", "nonsense", "erroneous", "guessed", "never mind", "scratch that", "squared meters off",
    "per", "cubic", "\\text{ opposite}", "\\text{ never mind}", "\\text{ square}",
])
def test_a_trailing_word_that_is_not_a_unit_is_not_dropped(words):
    sep = "" if words.startswith("\\") else " "
    assert not math(f"\\boxed{{3{sep}{words}}}", "3").passed


@pytest.mark.parametrize("words", [
    "cm", "apples", "square feet", "cubic meters", "miles per hour", "km per hour", "dollars", "\\text{ hours}",
    "degrees", "kg", "seconds",
])
def test_a_known_unit_is_still_dropped(words):
    sep = "" if words.startswith("\\") else " "
    assert math(f"\\boxed{{3{sep}{words}}}", "3").passed


# --- red team round 2: a leading yes/no that the answer takes back ----------------------------

@pytest.mark.parametrize("answer, reference", [
    ("Yes, nope", "yes"), ("Yes. Nah.", "yes"), ("Yes. On second thought, the contrary holds.", "yes"),
    ("Yes (jk)", "yes"), ("Yes. Scratch that.", "yes"), ("Yes. Nein.", "yes"), ("Yes, 否", "yes"),
    ("Yes, never mind", "yes"), ("Yes. Non.", "yes"), ("Yes, нет", "yes"), ("Yes, 不是", "yes"),
    ("No, yeah", "no"), ("No, yep", "no"), ("No... Affirmative.", "no"), ("No, 是的", "no"), ("No. Ja.", "no"),
    ("No, oui", "no"), ("No (kidding)", "no"),
])
def test_a_yes_or_no_taken_back_is_not_that_answer(answer, reference):
    assert not math(f"\\boxed{{\\text{{{answer}}}}}", reference).passed
    assert not math(f"The answer is: {answer}", reference).passed


@pytest.mark.parametrize("answer, reference", [
    ("Yes", "yes"), ("Yes, it is possible.", "yes"), ("No", "no"), ("No, because it is not prime.", "no"),
    ("No, it cannot be done.", "no"),
])
def test_a_plain_yes_or_no_still_passes(answer, reference):
    assert math(f"\\boxed{{\\text{{{answer}}}}}", reference).passed


# --- red team round 2: products read as sums, a decimal without its integer part -------------

@pytest.mark.parametrize("answer", ["2[3]", "2\\{3\\}", "(2)3", "[2]3", "2 [3]", "\\{2\\}3"])
def test_a_number_next_to_a_bracketed_number_is_a_product(answer):
    assert math_verdict(answer, "5") == "mismatch"
    assert math_verdict(answer, "6") == "ok"


@pytest.mark.parametrize("answer, reference, verdict", [
    ("\\frac{1}{3} + ." + "0" * 44 + "1", "\\frac13", "mismatch"),
    (".5", "\\frac12", "ok"), ("-.25", "-\\frac14", "ok"), ("[2, 3]", "[2, 3]", "ok"), ("(1, 2]", "(1, 2]", "ok"),
])
def test_a_decimal_without_its_integer_part_is_exact(answer, reference, verdict):
    assert in_child(math_verdict, answer, reference) == verdict


@pytest.mark.parametrize("answer", ["B...C", "B..C", "B…C", "C...B", "B....C"])
def test_letters_joined_by_dots_choose_nothing(answer):
    assert not math(f"<answer>{answer}</answer>", "B").passed


@pytest.mark.parametrize("completion, reference", [
    ("So the answer is \\boxed{Yes}. It's not hard to see why: every odd n works.", "yes"),
    ("\\boxed{\\text{Yes}}, since there is no counterexample below 100.", "yes"),
    ("The answer is: Yes. However, the bound is not tight.", "yes"),
    ("\\boxed{No}. But note that for n=2 the claim holds.", "no"),
    ("\\boxed{No}, because 9 is not prime.", "no"),
])
def test_an_explanation_after_a_yes_or_no_does_not_take_it_back(completion, reference):
    # The words after the answer are usually its explanation: negations and "but" inside it
    # are not a retraction, only a clause that opens with the other answer or a retraction is.
    assert MathVerifier()(completion, reference).passed
