"""The `math` and `exact` verifiers: equivalence tables, the strictness rules, safety, caching."""

from __future__ import annotations

import time

import pytest

from verifiers.math.verifier import ExactVerifier, MathVerifier, math_equal, math_verdict
from verifiers.score import BadReference, Score
from verifiers.verifier import Verifier

math = MathVerifier()


def boxed(s: str) -> str:
    return f"<think>\nWorking it out carefully.\n</think>\n<answer>\\boxed{{{s}}}</answer>"


# (answer, reference): must match -----------------------------------------------------------
EQUAL = [
    ("\\frac{3}{4}", "0.75"), ("3/4", "\\frac34"), ("\\tfrac34", "\\frac{3}{4}"), ("\\frac{6}{8}", "\\frac34"),
    ("0.50", "\\frac12"), ("2.5", "\\frac{5}{2}"), ("-\\frac{1}{2}", "-0.5"), ("3\\frac{1}{2}", "\\frac72"),
    # thousands separators
    ("1{,}000", "1000"), ("1\\,000\\,000", "1000000"), ("1,234.5", "1234.5"), ("1,000", "1000"),
    # scientific notation
    ("1.5e3", "1500"), ("1.5 \\times 10^{3}", "1500"), ("1.5e-3", "0.0015"), ("1E6", "10^6"),
    ("6.02\\times10^{23}", "6.02e23"),
    # roots, exact forms
    ("2\\sqrt{3}", "\\sqrt{12}"), ("\\sqrt{8}", "2\\sqrt2"), ("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}"),
    ("\\frac{1}{\\sqrt{n}}", "\\sqrt{\\frac{1}{n}}"), ("4\\sqrt(2)", "4\\sqrt{2}"), ("\\sqrt[3]{8}", "2"),
    # repeating decimals
    ("0.\\overline{3}", "\\frac13"), ("0.1\\overline{6}", "\\frac16"), ("0.\\overline{142857}", "\\frac17"),
    ("0.333\\ldots", "\\frac{1}{3}"),
    # degrees and percent (dropped as units); trig of degrees converted
    ("30^\\circ", "30"), ("30^{\\circ}", "30^\\circ"), ("45°", "45"), ("\\sin 30^\\circ", "\\frac12"),
    ("50\\%", "50"), ("50", "50\\%"), ("50 percent", "50\\%"), ("10.0\\%", "10\\%"),
    # units
    ("10\\text{ cm}", "10"), ("24 \\mbox{ cm}^2", "24"), ("5 apples", "5"), ("7 m", "7"),
    ("3x+2\\text{ cm}", "3x+2"), ("\\$18.00", "18"),
    # big exact integers
    ("2^{100}", "1267650600228229401496703205376"), ("10!", "3628800"), ("\\binom{100}{50}",
     "100891344545564193334812497256"), ("2^{-99}", "\\frac{1}{2^{99}}"),
    # expressions
    ("x^2+2x+1", "(x+1)^2"), ("2\\sin x\\cos x", "\\sin 2x"), ("\\frac{2x}{x^2-1}", "\\frac{1}{x-1}+\\frac{1}{x+1}"),
    ("1 - \\frac{1}{e}", "\\frac{e-1}{e}"), ("e^{i\\pi}", "-1"), ("\\sqrt{-1}", "i"), ("(2+3i)(2-3i)", "13"),
    ("\\log_2 8", "3"), ("\\tan^2 y+1", "\\sec^2 y"),
    # equations: a stated value, and equal equations
    ("x = 3", "3"), ("3", "x=3"), ("f(x) = 2x+1", "2x+1"), ("2+2=4", "4"), ("y = 1 + 2x", "y=2x+1"),
    ("2x - y + 1 = 0", "y = 2x+1"), ("-34x-45y+20z-100=0", "34x+45y-20z+100=0"), ("\\angle ABC = 40^\\circ", "40"),
    # intervals and inequalities
    ("x > 1", "(1,\\infty)"), ("(1, +\\infty)", "x>1"), ("-2 < x \\le 3", "(-2,3]"), ("x<2 \\text{ or } x>3",
     "(-\\infty,2)\\cup(3,\\infty)"), ("3 < x", "x > 3"), ("[\\sqrt{2}, \\infty)", "[\\sqrt2,+\\infty)"),
    ("\\text{all real numbers}", "\\mathbb{R}"), ("\\text{all real numbers except } 0",
     "(-\\infty,0)\\cup(0,\\infty)"), ("(-\\infty, \\infty)", "\\mathbb{R}"),
    # sets, lists, tuples, matrices
    ("3, 1, 2", "1, 2, 3"), ("\\{1,1,2\\}", "\\{1,2\\}"), ("\\{1,3\\}\\cup\\{2,4\\}", "\\{1,2,3,4\\}"),
    ("\\emptyset", "\\varnothing"), ("\\text{no solution}", "\\emptyset"), ("\\pm 2", "2, -2"),
    ("x = 3 \\text{ or } x = -3", "3, -3"), ("(0.5, -\\frac13)", "(\\frac12, -\\frac{1}{3})"),
    ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(1,2)"), ("2\\begin{pmatrix}1\\\\2\\end{pmatrix}",
     "\\begin{pmatrix}2\\\\4\\end{pmatrix}"), ("\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}",
     "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"),
    # prose answers
    ("Yes", "yes"), ("No.", "\\text{No}"), ("Yes, it is possible", "Yes"), ("3rd", "third"), ("five", "5"),
    ("\\text{odd}", "odd"),
    # written after the table passed: identities whose variable cancels, wrappers, set forms
    ("\\cos^2\\theta+\\sin^2\\theta", "1"), ("\\mathrm{4}", "4"), ("\\textbf{7}", "7"), ("\\{3\\}", "3"),
    ("(-\\infty, -1] \\cup [3, \\infty)", "x \\le -1 \\text{ or } x \\ge 3"), ("|x| < 1", "(-1, 1)"),
    ("y = \\frac{3}{2}x - 1", "3x - 2y = 2"), ("\\frac{x^2-1}{x-1}", "x+1"), ("\\binom{n}{2}", "\\frac{n(n-1)}{2}"),
]

