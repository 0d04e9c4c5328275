"""The loop end to end on a tiny model: reward rises, options run, None rewards are excluded."""

import json
import math

import pytest
import torch

from grpo.config import GRPOConfig
from grpo.policy import collate, completion_logprobs, load_model, load_tokenizer
from grpo.rollout import generate
from grpo.scoring import LocalScorer
from grpo.train import train
from tests.grpo.conftest import digit_fraction


def _cfg(model_dir, data_file, tmp_path, **kw):
    base = dict(model=model_dir, data=data_file, output_dir=str(tmp_path / "run"), steps=3, prompts_per_step=4,
                group_size=4, max_new_tokens=12, micro_batch_size=8, lr=3e-3, device="cpu", progress=False,
                log_samples_every=1)
    return GRPOConfig(**{**base, **kw})


def test_rollout_groups_rows_and_marks_truncation(model_dir):
    tok, model = load_tokenizer(model_dir), load_model(model_dir, torch.device("cpu"))
    torch.manual_seed(0)
    ro = generate(model, tok, ["<|user|>1+1?<|assistant|>", "<|user|>22+3?<|assistant|>"], [5, 7], 3, 10)
    assert len(ro) == 6 and ro.prompt_index == [5, 7]
    assert ro.prompt_ids[0] == ro.prompt_ids[2] != ro.prompt_ids[3]
    for ids, cut in zip(ro.completion_ids, ro.truncated, strict=True):
        assert (tok.eos_token_id not in ids and len(ids) == 10) if cut else ids[-1] == tok.eos_token_id


def test_training_logprobs_match_the_sampling_distribution(model_dir):
    tok, model = load_tokenizer(model_dir), load_model(model_dir, torch.device("cpu"))
    torch.manual_seed(1)
    ro = generate(model, tok, ["<|user|>1+1?<|assistant|>", "<|user|>What is 22+3?<|assistant|>"], [0, 1], 2, 8,
                  temperature=0.7)
    batch = collate(ro.prompt_ids, ro.completion_ids, tok.pad_token_id, torch.device("cpu"))
    logp, ent = completion_logprobs(model, batch, temperature=0.7, entropy=True)
    # Re-score each row alone (no padding at all): padding must not change the log-probs.
    for r in range(len(ro)):
        ids = torch.tensor([ro.prompt_ids[r] + ro.completion_ids[r]])
        logits = model(input_ids=ids).logits[0, len(ro.prompt_ids[r]) - 1:-1] / 0.7
        alone = logits.log_softmax(-1).gather(-1, ids[0, len(ro.prompt_ids[r]):, None])[:, 0]
        n = len(ro.completion_ids[r])
        assert torch.allclose(logp[r, :n], alone, atol=1e-4)
    assert (ent >= 0).all()


def test_smoke_reward_rises(model_dir, data_file, tmp_path):
    cfg = _cfg(model_dir, data_file, tmp_path, steps=8, group_size=8, micro_batch_size=16, lr=1e-2)
    history = train(cfg, scorer=LocalScorer(digit_fraction))
    first, last = history[0]["reward_mean"], sum(h["reward_mean"] for h in history[-2:]) / 2
    assert last > first + 0.15, [h["reward_mean"] for h in history]  # typically 0.1 -> 0.45
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 8 and {"reward_mean", "zero_std_frac", "kl", "clip_frac", "entropy", "tokens_per_s",
                                "step_s", "completion_len_mean", "pass_rate"} <= set(json.loads(lines[0]))
    assert (tmp_path / "run" / "samples.jsonl").exists()


@pytest.mark.parametrize("options", [
    dict(mu=2, beta=0.05, clip_high=0.28),
    dict(ratio_level="sequence", loss_aggregation="sequence", clip_low=3e-4, clip_high=4e-4),
    dict(advantage_scale="none", loss_aggregation="constant", mask_truncated=True, lr_schedule="cosine", warmup_steps=1),
    dict(advantage_scale="batch", dynamic_sampling=True, max_sampling_rounds=2, micro_batch_size=3),
])
def test_options_run_and_log_finite_metrics(model_dir, data_file, tmp_path, options):
    history = train(_cfg(model_dir, data_file, tmp_path, steps=2, **options), scorer=LocalScorer(digit_fraction))
    assert all(math.isfinite(h[k]) for h in history for k in ("loss", "kl", "clip_frac", "entropy", "grad_norm"))


def test_mu_above_one_moves_the_ratio_and_kl_on_later_passes(model_dir, data_file, tmp_path):
    history = train(_cfg(model_dir, data_file, tmp_path, steps=2, mu=3, beta=0.1, lr=1e-2),
                    scorer=LocalScorer(digit_fraction))
    # the last pass is off-policy: its ratio is no longer exactly 1, and the policy has moved from the reference
    assert any(abs(h["ratio"] - 1.0) > 1e-4 for h in history)
    assert history[-1]["kl"] > 0


def test_unscored_items_are_excluded_and_reported(model_dir, data_file, tmp_path):
    from verifiers.score import Score

    def flaky(completion, reference):
        if len(completion) % 3 == 0:
            return Score(0.0, False, "timeout")
        return digit_fraction(completion, reference)

    history = train(_cfg(model_dir, data_file, tmp_path, steps=2, timeout_reward=None), scorer=LocalScorer(flaky))
    assert all(h["unscored_frac"] > 0 for h in history)
    assert all(math.isfinite(h["loss"]) and math.isfinite(h["reward_mean"]) for h in history)


@pytest.mark.slow  # several seconds of training on CPU
def test_dynamic_sampling_fills_the_batch_with_informative_groups(model_dir, data_file, tmp_path):
    def half_constant(completion, reference):  # prompts with an even answer all score 1: no signal
        return 1.0 if int(reference) % 2 == 0 else digit_fraction(completion, reference)

    plain = train(_cfg(model_dir, data_file, tmp_path / "a", steps=3), scorer=LocalScorer(half_constant))
    dynamic = train(_cfg(model_dir, data_file, tmp_path / "b", steps=3, dynamic_sampling=True, max_sampling_rounds=4),
                    scorer=LocalScorer(half_constant))
    assert sum(h["batch_zero_std_frac"] for h in plain) > 0
    assert all(h["batch_zero_std_frac"] == 0 and h["zero_std_frac"] > 0 for h in dynamic)
    assert any(h["sampling_rounds"] > 1 for h in dynamic)


@pytest.mark.slow  # several seconds of training on CPU
def test_eval_data_logs_held_out_greedy_accuracy(model_dir, data_file, tmp_path):
    cfg = _cfg(model_dir, data_file, tmp_path, steps=3, eval_data=data_file, eval_every=2)
    history = train(cfg, scorer=LocalScorer(lambda c, r: float(any(ch.isdigit() for ch in c))))
    assert ["eval_accuracy" in h for h in history] == [False, True, True]  # every 2 steps and after the last
    assert all(0.0 <= h["eval_accuracy"] <= 1.0 for h in history[1:])
    once = train(_cfg(model_dir, data_file, tmp_path / "b", steps=2, eval_data=data_file, eval_every=0),
                 scorer=LocalScorer(digit_fraction))
    assert ["eval_accuracy" in h for h in once] == [False, True]
