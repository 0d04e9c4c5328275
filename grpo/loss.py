"""The clipped policy-gradient loss of GRPO and its variants, as one pure function.

Per token t of completion i, with r = pi(y_t) / pi_old(y_t) the ratio to the sampling policy:

    l[i, t] = -min(r * A_i, clip(r, 1 - clip_low, 1 + clip_high) * A_i) + beta * KL[i, t]

- clip-higher (DAPO): separate low and high ranges; a larger clip_high lets rare tokens with
  positive advantage grow, which keeps entropy from collapsing.
- ratio_level "sequence" (GSPO): one ratio per completion, exp(mean_t log r), so the clip
  acts on whole sequences; written in GSPO-token form (its value on every token, each
  token's own gradient), which has exactly GSPO's gradient under "sequence" aggregation.
- KL: the k3 estimator exp(q) - q - 1 with q = log pi_ref - log pi (Schulman's; unbiased,
  always >= 0), only when beta != 0.
- aggregation "token": sum over every unmasked token / their number (DAPO); "sequence": each
  completion's token mean, then the mean over completions (the original GRPO); "constant":
  sum / (rows * max_new_tokens) (Dr. GRPO: no length bias).

The normalisers `num_rows` and `num_tokens` are the counts of the whole batch, so that the
losses of its micro-batches add up to the loss of the batch (gradient accumulation is exact).
Left out, they are this call's own counts.

    pytest tests/grpo/test_loss.py
"""

from __future__ import annotations

import torch
from torch import Tensor

RATIO_LEVELS = ("token", "sequence")
AGGREGATIONS = ("token", "sequence", "constant")


def policy_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    ref_logp: Tensor | None = None,
    beta: float = 0.0,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    ratio_level: str = "token",
    aggregation: str = "token",
    num_rows: float | None = None,
    num_tokens: float | None = None,
    max_new_tokens: int | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """logp, old_logp, ref_logp (N, T) log-probs of the sampled tokens; advantages (N,);
    mask (N, T) 1 where a token counts. Returns the scalar loss and token-mean statistics."""
    if ratio_level not in RATIO_LEVELS:
        raise ValueError(f"ratio_level must be one of {RATIO_LEVELS}, got {ratio_level!r}")
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    if beta != 0.0 and ref_logp is None:
        raise ValueError("beta != 0 needs ref_logp")
    mask = mask.to(logp.dtype)                                         # (N, T)
    lengths = mask.sum(1)                                              # (N,)
    counted = mask > 0
    # Padding positions can hold any log-prob; zero them before exp so inf * 0 never makes NaN.
    log_ratio = torch.where(counted, logp - old_logp, 0.0)             # (N, T)
    if ratio_level == "sequence":
        seq_log_ratio = (log_ratio * mask).sum(1) / lengths.clamp(min=1)  # (N,)
        log_ratio = seq_log_ratio.detach()[:, None] + logp - logp.detach()  # (N, T)
    ratio = torch.exp(log_ratio)                                       # (N, T)
    adv = advantages[:, None].to(logp.dtype)                           # (N, 1)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * adv
    per_token = -torch.min(unclipped, clipped)                         # (N, T)
    kl = torch.zeros_like(logp)
    if beta != 0.0:
        q = torch.where(counted, ref_logp - logp, 0.0)                 # (N, T)
        kl = torch.exp(q) - q - 1.0                                    # (N, T) k3 >= 0
        per_token = per_token + beta * kl

    rows = float((lengths > 0).sum()) if num_rows is None else num_rows
    tokens = float(lengths.sum()) if num_tokens is None else num_tokens
    masked_sum = (per_token * mask).sum()
    if aggregation == "token":
        loss = masked_sum / max(tokens, 1.0)
    elif aggregation == "sequence":
        loss = ((per_token * mask).sum(1) / lengths.clamp(min=1)).sum() / max(rows, 1.0)
    else:
        width = max_new_tokens if max_new_tokens is not None else logp.shape[1]
        loss = masked_sum / max(rows * width, 1.0)

    with torch.no_grad():  # statistics, as means over this call's counted tokens
        n = lengths.sum().clamp(min=1)
        was_clipped = ((ratio < 1.0 - clip_low) & (adv < 0)) | ((ratio > 1.0 + clip_high) & (adv > 0))
        stats = {
            "clip_frac": float((was_clipped * mask).sum() / n),
            "kl": float((kl * mask).sum() / n),
            "ratio": float((ratio * mask).sum() / n),
            "tokens": float(lengths.sum()),
        }
    return loss, stats