# (answer, reference): must NOT match ----------------------------------------------------------
DIFFERENT = [
    ("\\frac{4}{3}", "\\frac{3}{4}"), ("1,2", "12"), ("1, 2", "12"), ("1.5e3", "150"), ("1.5e-3", "1500"),
    ("1e309", "\\infty"),
    # precision: exact rationals, no tolerance, no chop
    ("\\frac{1}{2^{98}}", "\\frac{1}{2^{99}}"), ("\\frac{1}{2004!}", "\\frac{1}{2006!}"),
    ("\\frac{2^{2005}+1}{3\\cdot 2^{2006}}", "\\frac{1}{3\\cdot 2^{2006}}"), ("3.14", "\\pi"),
    ("\\frac{22}{7}", "\\pi"), ("0.333", "\\frac13"), ("0.3333333333", "\\frac13"),
    ("1.4142135623730951", "\\sqrt2"), ("2.718281828", "e"), ("113.1", "36\\pi"), ("\\frac{100}{3}", "33.3"),
    ("9007199254740993", "9007199254740992"), ("10^{100}+1", "10^{100}"), ("1e20", "100000000000000000001"),
    ("100891344545564193334812497257", "\\binom{100}{50}"), ("1 - \\frac{1}{e}", "1 + \\frac{1}{e}"),
    # stray numbers and dropped letters
    ("x+2c", "x+2"), ("4\\sqrt(2)", "4"), ("4\\sqrt{2}", "4"), ("2\\sqrt{2}", "2"), ("\\sqrt{3}", "3"),
    ("\\frac{\\sqrt{3}}{2}", "2"), ("3\\pi", "3"), ("e^2", "2"), ("\\sin 30^\\circ", "30"), ("2xy", "2"),
    ("x^2", "2"), ("\\frac{0}{0}", "0"), ("\\frac{1}{0}", "\\infty"), ("12:00", "1:00"),
    # percent is a unit, not a scale
    ("0.5", "50\\%"), ("\\frac12", "50\\%"), ("0.5\\%", "50\\%"), ("5\\%", "50\\%"),
    # equations
    ("x + 1 = 5", "5"), ("y = 3", "x = 3"), ("x = 3", "y=3"), ("x = 3", "x > 2"), ("x^2 = 4", "x = 2"),
    ("y = 2x + 1", "y = 2x - 1"),
    # sets and hedges
    ("\\pm 2021", "2021"), ("2, 3", "3"), ("x = 3 \\text{ or } x = -3", "3"), ("\\{1, 2, 3\\}", "\\{1, 2\\}"),
    ("(2, 1)", "(1, 2)"), ("[1, 2]", "(1, 2)"), ("x \\ge 1", "(1, \\infty)"),
    ("\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}", "1"), ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(2,1)"),
    # prose
    ("yes", "no"), ("Yes and no", "yes"), ("\\text{undefined}", "0"), ("None", "0"), ("N/A", "0"),
    ("\\text{even}", "\\text{odd}"), ("I don't know", "5"),
    # piecewise functions: positive test points alone do not prove |x| = x
    ("x", "|x|"),
    ("|x| \\le 1", "(-1, 1)"), ("y = \\frac{3}{2}x + 1", "3x - 2y = 2"), ("\\frac{\\pi^2}{6}", "1.6449"),
    ("\\frac{3}{4}", "75\\%"), ("7.01", "7"), ("-\\infty", "\\infty"),
]


@pytest.mark.parametrize(("answer", "reference"), EQUAL)
def test_equal_answers_pass(answer, reference):
    s = math(boxed(answer), reference)
    assert s == Score(1.0, True, "ok", {"math": 1.0}), (answer, reference, s)


