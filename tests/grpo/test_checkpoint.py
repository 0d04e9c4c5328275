"""Checkpoints resume exactly: an interrupted run ends with the same weights as a straight one."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from grpo.data import Sampler
from grpo.optim import lr_factor
from grpo.scoring import LocalScorer
from grpo.train import train
from tests.grpo.conftest import digit_fraction
from tests.grpo.test_train import _cfg


def _weights(run_dir, step):
    return load_file(str(run_dir / "checkpoints" / f"step_{step:06d}" / "model" / "model.safetensors"))


def test_resume_is_exact(model_dir, data_file, tmp_path):
    opts = dict(steps=4, save_every=2, mu=2, beta=0.05, lr_schedule="cosine", warmup_steps=1, dynamic_sampling=True,
                max_sampling_rounds=2)
    straight = tmp_path / "straight"
    train(_cfg(model_dir, data_file, straight, **opts), scorer=LocalScorer(digit_fraction))
    # Simulate a crash after step 2: copy the run, drop the step-4 checkpoint and the last metrics.
    resumed = tmp_path / "resumed"
    shutil.copytree(straight / "run", resumed / "run")
    shutil.rmtree(resumed / "run" / "checkpoints" / "step_000004")
    lines = (resumed / "run" / "metrics.jsonl").read_text().splitlines()
    (resumed / "run" / "metrics.jsonl").write_text("\n".join(lines[:2]) + "\n")
    history = train(_cfg(model_dir, data_file, resumed, resume=True, **opts), scorer=LocalScorer(digit_fraction))
    assert [h["step"] for h in history] == [3, 4]
    a, b = _weights(straight / "run", 4), _weights(resumed / "run", 4)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    m_a = [json.loads(x) for x in (straight / "run" / "metrics.jsonl").read_text().splitlines()]
    m_b = [json.loads(x) for x in (resumed / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [m["reward_mean"] for m in m_a] == [m["reward_mean"] for m in m_b]
    assert [m["lr"] for m in m_a] == [m["lr"] for m in m_b]


def test_only_the_newest_checkpoints_are_kept(model_dir, data_file, tmp_path):
    train(_cfg(model_dir, data_file, tmp_path, steps=3, save_every=1, keep_checkpoints=2),
          scorer=LocalScorer(digit_fraction))
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["step_000002", "step_000003"]


def test_sampler_state_resumes_the_same_order_and_shards_by_rank():
    a = Sampler(10, 4, seed=3)
    first = [a.next() for _ in range(2)]
    b = Sampler(10, 4, seed=3)
    b.load_state_dict(a.state_dict())
    assert [a.next() for _ in range(3)] == [b.next() for _ in range(3)]
    r0, r1 = Sampler(10, 4, seed=3, rank=0, world=2), Sampler(10, 4, seed=3, rank=1, world=2)
    assert sorted(r0.next() + r1.next()) == sorted(first[0])
    with pytest.raises(ValueError, match="split"):
        Sampler(10, 3, seed=0, world=2)


def test_lr_schedule_shapes():
    assert [lr_factor(s, "constant", 2, 10) for s in range(3)] == [0.5, 1.0, 1.0]
    assert lr_factor(2, "linear", 2, 10) == 1.0 and lr_factor(6, "linear", 2, 10) == 0.5
    assert lr_factor(6, "cosine", 2, 10) == pytest.approx(0.5) and lr_factor(10, "cosine", 2, 10) == pytest.approx(0.0)
