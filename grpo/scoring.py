"""From completions to rewards: the reward service, or an in-process scorer for tests.

A scorer is any object with `.score(completions, references, specs) -> list[Score]`, same
length and order. Runs use `verifiers.runtime.local.RewardService` (worker processes, a deadline
per item). `LocalScorer` scores in this process with any callable `(completion, reference)
-> Score | float | bool` (a `verifiers.Verifier` included): no workers and no deadline, for
tests and for users' own fakes.

An item the service could not score (reason "timeout", "crashed", "bad_reference", "error")
becomes a NaN reward: excluded from its group, never counted as 0. `timeout_reward` (a config
field, 0 by default in `grpo train`) scores timeouts and crashes instead, which closes an
escape a policy could learn: an answer that hangs the verifier would be left out, where a
wrong one is penalised. A code program past its own time limit is no such item: the sandbox
scores it as a failed test (reason "time_limit"), like any wrong answer.

    pytest tests/grpo/test_scoring.py
"""

from __future__ import annotations

import logging
import math
import queue
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

# UNSCORED_REASONS, the reasons for "could not be scored", is owned by verifiers.score (a light
# import: importing grpo starts no worker machinery); grpo.train reads it from here. The
# sandbox's "time_limit" is a scored failure, not one of these.
from verifiers.score import UNSCORED_REASONS, Score

log = logging.getLogger(__name__)


class Scorer(Protocol):
    def score(self, completions: Sequence[str], references: Sequence[Any],
              specs: Sequence[str | None] | None = None) -> list[Score]: ...


class LocalScorer:
    """Scores in-process with a callable (or a spec string per row, parsed by `verifiers`).

    A row's spec string is data, held to the rules of the reward service: no resource or
    isolation limit looser than the default spec's (`verifiers.spec.check_within`), and a
    reward within the verifier's `value_bound` (a plain callable's: MAX_REWARD). A row whose
    spec breaks them, or whose reward does, scores `reason "error"`, as in the service."""

    def __init__(self, fn: Callable[[str, Any], Any] | str):
        from verifiers.keys import LRU
        from verifiers.spec import parse_spec
        from verifiers.verifier import Verifier

        self.default = fn
        self._parsed: LRU[str, Any] = LRU(1024)
        # What a row's spec may ask for at most: the default spec's limits (a callable has none,
        # so each verifier class's own defaults bound it).
        self._ceiling = [parse_spec(fn)] if isinstance(fn, str | Verifier) else []

    def _resolve(self, spec: Callable[[str, Any], Any] | str) -> Callable[[str, Any], Any]:
        if not isinstance(spec, str):
            return spec
        v = self._parsed.get(spec)
        if v is None:
            from verifiers.spec import check_within, parse_spec
            v = parse_spec(spec)
            if spec != self.default:
                check_within(v, self._ceiling)
            self._parsed.put(spec, v)
        return v

    def score(self, completions: Sequence[str], references: Sequence[Any],
              specs: Sequence[str | None] | None = None) -> list[Score]:
        from verifiers.score import SpecError

        specs = specs or [None] * len(completions)
        out = []
        for c, r, s in zip(completions, references, specs, strict=True):
            try:
                fn = self._resolve(s if s is not None else self.default)
            except SpecError as e:
                if s is None:
                    raise  # the default spec is the operator's: a bad one fails the run
                log.warning("row spec refused: %s", e)
                out.append(Score(0.0, False, "error"))
                continue
            out.append(_bounded(fn, fn(c, r)))
        return out

    def close(self) -> None:
        pass


def _bounded(fn: Any, v: Any) -> Score:
    """`v` as a Score, or an error Score when it is not finite or beyond fn's value bound."""
    from verifiers.verifier import MAX_REWARD, within_bound

    s = v if isinstance(v, Score) else Score(float(v), float(v) >= 1.0, "ok" if float(v) >= 1.0 else "mismatch")
    bound = fn.value_bound() if hasattr(fn, "value_bound") else MAX_REWARD
    if not (math.isfinite(s.value) and within_bound(s.value, bound)):
        log.warning("reward %r of %r is not finite or beyond its bound %g", s.value, fn, bound)
        return Score(0.0, False, "error")
    return s