@pytest.mark.parametrize(("answer", "reference"), DIFFERENT)
def test_different_answers_fail(answer, reference):
    s = math(boxed(answer), reference)
    assert not s.passed and s.value == 0.0 and s.reason in {"mismatch", "parse_error"}, (answer, reference, s)


@pytest.mark.parametrize(("answer", "reference"), [(a, r) for a, r in EQUAL[:30]])
def test_math_equal_on_bare_answers(answer, reference):
    assert math_equal(answer, reference)
    assert math_equal(f"${answer}$", reference)


@pytest.mark.parametrize(("completion", "reason"), [
    ("", "no_answer"),
    ("<think>\nThe answer is 7.\n</think>", "no_answer"),
    ("<think>\nhmm\n</think>\n<answer></answer>", "no_answer"),
    ("\\boxed{}", "no_answer"),
    ("Let me compute. " + "Then I add more terms and keep going. " * 20, "no_answer"),
    ("\\boxed{\\frac{1}{2", "no_answer"),  # the box never closes
    ("\\boxed{" + "1" * 2500 + "}", "parse_error"),  # over MAX_ANSWER_CHARS
    ("\\boxed{10^{10^{10}}}", "parse_error"),  # refused, not evaluated
    ("\\boxed{(x+1)^{10000}}", "parse_error"),
    ("\\boxed{\\sum_{k=1}^{10^{9}} \\frac{1}{k!}}", "parse_error"),
    ("\\boxed{\\binom{10^{6}}{5 \\cdot 10^{5}}}", "parse_error"),
    ("\\boxed{" + "{" * 200 + "1" + "}" * 200 + "}", "parse_error"),
    ("\\boxed{7}", "mismatch"),
])
def test_reasons(completion, reason):
    s = math(completion, "5")
    assert (s.passed, s.reason) == (False, reason)
    assert s.parts == {"math": 0.0}


def test_explosive_inputs_finish_fast():
    start = time.perf_counter()
    for answer in ["10^{10^{10}}", "9^{9^{9^{9}}}", "(x+1)^{10000}", "100000!", "e^{e^{e^{e^{10}}}}",
                   "\\Gamma(10^{7})", "1.5e99999", "\\prod_{k=1}^{100000} k", "x^{x^{x^{x^{x}}}}"]:
        assert math(boxed(answer), "5").reason == "parse_error", answer
    assert time.perf_counter() - start < 20


INJECTIONS = [
    "__import__('os').system('touch {path}')",
    "\\text{__import__('os').system('touch {path}')}",
    "eval(\"__import__('os').system('touch {path}')\")",
    "exec('import os; os.system(\"touch {path}\")')",
    "(lambda: __import__('os').system('touch {path}'))()",
    "1 + __import__('os').system('touch {path}')",
    "{}.__class__.__base__.__subclasses__()",
]


@pytest.mark.parametrize("template", INJECTIONS)
@pytest.mark.parametrize("reference", ["0", "42", "x+1", "\\frac{1}{2}"])
def test_injected_code_never_runs(tmp_path, template, reference):
    target = tmp_path / "pwned"
    payload = template.replace("{path}", str(target))
    for completion in [payload, boxed(payload), f"<answer>{payload}</answer>", f"The answer is {payload}"]:
        s = math(completion, reference)
        assert not s.passed and s.reason in {"mismatch", "parse_error", "no_answer"}
    assert not target.exists()


def test_injection_in_reference_does_not_run(tmp_path):
    target = tmp_path / "pwned"
    s = math(boxed("0"), f"__import__('os').system('touch {target}')")
    assert not s.passed
    assert not target.exists()


@pytest.mark.parametrize("reference", ["", "   ", None, ["1"], {"a": 1}, "\\frac{1}{2", "}1{"])
def test_bad_reference_raises(reference):
    with pytest.raises(BadReference):
        math(boxed("1"), reference)


def test_number_reference_is_accepted():
    assert math(boxed("12"), 12).passed
    assert math(boxed("0.5"), 0.5).passed


def test_unparsable_reference_compares_as_text():
    ref = "1, 3, 5, \\ldots, 2n-1"
    assert math(boxed("1, 3, 5, \\ldots, 2n-1"), ref).passed
    assert not math(boxed("1, 2, \\ldots, n"), ref).passed


@pytest.mark.parametrize(("completion", "reference", "passed"), [
    ("The answer is (B).", "B", True),
    (boxed("B"), "\\text{(C)}", False),
    ("\\textbf{(B)}", "\\text{(B)}", True),
    ("The final answer is $\\boxed{(B) 12}$", "\\text{(B)}", True),
    ("The final answer is $\\boxed{\\textbf{(C)}\\ 15}$", "\\text{(C)}", True),
    ("B and C", "\\text{(B)}", False),
    ("<answer>BD</answer>", "B", False),
    ("\\text{C, A}", "\\text{A, C}", True),
    ("$\\text{A, B, C}$", "\\text{A, C}", False),
    ("(A) (B) (C) (D) (E)", "\\text{(D)}", False),
    ("A", "(A)", True),
])
def test_multiple_choice(completion, reference, passed):
    assert math(completion, reference).passed is passed


