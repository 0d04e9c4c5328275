"""Score and the combinators: value, passed, parts and a repr that reads back."""

import pytest

from verifiers import Score, Verifier
from verifiers.spec import parse_spec


def const(name: str, value: float, passed: bool) -> Verifier:
    return Verifier.wrap(lambda c, r: Score(value, passed, "ok" if passed else "mismatch"), name)


A, B = const("a", 1.0, True), const("b", 0.0, False)
HALF = const("half", 0.5, True)


def test_gate_gives_b_only_when_a_passes():
    assert (A & HALF)("x").value == 0.5 and (A & HALF)("x").passed
    s = (B & HALF)("x")
    assert s.value == 0.0 and not s.passed and s.reason == "mismatch"


def test_fallback_takes_first_that_passes():
    assert (B | HALF)("x").value == 0.5 and (B | HALF)("x").passed
    assert (A | B)("x").parts == {"a": 1.0}  # b never ran
    assert not (B | B)("x").passed


def test_scale_keeps_passed_and_folds_weights():
    s = (0.1 * A)("x")
    assert s.value == pytest.approx(0.1) and s.passed
    assert repr(-1 * (0.5 * A)) == "-0.5*a"


def test_sum_adds_values_and_needs_all_to_pass():
    s = (A + HALF)("x")
    assert s.value == 1.5 and s.passed and s.parts == {"a": 1.0, "half": 0.5}
    s = (A + B)("x")
    assert s.value == 1.0 and not s.passed and s.reason == "mismatch"


@pytest.mark.parametrize("expr, text", [
    (lambda: 0.1 * A + HALF, "0.1*a + half"),
    (lambda: (A | B) & HALF, "(a | b) & half"),
    (lambda: A & (B | HALF), "a & (b | half)"),
    (lambda: 0.5 * (A + B), "0.5*(a + b)"),
    (lambda: A + B & HALF, "a + b & half"),
])
def test_repr_names_what_is_rewarded(expr, text):
    assert repr(expr()) == text


def test_repr_of_builtins_parses_back_to_the_same_repr():
    spec = "0.1*format(mode=lenient) + (math | exact) & format - 0.5*repetition(n=4, weight=1)"
    v = parse_spec(spec)
    assert repr(parse_spec(repr(v))) == repr(v)


def test_wrap_accepts_bool_and_float_and_rejects_other_results():
    assert Verifier.wrap(lambda c, r: True, "t")("x").passed
    assert Verifier.wrap(lambda c, r: 0.25, "q")("x").value == 0.25
    with pytest.raises(TypeError, match="returned str"):
        Verifier.wrap(lambda c, r: "yes", "s")("x")


def test_composing_with_a_non_verifier_is_a_type_error():
    with pytest.raises(TypeError):
        A & 3  # noqa: B018
