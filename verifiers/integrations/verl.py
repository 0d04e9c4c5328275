"""verl's custom reward function: `compute_score(data_source, solution_str, ground_truth, extra_info)`.

verl (checked against volcengine/verl `verl/trainer/ppo/reward.py::get_custom_reward_fn` and
`verl/workers/reward_manager/naive.py`, `batch.py`) loads the function named by
`custom_reward_function.name` from the file at `custom_reward_function.path`, merges
`custom_reward_function.reward_kwargs` into every call, and accepts a float or a dict with a
"score" key whose other keys are collected per item into `reward_extra_info`. Those keys must
be the same for every item of a batch, so each result carries exactly
`{"score", "acc", "unscored"}`: the shaped reward, strict correctness (1.0/0.0), and 1.0 when
the item could not be scored (timeout, crash, bad reference: score 0.0, never silently mixed up
with a wrong answer in the logs).

The verifier is chosen from `data_source` by a table of name patterns (`DEFAULT_SOURCES`,
first match wins; exact names before patterns), not an if/elif chain; `reward_kwargs`
(`sources`, `default_spec`, `spec`) or `extra_info["reward_spec"]` override it. A spec from
`extra_info` is data: it may choose any verifiers, but no resource or isolation limit looser
than those of the configured specs (`verifiers.spec.check_within`); one that asks for more
scores that item 0.0 with `unscored: 1.0`.
`compute_score_batch` is the same for verl's `reward_manager=batch`, which scores a whole
batch in one call to the worker pool instead of one round trip per item.

    pytest tests/verifiers/test_adapters_verl.py
"""

from __future__ import annotations

import fnmatch
import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from verifiers.runtime.local import UNSCORED_REASONS, RewardService, checked_outcome
from verifiers.spec import parse_spec

# data_source pattern (fnmatch, case-insensitive) -> reward spec. Names from verl's examples
# (openai/gsm8k, lighteval/MATH, DigitalLearningGmbH/MATH-lighteval, codecontests, apps, taco, ...).
DEFAULT_SOURCES: dict[str, str] = {
    "*gsm8k*": "math",
    "*math*": "math",
    "*aime*": "math",
    "*amc*": "math",
    "*numina*": "math",
    "*deepscaler*": "math",
    "*dapo*": "math",
    "*olympiad*": "math",
    "*minerva*": "math",
    "*code*": "code",
    "*apps*": "code",
    "*taco*": "code",
    "*humaneval*": "code",
    "*mbpp*": "code",
    "*leetcode*": "code",
    "*primeintellect*": "code",
}


class VerlReward:
    """Dispatches verl items to verifiers by `data_source` and scores them through one service.

    sources:      pattern -> spec, consulted before `DEFAULT_SOURCES` (exact names match first).
    default_spec: spec for a data_source no pattern matches (else that item raises ValueError).
    spec:         one spec for every item, ignoring data_source.
    service:      a service to share; otherwise one is started on first use (workers, timeout_s).
    """

    def __init__(self, sources: Mapping[str, str] | None = None, default_spec: str | None = None,
                 spec: str | None = None, *, service: Any = None, workers: int | None = None,
                 timeout_s: float = 10.0):
        self.sources = {**dict(sources or {}), **{k: v for k, v in DEFAULT_SOURCES.items() if k not in (sources or {})}}
        self.default_spec, self.spec = default_spec, spec
        for s in [*(sources or {}).values(), default_spec, spec]:
            if s is not None:
                parse_spec(s)  # a typo in the config fails at the first call, not item by item
        self.workers, self.timeout_s = workers, timeout_s
        self._service, self._owns_service = service, service is None
        self._lock = threading.Lock()

    @property
    def service(self) -> Any:
        with self._lock:
            if self._service is None:
                # Every configured spec is the operator's: together they bound extra_info's.
                configured = [*self.sources.values(), self.default_spec, self.spec]
                self._service = RewardService(self.spec or self.default_spec or "format",
                                              workers=self.workers, timeout_s=self.timeout_s,
                                              spec_ceiling=[s for s in configured if s is not None])
            return self._service

    def spec_for(self, data_source: str, extra_info: Any = None) -> str:
        if isinstance(extra_info, Mapping) and isinstance(extra_info.get("reward_spec"), str):
            return extra_info["reward_spec"]
        if self.spec:
            return self.spec
        if data_source in self.sources:
            return self.sources[data_source]
        name = str(data_source).lower()
        for pattern, spec in self.sources.items():
            if fnmatch.fnmatchcase(name, pattern.lower()):
                return spec
        if self.default_spec:
            return self.default_spec
        raise ValueError(f"no reward spec for data_source {data_source!r}: add it to `sources` "
                         f"(reward_kwargs) or set `default_spec`; patterns tried: {list(self.sources)}")

    def compute_score(self, data_source: str, solution_str: str, ground_truth: Any,
                      extra_info: Any = None) -> dict[str, float]:
        return self.compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info])[0]

    def compute_score_batch(self, data_sources: Sequence[str], solution_strs: Sequence[str],
                            ground_truths: Sequence[Any], extra_infos: Sequence[Any] | None = None
                            ) -> list[dict[str, float]]:
        extra_infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
        specs = [self.spec_for(ds, ei) for ds, ei in zip(data_sources, extra_infos, strict=True)]
        refs = [_reference(gt, spec) for gt, spec in zip(ground_truths, specs, strict=True)]
        outcomes = self.service.score_outcomes(list(solution_strs), refs, specs)
        out = []
        for o in map(checked_outcome, outcomes):  # a shared service may be any object
            unscored = o.score.reason in UNSCORED_REASONS
            out.append({"score": 0.0 if unscored else float(o.score.value), "acc": float(o.score.passed),
                        "unscored": float(unscored)})
        return out

    def close(self) -> None:
        if self._owns_service and self._service is not None:
            self._service.close()
            self._service = None


def _reference(ground_truth: Any, spec: str) -> Any:
    # verl datasets store code tests as a JSON string in `reward_model.ground_truth`.
    if "code" in spec and isinstance(ground_truth, str) and ground_truth.lstrip().startswith("{"):
        try:
            return json.loads(ground_truth)
        except (ValueError, RecursionError):  # the service reports it as that item's bad reference
            return ground_truth
    return ground_truth


# One VerlReward per distinct reward_kwargs, per process: verl calls the function item by item.
_INSTANCES: dict[str, VerlReward] = {}
_INSTANCES_LOCK = threading.Lock()


def _instance(options: dict[str, Any]) -> VerlReward:
    key = json.dumps(options, sort_keys=True, default=str)
    with _INSTANCES_LOCK:
        if key not in _INSTANCES:
            _INSTANCES[key] = VerlReward(**options)
        return _INSTANCES[key]


def compute_score(data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None,
                  **reward_kwargs: Any) -> dict[str, float]:
    """verl's custom reward function (NaiveRewardManager, `reward_manager=naive`).
    `reward_kwargs`: `sources`, `default_spec`, `spec`, `workers`, `timeout_s` (see VerlReward)."""
    return _instance(reward_kwargs).compute_score(data_source, solution_str, ground_truth, extra_info)


def compute_score_batch(data_sources: Sequence[str], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Any] | None = None, **reward_kwargs: Any) -> list[dict[str, float]]:
    """The batched form, for verl's BatchRewardManager (`reward_model.reward_manager=batch`)."""
    return _instance(reward_kwargs).compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos)
