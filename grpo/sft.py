"""Supervised fine-tuning on prompt/completion pairs: the cold start before GRPO.

Same config style, device handling, checkpoints and metrics as the GRPO loop. The loss is
the mean cross-entropy over completion tokens (eos included); prompts are rendered with the
chat template exactly as GRPO renders them, so the two stages see the same text.

    grpo sft fixtures/grpo_sft_demo.yaml
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from grpo import checkpoint, distributed, optim
from grpo.config import SFTConfig
from grpo.data import Sampler, load_rows, render_prompt
from grpo.policy import collate, completion_logprobs, load_model, load_tokenizer


def sft(cfg: SFTConfig) -> list[dict]:
    """Run SFT as configured; returns the metrics of every step."""
    # --- 0. setup ------------------------------------------------------------------------
    world = distributed.init(cfg.device, cfg.threads)
    dtype = distributed.autocast_dtype(cfg.dtype, world.device)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = load_tokenizer(cfg.tokenizer or cfg.model)
    rows = load_rows(cfg.data, [cfg.prompt_key, cfg.completion_key])
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    prompt_ids = [encode(render_prompt(tokenizer, r[cfg.prompt_key], cfg.system_prompt, cfg.chat_template))
                  for r in rows]
    if cfg.max_prompt_tokens:
        prompt_ids = [p[-cfg.max_prompt_tokens:] for p in prompt_ids]
    target_ids = [encode(r[cfg.completion_key]) + [tokenizer.eos_token_id] for r in rows]
    sampler = Sampler(len(rows), cfg.batch_size, cfg.seed, world.rank, world.size)
    resume_from = checkpoint.latest(out) if cfg.resume else None
    model = load_model(str(resume_from / "model") if resume_from else cfg.model, world.device,
                       cfg.gradient_checkpointing)
    optimizer, scheduler = optim.build(model, cfg, total_steps=cfg.steps)
    torch.manual_seed(cfg.seed + world.rank)
    step = checkpoint.restore(resume_from, optimizer, scheduler, sampler, world)["step"] if resume_from else 0
    policy = DDP(model) if world.size > 1 else model
    policy.train()
    metrics_file = open(out / "metrics.jsonl", "a") if world.main else None
    bar = tqdm(total=cfg.steps, initial=step, disable=not (cfg.progress and world.main), desc="sft")
    history = []

    while step < cfg.steps:
        t0 = time.perf_counter()
        # --- 1. batch: this process's share of batch_size examples ------------------------
        idx = sampler.next()                                                     # (B,)
        n_tokens = sum(len(target_ids[i]) for i in idx)
        # mean over every target token of the global batch (DDP averages over processes)
        denom = distributed.total(n_tokens, world.device) / world.size
        # --- 2. forward/backward over micro-batches, one optimizer step -------------------
        micro = [idx[i:i + cfg.micro_batch_size] for i in range(0, len(idx), cfg.micro_batch_size)]
        loss_sum = 0.0
        for k, rows_k in enumerate(micro):
            batch = collate([prompt_ids[i] for i in rows_k], [target_ids[i] for i in rows_k],
                            tokenizer.pad_token_id, world.device)
            last = k == len(micro) - 1 or world.size == 1
            with policy.no_sync() if not last else nullcontext():
                logp, _ = completion_logprobs(policy, batch, 1.0, dtype, share_prefix=cfg.share_prompt_prefix)
                loss = -(logp * batch.completion_mask).sum() / denom
                loss.backward()
            loss_sum += loss.item()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm or float("inf")))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        # --- 3. log and checkpoint --------------------------------------------------------
        step_s = time.perf_counter() - t0
        m = {"step": step, "loss": distributed.total(loss_sum, world.device) / world.size, "grad_norm": grad_norm,
             "lr": scheduler.get_last_lr()[0], "step_s": step_s, "tokens_per_s": n_tokens * world.size / step_s}
        history.append(m)
        if world.main:
            metrics_file.write(json.dumps(m) + "\n")
            metrics_file.flush()
            bar.update(1)
            bar.set_postfix(loss=f"{m['loss']:.3f}")
        if (cfg.save_every and step % cfg.save_every == 0) or step == cfg.steps:
            checkpoint.save(out, step, model, tokenizer, optimizer, scheduler, sampler, world, cfg.keep_checkpoints)
    bar.close()
    if metrics_file:
        metrics_file.close()
    return history
