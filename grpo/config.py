"""Run configurations: pydantic models loadable from YAML, every field documented.

`TrainConfig` holds what every run shares (policy, data, optimiser, device, checkpoints);
`GRPOConfig` and `SFTConfig` add their own fields. Unknown keys are rejected with the name
of the closest known one, and `key=value` overrides from the command line are parsed as YAML
scalars (`lr=3e-6`, `dynamic_sampling=true`).

    grpo train fixtures/grpo_demo.yaml steps=2 output_dir=runs/try   # after `grpo demo` (its model and data)
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ConfigError(ValueError):
    """A config file or override is malformed; the message says which key and why."""


class TrainConfig(BaseModel):
    """Fields shared by every training run (GRPO and SFT)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # --- model and data -----------------------------------------------------------------
    model: str = Field(description="Policy to train: a local directory or a hub id (AutoModelForCausalLM).")
    tokenizer: str | None = Field(None, description="Tokenizer directory or hub id; default: the model's.")
    data: str = Field(description="JSONL dataset, one example per line.")
    prompt_key: str = Field("prompt", description="Field of each row holding the prompt text.")
    system_prompt: str | None = Field(None, description="System message put before every prompt (chat template only).")
    chat_template: bool = Field(True, description="Wrap prompts in the tokenizer's chat template when it has one.")
    max_prompt_tokens: int | None = Field(None, gt=0, description="Keep only the last this-many prompt tokens; None: no limit.")

    # --- optimisation -------------------------------------------------------------------
    steps: int = Field(100, gt=0, description="Optimizer steps for SFT; rollout-and-update steps for GRPO.")
    lr: float = Field(1e-6, gt=0, description="Peak learning rate of AdamW.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    adam_betas: tuple[float, float] = Field((0.9, 0.99), description="AdamW betas.")
    lr_schedule: Literal["constant", "linear", "cosine"] = Field(
        "constant", description="Shape after warmup: constant, linear decay to 0, or cosine decay to 0.")
    warmup_steps: int = Field(0, ge=0, description="Optimizer steps of linear warmup from 0 to lr.")
    max_grad_norm: float | None = Field(1.0, gt=0, description="Clip the gradient's global norm to this; None: no clipping.")
    micro_batch_size: int = Field(8, gt=0, description="Rows per forward/backward; gradients accumulate over micro-batches.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass to save memory.")
    share_prompt_prefix: bool = Field(True, description="Encode a prompt once for all its rows (the G samples of a group) in generation and in every forward pass of the loss, through its KV cache: same log-probs and gradients, (G-1)/G less prompt compute. Off: every row in full. With gradient_checkpointing the loss runs rows in full (checkpointing drops the cache).")

    # --- runtime ------------------------------------------------------------------------
    seed: int = Field(0, description="Seeds data order, sampling and initialisation.")
    device: str = Field("auto", description="auto (cuda when present, else cpu), cpu, cuda, cuda:1, ...")
    threads: int = Field(0, ge=0, description="CPU threads for torch (torch.set_num_threads); 0: torch's default. 1 is often fastest for tiny models or a busy machine.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Autocast dtype of forward passes: auto is bfloat16 on CUDA, float32 on CPU. Weights stay float32.")
    output_dir: str = Field("runs/grpo", description="Metrics, samples and checkpoints go here.")
    save_every: int = Field(0, ge=0, description="Checkpoint every this many steps (and at the end); 0: only at the end.")
    keep_checkpoints: int = Field(2, gt=0, description="Newest checkpoints kept; older ones are deleted.")
    resume: bool = Field(False, description="Continue from the newest checkpoint in output_dir (exactly: weights, optimizer, schedule, RNG, data order).")
    progress: bool = Field(True, description="Show a progress bar (rank 0 only).")
    log_samples_every: int = Field(10, ge=0, description="Write sample completions to samples.jsonl every this many steps; 0: never.")


class GRPOConfig(TrainConfig):
    """A GRPO run: rollouts scored by the reward service, group advantages, the clipped loss."""

    reference_key: str = Field("reference", description="Field of each row holding the gold answer passed to the verifier.")
    spec_key: str = Field("reward_spec", description="Optional field of a row overriding `reward` for that row.")
    reward: str = Field("0.1*format + math", description="Reward spec for the reward service: '0.1*format + math', 'format & math', 'code', ...")
    reward_workers: int = Field(2, ge=0, description="Worker processes of the reward service; 0 scores in this process (no deadline: for tests and debugging).")
    reward_timeout_s: float = Field(10.0, gt=0, description="Deadline per scored item (a code item gets its tests' time on top); a late item gets timeout_reward.")
    timeout_reward: float | None = Field(0.0, description="Reward of an item the reward service gave up on: it ran past its deadline (reason timeout) or crashed its worker. 0 (the default): count it as a failure, for math as for code, because the completion is usually what hung or crashed the verifier (a huge expression, a nested power), and if such items were left out a policy would learn that an answer that stalls the verifier escapes the penalty of a wrong one; the cost is that an answer an overloaded machine failed to score in time is penalised too, which is rare and shows in unscored_frac. None: leave these items out of their groups, like a bad reference. Set it to the reward of a wrong answer when your spec's floor is not 0 (a negative shaping term). A code program that runs out of its own time limit is not this: the sandbox scores it as a failed test (reason time_limit) either way.")
    stream_scoring: bool | None = Field(None, description="Score completions as they finish, on a background thread, while the rest are generated, and run the reference pass while the last scores arrive; scores are the same either way. None (auto): on when scoring runs in reward workers (reward_workers > 0); off when it runs in this process, where its thread competes with generation for the interpreter (7% slower in benchmarks/grpo_results.md).")

    # --- rollout ------------------------------------------------------------------------
    prompts_per_step: int = Field(8, gt=0, description="P: prompts per step over all processes (must divide by the world size).")
    group_size: int = Field(8, ge=2, description="G: completions sampled per prompt.")
    max_new_tokens: int = Field(256, gt=0, description="Longest completion; longer ones are cut and marked truncated.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature; log-probs in the loss use the same temperature.")
    top_p: float = Field(1.0, gt=0, le=1, description="Nucleus sampling mass.")
    dynamic_sampling: bool = Field(False, description="DAPO: resample until the batch holds P groups whose rewards differ.")
    max_sampling_rounds: int = Field(4, gt=0, description="Rollout rounds per step at most with dynamic sampling.")

    # --- advantages and loss ------------------------------------------------------------
    advantage_scale: Literal["group", "batch", "none"] = Field(
        "group", description="Divide centred rewards by the group std (GRPO), the batch std (of this process's batch under DDP), or nothing (Dr. GRPO).")
    clip_low: float = Field(0.2, ge=0, description="Ratio clip below: 1 - clip_low.")
    clip_high: float = Field(0.2, ge=0, description="Ratio clip above: 1 + clip_high (DAPO's clip-higher uses 0.28).")
    ratio_level: Literal["token", "sequence"] = Field(
        "token", description="Importance ratio per token (GRPO) or per sequence (GSPO; pair with small clips, e.g. 3e-4/4e-4).")
    loss_aggregation: Literal["token", "sequence", "constant"] = Field(
        "token", description="Mean over all tokens (DAPO), per sequence then over sequences (GRPO), or sum / (rows * max_new_tokens) (Dr. GRPO).")
    beta: float = Field(0.0, ge=0, description="k3 KL coefficient to the reference model; the reference is loaded only when > 0.")
    ref_model: str | None = Field(None, description="Reference model; default: `model` as loaded at step 0.")
    mu: int = Field(1, gt=0, description="Inner iterations: optimizer steps over the same rollouts (each pass is one step).")
    mask_truncated: bool = Field(False, description="Leave completions cut at max_new_tokens out of the loss (DAPO overlong filtering).")
    eval_data: str | None = Field(None, description="Held-out JSONL (same keys as data) whose greedy pass rate is logged as eval_accuracy; None: no evaluation.")
    eval_every: int = Field(10, ge=0, description="Evaluate eval_data every this many steps and after the last; 0: after the last step only.")

    @model_validator(mode="after")
    def _check_clips(self) -> GRPOConfig:
        if self.clip_low >= 1:
            raise ValueError(f"clip_low must be below 1 (the ratio's lower bound is 1 - clip_low), got {self.clip_low}")
        return self


class SFTConfig(TrainConfig):
    """Supervised fine-tuning on prompt/completion pairs: the cold start before GRPO."""

    completion_key: str = Field("completion", description="Field of each row holding the target completion.")
    batch_size: int = Field(32, gt=0, description="Examples per optimizer step over all processes.")
    lr: float = Field(1e-4, gt=0, description="Peak learning rate of AdamW.")
    output_dir: str = Field("runs/sft", description="Metrics and checkpoints go here.")


def load_config(cls: type[TrainConfig], path: str | Path | None = None, overrides: list[str] | None = None,
                **fields: Any) -> TrainConfig:
    """Build a config from a YAML file, then `key=value` overrides, then keyword fields."""
    raw: dict[str, Any] = {}
    if path is not None:
        loaded = yaml.safe_load(Path(path).read_text())
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of config keys, got {type(loaded).__name__}")
        raw.update(loaded or {})
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        raw[key.strip()] = yaml.safe_load(value) if value.strip() else None
    raw.update(fields)
    return validate(cls, raw, source=str(path) if path else "config")


def validate(cls: type[TrainConfig], raw: dict[str, Any], source: str = "config") -> TrainConfig:
    """`cls(**raw)` with pydantic's errors rewritten as one readable line per key."""
    known = list(cls.model_fields)
    unknown = [k for k in raw if k not in known]
    if unknown:
        lines = []
        for k in unknown:
            close = difflib.get_close_matches(str(k), known, n=1)
            lines.append(f"unknown key {k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(f"{source}: " + "; ".join(lines) + f". Known keys: {', '.join(known)}")
    try:
        return cls(**raw)
    except ValidationError as e:
        msgs = [f"{'.'.join(str(p) for p in err['loc']) or cls.__name__}: {err['msg']}" for err in e.errors()]
        raise ConfigError(f"{source}: " + "; ".join(msgs)) from None


def describe(cls: type[TrainConfig]) -> str:
    """Every field with its default and description, for `grpo train --help-config`."""
    out = []
    for name, f in cls.model_fields.items():
        default = "required" if f.is_required() else repr(f.default)
        out.append(f"  {name} (default {default})\n      {f.description}")
    return "\n".join(out)
