"""Composable verifiers for reasoning RL: format, math, code, shaping rewards, the reward service.

    from verifiers import parse_spec, RewardService
    reward = parse_spec("0.1*format + math")
    reward("<think>…</think><answer>\\frac12</answer>", "0.5")          # one item, in-process
    RewardService("0.1*format + math").score(completions, references)   # a batch, with deadlines

`__all__` is the promise; anything else may change. Heavy parts (sympy for math, the sandbox
for code) are imported on first use.
"""

from typing import Any

from verifiers import moved
from verifiers.format import FormatVerifier
from verifiers.score import (
    UNSCORED_REASONS,
    BadReference,
    Score,
    ServiceError,
    SpecError,
    VerifierError,
)
from verifiers.shaping import LanguageConsistency, OverlongPenalty, RepetitionPenalty
from verifiers.spec import BUILTINS, parse_spec, register
from verifiers.verifier import Fallback, FunctionVerifier, Gate, Scaled, Sum, Verifier

moved.install()  # the flat layout's module paths (verifiers.service, ...) still import

# Heavy names, imported on first use: the built-in verifiers' classes (from the registry
# table) and a few functions and classes of the layers above.
_LAZY = {
    **{cls: module for module, _, cls in (path.partition(":") for path in BUILTINS.values())},
    "math_equal": "verifiers.math.verifier",
    "extract_answer": "verifiers.extract",
    "RewardService": "verifiers.runtime.local",
    "Outcome": "verifiers.runtime.local",
}

__all__ = [
    "BadReference", "CodeVerifier", "ExactVerifier", "Fallback", "FormatVerifier", "FunctionVerifier",
    "Gate", "LanguageConsistency", "MathVerifier", "Outcome", "OverlongPenalty", "RepetitionPenalty",
    "RewardService", "Scaled", "Score", "ServiceError", "SpecError", "Sum", "UNSCORED_REASONS", "Verifier",
    "VerifierError", "extract_answer", "math_equal", "parse_spec", "register",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'verifiers' has no attribute {name!r}")