@pytest.mark.parametrize(("answer", "reference", "equal"), [
    ("\\frac{-1+\\sqrt5}{2}, \\frac{-1-\\sqrt5}{2}", "\\frac{-1 \\pm \\sqrt{5}}{2}", True),  # both roots listed
    ("\\frac{-1-\\sqrt5}{2}, \\frac{-1+\\sqrt5}{2}", "\\frac{-1 \\pm \\sqrt{5}}{2}", True),
    ("x = \\frac{-1 \\pm \\sqrt{5}}{2}", "\\frac{-1 \\pm \\sqrt{5}}{2}", True),
    ("\\frac{-1 \\mp \\sqrt{5}}{2}", "\\frac{-1 \\pm \\sqrt{5}}{2}", True),
    ("\\frac{-1+\\sqrt5}{2}", "\\frac{-1 \\pm \\sqrt{5}}{2}", False),  # one root of two
    ("\\frac{1 \\pm \\sqrt{5}}{2}", "\\frac{-1 \\pm \\sqrt{5}}{2}", False),
    ("\\frac{-1+\\sqrt5}{2}, \\frac{-1+\\sqrt5}{2}", "\\frac{-1 \\pm \\sqrt{5}}{2}", False),
    ("|z| = 5", "5", True),  # a named value: |z| names what was asked for
    ("|z| = 5", "6", False),
    ("|x - 1| = 5", "5", False),  # a condition, not a value
    ("|x| = 5", "\\pm 5", False),
])
def test_pm_inside_fractions_and_named_absolute_values(answer, reference, equal):
    assert math_equal(answer, reference) is equal


@pytest.mark.parametrize(("completion", "reason"), [
    ("$\\boxed{\\frac{1}{2}}$ (or possibly $\\frac{1}{3}$ if order matters)", "hedged"),
    ("So $\\boxed{\\frac12}$, or maybe 0.4.", "hedged"),
    ("<answer>$\\boxed{0.5}$ or perhaps $\\frac{1}{3}$</answer>", "hedged"),
    ("$\\boxed{\\frac{1}{2}}$ (or equivalently $0.5$)", "ok"),  # the same value restated
    ("$\\boxed{\\frac{1}{2}}$ of the pie, or 50 percent of it", "ok"),  # a unit restatement is not read
    ("$\\boxed{\\frac{1}{2}}$. This is right or close to it.", "ok"),
])
def test_an_alternative_after_the_final_box_is_hedging(completion, reason):
    assert math(completion, "\\frac{1}{2}").reason == reason


def test_a_hedged_completion_does_not_share_a_cache_key_with_the_plain_one():
    # the service dedupes on cache_key: the hedge must not inherit the plain answer's verdict
    plain = "$\\boxed{\\frac{1}{2}}$"
    assert math.cache_key(plain + " (or possibly $\\frac{1}{3}$)") != math.cache_key(plain)
    assert math.cache_key(plain + " of the pie") == math.cache_key(plain)


def test_verdict_reasons_on_bare_answers():
    assert math_verdict("\\frac{1}{2}", "0.5") == "ok"
    assert math_verdict("\\frac{1}{3}", "0.5") == "mismatch"
    assert math_verdict("\\frac{1}{", "0.5") == "parse_error"


def test_group_of_repeated_answers_is_compared_once_per_distinct_answer():
    # a GRPO group: 8 completions share one reference and answers repeat; the verdict cache
    # answers the repeats without parsing or comparing again (no timing: counted cache hits)
    from verifiers.math.verifier import _verdict

    reference = "\\frac{\\sqrt{3}}{2} + \\frac{1}{2}\\sin x"
    group = [boxed("\\frac{\\sqrt3}{2}+\\frac{\\sin x}{2}"), boxed("\\frac{1}{2}")] * 4
    _verdict.cache_clear()
    scores = [math(c, reference) for c in group]
    assert [s.passed for s in scores] == [True, False] * 4
    info = _verdict.cache_info()
    assert (info.misses, info.hits) == (2, 6)


def test_is_a_verifier_and_composes():
    assert isinstance(math, Verifier) and math.name == "math" and repr(math) == "math"
    combined = 0.5 * math
    assert combined(boxed("2"), "2").value == 0.5


@pytest.mark.parametrize(("completion", "reference", "passed"), [
    (boxed("Paris"), "paris", True),
    ("<answer> $\\text{New York}$ </answer>", "new york", True),
    (boxed("1/2"), "0.5", False),  # exact is string equality, not math
    (boxed("x+1"), "x + 1", True),
    ("The answer is Blue.", "blue", True),
    (boxed("red"), "blue", False),
])
def test_exact_verifier(completion, reference, passed):
    exact = ExactVerifier()
    assert exact.name == "exact"
    assert exact(completion, reference).passed is passed


