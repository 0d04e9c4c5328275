"""The policy model: loading, batching rows of prompt + completion, log-probs of completions.

Weights load in float32 (the optimizer's master copy); forward passes run under autocast in
the configured dtype (bfloat16 on CUDA). A batch keeps each distinct prompt once: the G
completions of a group share one forward pass over their prompt (its KV cache, gradients
included), which saves (G - 1)/G of the prompt tokens' compute in every training and
reference forward pass.

    pytest tests/grpo/test_train.py -k logprobs tests/grpo/test_shared_prefix.py
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor
from transformers import AutoModelForCausalLM, AutoTokenizer

from grpo.distributed import autocast


def load_tokenizer(path: str) -> Any:
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:  # many base models ship none; eos is safe because the mask hides it
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"  # generation continues from the right edge of every prompt
    return tok


def load_model(path: str, device: torch.device, gradient_checkpointing: bool = False) -> Any:
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device)
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.config.use_cache = False
    return model


@dataclass
class Batch:
    """n rows of prompt + completion. Each distinct prompt is stored once, left-padded to Tp
    columns, and `prompt_of` maps every row to its prompt: the G rows of a group share one.
    Completions are right-padded to T columns, so each starts right after its prompt's last token."""

    prompt_ids: Tensor       # (u, Tp) distinct prompts, left-padded
    prompt_mask: Tensor      # (u, Tp) 1 on prompt tokens
    prompt_of: Tensor        # (n,) row -> its prompt
    completion_ids: Tensor   # (n, T) right-padded
    completion_mask: Tensor  # (n, T) 1 on completion tokens (eos included), 0 on padding


def collate(prompts: list[list[int]], completions: list[list[int]], pad_id: int, device: torch.device) -> Batch:
    distinct: dict[tuple[int, ...], int] = {}
    prompt_of = [distinct.setdefault(tuple(p), len(distinct)) for p in prompts]
    tp = max(len(p) for p in distinct)
    t = max(1, max(len(c) for c in completions))
    p_ids = torch.full((len(distinct), tp), pad_id, dtype=torch.long)
    p_mask = torch.zeros((len(distinct), tp), dtype=torch.long)
    for i, p in enumerate(distinct):
        p_ids[i, tp - len(p):] = torch.tensor(p, dtype=torch.long)
        p_mask[i, tp - len(p):] = 1
    c_ids = torch.full((len(prompts), t), pad_id, dtype=torch.long)
    c_mask = torch.zeros((len(prompts), t), dtype=torch.long)
    for i, c in enumerate(completions):
        c_ids[i, :len(c)] = torch.tensor(c, dtype=torch.long)
        c_mask[i, :len(c)] = 1
    return Batch(p_ids.to(device), p_mask.to(device), torch.tensor(prompt_of, device=device), c_ids.to(device),
                 c_mask.to(device))


def completion_logprobs(model: Any, batch: Batch, temperature: float = 1.0, dtype: torch.dtype | None = None,
                        entropy: bool = False, share_prefix: bool = True) -> tuple[Tensor, Tensor | None]:
    """Log-probs (n, T) of the completion tokens under `model` at `temperature`, and their
    entropies (n, T) when asked (no gradient). With `share_prefix`, rows that share a prompt
    share its forward pass (see `_shared_prefix_logits`); the result is the same either way."""
    with autocast(dtype, batch.completion_ids.device):
        logits = None
        base = getattr(model, "module", model)
        checkpointed = base.training and _checkpointing(base)  # no cache then
        shares = len(batch.prompt_ids) < len(batch.prompt_of) and batch.completion_ids.shape[1] > 1
        if share_prefix and shares and not checkpointed:
            logits = _shared_prefix_logits(model, batch)
        if logits is None:
            logits = _row_logits(model, batch)                                  # (n, T, V)
    logits = logits.float() / temperature                                   # (n, T, V) predicts token t
    targets = batch.completion_ids                                          # (n, T)
    logp = logits.gather(-1, targets[..., None]).squeeze(-1) - logits.logsumexp(-1)  # (n, T)
    ent = None
    if entropy:
        with torch.no_grad():
            p = logits.softmax(-1)
            ent = -(p * logits.log_softmax(-1)).sum(-1)                     # (n, T)
    return logp, ent


