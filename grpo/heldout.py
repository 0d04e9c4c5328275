"""Greedy accuracy on held-out prompts: the number a GRPO run is meant to raise.

    grpo demo     # prints it before and after training
"""

from __future__ import annotations

from typing import Any

import torch

from grpo import rollout
from grpo.scoring import Scorer


def greedy_accuracy(model: Any, tokenizer: Any, prompts: list[str], references: list[Any], scorer: Scorer,
                    max_new_tokens: int, batch_size: int = 64, dtype: torch.dtype | None = None,
                    specs: list[str | None] | None = None) -> float:
    """Fraction of prompts whose greedy completion passes its verifier."""
    passed = greedy_passes(model, tokenizer, prompts, references, scorer, max_new_tokens, batch_size, dtype, specs)
    return passed / max(len(prompts), 1)


def greedy_passes(model: Any, tokenizer: Any, prompts: list[str], references: list[Any], scorer: Scorer,
                  max_new_tokens: int, batch_size: int = 64, dtype: torch.dtype | None = None,
                  specs: list[str | None] | None = None) -> int:
    """How many prompts' greedy completions pass their verifier."""
    passed = 0
    for i in range(0, len(prompts), batch_size):
        chunk = list(range(i, min(i + batch_size, len(prompts))))
        ro = rollout.generate(model, tokenizer, [prompts[j] for j in chunk], chunk, 1, max_new_tokens,
                              greedy=True, dtype=dtype)
        scores = scorer.score(ro.texts, [references[j] for j in chunk], [specs[j] for j in chunk] if specs else None)
        passed += sum(s.passed for s in scores)
    return passed
