"""The `code` verifier: extract the program from a completion, run its tests in the sandbox.

    >>> from verifiers.code import CodeVerifier
    >>> tests = {"kind": "assert", "tests": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]}
    >>> CodeVerifier()("```python\\ndef add(a, b):\\n    return a + b\\n```", tests)
    Score(value=1.0, passed=True, reason='ok', parts={'code': 1.0})

The program is the last fenced block of the `<answer>` (or of the completion, outside
`<think>`), else the whole answer. value = fraction of tests passed; passed = all passed;
reason = the first failure's: wrong_answer, runtime_error, time_limit, memory, output_limit,
syntax_error, or no_code when there is nothing to run. Every one of these is a verdict on the
program, scored: `time_limit` (a test ran out of time) is a wrong answer that keeps the credit
of the tests that passed, never the reward service's unscored `timeout`, and `budget_s` makes
the service's deadline for the item long enough that the verdict arrives first. Comparisons
are exact except where the expected value is a float (sandboxes.judge says the rules). Tests
run in `sandboxes` (see its docstring for isolation levels and the threat model); a malformed
tests object raises BadReference, a sandbox that cannot start raises SandboxUnavailable (both
a VerifierError and a sandboxes.SandboxError, so either `except` catches it).

    python -m pytest tests/verifiers/test_code.py -q
"""

from __future__ import annotations

import re
from typing import Any

from sandboxes import BadTests, Limits, SandboxError, budget_s, default_zygote, run_tests, validate
from verifiers.extract import answer_block, strip_think
from verifiers.score import BadReference, Score, VerifierError
from verifiers.verifier import Verifier

_FENCE_RE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)
_OPEN_FENCE_RE = re.compile(r"```[^\n`]*\n")


class SandboxUnavailable(VerifierError, SandboxError):
    """The sandbox cannot start or was lost: broken infrastructure, not a wrong program."""


def extract_program(completion: str) -> str | None:
    """The candidate program of a completion, or None when there is none."""
    text = strip_think(completion or "")
    if re.search(r"<answer>", text, re.IGNORECASE):
        text = answer_block(text) or ""
    blocks = _FENCE_RE.findall(text)
    if blocks:
        program = blocks[-1]
    else:
        opens = list(_OPEN_FENCE_RE.finditer(text))
        program = text[opens[-1].end():] if opens else text  # a truncated last block counts
    return program if program.strip() else None


class CodeVerifier(Verifier):
    """Runs the reference's tests (the docs/design.md tests object, a dict or its JSON) in the sandbox.

    timeout_s:      wall-clock limit per test (and per stdio case).
    memory_bytes:   address-space limit per process.
    output_bytes:   stdout / stderr kept per process; more is `output_limit`.
    max_processes:  processes and threads per program.
    isolation:      "auto" (strongest available), "namespaces" (required) or "rlimits".
    """

    name = "code"
    # "namespaces" requires the strongest level, "auto" takes the strongest that works here
    # (which may be rlimits), "rlimits" gives the program the network and host writes.
    LIMIT_ORDER = {"isolation": ("namespaces", "auto", "rlimits")}

    def __init__(self, *, timeout_s: float = 5.0, memory_bytes: int = 1 << 30,
                 output_bytes: int = 1 << 20, max_processes: int = 32, isolation: str = "auto"):
        self.limits = Limits(timeout_s=timeout_s, memory_bytes=memory_bytes,
                             output_bytes=output_bytes, max_processes=max_processes)
        self.isolation = isolation

    def _tests(self, reference: Any) -> dict:
        try:
            return validate(reference)
        except BadTests as e:
            raise BadReference(str(e)) from e

    def resource_limits(self) -> dict[str, Any]:
        """Every sandbox limit and the isolation level: a spec chosen by data may only tighten them."""
        return {**self.limits.to_dict(), "isolation": self.isolation}

    def budget_s(self, reference: Any) -> float:
        """Upper bound on the seconds one item may take: per-test timeouts plus start-up, so
        that the reward service's deadline (its timeout_s plus this) outlasts the sandbox's
        own and a looping program gets its `time_limit` verdict, not an unscored `timeout`."""
        return budget_s(self._tests(reference), self.limits)

    def score(self, completion: str, reference: Any) -> Score:
        tests = self._tests(reference)
        program = extract_program(completion)
        if program is None:
            return Score.fail("no_code", self.name)
        try:
            report = run_tests(program, tests, self.limits, zygote=default_zygote(self.isolation))
        except SandboxUnavailable:
            raise
        except SandboxError as e:
            raise SandboxUnavailable(str(e)) from e
        return Score(report.fraction, report.passed, report.reason, {self.name: report.fraction})

    def __repr__(self) -> str:
        return self.name
