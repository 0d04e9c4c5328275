"""Our GRPO loop against TRL's GRPOTrainer: same tiny model, data, reward and settings, CPU.

Both trainers start from the same cold-started tiny Llama (the demo's SFT stage), draw
prompts from the same arithmetic set, score with the same in-process reward function
("0.1*format + math" from `verifiers`) and run with the same G, prompts per step, max new
tokens, micro-batch size, beta, mu, clip ranges, learning rate, optimizer betas, one thread. Each trainer runs
in its own process, so peak memory is that process's max RSS. A third run, `ours-full-rows`,
is ours with `share_prompt_prefix=false` (every row's prompt encoded in full, as TRL does), to
show what encoding each prompt once per group saves.

Seconds per step are measured the same way for both: the interval between consecutive calls
of the reward function (one call per step in both trainers), median over the steps after
the first two, in wall time and in the process's CPU time (which time other jobs take from a
shared machine does not inflate). Rewards are the mean reward of each step's batch.

    python benchmarks/grpo_vs_trl.py                # ~4 minutes; prints the table and the s/step ratios, writes runs/bench_grpo/
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SETTINGS = dict(group_size=8, prompts_per_step=16, micro_batch_size=32, max_new_tokens=24, beta=0.04, mu=1, lr=1e-4,
                temperature=1.0, clip_low=0.2, clip_high=0.28, steps=60, seed=0)
SPEC = "0.1*format + math"
TRAINERS = ["ours", "ours-full-rows", "trl"]


class Recorder:
    """Wraps the reward function: one call per step gives its timestamp and mean reward."""

    def __init__(self):
        from verifiers.spec import parse_spec
        self.fn, self.times, self.cpu_times, self.rewards = parse_spec(SPEC), [], [], []

    def __call__(self, texts: list[str], references: list[str]) -> list:
        self.times.append(time.perf_counter())
        self.cpu_times.append(time.process_time())
        scores = [self.fn(t, r) for t, r in zip(texts, references, strict=True)]
        self.rewards.append(sum(s.value for s in scores) / len(scores))
        return scores


def run_ours(model: str, data: str, out: str, share_prompt_prefix: bool = True) -> Recorder:
    from grpo.config import GRPOConfig
    from grpo.train import train

    rec = Recorder()

    class Scorer:
        def score(self, completions, references, specs=None):
            return rec(list(completions), list(references))

        def close(self):
            pass

    s = SETTINGS
    cfg = GRPOConfig(model=model, data=data, output_dir=out, steps=s["steps"], prompts_per_step=s["prompts_per_step"],
                     group_size=s["group_size"], max_new_tokens=s["max_new_tokens"], temperature=s["temperature"],
                     lr=s["lr"], beta=s["beta"], mu=s["mu"], clip_low=s["clip_low"], clip_high=s["clip_high"],
                     micro_batch_size=s["micro_batch_size"], seed=s["seed"], device="cpu",
                     threads=1, progress=False, log_samples_every=0, loss_aggregation="token",
                     advantage_scale="group", share_prompt_prefix=share_prompt_prefix,
                     stream_scoring=False)  # in-process scoring: one call per step, as in TRL
    train(cfg, scorer=Scorer())
    from grpo.policy import load_model
    rec.model = load_model(f"{out}/checkpoints/step_{s['steps']:06d}/model", __import__("torch").device("cpu"))
    return rec


def run_trl(model: str, data: str, out: str) -> Recorder:
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    rec = Recorder()

    def reward(prompts, completions, reference, **_):
        texts = [c[0]["content"] if isinstance(c, list) else c for c in completions]
        return [sc.value for sc in rec(texts, list(reference))]

    rows = [json.loads(x) for x in Path(data).read_text().splitlines()]
    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"]}], "reference": r["reference"]}
                            for r in rows])
    s = SETTINGS
    n = s["prompts_per_step"] * s["group_size"]
    # N rows per optimizer step in micro-batches of micro_batch_size: one generation of N per step
    args = GRPOConfig(
        output_dir=out, per_device_train_batch_size=s["micro_batch_size"],
        gradient_accumulation_steps=n // s["micro_batch_size"], num_generations=s["group_size"],
        max_completion_length=s["max_new_tokens"], temperature=s["temperature"], top_p=1.0, top_k=0,
        learning_rate=s["lr"], lr_scheduler_type="constant", warmup_steps=0, beta=s["beta"],
        num_iterations=s["mu"], epsilon=s["clip_low"], epsilon_high=s["clip_high"], loss_type="dapo",
        scale_rewards="group", adam_beta2=0.99, weight_decay=0.0, max_grad_norm=1.0, max_steps=s["steps"],
        logging_steps=1, save_strategy="no", report_to="none", use_cpu=True, bf16=False, seed=s["seed"],
        log_completions=False, disable_tqdm=True)
    tok = AutoTokenizer.from_pretrained(model)
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, train_dataset=ds, processing_class=tok)
    trainer.train()
    rec.model = trainer.model
    return rec


def worker(name: str, model: str, data: str, out: str, result: str) -> None:
    import torch
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    if name == "trl":
        rec = run_trl(model, data, out)
    else:  # ours-full-rows: without the shared prompt prefix, to show what it saves
        rec = run_ours(model, data, out, share_prompt_prefix=(name == "ours"))
    train_s = time.perf_counter() - t0
    accuracy = held_out_accuracy(rec.model, model)
    steps = [b - a for a, b in zip(rec.times, rec.times[1:], strict=False)]
    cpu_steps = [b - a for a, b in zip(rec.cpu_times, rec.cpu_times[1:], strict=False)]
    Path(result).write_text(json.dumps({
        "name": name, "wall_s": train_s, "greedy_accuracy": accuracy, "step_s": steps, "cpu_step_s": cpu_steps,
        "rewards": rec.rewards,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def held_out_accuracy(trained, start_model: str) -> float:
    """Greedy accuracy of the trained policy on 200 held-out problems (the demo's test set)."""
    from grpo import arith
    from grpo.data import render_prompt
    from grpo.heldout import greedy_accuracy
    from grpo.policy import load_tokenizer
    from grpo.scoring import LocalScorer

    tok = load_tokenizer(start_model)
    test = arith.problems(200, seed=1)
    return greedy_accuracy(trained.eval(), tok, [render_prompt(tok, r["prompt"]) for r in test],
                           [r["reference"] for r in test], LocalScorer(SPEC), SETTINGS["max_new_tokens"])


def prepare(out: Path) -> tuple[str, str]:
    """The cold-started model (the demo's SFT stage) and the GRPO prompts."""
    from grpo import arith
    from grpo.config import SFTConfig, load_config
    from grpo.demo import FIXTURES, tiny_model
    from grpo.policy import load_tokenizer
    from grpo.sft import sft

    held_out = {r["prompt"] for r in arith.problems(200, seed=1)}
    arith.write_jsonl(arith.problems(4000, seed=2, exclude=held_out), out / "sft.jsonl")
    arith.write_jsonl(arith.problems(2000, seed=3, exclude=held_out), out / "grpo.jsonl")
    tok = load_tokenizer(str(FIXTURES / "tokenizer"))
    tiny_model(len(tok)).save_pretrained(out / "init")
    tok.save_pretrained(out / "init")
    cfg = load_config(SFTConfig, FIXTURES / "grpo_sft_demo.yaml", None, model=str(out / "init"),
                      data=str(out / "sft.jsonl"), output_dir=str(out / "sft"), progress=False)
    sft(cfg)
    return str(out / "sft" / "checkpoints" / f"step_{cfg.steps:06d}" / "model"), str(out / "grpo.jsonl")


def summarise(results: list[dict], out: Path) -> str:
    lines = ["| trainer | s/step (median, steps 3+) | CPU s/step | peak RSS (MiB) | mean reward, first 10 steps | "
             "mean reward, last 10 steps | greedy accuracy after (200 held out) |", "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['name']} | {statistics.median(r['step_s'][2:]):.3f} | "
                     f"{statistics.median(r['cpu_step_s'][2:]):.3f} | {r['peak_rss_mib']:.0f} | "
                     f"{statistics.mean(r['rewards'][:10]):.3f} | {statistics.mean(r['rewards'][-10:]):.3f} | "
                     f"{r['greedy_accuracy']:.1%} |")
    curve = ["", "| step | " + " | ".join(r["name"] for r in results) + " |", "|---|" + "---|" * len(results)]
    for i in range(0, len(results[0]["rewards"]), 5):
        curve.append(f"| {i + 1} | " + " | ".join(f"{r['rewards'][i]:.3f}" for r in results) + " |")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
        for r in results:
            ax[0].plot(range(1, len(r["rewards"]) + 1), r["rewards"], label=r["name"])
            ax[1].plot(range(2, len(r["step_s"]) + 2), r["step_s"], label=r["name"])
        ax[0].set_title("mean reward per step")
        ax[1].set_title("seconds per step")
        for a in ax:
            a.set_xlabel("step")
            a.legend()
        fig.tight_layout()
        fig.savefig(out / "grpo_vs_trl.png", dpi=100)
    except ImportError:
        pass
    med = {r["name"]: (statistics.median(r["step_s"][2:]), statistics.median(r["cpu_step_s"][2:])) for r in results}
    ratios = [f"{name} / trl: {wall / med['trl'][0]:.2f}x s/step, {cpu / med['trl'][1]:.2f}x CPU s/step"
              for name, (wall, cpu) in med.items() if name != "trl" and "trl" in med]
    return "\n".join(lines + curve + [""] + ratios)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="runs/bench_grpo")
    p.add_argument("--steps", type=int, default=SETTINGS["steps"])
    p.add_argument("--model", help="skip the SFT stage: use this model")
    p.add_argument("--data", help="GRPO prompts JSONL (with --model)")
    p.add_argument("--only", choices=TRAINERS, help="run one trainer (default all)")
    p.add_argument("--worker", nargs=5, metavar=("NAME", "MODEL", "DATA", "OUT", "RESULT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    SETTINGS["steps"] = args.steps
    if args.worker:
        worker(*args.worker)
        return
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, data = (args.model, args.data) if args.model else prepare(out)
    results = []
    for name in [args.only] if args.only else TRAINERS:
        result = out / f"{name}.json"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, __file__, "--steps", str(args.steps), "--worker", name, model, data,
                        str(out / name), str(result)], check=True, env=env)
        results.append(json.loads(result.read_text()))
    print(json.dumps({k: v for k, v in SETTINGS.items()}))
    print(summarise(results, out))


if __name__ == "__main__":
    main()
