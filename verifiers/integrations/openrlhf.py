"""OpenRLHF's remote reward model protocol, served by `verify serve` at POST /get_reward.

With `--remote_rm_url http://HOST:PORT/get_reward`, OpenRLHF POSTs, per chunk of a rollout
batch (openrlhf/utils/remote_rm_utils.py, `remote_rm_fn_ray` / `request_api_wrapper`):

    {"query": [prompt + response, ...], "prompts": [prompt, ...], "labels": [label, ...]}

`query` is the prompt and response decoded together with `skip_special_tokens=False`, so it
carries the chat template and ends in the end-of-sequence token; `labels` is the dataset
column named by `--label_key`. It reads back (openrlhf/trainer/ppo_utils/experience_maker.py,
`update_samples_with_rewards`; older releases read only "rewards"):

    {"rewards": [float, ...], "scores": [float, ...], "extra_logs": {name: [float, ...], ...}}

`rewards` drive the advantages, `scores` (0-1) feed dynamic sampling, and each `extra_logs`
list is logged per sample. OpenRLHF merges responses by the keys of the first one, so every
response of a server carries the same keys: the leaf verifiers of the reward spec, and
"unscored" (1.0 when an item could not be scored; its reward is then 0.0, since OpenRLHF has
no way to skip a sample).

    pytest tests/verifiers/test_server.py -k openrlhf
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from verifiers.runtime.local import UNSCORED_REASONS, Outcome
from verifiers.verifier import Verifier

# End-of-sequence and padding tokens that trail a decoded `query` for common chat models.
DEFAULT_STRIP_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>",
                        "<｜end▁of▁sentence｜>", "<|end|>", "<|eos|>", "<|pad|>", "<pad>", "<eos>")


def response_text(query: str, prompt: str | None, strip_tokens: Sequence[str] = DEFAULT_STRIP_TOKENS) -> str:
    """The model's response inside `query`: what follows the prompt, trailing special tokens off.

    The prompt is located by search rather than assumed to be a prefix, since decoding can add
    a BOS token in front of it; without a prompt (or when it is not found) the whole query is used.
    """
    text = query
    if prompt:
        at = query.find(prompt)
        if at >= 0:
            text = query[at + len(prompt):]
    stripped = True
    while stripped:
        stripped = False
        text = text.rstrip()
        for tok in strip_tokens:
            if tok and text.endswith(tok):
                text = text[: -len(tok)]
                stripped = True
    return text


def part_names(verifier: Verifier) -> list[str]:
    """The leaf verifiers of a spec, by name: the fixed keys of `extra_logs`."""
    kids = verifier.children()
    if not kids:
        return [repr(verifier)]
    names: list[str] = []
    for k in kids:
        names += [n for n in part_names(k) if n not in names]
    return names


def openrlhf_response(outcomes: Sequence[Outcome], parts: Sequence[str]) -> dict[str, Any]:
    """The JSON OpenRLHF reads back for a list of outcomes, in order."""
    rewards, scores = [], []
    logs: dict[str, list[float]] = {name: [] for name in parts}
    logs["unscored"] = []
    for o in outcomes:
        s = o.score
        unscored = s.reason in UNSCORED_REASONS or not math.isfinite(s.value)
        rewards.append(0.0 if unscored else float(s.value))
        scores.append(float(s.passed and not unscored))
        for name in parts:
            v = s.parts.get(name, 0.0)
            logs[name].append(float(v) if math.isfinite(v) else 0.0)
        logs["unscored"].append(float(unscored))
    return {"rewards": rewards, "scores": scores, "extra_logs": logs}
