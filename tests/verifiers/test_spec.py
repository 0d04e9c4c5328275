"""The spec grammar: precedence as in Python, arguments, and errors that say where."""

import pytest

from verifiers import Gate, Scaled, SpecError, Sum
from verifiers.format import FormatVerifier
from verifiers.spec import parse_spec, register
from verifiers.verifier import Verifier


def test_precedence_matches_python():
    v = parse_spec("0.1*format + format & format | format")
    # Python: ((0.1*format + format) & format) | format
    assert type(v).__name__ == "Fallback" and isinstance(v.a, Gate) and isinstance(v.a.a, Sum)
    assert isinstance(v.a.a.a, Scaled)


def test_weight_on_either_side_and_subtraction():
    assert repr(parse_spec("format*0.5")) == "0.5*format"
    assert repr(parse_spec("format - 0.25*format")) == "format + -0.25*format"


def test_arguments_are_passed_to_the_factory():
    v = parse_spec("format(mode=lenient, think_prefilled=true)")
    assert isinstance(v, FormatVerifier) and v.mode == "lenient" and v.think_prefilled


@pytest.mark.parametrize("spec, message", [
    ("", "empty"),
    ("0.1*", "column 5"),
    ("format &", "expected a verifier"),
    ("format * format", "needs a number"),
    ("2", "bare number"),
    ("2 + format", "bare number"),
    ("nosuch", "unknown verifier 'nosuch'"),
    ("__import__('os').system('true')", "unexpected character '.'"),
    ("__import__(name='os')", "unknown verifier '__import__'"),
    ("format; rm", "unexpected character ';'"),
    ("format(mode=strange)", "bad arguments for 'format'"),
    ("format(nonsense=1)", "bad arguments for 'format'"),
    ("(format", "expected ')'"),
    ("format)", "unexpected ')'"),
])
def test_bad_specs_raise_spec_error_with_location(spec, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_spec(spec)


def test_spec_error_is_a_value_error_for_callers_that_catch_that():
    with pytest.raises(ValueError):
        parse_spec("nosuch")


def test_register_adds_a_name():
    register("always", lambda: Verifier.wrap(lambda c, r: True, "always"))
    assert parse_spec("0.5*always")("anything").value == 0.5


def test_non_string_spec_is_rejected():
    with pytest.raises(SpecError):
        parse_spec(42)  # type: ignore[arg-type]


def test_a_builtin_whose_package_is_missing_is_a_spec_error(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "verifiers.code", None)  # `import verifiers.code` now fails
    with pytest.raises(SpecError, match="'code'.*not installed"):
        parse_spec("code")
