"""DDP through torchrun: two CPU processes (gloo) train together and stay in sync."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

SCRIPT = """
import hashlib, sys
import torch.distributed as dist
from grpo import checkpoint
from grpo.config import GRPOConfig, load_config
from grpo.train import train

cfg = load_config(GRPOConfig, sys.argv[1])
save = checkpoint.save

def save_and_fingerprint(out, step, model, *args, **kw):
    # each process's weights at every checkpoint: DDP must keep them identical
    digest = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()
    with open(f"{out}/weights_rank{dist.get_rank()}.txt", "a") as f:
        f.write(f"{step} {digest}\\n")
    return save(out, step, model, *args, **kw)

checkpoint.save = save_and_fingerprint
train(cfg)
"""


@pytest.mark.slow
def test_two_cpu_processes_with_gloo(model_dir, data_file, tmp_path):
    out = tmp_path / "run"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(dict(model=model_dir, data=data_file, output_dir=str(out), steps=2, save_every=0,
                                       prompts_per_step=4, group_size=4, max_new_tokens=8, device="cpu",
                                       reward="0.1*format + math", reward_workers=0, progress=False,
                                       beta=0.05, mu=2, micro_batch_size=4, eval_data=data_file, eval_every=2)))
    script = tmp_path / "ddp_check.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[2])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(script), str(cfg)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fingerprints = [(out / f"weights_rank{r}.txt").read_text() for r in (0, 1)]
    assert fingerprints[0] == fingerprints[1] and fingerprints[0].startswith("2 ")
    metrics = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2]  # rank 0 alone writes metrics
    assert 0.0 <= metrics[-1]["eval_accuracy"] <= 1.0 and "eval_accuracy" not in metrics[0]  # both ranks evaluate
    assert (out / "checkpoints" / "step_000002" / "rng_rank1.pt").exists()
