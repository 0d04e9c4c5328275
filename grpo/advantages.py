"""Group-relative advantages: each completion's reward against its group's.

    A[p, g] = (r[p, g] - mean_g r[p, :]) / scale

scale "group": the group's std (GRPO, DeepSeekMath); "none": 1 (Dr. GRPO, which shows that
dividing by the std up-weights prompts that are too easy or too hard); "batch": the std of
every scored reward in the batch (a middle ground, as in TRL's `scale_rewards="batch"`).
Stds are population stds (divide by the count, not count - 1).

A NaN reward stands for an item that could not be scored (the reward service timed out or
crashed on it). It is excluded: it counts neither in its group's mean nor in any std, its
advantage is 0, and the loop masks its row out of the loss. A group whose scored rewards are
all equal carries no signal (every advantage is 0); `informative` says which groups do.

    pytest tests/grpo/test_advantages.py
"""

from __future__ import annotations

import torch
from torch import Tensor

SCALES = ("group", "batch", "none")


def group_advantages(rewards: Tensor, scale: str = "group", eps: float = 1e-4) -> tuple[Tensor, Tensor]:
    """rewards (P, G), NaN where unscored -> advantages (P, G), informative (P,) bool."""
    if scale not in SCALES:
        raise ValueError(f"advantage scale must be one of {SCALES}, got {scale!r}")
    valid = ~torch.isnan(rewards)                                      # (P, G)
    r = torch.where(valid, rewards, 0.0)                               # (P, G)
    count = valid.sum(1, keepdim=True)                                 # (P, 1)
    mean = r.sum(1, keepdim=True) / count.clamp(min=1)                 # (P, 1)
    centered = torch.where(valid, r - mean, 0.0)                       # (P, G) 0 where unscored
    group_var = (centered**2).sum(1, keepdim=True) / count.clamp(min=1)
    group_std = group_var.sqrt()                                       # (P, 1)
    if scale == "group":
        adv = centered / (group_std + eps)
    elif scale == "batch":
        batch_std = r[valid].std(correction=0) if valid.any() else torch.tensor(0.0)
        adv = centered / (batch_std + eps)
    else:
        adv = centered
    # Informative: at least two scored rewards that differ. Compare max and min rather than
    # test std > 0, so that rewards like 0.1 and 0.1 + 1e-9 noise still count as equal.
    hi = torch.where(valid, rewards, -torch.inf).amax(1)               # (P,)
    lo = torch.where(valid, rewards, torch.inf).amin(1)                # (P,)
    informative = (count.squeeze(1) >= 2) & (hi - lo > 1e-6)           # (P,)
    return adv, informative