def test_exact_verifier_reasons():
    exact = ExactVerifier()
    assert exact("", "x").reason == "no_answer"
    with pytest.raises(BadReference):
        exact(boxed("x"), "  ")


# A policy under RL pressure tries answers that might equal anything: infinities, undefined
# values, whole sets, tautologies. Each must match no reference but its own value.
UNIVERSAL = ["\\frac{0}{0}", "0/0", "\\infty - \\infty", "\\infty", "-\\infty", "\\pm \\infty", "\\frac{1}{0}",
             "0 \\cdot \\infty", "\\tan(\\pi/2)", "\\log(0)", "x", "y", "a", "\\mathbb{R}", "\\mathbb{C}",
             "\\emptyset", "x \\in \\mathbb{R}", "x > -\\infty", "-\\infty < x < \\infty", "(-\\infty, \\infty)",
             "1 = 1", "x = x", "True", "\\text{undefined}", "\\text{anything}", "\\approx 5", "\\ge 5",
             "-\\infty x", "\\infty i", "\\lim_{x\\to 0} \\frac{1}{x}", "\\sum_{n=1}^{\\infty} n"]
FINITE_REFERENCES = ["5", "-1", "0", "\\frac{1}{2}", "\\sqrt{2}", "\\pi", "x^2+1", "2x", "x = 3", "x > 1",
                     "x \\le 2", "(1,2)", "[0, 1)", "\\{1, 2\\}", "3i", "1+i", "10\\%",
                     "\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(-\\infty, 2]"]


@pytest.mark.parametrize("reference", FINITE_REFERENCES)
def test_no_universal_answer_matches_a_reference(reference):
    assert [a for a in UNIVERSAL if math_equal(a, reference)] == []


@pytest.mark.parametrize(("answer", "reference", "equal"), [
    ("-\\infty", "-\\infty", True),
    ("+\\infty", "\\infty", True),
    ("-\\infty", "\\infty", False),
    ("(-\\infty, \\infty)", "\\mathbb{R}", True),
    ("\\pm \\infty", "\\mathbb{R}", False),  # two points, not the line
    ("(1, \\infty)", "x > 1", True),
    ("1, \\infty", "(1, \\infty)", False),  # an interval to infinity is never a pair
    ("(1, 2)", "\\{1, 2\\}", True),  # a finite open interval may be a pair (solution lists)
])
def test_infinities(answer, reference, equal):
    assert math_equal(answer, reference) is equal


@pytest.mark.parametrize("answer", ["\\pm 2 = y", "\\pm x = 5", "x \\pm = 5", "\\pm = 5", "a \\pm b ="])
def test_pm_left_of_the_equals_sign_is_not_expanded(answer):
    # expanding these doubled the string at every parse attempt and never returned
    assert math(boxed(answer), "5").reason == "parse_error"


@pytest.mark.parametrize(("answer", "passed"), [
    ("5 apples", True), ("5\\text{ cm}", True), ("5 square feet", True), ("5 \\text{ hours}", True),
    ("5 plus three", False), ("5 squared", False), ("5 million", False), ("5 factorial", False),
    ("5 over three", False), ("5 \\text{ or seven}", False), ("5 \\text{ or more}", False),
    ("5 wrong", False), ("5 dozen", False), ("5 \\text{ cubed}", False), ("5 halves", False),
    ("5 minus two", False), ("5 isnt correct", False),
])
def test_trailing_words_are_stripped_only_when_they_read_as_a_unit(answer, passed):
    assert math(boxed(answer), "5").passed is passed


@pytest.mark.parametrize(("completion", "reference", "passed"), [
    ("\\text{Not (B)}", "B", False),
    ("\\text{(C) is incorrect}", "C", False),
    ("\\text{Option D is wrong}", "D", False),
    ("The answer is not (A)", "A", False),
    ("The correct option is (B); option (A) is wrong.", "A", False),
    ("A.B", "A", False),
    ("f(B)", "B", False),
    ("\\boxed{(A) or possibly (B)}", "A", False),
    ("\\boxed{A} or $B$", "A", False),          # hedged after the box
    ("\\boxed{A} (or maybe B)", "A", False),
    ("\\boxed{A} (or equivalently (A))", "A", True),
    ("(B) 12", "B", True),
    ("Answer: C", "C", True),
])
def test_a_choice_must_name_one_option_without_rejecting_or_hedging_it(completion, reference, passed):
    assert math(completion, reference).passed is passed


@pytest.mark.parametrize(("completion", "reference", "passed"), [
    ("\\text{Yes, } n = 7", "\\text{Yes, } n = 5", False),  # the reference's n = 5 counts
    ("\\text{yes}", "\\text{Yes, } n = 5", False),
    ("\\text{Yes, } n = 5", "\\text{Yes, } n = 5", True),
    ("Yes, it is impossible", "yes", False),
    ("Yes. Wait, actually it cannot be done.", "yes", False),
    ("Yes, it is possible.", "yes", True),
    ("yes, because 3 divides 12", "yes", True),
])
def test_a_leading_yes_or_no_counts_only_when_the_sentence_keeps_it(completion, reference, passed):
    assert math(completion, reference).passed is passed


