"""The policy model: loading, batching rows of prompt + completion, log-probs of completions.

Weights load in float32 (the optimizer's master copy); forward passes run under autocast in
the configured dtype (bfloat16 on CUDA). Rows are laid out as [left-padded prompt |
right-padded completion], so the completion starts at the same column in every row.

    pytest tests/grpo/test_train.py -k logprobs
"""

from __future__ import annotations

from dataclasses import dataclass
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
    """Rows of prompt + completion as tensors; Tp prompt columns, T completion columns."""

    input_ids: Tensor        # (n, Tp + T)
    attention_mask: Tensor   # (n, Tp + T)
    completion_mask: Tensor  # (n, T) 1 on completion tokens (eos included), 0 on padding
    prompt_len: int          # Tp


def collate(prompts: list[list[int]], completions: list[list[int]], pad_id: int, device: torch.device) -> Batch:
    tp = max(len(p) for p in prompts)
    t = max(1, max(len(c) for c in completions))
    n = len(prompts)
    ids = torch.full((n, tp + t), pad_id, dtype=torch.long)
    attn = torch.zeros((n, tp + t), dtype=torch.long)
    for i, (p, c) in enumerate(zip(prompts, completions, strict=True)):
        ids[i, tp - len(p):tp] = torch.tensor(p)
        ids[i, tp:tp + len(c)] = torch.tensor(c, dtype=torch.long)
        attn[i, tp - len(p):tp + len(c)] = 1
    return Batch(ids.to(device), attn.to(device), attn[:, tp:].to(device), tp)


def completion_logprobs(model: Any, batch: Batch, temperature: float = 1.0, dtype: torch.dtype | None = None,
                        entropy: bool = False) -> tuple[Tensor, Tensor | None]:
    """Log-probs (n, T) of the completion tokens under `model` at `temperature`, and their
    entropies (n, T) when asked (no gradient)."""
    device = batch.input_ids.device
    position_ids = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)        # (n, Tp + T)
    t = batch.completion_mask.shape[1]
    with autocast(dtype, device):
        # logits_to_keep: only the T + 1 last positions reach the LM head (saves N·Tp·V floats)
        logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                       position_ids=position_ids, logits_to_keep=t + 1).logits  # (n, T + 1, V)
    logits = logits[:, :-1].float() / temperature                           # (n, T, V) predicts token t
    targets = batch.input_ids[:, -t:]                                       # (n, T)
    logp = logits.gather(-1, targets[..., None]).squeeze(-1) - logits.logsumexp(-1)  # (n, T)
    ent = None
    if entropy:
        with torch.no_grad():
            p = logits.softmax(-1)
            ent = -(p * logits.log_softmax(-1)).sum(-1)                     # (n, T)
    return logp, ent
