"""The Score every verifier returns, its reasons, and the exceptions for broken references and infrastructure.

A wrong or malformed completion is data: it gets a Score with a reason. A broken reference
or a broken piece of infrastructure raises one of the exceptions below instead:

    Exception
    └── VerifierError                    every exception the toolkit raises on purpose
        ├── BadReference                 the gold answer or tests are malformed (a data bug);
        │                                the reward service scores the item "bad_reference"
        │   (ReferenceError_ is its deprecated old name)
        ├── SpecError (also ValueError)  a reward spec does not parse or names an unknown verifier
        ├── ServiceError (also RuntimeError)  the reward service itself is broken
        └── code.SandboxUnavailable (also sandboxes.SandboxError)  the sandbox cannot run at all

Reasons. A verifier's own reasons mean "scored": the completion was judged (OK, or why not:
MISMATCH, NO_ANSWER, HEDGED, PARSE_ERROR, NOT_TEXT, NO_CODE, a format reason from
`verifiers.format.check_format`, a code reason from `sandboxes.judge.REASONS`). The reasons in
UNSCORED_REASONS mean "could not be scored": the service's own failures, never the model's
verdict, so trainers leave such items out instead of counting them wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Scored: the completion was judged.
OK = "ok"
MISMATCH = "mismatch"          # an answer, not the reference's
NO_ANSWER = "no_answer"        # no answer could be found
HEDGED = "hedged"              # several answers offered, or the answer taken back
PARSE_ERROR = "parse_error"    # the answer does not parse (math)
NOT_TEXT = "not_text"          # the completion is not a string
NO_CODE = "no_code"            # no program in the completion (code)
# Unscored: the reward service could not judge the item (see UNSCORED_REASONS).
TIMEOUT = "timeout"            # the verifier ran past its deadline and its worker was killed
CRASHED = "crashed"            # the worker died (or ran out of memory, or replied nonsense)
BAD_REFERENCE = "bad_reference"  # the reference is malformed (BadReference)
ERROR = "error"                # the verifier raised, or the item could not be sent
# Not a Score's: `verify` marks an input line it cannot use (reward null).
BAD_INPUT = "bad_input"

# Reasons that mean "could not be scored", not "scored wrong": the service's own failures. A
# code program past its own time limit is scored ("time_limit", a failed test), never one of these.
UNSCORED_REASONS = frozenset({TIMEOUT, CRASHED, BAD_REFERENCE, ERROR})


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

    @classmethod
    def unscored(cls, reason: str) -> Score:
        """The zero Score the reward service gives an item it could not judge (`reason` in
        UNSCORED_REASONS); the error text travels beside it, in the service's Outcome."""
        if reason not in UNSCORED_REASONS:
            raise ValueError(f"{reason!r} is not one of the unscored reasons {sorted(UNSCORED_REASONS)}")
        return cls(0.0, False, reason)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A Score as the reward service returns it, with why the item could not be scored."""

    score: Score
    error: str | None = None  # why the item could not be scored, when it could not


class VerifierError(Exception):
    """Base of every exception the toolkit raises on purpose."""


class BadReference(VerifierError):
    """The reference (gold answer or tests) is malformed: a data bug, not a wrong completion."""


# Deprecated: the old name of BadReference (the same class).
ReferenceError_ = BadReference


class SpecError(VerifierError, ValueError):
    """A reward spec string does not parse or names an unknown verifier."""


class ServiceError(VerifierError, RuntimeError):
    """The reward service itself is broken (workers cannot start, the pool is closed)."""