@pytest.mark.parametrize(("answer", "reference", "equal"), [
    ("2(3)", "6", True), ("2(3)", "5", False),  # the parser alone reads 2(3) as 5
    ("(2)(3)", "6", True),
    ("2\\binom{4}{2}", "12", True), ("2\\binom{4}{2}", "8", False),
    ("\\binom{10}{3}\\binom{7}{2}", "2520", True), ("\\binom{10}{3}\\binom{7}{2}", "141", False),
    ("\\binom{10}{3} \\cdot \\binom{7}{2}", "2520", True),
    ("\\sum_{k=1}^{1000} k^2", "333833500", True),
    ("\\sum_{i=1}^{10}\\sum_{j=1}^{10} ij", "3025", True),
])
def test_implicit_products_and_modest_sums(answer, reference, equal):
    assert math_equal(answer, reference) is equal


@pytest.mark.parametrize("answer", [
    "\\sum_{n=1}^{1000}\\frac{1}{n^n}",                 # 1000 exact rationals of ~3000 digits
    "\\sum_{a=1}^{1000}\\sum_{b=1}^{1000} a^b",         # nested: a million terms
    "\\prod_{a=1}^{1000}\\prod_{b=1}^{1000} a",
    "\\binom{\\binom{9999}{5000}}{4999}",                # a binomial inside a binomial
])
def test_costly_sums_products_and_nested_binomials_are_refused(answer):
    assert math(boxed(answer), "5").reason == "parse_error"


def _determinant(cells: list[list[str]]) -> str:
    return "\\det\\begin{pmatrix}" + " \\\\ ".join(" & ".join(row) for row in cells) + "\\end{pmatrix}"


def _letters(n: int, terms: int = 1) -> list[list[str]]:
    return [["+".join(f"{v}_{{{i}{j}}}" for v in "abc"[:terms]) for j in range(n)] for i in range(n)]


@pytest.mark.parametrize(("answer", "reference", "equal"), [
    (_determinant([["1", "2"], ["3", "4"]]), "-2", True),
    (_determinant([["2" if i == j else "0" for j in range(6)] for i in range(6)]), "64", True),
    (_determinant([["\\frac{1}{2}" if i == j else "0" for j in range(12)] for i in range(12)]), "\\frac{1}{4096}", True),
])
def test_numeric_determinants_of_any_size_are_evaluated(answer, reference, equal):
    assert math_equal(answer, reference) is equal


def _matrix(cells: list[list[str]], env: str = "pmatrix") -> str:
    return f"\\begin{{{env}}}" + " \\\\ ".join(" & ".join(row) for row in cells) + f"\\end{{{env}}}"


@pytest.mark.parametrize("answer", [
    _determinant(_letters(5)),            # 120 products of 25 letters: seconds in latex2sympy
    _determinant(_letters(4, terms=2)),   # 4! * 2^4 products: 18 s
    _determinant(_letters(8)),            # minutes
    _determinant([["(a+b)^{90}", "(c+d)^{90}"], ["(e+f)^{90}", "(g+h)^{90}"]]),  # powers expanded too: 15 s
    _determinant([["x^{n}", "1"], ["1", "x"]]),                                 # a symbolic power
    _matrix(_letters(5), "vmatrix"),
    "\\left|" + _matrix(_letters(6), "matrix") + "\\right|",
    _matrix(_letters(6)) + "^{-1}",                                             # an inverse: minutes
    _matrix(_letters(2)) + "^{20}",                                             # a power: 9 s
    "\\left(" + _matrix(_letters(2)) + "\\right)^{k}",
    _matrix(_letters(6)) + _matrix(_letters(6)),                                # a product
])
def test_symbolic_matrices_too_costly_to_compute_with_are_refused(answer):
    assert math(boxed(answer), "5").reason == "parse_error"


def test_cheap_matrix_answers_are_still_evaluated():
    from verifiers.math.verifier import _parse

    assert math_equal(_matrix(_letters(6)), _matrix(_letters(6)))       # a lone matrix: entry by entry
    assert not math_equal(_matrix(_letters(6)), _matrix(_letters(6, terms=2)))
    for cheap in (_determinant(_letters(3)), _matrix(_letters(4)) + "^{-1}", _matrix(_letters(2)) + "^{3}",
                  _matrix([["2" if i == j else "0" for j in range(8)] for i in range(8)]) + "^{-1}"):
        assert _parse(cheap)[0] is not None, cheap


