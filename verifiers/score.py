"""The Score every verifier returns, and the exceptions for broken references and infrastructure.

A wrong or malformed completion is data: it gets a Score with a reason. A broken reference
or a broken piece of infrastructure raises one of the exceptions below instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Score:
    """The verdict on one completion.

    value:  the shaped reward that the trainer optimises (float).
    passed: strict correctness, for accuracy and pass@k; independent of shaping.
    reason: short machine-readable string: "ok", "no_answer", "mismatch", "timeout", ...
    parts:  name -> value of each sub-verifier, for logging.
    """

    value: float
    passed: bool
    reason: str = "ok"
    parts: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"reward": self.value, "passed": self.passed, "reason": self.reason, "parts": dict(self.parts)}

    @classmethod
    def fail(cls, reason: str, name: str | None = None) -> Score:
        """A zero score with a reason; `name` records the verifier in `parts`."""
        return cls(0.0, False, reason, {name: 0.0} if name else {})


@dataclass(frozen=True, slots=True)
class Outcome:
    """A Score as the reward service returns it, with why the item could not be scored."""

    score: Score
    error: str | None = None  # why the item could not be scored, when it could not


class VerifierError(Exception):
    """Base of every exception the toolkit raises on purpose."""


class ReferenceError_(VerifierError):
    """The reference (gold answer or tests) is malformed: a data bug, not a wrong completion."""


# A public, readable alias: `verifiers.BadReference`.
BadReference = ReferenceError_


class SpecError(VerifierError, ValueError):
    """A reward spec string does not parse or names an unknown verifier."""


class ServiceError(VerifierError, RuntimeError):
    """The reward service itself is broken (workers cannot start, the pool is closed)."""
