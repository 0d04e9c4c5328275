"""The GRPO loop, top to bottom. One step:

    1. rollout     G completions for each of P prompts (resampling groups that carry no
                   signal, with dynamic sampling)
    2. reward      score every completion through the reward service (streamed: each as it
                   finishes, while the rest are still being generated)
    3. advantage   reward minus its group's mean, scaled (advantages.py)
    4. update      the reference model's log-probs when beta > 0 (streamed: while the last
                   scores arrive), then mu passes over the rollouts; each pass accumulates the
                   clipped loss (loss.py) over micro-batches, then takes one optimizer step
    5. log         metrics.jsonl every step, samples.jsonl now and then, the progress bar
    6. checkpoint  every save_every steps and at the end (checkpoint.py)

Shapes: P prompts (this process's share), G group size, N = P·G rows, T completion tokens.

    grpo train fixtures/grpo_demo.yaml   # after `grpo demo`, which writes its model and data
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from grpo import checkpoint, distributed, optim, rollout
from grpo.advantages import group_advantages
from grpo.config import GRPOConfig
from grpo.data import Sampler, load_rows, render_prompt
from grpo.heldout import greedy_passes
from grpo.loss import policy_loss
from grpo.policy import collate, completion_logprobs, load_model, load_tokenizer
from grpo.scoring import UNSCORED_REASONS, Scorer, StreamedScoring, reward_service, to_rewards

log = logging.getLogger(__name__)


def train(cfg: GRPOConfig, scorer: Scorer | None = None, eval_set: dict | None = None) -> list[dict]:
    """Run GRPO as configured; returns the metrics of every step. `scorer` replaces the reward
    service (tests pass an in-process one); `eval_set` ({prompts, references, every, specs})
    adds greedy accuracy to the metrics every `every` steps and after the last; by default it
    is built from `eval_data`."""
    # --- 0. setup: processes, data, models, optimizer, resume ---------------------------
    world = distributed.init(cfg.device, cfg.threads)
    dtype = distributed.autocast_dtype(cfg.dtype, world.device)
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    G = cfg.group_size
    tokenizer = load_tokenizer(cfg.tokenizer or cfg.model)
    rows = load_rows(cfg.data, [cfg.prompt_key, cfg.reference_key])
    prompts = [render_prompt(tokenizer, r[cfg.prompt_key], cfg.system_prompt, cfg.chat_template) for r in rows]
    sampler = Sampler(len(rows), cfg.prompts_per_step, cfg.seed, world.rank, world.size)
    P = cfg.prompts_per_step // world.size

    resume_from = checkpoint.latest(out) if cfg.resume else None
    model = load_model(str(resume_from / "model") if resume_from else cfg.model, world.device,
                       cfg.gradient_checkpointing)
    ref = None
    if cfg.beta > 0:  # the reference is only needed for the KL term
        ref = load_model(cfg.ref_model or cfg.model, world.device).eval().requires_grad_(False)
    optimizer, scheduler = optim.build(model, cfg, total_steps=cfg.steps * cfg.mu)
    torch.manual_seed(cfg.seed + world.rank)  # sampling differs across processes
    step = 0
    if resume_from:
        step = checkpoint.restore(resume_from, optimizer, scheduler, sampler, world)["step"]
        log.info("resumed from %s at step %d", resume_from, step)
    policy = DDP(model) if world.size > 1 else model  # forward/backward go through DDP; generate through model
    policy.train()
    own_scorer = scorer is None
    scorer = scorer or reward_service(cfg.reward, cfg.reward_workers, cfg.reward_timeout_s)
    # streamed scoring pays when the scorer runs in other processes (auto: the reward service's workers)
    stream_scoring = cfg.stream_scoring if cfg.stream_scoring is not None else own_scorer and cfg.reward_workers > 0
    if eval_set is None and cfg.eval_data:
        held_out = load_rows(cfg.eval_data, [cfg.prompt_key, cfg.reference_key])
        eval_specs = [r.get(cfg.spec_key) for r in held_out]
        eval_set = {"prompts": [render_prompt(tokenizer, r[cfg.prompt_key], cfg.system_prompt, cfg.chat_template)
                                for r in held_out],
                    "references": [r[cfg.reference_key] for r in held_out],
                    "specs": eval_specs if any(eval_specs) else None, "every": cfg.eval_every}
    if world.main:
        (out / "config.json").write_text(cfg.model_dump_json(indent=2))
    metrics_file = open(out / "metrics.jsonl", "a") if world.main else None
    decode = lambda ids: tokenizer.batch_decode(ids, skip_special_tokens=True)  # noqa: E731 - as rollout.texts
    bar = tqdm(total=cfg.steps, initial=step, disable=not (cfg.progress and world.main), desc="grpo")
    history = []

    while step < cfg.steps:
        t0 = time.perf_counter()
        # --- 1+2. rollout and reward (with dynamic sampling: until P groups carry signal) ---
        sampled, keep, rounds = None, [], 0
        while rounds < (cfg.max_sampling_rounds if cfg.dynamic_sampling else 1) and len(keep) < P:
            rounds += 1
            idx = sampler.next()                                               # (P,) row numbers
            refs = [rows[i][cfg.reference_key] for i in idx for _ in range(G)]
            specs = [rows[i].get(cfg.spec_key) for i in idx for _ in range(G)]
            specs = specs if any(specs) else None
            # streamed: completions are scored as they finish, while the rest are generated
            stream = StreamedScoring(scorer, refs, specs, decode) if stream_scoring else None
            ro = rollout.generate(model, tokenizer, [prompts[i] for i in idx], idx, G, cfg.max_new_tokens,
                                  cfg.temperature, cfg.top_p, max_prompt_tokens=cfg.max_prompt_tokens,
                                  dtype=dtype, share_prefix=cfg.share_prompt_prefix,
                                  on_finished=stream.submit if stream else None)  # N = P·G rows
            ref_logps = None
            if ref is not None and stream and not cfg.dynamic_sampling:
                # the reference needs no rewards: its pass runs while the last scores arrive
                ref_logps = reference_logprobs(ref, ro, micro_batches(ro, cfg.micro_batch_size), tokenizer, cfg, dtype)
            ro.scores = stream.results(ro.texts) if stream else scorer.score(ro.texts, refs, specs)
            ro.rewards = to_rewards(ro.scores, cfg.timeout_reward)
            offset = len(sampled.prompt_index) if sampled else 0
            sampled = ro if sampled is None else sampled + ro
            _, informative = group_advantages(torch.tensor(ro.rewards).view(P, G))  # (P,)
            keep += [offset + p for p in range(P) if informative[p]]
        if cfg.dynamic_sampling:  # informative groups first; top up with the rest if too few
            rest = [p for p in range(len(sampled.prompt_index)) if p not in keep]
            batch = sampled.groups((keep + rest)[:P])
        else:
            batch = sampled
        t_rollout = time.perf_counter() - t0

        # --- 3. advantages -----------------------------------------------------------------
        rewards = torch.tensor(batch.rewards).view(P, G)                      # (P, G) NaN: unscored
        adv, informative = group_advantages(rewards, cfg.advantage_scale)      # (P, G), (P,)
        adv = adv.view(-1).to(world.device)                                    # (N,)
        counted = [not math.isnan(r) and not (cfg.mask_truncated and t)       # (N,) rows in the loss
                   for r, t in zip(batch.rewards, batch.truncated, strict=True)]
        lengths = [len(c) for c in batch.completion_ids]                       # (N,)
        # Normalisers of the whole batch over all processes. DDP averages gradients over the
        # W processes, so each divides by total / W to make that average the global mean.
        W = world.size
        num_rows = distributed.total(sum(counted), world.device) / W
        num_tokens = distributed.total(sum(n for n, c in zip(lengths, counted, strict=True) if c), world.device) / W

        # --- 4. update: mu passes, each one optimizer step over all micro-batches ----------
        micro = micro_batches(batch, cfg.micro_batch_size)                    # row numbers of each
        if ref is not None and ref_logps is None:
            ref_logps = reference_logprobs(ref, batch, micro, tokenizer, cfg, dtype)  # one (n, T) per micro-batch
        old_logps: list[torch.Tensor] = []   # sampling policy's log-probs, one (n, T) per micro-batch
        passes = []
        for it in range(cfg.mu):
            acc = Counter()
            for k, rows_k in enumerate(micro):
                mbatch = collate([batch.prompt_ids[r] for r in rows_k], [batch.completion_ids[r] for r in rows_k],
                                 tokenizer.pad_token_id, world.device)
                mask = mbatch.completion_mask * torch.tensor([counted[r] for r in rows_k], device=world.device)[:, None]
                sync = k == len(micro) - 1 or W == 1  # DDP all-reduces only on the last micro-batch
                with policy.no_sync() if not sync else nullcontext():
                    logp, entropy = completion_logprobs(policy, mbatch, cfg.temperature, dtype, entropy=(it == 0),
                                                        share_prefix=cfg.share_prompt_prefix)  # (n, T)
                    if it == 0:
                        # Nothing has changed since sampling, so this pass's log-probs are the
                        # sampling policy's: no extra forward pass for them, even when mu > 1.
                        old_logps.append(logp.detach())
                    loss, stats = policy_loss(
                        logp, old_logps[k], adv[rows_k], mask, ref_logp=ref_logps[k] if ref is not None else None,
                        beta=cfg.beta, clip_low=cfg.clip_low, clip_high=cfg.clip_high, ratio_level=cfg.ratio_level,
                        aggregation=cfg.loss_aggregation, num_rows=num_rows, num_tokens=num_tokens,
                        max_new_tokens=cfg.max_new_tokens)
                    loss.backward()
                n_tok = stats["tokens"]
                acc["loss"] += loss.item()
                acc["tokens"] += n_tok
                for key in ("clip_frac", "kl", "ratio"):
                    acc[key] += stats[key] * n_tok
                if entropy is not None:
                    acc["entropy"] += float((entropy * mask).sum())
            grad_norm = _clip(model, cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            passes.append(dict(acc, grad_norm=grad_norm))
        step += 1
        step_s = time.perf_counter() - t0

        # --- 5. log ------------------------------------------------------------------------
        m = _metrics(batch, sampled, informative, passes, rounds, world, step, step_s, t_rollout,
                     scheduler.get_last_lr()[0])
        every = eval_set["every"] if eval_set else 0
        if eval_set and ((every and step % every == 0) or step == cfg.steps):
            m["eval_accuracy"] = _eval_accuracy(model, tokenizer, eval_set, scorer, cfg, dtype, world)
        history.append(m)
        if world.main:
            metrics_file.write(json.dumps(m) + "\n")
            metrics_file.flush()
            if cfg.log_samples_every and (step % cfg.log_samples_every == 0 or step == 1):
                _write_samples(out / "samples.jsonl", step, batch, prompts, rows, cfg.reference_key)
            bar.update(1)
            bar.set_postfix(reward=f"{m['reward_mean']:.3f}", pass_rate=f"{m['pass_rate']:.2f}",
                            zero_std=f"{m['zero_std_frac']:.2f}")

        # --- 6. checkpoint -----------------------------------------------------------------
        if (cfg.save_every and step % cfg.save_every == 0) or step == cfg.steps:
            checkpoint.save(out, step, model, tokenizer, optimizer, scheduler, sampler, world, cfg.keep_checkpoints)

    bar.close()
    if metrics_file:
        metrics_file.close()
    if own_scorer:
        scorer.close()
    return history


def _eval_accuracy(model: Any, tokenizer: Any, eval_set: dict, scorer: Scorer, cfg: GRPOConfig,
                   dtype: torch.dtype | None, world: distributed.World) -> float:
    """Greedy pass rate on the held-out prompts, each process taking every W-th one."""
    mine = range(world.rank, len(eval_set["prompts"]), world.size)
    specs = eval_set.get("specs")
    passed = greedy_passes(model, tokenizer, [eval_set["prompts"][i] for i in mine],
                           [eval_set["references"][i] for i in mine], scorer, cfg.max_new_tokens, dtype=dtype,
                           specs=[specs[i] for i in mine] if specs else None)
    return distributed.total(passed, world.device) / max(len(eval_set["prompts"]), 1)


def micro_batches(batch: rollout.Rollout, size: int) -> list[list[int]]:
    """Row numbers of each micro-batch. Rows of similar length go together, which wastes less
    compute on padding; the loss is the same whatever the grouping, since its normalisers are
    the whole batch's."""
    by_length = sorted(range(len(batch)), key=lambda r: (len(batch.prompt_ids[r]) + len(batch.completion_ids[r]), r))
    return [by_length[i:i + size] for i in range(0, len(batch), size)]