@pytest.mark.parametrize(("answer", "reference", "equal"), [
    ("7 = 5", "5", False), ("x = 7 = 5", "5", False), ("2+2=5", "5", False),  # false chains
    ("7 \\equiv 5", "5", False),
    ("x = 2+3 = 5", "5", True), ("2+3 = 5", "5", True),
    ("f \\circ g", "g \\circ f", False), ("30^\\circ", "30", True),          # composition is not degrees
    ("3 i", "3", False), ("2 e", "2", False), ("5 x", "5", False), ("5 m", "5", True),
    ("1011_3", "1011_2", False), ("11", "1011_2", False), ("11_{2}", "11", False),  # bases: the digits asked for
    ("1011_{(2)}", "1011_2", True),
    ("(x^2)'", "x^2", False), ("y'", "y", False),                               # derivatives
])
def test_chains_composition_letters_bases_and_primes(answer, reference, equal):
    assert math_equal(answer, reference) is equal


@pytest.mark.parametrize(("answer", "reference", "equal"), [
    ("\\pi\\cdot10^{45}+1", "\\pi\\cdot10^{45}", False),  # within 1e-40 relative, still not equal
    ("e^{-100}", "0", False), ("0", "e^{-100}", False),   # tiny is not zero
    ("\\sqrt{8}", "2\\sqrt{2}", True), ("e^{i\\pi}", "-1", True), ("\\sin(\\pi)", "0", True),
    ("\\frac{\\sqrt{6}+\\sqrt{2}}{4}", "\\cos 15^\\circ", True),
])
def test_exact_values_must_agree_to_the_precision_evaluated(answer, reference, equal):
    assert math_equal(answer, reference) is equal


@pytest.mark.parametrize(("answer", "reference", "equal"), [
    ("x > 1 \\text{ and } x < 3", "\\mathbb{R}", False),  # "and" is an intersection, never a union
    ("x \\ge 0 \\text{ and } x \\le 0", "\\mathbb{R}", False),
    ("x < 1 \\text{ or } x > 3", "(-\\infty,1)\\cup(3,\\infty)", True),
    ("x > 1, y > 2", "(1,\\infty)", False),  # a condition on y is not part of x's set
    ("3 and 5", "3, 5", True),
])
def test_and_or_between_inequalities(answer, reference, equal):
    assert math_equal(answer, reference) is equal


@pytest.mark.parametrize(("answer", "reference", "equal"), [
    ("y = 5, x = 6", "(5, 6)", False),  # named values, in (x, y) order: (6, 5)
    ("y = 6, x = 5", "(5, 6)", True),
    ("x = 5, y = 6", "(5, 6)", True),
    ("\\{\\emptyset\\}", "\\emptyset", False),  # a set holding the empty set is not empty
    ("\\{\\{5\\}\\}", "5", False),
    ("\\{\\mathbb{R}\\}", "\\mathbb{R}", False),
    ("\\{5\\}", "5", True),
])
def test_named_values_and_sets_of_sets(answer, reference, equal):
    assert math_equal(answer, reference) is equal


def test_a_long_decimal_is_not_pi_and_lists_match_without_trying_every_order():
    pi_50 = "3.14159265358979323846264338327950288419716939937510582097494459"
    assert not math_equal(pi_50, "\\pi")
    assert math_equal("\\cos(\\pi/3)", "0.5")
    # seven elements that only simplify proves equal: matched pairwise, not over 7! orderings
    answer = "(" + ", ".join(f"\\sin^2 x + \\cos^2 x + {k}" for k in range(7)) + ")"
    reference = "\\{" + ", ".join(str(k + 1) for k in reversed(range(7))) + "\\}"
    assert math_equal(answer, reference)
    assert not math_equal("\\{1, 2\\}", "\\{2, 3\\}")