def _row_logits(model: Any, batch: Batch) -> Tensor:
    """Every row in full, [left-padded prompt | completion]: one forward pass over n·(Tp + T) tokens."""
    input_ids = torch.cat([batch.prompt_ids[batch.prompt_of], batch.completion_ids], 1)    # (n, Tp + T)
    attention_mask = torch.cat([batch.prompt_mask[batch.prompt_of], batch.completion_mask], 1)
    position_ids = positions(attention_mask)
    t = batch.completion_ids.shape[1]
    # logits_to_keep: only the T + 1 last positions reach the LM head (saves n·Tp·V floats)
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                   logits_to_keep=t + 1).logits                                # (n, T + 1, V)
    return logits[:, :-1]


def _shared_prefix_logits(model: Any, batch: Batch) -> Tensor | None:
    """The u distinct prompts once, with their KV cache, then every row's completion (T > 1) on
    top of its prompt's cache: u·Tp + n·(T - 1) tokens instead of n·(Tp + T). The cache is indexed per row,
    not copied out of the graph, so gradients reach the prompt positions through it (summed over
    the rows that share them) exactly as in `_row_logits`. None when the model returns no cache:
    the caller falls back to whole rows."""
    # The prefix pass runs on the module itself and the completion pass (T > 1) through `model`,
    # which under DDP is the wrapper: exactly one wrapper forward per backward arms gradient
    # sync, for the gradients of both passes, and the fallback below is that one forward.
    base = getattr(model, "module", model)
    shared = prompt_cache(base, batch.prompt_ids, batch.prompt_mask, batch.prompt_of)
    if shared is None:
        return None
    first, cache = shared                                                    # (n, 1, V) predicts token 0
    t = batch.completion_ids.shape[1]
    attention_mask = torch.cat([batch.prompt_mask[batch.prompt_of], batch.completion_mask[:, :-1]], 1)
    position_ids = batch.prompt_mask.sum(-1)[batch.prompt_of, None] + torch.arange(t - 1, device=first.device)  # (n, T - 1)
    rest = model(input_ids=batch.completion_ids[:, :-1], attention_mask=attention_mask, position_ids=position_ids,
                 use_cache=True, **cache).logits                              # (n, T - 1, V)
    return torch.cat([first, rest], 1)


def prompt_cache(model: Any, prompt_ids: Tensor, prompt_mask: Tensor, rows: Tensor) -> tuple[Tensor, dict] | None:
    """One forward pass over the u distinct left-padded prompts; returns the logits of their
    last position and their KV cache, both indexed to the n rows (`rows[r]` is row r's prompt),
    the cache as the keyword argument a forward pass or `generate` takes. Indexing keeps the
    cache in the autograd graph. None when the model returns no cache."""
    out = model(input_ids=prompt_ids, attention_mask=prompt_mask, position_ids=positions(prompt_mask),
                use_cache=True, logits_to_keep=1)
    cache = returned_cache(out)
    if cache is None:
        return None
    cache.batch_select_indices(rows)                                       # (u, ...) -> (n, ...)
    return out.logits[rows], {cache_argument(model): cache}


def positions(attention_mask: Tensor) -> Tensor:
    """Position ids of left-padded rows: 0 at each row's first real token (padding gets 0)."""
    return (attention_mask.cumsum(-1) - 1).clamp(min=0)


def _checkpointing(model: Any) -> bool:
    flag = getattr(model, "is_activation_checkpointing", None)  # transformers >= 5.24; before: is_gradient_...
    return bool(getattr(model, "is_gradient_checkpointing", False) if flag is None else flag)


def cache_argument(model: Any) -> str:
    """The forward argument that takes a KV cache: `cache` from transformers 5.24, before that
    `past_key_values`."""
    return _cache_argument(type(model))


@lru_cache(maxsize=64)
def _cache_argument(model_class: type) -> str:  # once per class: inspect.signature is slow
    return "cache" if "cache" in inspect.signature(model_class.forward).parameters else "past_key_values"


def returned_cache(output: Any) -> Any:
    """The KV cache a forward pass returned (`cache` from transformers 5.24, `past_key_values`
    before), or None."""
    cache = output.get("cache")
    return cache if cache is not None else output.get("past_key_values")