@torch.no_grad()
def reference_logprobs(ref: Any, batch: rollout.Rollout, micro: list[list[int]], tokenizer: Any, cfg: GRPOConfig,
                       dtype: torch.dtype | None) -> list[torch.Tensor]:
    """The reference model's log-probs of the completions, one (n, T) per micro-batch."""
    device = next(ref.parameters()).device
    return [completion_logprobs(ref, collate([batch.prompt_ids[r] for r in rows], [batch.completion_ids[r] for r in rows],
                                             tokenizer.pad_token_id, device), cfg.temperature, dtype,
                                share_prefix=cfg.share_prompt_prefix)[0] for rows in micro]


def _clip(model: torch.nn.Module, max_norm: float | None) -> float:
    if max_norm is None:
        grads = [p.grad.norm() for p in model.parameters() if p.grad is not None]
        return float(torch.stack(grads).norm()) if grads else 0.0
    return float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))


def _metrics(batch: rollout.Rollout, sampled: rollout.Rollout, informative: torch.Tensor, passes: list[Counter],
             rounds: int, world: distributed.World, step: int, step_s: float, rollout_s: float,
             lr: float) -> dict[str, Any]:
    """One flat dict per step, over all processes: rewards of everything sampled this step,
    loss statistics of the batch trained on (first pass: entropy; last pass: clipping)."""
    scores = distributed.gather(sampled.scores)
    rewards = [r for r in distributed.gather(sampled.rewards) if not math.isnan(r)]
    lengths = distributed.gather([len(c) for c in batch.completion_ids])
    generated = sum(distributed.gather([len(c) for c in sampled.completion_ids]))
    truncated = distributed.gather(batch.truncated)
    _, sampled_informative = group_advantages(torch.tensor(sampled.rewards).view(-1, sampled.group_size))
    zero_std = distributed.gather((~sampled_informative).tolist())
    batch_zero_std = distributed.gather((~informative).tolist())
    n_unscored = sum(s.reason in UNSCORED_REASONS for s in scores)  # also those timeout_reward scored
    first, last = passes[0], passes[-1]
    tokens = max(distributed.total(first["tokens"], world.device), 1.0)
    avg = lambda acc, key: distributed.total(acc[key], world.device) / tokens  # noqa: E731
    m: dict[str, Any] = {
        "step": step,
        "reward_mean": sum(rewards) / max(len(rewards), 1),
        "reward_std": float(torch.tensor(rewards).std(correction=0)) if rewards else 0.0,
        "pass_rate": sum(s.passed for s in scores) / max(len(scores), 1),
        "unscored_frac": n_unscored / max(len(scores), 1),
        "zero_std_frac": sum(zero_std) / max(len(zero_std), 1),  # of all groups sampled
        "batch_zero_std_frac": sum(batch_zero_std) / max(len(batch_zero_std), 1),  # of those trained on
        "sampling_rounds": rounds,
        "loss": distributed.total(last["loss"], world.device) / world.size,
        "kl": avg(last, "kl"),
        "clip_frac": avg(last, "clip_frac"),
        "ratio": avg(last, "ratio"),
        "entropy": avg(first, "entropy"),
        "grad_norm": last["grad_norm"],
        "lr": lr,
        "completion_len_mean": sum(lengths) / max(len(lengths), 1),
        "completion_len_max": max(lengths, default=0),
        "truncated_frac": sum(truncated) / max(len(truncated), 1),
        "step_s": step_s,
        "rollout_s": rollout_s,
        "tokens_per_s": generated / step_s,  # sampled completion tokens, all rounds
    }
    parts: dict[str, list[float]] = {}
    for s in scores:
        for name, v in s.parts.items():
            parts.setdefault(name, []).append(v)
    m.update({f"reward/{k}": sum(v) / len(v) for k, v in sorted(parts.items())})
    reasons = Counter(s.reason for s in scores)
    m.update({f"reason/{k}": v / len(scores) for k, v in sorted(reasons.items())})
    return m


def _write_samples(path: Path, step: int, batch: rollout.Rollout, prompts: list[str], rows: list[dict],
                   reference_key: str, n: int = 4) -> None:
    with open(path, "a") as f:
        for r in range(min(n, len(batch))):
            i = batch.prompt_index[r // batch.group_size]
            s = batch.scores[r]
            f.write(json.dumps({"step": step, "prompt": prompts[i], "completion": batch.texts[r],
                                "reference": rows[i][reference_key], "reward": batch.rewards[r],
                                "passed": s.passed, "reason": s.reason, "truncated": batch.truncated[r]}) + "\n")
