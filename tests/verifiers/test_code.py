"""The code verifier: extraction, reasons, references, budget, spec and CLI entry points."""

from __future__ import annotations

import json

import pytest

from verifiers.code import CodeVerifier, extract_program
from verifiers.score import BadReference

ADD = {"language": "python", "kind": "assert", "tests": ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]}
GOOD = "<think>easy</think><answer>\n```python\ndef add(a, b):\n    return a + b\n```\n</answer>"
V = CodeVerifier(timeout_s=2.0)


@pytest.mark.parametrize("text, program", [
    ("```python\nx = 1\n```", "x = 1\n"),
    ("```\nfirst\n```\nthen\n```py\nsecond\n```", "second\n"),
    ("<think>```python\nwrong\n```</think><answer>```python\nright\n```</answer>", "right\n"),
    ("<answer>print(1)</answer>", "print(1)"),
    ("print(2)", "print(2)"),
    ("```python\ntruncated = 1\n", "truncated = 1\n"),
    ("<answer>   </answer>", None),
    ("", None),
    ("<think>only thinking</think>", None),
])
def test_extract_program(text, program):
    assert extract_program(text) == program


def test_correct_program_scores_one():
    s = V(GOOD, ADD)
    assert (s.value, s.passed, s.reason, s.parts) == (1.0, True, "ok", {"code": 1.0})


def test_reference_may_be_a_json_string():
    assert V(GOOD, json.dumps(ADD)).passed


def test_partial_credit_and_first_failure_reason():
    s = V("```python\ndef add(a, b):\n    return 3\n```", ADD)
    assert (s.value, s.passed, s.reason) == (0.5, False, "wrong_answer")


@pytest.mark.parametrize("program, reason", [
    ("def add(a, b) return", "syntax_error"),
    ("def add(a, b):\n    raise ValueError", "runtime_error"),
    ("def add(a, b):\n    while True: pass", "time_limit"),
    ("def add(a, b):\n    return bytearray(1 << 34)", "memory"),
    ("def add(a, b):\n    print('x' * (1 << 22))\n    return a + b", "output_limit"),
])
def test_failure_reasons(program, reason):
    s = CodeVerifier(timeout_s=1.0)(f"```python\n{program}\n```", ADD)
    assert (s.value, s.passed, s.reason) == (0.0, False, reason)


def test_no_code():
    assert V("<answer></answer>", ADD).reason == "no_code"
    assert V("<think>hmm</think>", ADD).reason == "no_code"


@pytest.mark.parametrize("ref", [
    None, "not json", {"kind": "nope"}, {"kind": "assert", "tests": []},
    {"kind": "assert", "tests": ["assert ("]}, {"kind": "call", "entry_point": "f", "cases": [{"args": [1]}]},
    {"kind": "stdio", "cases": [{"stdin": ""}]}, {"kind": "assert", "language": "cobol", "tests": ["x"]},
])
def test_malformed_reference_raises(ref):
    with pytest.raises(BadReference):
        V(GOOD, ref)


def test_stdio_and_call_kinds():
    stdio = {"kind": "stdio", "cases": [{"stdin": "2 3\n", "stdout": "5\n"}, {"stdin": "1 1", "stdout": "2.0"}]}
    assert V("```python\na, b = map(int, input().split())\nprint(a + b)\n```", stdio).passed
    call = {"kind": "call", "entry_point": "add", "cases": [{"args": [1, 2], "expected": 3},
                                                            {"args": [], "kwargs": {"a": 1, "b": 1}, "expected": 2}]}
    assert V(GOOD, call).passed


def test_budget_covers_every_test():
    assert V.budget_s(ADD) >= 2 * 2.0
    with pytest.raises(BadReference):
        V.budget_s({"kind": "x"})


def test_default_constructor_and_spec_name():
    v = CodeVerifier()
    assert v.name == "code" and repr(v) == "code"
    from verifiers.spec import parse_spec
    assert parse_spec("code")(GOOD, ADD).passed


def test_a_sandbox_that_cannot_start_is_a_verifier_error(monkeypatch):
    import verifiers.code as code
    from sandboxes import SandboxError
    from verifiers.score import VerifierError

    def broken(*args, **kwargs):
        raise SandboxError("namespaces isolation unavailable: test")
    monkeypatch.setattr(code, "run_tests", broken)
    with pytest.raises(VerifierError, match="namespaces isolation unavailable") as info:
        V(GOOD, ADD)
    assert isinstance(info.value, SandboxError)  # old `except SandboxError` still catches it