def test_the_attack_probe_never_raises_on_exotic_references():
    # benchmarks/attack_probe.py's completions against its most exotic references: a wrong or
    # malformed answer is a Score, never an exception ((3+4i, 7) once raised from sympy)
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import attack_probe

    refs = ["3+4i", "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "[2, 5]", "(1, \\infty)", "\\{1, 2\\}"]
    for completion, reference, _ in attack_probe.cases(refs):
        assert isinstance(math(completion, reference), Score), completion
    assert math(boxed("(3+4i, 7)"), "3+4i").passed is False


@pytest.mark.parametrize(("completion", "reference"), [
    ("\\boxed{i = 0}", "x = 3 \\pm 4i"),        # both sides decided to sympy's false
    ("\\boxed{i = 0}", "z = -1 \\pm i\\sqrt{3}"),
    ("\\boxed{x = 7 \\pm i}", "x = 3 \\pm 4i"),
])
def test_an_equation_decided_to_false_is_no_answer(completion, reference):
    assert not math(completion, reference).passed


@pytest.mark.parametrize(("answer", "reference", "equal"), [
    ("3 \\pm 4i", "x = 3 \\pm 4i", True),        # x = ... only names the complex values
    ("3+4i, 3-4i", "x = 3 \\pm 4i", True),
    ("x = 3-4i, 3+4i", "x = 3 \\pm 4i", True),
    ("3+4i", "x = 3 \\pm 4i", False),             # one of the two
    ("3 \\pm 4", "x = 3 \\pm 4i", False),
    ("y = 3 \\pm 4i", "x = 3 \\pm 4i", False),   # another name, as for real values
])
def test_named_complex_values(answer, reference, equal):
    assert math_equal(answer, reference) is equal


def test_what_sympy_cannot_evaluate_and_what_is_not_text_are_scores():
    assert math(boxed("\\lfloor 10^{300}\\pi \\rfloor"), "5").passed is False   # PrecisionExhausted
    assert math(boxed("\\lfloor x\\rfloor + \\lfloor 10^{200}\\pi\\rfloor"), "x").passed is False
    assert math(12345, "5").reason == "not_text"
    assert ExactVerifier()(["5"], "5").reason == "not_text"
    with pytest.raises(BadReference, match="characters long"):
        math("5", "1" * 5000)


@pytest.mark.parametrize(("answer", "reference", "equal"), [
    ("\\log_2(8)", "3", True), ("\\log_{10}(1000)", "3", True), ("\\sin^{-1}(1)", "\\frac{\\pi}{2}", True),
    ("12(3)", "36", True), ("0.1(6)", "\\frac16", True), ("0.1(6)", "0.6", False),  # 0.1(6): 6 repeats
    ("f^{-1}(2) = 5", "5", True), ("(x, y) = (6, 5)", "(6, 5)", True), ("(x, y) = (6, 5)", "(5, 6)", False),
    ("f'(x) = 2x", "2x", True), ("y' = 2x", "2x", True),        # a primed name only names the value
    ("No, because it is not prime.", "no", True), ("No, it cannot be done.", "no", True),
    ("Yes, it can\u2019t be done.", "yes", False),                # curly apostrophe
])
def test_ordinary_answers_that_the_new_rules_must_not_reject(answer, reference, equal):
    assert math_equal(answer, reference) is equal


@pytest.mark.parametrize(("completion", "reference", "passed"), [
    ("(B)\\ \\text{It is not possible}", "B", True),   # the option's own text may say "not"
    ("(C) neither", "C", True),
    ("(A) no solution", "A", True),
    ("The answer is (B) since it is largest", "B", True),
    ("(B)?", "B", False),
])
def test_rejection_words_count_before_the_letter_or_right_after_it(completion, reference, passed):
    assert math(completion, reference).passed is passed


@pytest.mark.parametrize("answer", [
    "\\prod_{n=1}^{1000}(2+\\frac{1}{n^3})",       # a running product of 1000 fractions
    "\\prod_{n=1}^{1000}\\frac{n^2+1}{n^2+2}",
    "\\sum_{n=1}^{1000}\\frac{1}{n^3+1}",
])
def test_long_sums_and_products_of_fractions_are_refused(answer):
    assert math(boxed(answer), "5").reason == "parse_error"


@pytest.mark.parametrize(("answer", "reference"), [
    ("\\sum_{k=0}^{10}\\binom{10}{k}", "1024"), ("\\prod_{k=2}^{50}(1-\\frac{1}{k^2})", "\\frac{51}{100}"),
    ("\\sum_{k=1}^{20} \\frac{1}{2^k}", "1 - \\frac{1}{2^{20}}"), ("x^{2}\\binom{4}{2}", "6x^2"),
])
def test_modest_sums_and_products_still_evaluate(answer, reference):
    assert math_equal(answer, reference)


@pytest.mark.parametrize(("completion", "reference", "reason"), [
    ("\\boxed{\\frac12} (or $50\\%$)", "\\frac12", "ok"),            # the same value in percent
    ("\\boxed{\\frac{\\pi}{3}} (or $60^\\circ$)", "\\frac{\\pi}{3}", "ok"),
    ("\\boxed{7} (but $n$ must be odd)", "7", "ok"),                  # a remark, not an alternative
    ("\\boxed{\\frac12} (or $40\\%$)", "\\frac12", "hedged"),
    ("\\boxed{5 \\text{ negative}}", "5", "mismatch"),                # words that change the value
    ("\\boxed{15 \\text{ tens}}", "15", "mismatch"),
])
def test_alternatives_in_other_units_and_remarks_after_the_box(completion, reference, reason):
    assert math(completion, reference).reason == reason


@pytest.mark.parametrize(("completion", "reference", "passed"), [
    ("7, or perhaps \\boxed{5}", "5", False),
    ("\\boxed{5}\\text{ or }7", "5", False),
    ("\\boxed{5} or \\frac{7}{2}", "5", False),
    ("\\boxed{5} or \\frac{10}{2}", "5", True),            # the same value
    ("The answer is $7$ or $5$.", "7", False),
    ("The answer is $x = 7$, so $7$.", "7", True),
])
def test_hedges_in_prose_and_bare_latex(completion, reference, passed):
    assert math(completion, reference).passed is passed


def test_the_exact_verifier_fails_hedges_too():
    exact = ExactVerifier()
    assert exact("London or \\boxed{Paris}", "Paris").reason == "hedged"
    assert exact("The capital is \\boxed{Paris}", "Paris").passed
    assert exact.cache_key("London or \\boxed{Paris}") != exact.cache_key("\\boxed{Paris}")
