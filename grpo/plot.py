"""Draw a run's curves from its metrics.jsonl into one PNG.

    grpo plot runs/demo/grpo          # writes runs/demo/grpo/curves.png
"""

from __future__ import annotations

import json
from pathlib import Path

PANELS = [  # (title, metric keys); a panel whose keys are all missing is skipped
    ("reward", ["reward_mean"]), ("pass rate / accuracy", ["pass_rate", "eval_accuracy"]),
    ("reward parts", None), ("zero-std groups", ["zero_std_frac", "batch_zero_std_frac"]),
    ("KL", ["kl"]), ("clip fraction", ["clip_frac"]), ("entropy", ["entropy"]),
    ("completion length", ["completion_len_mean", "completion_len_max"]), ("loss", ["loss"]),
    ("grad norm", ["grad_norm"]), ("step time (s)", ["step_s", "rollout_s"]), ("tokens/s", ["tokens_per_s"]),
]


def read_metrics(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot(run_dir: str | Path, out: str | Path | None = None) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir)
    if not rows:
        raise ValueError(f"{run_dir}/metrics.jsonl holds no steps")
    keys = set().union(*rows)
    panels = []
    for title, wanted in PANELS:
        wanted = sorted(k for k in keys if k.startswith("reward/")) if wanted is None else wanted
        present = [k for k in wanted if k in keys]
        if present:
            panels.append((title, present))
    cols = 4
    fig, axes = plt.subplots((len(panels) + cols - 1) // cols, cols, figsize=(4 * cols, 3 * ((len(panels) + cols - 1) // cols)),
                             squeeze=False)
    for ax, (title, present) in zip(axes.flat, panels, strict=False):
        for k in present:
            pts = [(r["step"], r[k]) for r in rows if k in r]
            ax.plot(*zip(*pts, strict=True), label=k, marker="." if len(pts) < 30 else None)
        ax.set_title(title)
        ax.set_xlabel("step")
        if len(present) > 1:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    out = Path(out) if out else Path(run_dir) / "curves.png"
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