class StreamedScoring:
    """Scores one rollout's completions while the rest are still being generated.

    `submit(rows, completions)` (the rollout's `on_finished` hook) queues finished rows; a
    background thread hands everything queued so far to `scorer` as one batch, so the reward
    service's worker processes score early finishers while the policy generates the rest.
    `results(texts)` scores the rows never submitted (cut at max_new_tokens) and returns every
    row's Score in row order. Each submitted row's text is checked against the rollout's final
    text; a row whose text differs is scored again, so the stream can only change when scores
    arrive, never what they are.
    """

    def __init__(self, scorer: Scorer, references: Sequence[Any], specs: Sequence[str | None] | None,
                 decode: Callable[[list[list[int]]], list[str]]):
        self.scorer, self.references, self.specs, self.decode = scorer, references, specs, decode
        self.scored: dict[int, tuple[str, Score]] = {}
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="grpo-scoring", daemon=True)
        self._thread.start()

    def submit(self, rows: list[int], completions: list[list[int]]) -> None:
        self._queue.put((rows, completions))

    def results(self, texts: Sequence[str]) -> list[Score]:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        rest = [r for r in range(len(texts)) if r not in self.scored or self.scored[r][0] != texts[r]]
        if rest:
            self._score(rest, [texts[r] for r in rest])
        return [self.scored[r][1] for r in range(len(texts))]

    def _loop(self) -> None:
        done = False
        while not done:
            batch = [self._queue.get()]
            while not self._queue.empty():  # everything queued meanwhile goes in the same batch
                batch.append(self._queue.get())
            done = any(item is None for item in batch)
            rows = [r for item in batch if item is not None for r in item[0]]
            completions = [c for item in batch if item is not None for c in item[1]]
            if rows and self._error is None:
                try:
                    self._score(rows, self.decode(completions))
                except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread by results()
                    self._error = e

    def _score(self, rows: list[int], texts: list[str]) -> None:
        specs = [self.specs[r] for r in rows] if self.specs is not None else None
        scores = self.scorer.score(texts, [self.references[r] for r in rows], specs)
        self.scored.update({r: (t, s) for r, t, s in zip(rows, texts, scores, strict=True)})


_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)
_FORMAT = re.compile(r"^\s*<think>.*?</think>\s*<answer>.*?</answer>\s*$", re.S)


def answer_match(completion: str, reference: Any) -> Score:
    """A tiny stand-in for "0.1*format + exact": 0.1 for the tags, 1 for the right answer."""
    fmt = 0.1 if _FORMAT.match(completion) else 0.0
    m = _ANSWER.search(completion)
    if m is None:
        return Score(fmt, False, "no_answer", {"format": fmt, "answer": 0.0})
    ok = m.group(1).strip() == str(reference).strip()
    return Score(fmt + ok, ok, "ok" if ok else "mismatch", {"format": fmt, "answer": float(ok)})


def reward_service(spec: str, workers: int, timeout_s: float) -> Scorer:
    """The reward service with `workers` processes; 0 workers: a LocalScorer, no processes."""
    if workers == 0:
        return LocalScorer(spec)
    from verifiers.runtime.local import RewardService  # worker processes start only for real runs
    return RewardService(spec, workers=workers, timeout_s=timeout_s)


def to_rewards(scores: Sequence[Score], timeout_reward: float | None = None) -> list[float]:
    """Score -> reward, NaN where the item could not be scored. With `timeout_reward`, an item
    that ran out of time or crashed its worker gets that reward instead: the completion is
    usually what hung, and a policy must not learn that hanging the verifier spares it the
    penalty of a wrong answer."""
    def reward(s: Score) -> float:
        if s.reason in ("timeout", "crashed") and timeout_reward is not None:
            return float(timeout_reward)
        return math.nan if s.reason in UNSCORED_REASONS else float(s.value)
    return [reward(s) for s in scores]
