"""Streamed scoring on and off: our GRPO loop with the reward service, same model, data and seed.

With `stream_scoring`, completions that reach eos are scored by the reward service's workers
while the rest are still being generated, and the reference pass runs while the last scores
arrive; without it, scoring starts when generation ends. `--workers 0` scores in the
trainer's process instead (a thread there).
The gain is bounded by the generation time left after the first rows finish, so it grows with
the spread of completion lengths and with the cost of scoring. `--item-ms` adds that many
milliseconds of waiting to every scored item (standing in for a sandboxed test run) on top of
the "0.1*format + math" reward; 0 measures the math reward alone. Runs alternate on/off
`--repeats` times; each prints the median s/step and rollout s (generation + scoring) over the
steps after the first two. Needs `grpo demo` (or the GRPO benchmark) to have written the
cold-started model.

    python benchmarks/streamed_scoring.py --item-ms 10     # ~3 minutes
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def slow_reward(item_s: float):
    from verifiers.spec import parse_spec
    from verifiers.verifier import Verifier
    inner = parse_spec("0.1*format + math")

    def score(completion, reference):
        time.sleep(item_s)
        return inner(completion, reference)
    return Verifier.wrap(score, f"sleep{item_s * 1000:g}ms+math")


def run(stream: bool, args: argparse.Namespace) -> tuple[float, float]:
    import torch

    from grpo.config import GRPOConfig
    from grpo.scoring import LocalScorer
    from grpo.train import train
    from verifiers.runtime.local import RewardService

    torch.set_num_threads(1)
    cfg = GRPOConfig(model=args.model, data=args.data, output_dir=f"{args.out}/stream_{stream}", steps=args.steps,
                     prompts_per_step=16, group_size=8, max_new_tokens=24, lr=1e-4, beta=0.04, clip_high=0.28,
                     micro_batch_size=32, seed=0, device="cpu", threads=1, progress=False, log_samples_every=0,
                     loss_aggregation="token", stream_scoring=stream)  # beta > 0: a reference pass to overlap
    spec = slow_reward(args.item_ms / 1000) if args.item_ms else "0.1*format + math"
    if args.workers == 0:  # in-process scoring: the scoring thread shares this process's GIL
        history = train(cfg, scorer=LocalScorer(spec))
    else:
        with RewardService(spec, workers=args.workers, cache_size=0) as service:
            history = train(cfg, scorer=service)
    return (statistics.median(h["step_s"] for h in history[2:]),
            statistics.median(h["rollout_s"] for h in history[2:]))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="runs/demo/sft/checkpoints/step_000150/model")
    p.add_argument("--data", default="runs/demo/data/grpo.jsonl")
    p.add_argument("--out", default="runs/bench_stream")
    p.add_argument("--item-ms", type=float, default=10.0)
    p.add_argument("--workers", type=int, default=2, help="reward workers; 0: score in the trainer's process")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    rows = {True: [], False: []}
    for _ in range(args.repeats):
        for stream in (True, False):
            rows[stream].append(run(stream, args))
    wait = f"{args.item_ms:g} ms wait + " if args.item_ms else ""
    print(f"reward: {wait}0.1*format + math, {args.workers} workers; median over runs")
    print("| stream_scoring | s/step | rollout s (generate + score) |\n|---|---|---|")
    for stream in (True, False):
        print(f"| {stream} | {statistics.median(r[0] for r in rows[stream]):.3f} | "
              f"{statistics.median(r[1] for r in rows[stream]):.3f} |")
    on, off = (statistics.median(r[0] for r in rows[s]) for s in (True, False))
    print(f"streamed / not streamed s/step: {on / off:.2f}x")


if __name__ == "__main__":
    main()
