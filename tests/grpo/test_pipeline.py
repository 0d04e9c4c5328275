"""examples/r1_pipeline.sh, shortened: cold start -> GRPO -> rejection sampling -> SFT -> GRPO,
run as the sequence of `grpo` and `verify` commands a user would type."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHORT = {"SFT1_STEPS": "4", "GRPO1_STEPS": "2", "RS_PROMPTS": "6", "RS_SAMPLES": "4", "SFT2_STEPS": "2",
         "GRPO2_STEPS": "2", "EVAL_PROBLEMS": "8", "KEEP": "reward>=0"}  # an untrained model passes nothing


@pytest.mark.slow
def test_multi_stage_pipeline_runs_end_to_end(tmp_path):
    out = tmp_path / "pipeline"
    bin_dir = str(Path(sys.executable).parent)  # grpo and verify of this environment
    env = {**os.environ, **SHORT, "PYTHON": sys.executable, "PATH": bin_dir + os.pathsep + os.environ["PATH"]}
    run = subprocess.run(["bash", str(ROOT / "examples" / "r1_pipeline.sh"), str(out)], env=env,
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    stages = [line.split(":")[0] for line in run.stdout.splitlines() if "greedy accuracy" in line]
    assert stages == ["== 0-init", "== 1-sft", "== 2-grpo", "== 4-sft", "== 5-grpo"]
    for stage, steps in (("1-sft", 4), ("2-grpo", 2), ("4-sft", 2), ("5-grpo", 2)):
        assert (out / stage / "checkpoints" / f"step_{steps:06d}" / "model" / "config.json").exists(), stage
    samples = [json.loads(x) for x in (out / "3-samples.jsonl").read_text().splitlines()]
    assert len(samples) == 6 * 4 and all({"prompt", "reference", "completion"} <= r.keys() for r in samples)
    kept = [json.loads(x) for x in (out / "3-kept.jsonl").read_text().splitlines()]
    per_prompt = collections.Counter(r["prompt"] for r in kept)
    assert kept and max(per_prompt.values()) <= 2 and len(per_prompt) == 6
    # stage 4 ran its steps on the kept records
    assert sum(1 for _ in open(out / "4-sft" / "metrics.jsonl")) == 2
    assert len((out / "eval" / "5-grpo.jsonl").read_text().splitlines()) == 8
