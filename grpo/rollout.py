"""Rollouts: G sampled completions per prompt with `generate` (KV cache, temperature, top-p,
stop at eos), kept as token lists together with their scores.

Rows are grouped: row p·G + g is completion g of prompt p. A completion ends at its first eos
(included, so the model learns to stop); one that reaches max_new_tokens without eos is
`truncated`.

    pytest tests/grpo/test_train.py -k rollout
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import GenerationConfig, StoppingCriteria, StoppingCriteriaList

from grpo.distributed import autocast
from grpo.policy import prompt_cache


@dataclass
class Rollout:
    """N = P·G completions of P prompts. Group p owns rows p·G … p·G + G - 1."""

    group_size: int
    prompt_index: list[int]                 # (P,) dataset row of each group
    prompt_ids: list[list[int]]             # (N,) prompt tokens of each row
    completion_ids: list[list[int]]         # (N,) sampled tokens, up to and including eos
    truncated: list[bool]                   # (N,) reached max_new_tokens without eos
    texts: list[str]                        # (N,) decoded completions, special tokens dropped
    scores: list[Any] = field(default_factory=list)     # (N,) Score of each row, once scored
    rewards: list[float] = field(default_factory=list)  # (N,) reward, NaN when unscored

    def __len__(self) -> int:
        return len(self.completion_ids)

    def groups(self, which: list[int]) -> Rollout:
        """The rollout restricted to the groups listed (in that order)."""
        g = self.group_size
        rows = [p * g + k for p in which for k in range(g)]
        pick = lambda xs: [xs[r] for r in rows] if xs else []  # noqa: E731
        return Rollout(g, [self.prompt_index[p] for p in which], pick(self.prompt_ids), pick(self.completion_ids),
                       pick(self.truncated), pick(self.texts), pick(self.scores), pick(self.rewards))

    def __add__(self, other: Rollout) -> Rollout:
        return Rollout(self.group_size, self.prompt_index + other.prompt_index, self.prompt_ids + other.prompt_ids,
                       self.completion_ids + other.completion_ids, self.truncated + other.truncated,
                       self.texts + other.texts, self.scores + other.scores, self.rewards + other.rewards)


@torch.no_grad()
def generate(model: Any, tokenizer: Any, prompts: list[str], prompt_index: list[int], group_size: int,
             max_new_tokens: int, temperature: float = 1.0, top_p: float = 1.0, greedy: bool = False,
             max_prompt_tokens: int | None = None, dtype: torch.dtype | None = None,
             share_prefix: bool = True,
             on_finished: Callable[[list[int], list[list[int]]], None] | None = None) -> Rollout:
    """Sample `group_size` completions for each prompt (one batched `generate` call). With
    `share_prefix`, each prompt is encoded once for its whole group (`_group_prompt_cache`).
    `on_finished(rows, completions)` is called during generation with the rows that have just
    reached eos and their tokens (eos included), so that they can be scored meanwhile; rows cut
    at max_new_tokens are never reported."""
    device = next(model.parameters()).device
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    if max_prompt_tokens:
        encoded = [ids[-max_prompt_tokens:] for ids in encoded]
    rows = [ids for ids in encoded for _ in range(group_size)]             # N = P·G prompts
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=device)  # (N, Tp)
    attention_mask = (torch.arange(width, device=device)[None, :]
                      >= torch.tensor([width - len(r) for r in rows], device=device)[:, None]).long()
    was_training = model.training
    model.eval()
    # A fresh GenerationConfig: a hub model's defaults (top_k=50, repetition_penalty, ...) would
    # make the sampling distribution differ from the policy whose log-probs the loss uses.
    sampling = {} if greedy else {"temperature": temperature, "top_p": top_p, "top_k": 0}
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=not greedy, **sampling,
                              eos_token_id=tokenizer.eos_token_id, pad_token_id=pad, use_cache=True)
    with autocast(dtype, device):
        cache = _group_prompt_cache(model, input_ids, attention_mask, group_size) if share_prefix else {}
        watch = [_FinishedRows(width, tokenizer.eos_token_id, on_finished)] if on_finished else []
        out = model.generate(input_ids=input_ids, attention_mask=attention_mask, generation_config=config,
                             stopping_criteria=StoppingCriteriaList(watch), **cache)  # (N, Tp + T)
    model.train(was_training)
    completions, truncated = [], []
    for row in out[:, width:].tolist():                                    # (N, T)
        if tokenizer.eos_token_id in row:
            row = row[:row.index(tokenizer.eos_token_id) + 1]
            truncated.append(False)
        else:
            truncated.append(True)
        completions.append(row)
    texts = tokenizer.batch_decode(completions, skip_special_tokens=True)
    return Rollout(group_size, list(prompt_index), rows, completions, truncated, texts)


class _FinishedRows(StoppingCriteria):
    """Stops nothing: after each generated token, reports the rows whose newest token is their
    first eos."""

    def __init__(self, width: int, eos_id: int, callback: Callable[[list[int], list[list[int]]], None]):
        self.width, self.eos_id, self.callback = width, eos_id, callback
        self.reported: torch.Tensor | None = None

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        ended = input_ids[:, -1] == self.eos_id                            # (N,)
        if self.reported is None:
            self.reported = torch.zeros_like(ended)
        new = ended & ~self.reported
        if new.any():
            self.reported |= new
            rows = new.nonzero()[:, 0].tolist()
            self.callback(rows, input_ids[rows, self.width:].tolist())    # each ends at its first eos
        return torch.zeros_like(ended)


def _group_prompt_cache(model: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                        group_size: int) -> dict[str, Any]:
    """The KV cache of every prompt but its last token, computed once per group and repeated
    for its G rows, as `generate`'s cache argument; `generate` then encodes only the last
    column. Prefill costs P·Tp tokens instead of N·Tp. Empty when there is nothing to share."""
    if group_size < 2 or input_ids.shape[1] < 2:
        return {}
    groups = torch.arange(len(input_ids) // group_size, device=input_ids.device)
    shared = prompt_cache(model, input_ids[::group_size, :-1], attention_mask[::group_size, :-1],
                          groups.repeat_interleave(group_size))                # (P, Tp - 1) -> N rows
    return shared[1] if shared is not None else {}


def pass_rate(rollout: Rollout) -> float:
    scored = [s for s, r in zip(rollout.scores, rollout.rewards, strict=True) if not math.isnan(r)]
    return sum(s.passed for s in scored) / max(len(scored), 1)
