"""A TRL reward function backed by the reward service: `GRPOTrainer(reward_funcs=[trl_reward(...)])`.

TRL (checked against trl 1.16, `GRPOTrainer._calculate_rewards`) calls each reward function as
`fn(prompts=..., completions=..., completion_ids=..., **columns)`, where `columns` holds every
dataset column except "prompt" repeated per completion, plus `trainer_state`, `log_extra` and
`log_metric`. It wants one float per completion back; `None` means "this reward does not apply
here" and TRL leaves it out of that sample's sum. So:

- the reference comes from a dataset column (`reference_column`, default "reference");
- completions are plain strings (standard format) or message lists (conversational format:
  the last assistant message's text is scored);
- an item whose verifier timed out or crashed scores `timeout_reward` (0.0 by default), as
  grpo, verl and OpenRLHF count it: the completion is usually what hung the verifier, and a
  policy must not learn that hanging it escapes a wrong answer's penalty; an item whose data
  is at fault (bad reference, bad spec, a verifier error) returns `unscored` (`None` by
  default: TRL leaves it out, never a silent 0.0 that would teach the policy something false);
- per-part means, the pass rate and the unscored fraction go to `log_metric`, each item's
  reason to the completions table through `log_extra`, when the running TRL offers them.

Deadlines are enforced by the service killing worker processes, never by `signal.alarm`, so
the function is safe where TRL calls async reward functions: from an event loop on a thread.

    pytest tests/verifiers/test_adapters_trl.py
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Any

from verifiers.runtime.local import UNSCORED_REASONS, RewardService, SpecCeiling, checked_outcome
from verifiers.score import Score
from verifiers.verifier import Verifier

log = logging.getLogger(__name__)


def completion_text(completion: Any) -> str:
    """The text to score: a string as is; for a conversational completion (a list of messages)
    the content of its last assistant message, text blocks joined."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, Sequence):
        messages = [m for m in completion if isinstance(m, dict)]
        assistant = [m for m in messages if m.get("role", "assistant") == "assistant"]
        if not assistant:
            return ""
        content = assistant[-1].get("content") or ""
        if isinstance(content, str):
            return content
        # content blocks: [{"type": "text", "text": "..."}, {"type": "image", ...}]
        return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    raise TypeError(f"cannot read a completion of type {type(completion).__name__}")


