"""On a CUDA machine: bf16 autocast by default, training runs and weights stay float32."""

import math

import pytest
import torch

from grpo.config import GRPOConfig
from grpo.distributed import autocast_dtype, resolve_device
from grpo.scoring import LocalScorer
from grpo.train import train
from tests.grpo.conftest import digit_fraction

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_auto_device_is_cuda_with_bf16():
    device = resolve_device("auto")
    assert device.type == "cuda" and autocast_dtype("auto", device) == torch.bfloat16


def test_train_on_cuda(model_dir, data_file, tmp_path):
    cfg = GRPOConfig(model=model_dir, data=data_file, output_dir=str(tmp_path / "run"), steps=3, prompts_per_step=4,
                     group_size=8, max_new_tokens=12, lr=1e-2, device="auto", progress=False, beta=0.05, mu=2)
    history = train(cfg, scorer=LocalScorer(digit_fraction))
    assert all(math.isfinite(h["loss"]) and math.isfinite(h["kl"]) for h in history)


def test_shared_prompt_prefix_matches_whole_rows_in_bf16_on_cuda(tokenizer):
    from grpo.policy import collate, completion_logprobs
    from tests.grpo.conftest import tiny_llama
    from tests.grpo.test_shared_prefix import _rows

    model = tiny_llama(len(tokenizer)).cuda().train()
    prompts, completions = _rows(tokenizer)
    batch = collate(prompts, completions, tokenizer.pad_token_id, torch.device("cuda"))
    shared, _ = completion_logprobs(model, batch, dtype=torch.bfloat16, share_prefix=True)
    full, _ = completion_logprobs(model, batch, dtype=torch.bfloat16, share_prefix=False)
    mask = batch.completion_mask.bool()
    assert torch.allclose(shared[mask], full[mask], atol=5e-2)  # bf16 rounding in two orders of work
