"""The R1 pipeline in miniature, on the CPU, with nothing downloaded.

    1. data        synthetic sums ("What is 47+38?") with worked <think>/<answer> solutions
    2. model       a tiny Llama built from a transformers config, the tokenizer in grpo/demo_data/
    3. cold start  SFT on the worked solutions (grpo/demo_data/grpo_sft_demo.yaml)
    4. GRPO        rewarded by the format and math verifiers (grpo/demo_data/grpo_demo.yaml)
    5. report      greedy accuracy on held-out problems before and after GRPO, the curves

    grpo demo                       # about 5-10 minutes on 2 CPU cores; writes runs/demo/
"""

from __future__ import annotations

import json
import logging
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from grpo import arith
from grpo.config import GRPOConfig, SFTConfig, load_config
from grpo.data import load_rows, render_prompt
from grpo.heldout import greedy_accuracy
from grpo.plot import plot
from grpo.policy import load_model, load_tokenizer
from grpo.scoring import Scorer, reward_service
from grpo.sft import sft
from grpo.train import train

log = logging.getLogger(__name__)
# What the demo needs ships inside the package (a wheel has no fixtures/ beside it); fixtures/
# links here for the repository's tests and docs. A pip-installed package is plain files on
# disk, so the resource is a real directory that transformers can load from.
FIXTURES = Path(str(files("grpo") / "demo_data"))


def tiny_model(vocab_size: int, hidden: int = 128, layers: int = 2, seed: int = 0) -> LlamaForCausalLM:
    """A randomly initialised Llama (hidden 128, 2 layers: 0.54M parameters)."""
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(
        vocab_size=vocab_size, hidden_size=hidden, intermediate_size=4 * hidden, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128, pad_token_id=0,
        eos_token_id=1, bos_token_id=None, tie_word_embeddings=True))


def prepare(out_dir: str | Path = "runs/demo", n_test: int = 200) -> Path:
    """Steps 1-2: disjoint SFT, GRPO and held-out problems in OUT/data/, the untrained model in
    OUT/init/ (with the fixture tokenizer). Deterministic: the same files on every call."""
    out = Path(out_dir)
    test = arith.problems(n_test, seed=1)
    sft_rows = arith.problems(4000, seed=2, exclude={r["prompt"] for r in test})
    rl_rows = arith.problems(2000, seed=3, exclude={r["prompt"] for r in test})
    for name, rows in (("sft", sft_rows), ("grpo", rl_rows), ("test", test)):
        arith.write_jsonl(rows, out / "data" / f"{name}.jsonl")
    tokenizer = load_tokenizer(str(FIXTURES / "tokenizer"))
    tiny_model(len(tokenizer)).save_pretrained(out / "init")
    tokenizer.save_pretrained(out / "init")
    return out


def demo(out_dir: str = "runs/demo", sft_overrides: list[str] | None = None, grpo_overrides: list[str] | None = None,
         n_eval: int = 200, eval_every: int = 20, scorer: Scorer | None = None, say: Any = print) -> dict:
    t_start = time.perf_counter()
    # --- 1-2. data and a tiny model from a config ------------------------------------------
    out = prepare(out_dir, n_eval)
    test = load_rows(out / "data" / "test.jsonl", ["prompt", "reference"])
    sft_rows = load_rows(out / "data" / "sft.jsonl", ["prompt", "completion"])
    init = out / "init"
    tokenizer = load_tokenizer(str(init))
    # --- 3. cold start: SFT on worked solutions --------------------------------------------
    paths = dict(tokenizer=str(init))
    sft_cfg = load_config(SFTConfig, FIXTURES / "grpo_sft_demo.yaml", sft_overrides, model=str(init),
                          data=str(out / "data" / "sft.jsonl"), output_dir=str(out / "sft"), **paths)
    say(f"[1/3] SFT cold start: {sft_cfg.steps} steps on {len(sft_rows)} worked solutions")
    sft(sft_cfg)
    sft_model = out / "sft" / "checkpoints" / f"step_{sft_cfg.steps:06d}" / "model"
    # --- 4. accuracy before GRPO -----------------------------------------------------------
    grpo_cfg = load_config(GRPOConfig, FIXTURES / "grpo_demo.yaml", grpo_overrides, model=str(sft_model),
                           data=str(out / "data" / "grpo.jsonl"), output_dir=str(out / "grpo"), **paths)
    own = scorer is None
    scorer = scorer or reward_service(grpo_cfg.reward, grpo_cfg.reward_workers, grpo_cfg.reward_timeout_s)
    prompts = [render_prompt(tokenizer, r["prompt"]) for r in test]
    refs = [r["reference"] for r in test]
    model = load_model(str(sft_model), torch.device(grpo_cfg.device if grpo_cfg.device != "auto" else "cpu"))
    before = greedy_accuracy(model, tokenizer, prompts, refs, scorer, grpo_cfg.max_new_tokens)
    say(f"[2/3] greedy accuracy after SFT, before GRPO: {before:.1%} on {len(test)} held-out problems")
    # --- 5. GRPO with the format and math verifiers ----------------------------------------
    say(f"[3/3] GRPO: {grpo_cfg.steps} steps, {grpo_cfg.prompts_per_step} prompts x {grpo_cfg.group_size}, "
        f"reward {grpo_cfg.reward!r}")
    t_grpo = time.perf_counter()
    history = train(grpo_cfg, scorer=scorer,
                    eval_set={"prompts": prompts, "references": refs, "every": eval_every})
    grpo_s = time.perf_counter() - t_grpo
    after = history[-1]["eval_accuracy"]
    if own:
        scorer.close()
    # --- 6. report ---------------------------------------------------------------------------
    summary = {"accuracy_before": before, "accuracy_after": after, "gain_points": 100 * (after - before),
               "grpo_s": grpo_s, "total_s": time.perf_counter() - t_start, "eval_problems": len(test),
               "curve": [(0, before)] + [(h["step"], h["eval_accuracy"]) for h in history if "eval_accuracy" in h],
               "reward": [round(h["reward_mean"], 4) for h in history]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    png = plot(out / "grpo")
    say(f"greedy accuracy on {len(test)} held-out problems: {before:.1%} -> {after:.1%} "
        f"({summary['gain_points']:+.1f} points); GRPO {grpo_s:.0f} s, total {summary['total_s']:.0f} s")
    say(f"curves: {png}; metrics: {out / 'grpo' / 'metrics.jsonl'}; summary: {out / 'summary.json'}")
    return summary
