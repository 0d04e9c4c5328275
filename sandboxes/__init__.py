"""Run untrusted programs with limits and isolation; the test harness for code rewards.

    >>> from sandboxes import run_tests, isolation_report
    >>> run_tests("def add(a, b): return a + b",
    ...           {"kind": "assert", "tests": ["assert add(1, 2) == 3"]}).passed
    True
    >>> isolation_report()["level"] in ("namespaces", "rlimits")   # `python -m sandboxes doctor`
    True

Modules: limits (Limits, rlimits), isolation (levels, namespaces), zygote (the warm fork
server and the process tree), process (one run: pipes, deadline, caps), harness (the child
side of each role), rpc (the `assert` tests' channel to the candidate: proxies, checked
replies, which names cross), wire (values on the wire, comparisons), judge (tests objects).
This package never imports `verifiers`.
"""

from sandboxes.judge import BadTests, TestOutcome, TestReport, budget_s, run_tests, validate
from sandboxes.limits import Limits
from sandboxes.process import RunResult, run
from sandboxes.report import isolation_report
from sandboxes.zygote import SandboxError, Zygote, default_zygote, shutdown

__all__ = [
    "BadTests", "Limits", "RunResult", "SandboxError", "TestOutcome", "TestReport", "Zygote",
    "budget_s", "default_zygote", "isolation_report", "run", "run_tests", "shutdown", "validate",
]
