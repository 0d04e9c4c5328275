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
