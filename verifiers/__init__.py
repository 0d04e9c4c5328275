"""Composable verifiers for reasoning RL: format, math, code, shaping rewards, the reward service."""

from verifiers.score import BadReference, Score, ServiceError, SpecError, VerifierError
from verifiers.verifier import Fallback, FunctionVerifier, Gate, Scaled, Sum, Verifier

__all__ = [
    "BadReference", "Fallback", "FunctionVerifier", "Gate", "Scaled", "Score", "ServiceError",
    "SpecError", "Sum", "Verifier", "VerifierError",
]