class TRLReward:
    """A reward function with TRL's signature; see the module docstring.

    spec:             reward spec string or Verifier ("0.1*format + math").
    reference_column: dataset column holding the gold answer (or code tests).
    spec_column:      optional dataset column with a per-row spec that overrides `spec`; it may
                      choose any verifiers but no limit looser than `spec`'s or `spec_ceiling`'s.
    spec_ceiling:     more specs whose limits a row's spec may use (see RewardService).
    timeout_reward:   what an item that timed out or crashed its worker returns (default 0.0,
                      a failure); None leaves it out, as before (a policy can learn to hang).
    unscored:         what a bad_reference or error item returns: None (TRL skips it) or a number.
    service:          an existing service (RewardService, RayRewardService) to share; else one is
                      started on first use with `workers` and `timeout_s` and owned by this object.
    name:             the name TRL logs the reward under (default: the spec).
    """

    def __init__(self, spec: str | Verifier = "0.1*format + math", *, reference_column: str = "reference",
                 spec_column: str | None = None, unscored: float | None = None, service: Any = None,
                 workers: int | None = None, timeout_s: float = 10.0, name: str | None = None,
                 spec_ceiling: SpecCeiling = None, timeout_reward: float | None = 0.0):
        self.spec, self.reference_column, self.spec_column = spec, reference_column, spec_column
        self.spec_ceiling = spec_ceiling
        self.unscored, self.workers, self.timeout_s = unscored, workers, timeout_s
        self.timeout_reward = timeout_reward
        self._service, self._owns_service = service, service is None
        self._lock = threading.Lock()
        # TRL names a reward function by `__name__` (trl.trainer.utils.get_callable_name).
        self.__name__ = name or (spec if isinstance(spec, str) else repr(spec))

    # --- TRL's calling convention ------------------------------------------------------------
    def __call__(self, prompts: list[Any], completions: list[Any], completion_ids: list[Any] | None = None,
                 **kwargs: Any) -> list[float | None]:
        return self._score(completions, kwargs)

    # --- internals -------------------------------------------------------------------------
    @property
    def service(self) -> Any:
        with self._lock:
            if self._service is None:
                self._service = RewardService(self.spec, workers=self.workers, timeout_s=self.timeout_s,
                                              spec_ceiling=self.spec_ceiling)
            return self._service

    def _score(self, completions: list[Any], columns: dict[str, Any]) -> list[float | None]:
        if self.reference_column not in columns:
            known = sorted(k for k in columns if k not in ("trainer_state", "log_extra", "log_metric", "environments"))
            raise KeyError(f"reward {self.__name__!r} reads the reference from dataset column "
                           f"{self.reference_column!r}, which the batch lacks; columns present: {known}")
        references = list(columns[self.reference_column])
        specs = list(columns[self.spec_column]) if self.spec_column and self.spec_column in columns else None
        texts = [completion_text(c) for c in completions]
        outcomes = [checked_outcome(o) for o in self.service.score_outcomes(texts, references, specs)]
        for o in outcomes:
            if o.error and o.score.reason in UNSCORED_REASONS:
                log.warning("reward %s could not score an item (%s): %s", self.__name__, o.score.reason, o.error)
        scores = [o.score for o in outcomes]
        self._log(scores, columns)
        return [self._reward(s) for s in scores]

    def _reward(self, s: Score) -> float | None:
        if s.reason in ("timeout", "crashed"):
            return self.timeout_reward
        return self.unscored if s.reason in UNSCORED_REASONS else s.value

    def _log(self, scores: list[Score], columns: dict[str, Any]) -> None:
        log_metric, log_extra = columns.get("log_metric"), columns.get("log_extra")
        if callable(log_extra):
            log_extra(f"{self.__name__}/reason", [s.reason for s in scores])
        if not callable(log_metric) or not scores:
            return
        scored = [s for s in scores if s.reason not in UNSCORED_REASONS]
        log_metric(f"{self.__name__}/unscored_frac", 1.0 - len(scored) / len(scores))
        if not scored:
            return
        log_metric(f"{self.__name__}/pass_rate", sum(s.passed for s in scored) / len(scored))
        parts: dict[str, list[float]] = {}
        for s in scored:
            for k, v in s.parts.items():
                parts.setdefault(k, []).append(v)
        for k, vs in sorted(parts.items()):
            log_metric(f"{self.__name__}/part/{k}", sum(vs) / len(vs))

    def close(self) -> None:
        """Stop the service if this object started it."""
        if self._owns_service and self._service is not None:
            self._service.close()
            self._service = None

    def __getstate__(self) -> dict[str, Any]:
        # A running service (pipes, locks) does not pickle; a copy starts its own on first use.
        state = dict(self.__dict__)
        state.pop("_lock")
        if self._owns_service:
            state["_service"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__name__!r}, reference_column={self.reference_column!r})"


class AsyncTRLReward(TRLReward):
    """The same reward as an `async` function: TRL runs async rewards concurrently with each
    other on its event-loop thread; scoring runs in a thread so that loop stays free."""

    async def __call__(self, prompts: list[Any], completions: list[Any], completion_ids: list[Any] | None = None,
                       **kwargs: Any) -> list[float | None]:
        return await asyncio.to_thread(self._score, completions, kwargs)


def trl_reward(spec: str | Verifier = "0.1*format + math", *, asynchronous: bool = False,
               **options: Any) -> TRLReward:
    """A TRL reward function for `spec`; `asynchronous=True` gives the `async` variant.
    Options: see `TRLReward`."""
    return (AsyncTRLReward if asynchronous else TRLReward)(spec, **options)
