"""The `grpo` command: train, sft, plot and a miniature demo, each on a tiny budget."""

import json
import os

import pytest
import yaml

from grpo.cli import main
from grpo.scoring import LocalScorer, answer_match


def _config(tmp_path, **fields):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(fields))
    return str(path)


def test_train_then_plot(model_dir, data_file, tmp_path, monkeypatch):
    # The CLI builds the reward service; swap in the in-process scorer so no workers start.
    monkeypatch.setattr("grpo.train.reward_service", lambda *a: LocalScorer(answer_match))
    cfg = _config(tmp_path, model=model_dir, data=data_file, steps=2, prompts_per_step=2, group_size=2,
                  max_new_tokens=6, device="cpu", progress=False)
    assert main(["train", cfg, f"output_dir={tmp_path / 'run'}", "lr=1e-4"]) == 0
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2
    assert main(["plot", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "curves.png").stat().st_size > 0


def test_sft_learns_the_completions(model_dir, tmp_path):
    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps({"prompt": f"{a}+1?", "completion": f"<answer>{a + 1}</answer>"}) + "\n"
                            for a in range(8)))
    cfg = _config(tmp_path, model=model_dir, data=str(data), steps=15, batch_size=8, micro_batch_size=4, lr=3e-3,
                  device="cpu", progress=False, output_dir=str(tmp_path / "sft"))
    assert main(["sft", cfg]) == 0
    losses = [json.loads(x)["loss"] for x in (tmp_path / "sft" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < 0.5 * losses[0]
    assert (tmp_path / "sft" / "checkpoints" / "step_000015" / "model" / "config.json").exists()


def test_bad_config_exits_2_with_a_message(tmp_path, capsys):
    cfg = _config(tmp_path, model="m", data="d", temprature=0.7)
    assert main(["train", cfg]) == 2
    assert "unknown key 'temprature' (did you mean 'temperature'?)" in capsys.readouterr().err
    assert main(["demo", "steps=3"]) == 2


def test_help_config_lists_every_field(capsys):
    assert main(["train", "--help-config"]) == 0
    out = capsys.readouterr().out
    assert "dynamic_sampling" in out and "loss_aggregation" in out


def test_demo_pipeline_in_miniature(tmp_path):
    from grpo.demo import demo
    summary = demo(str(tmp_path / "demo"), ["steps=3", "progress=false"],
                   ["steps=2", "prompts_per_step=2", "group_size=2", "progress=false"],
                   n_eval=8, eval_every=1, scorer=LocalScorer("0.1*format + math"), say=lambda *a: None)
    assert 0 <= summary["accuracy_before"] <= 1 and len(summary["curve"]) == 3
    assert (tmp_path / "demo" / "grpo" / "curves.png").exists()


@pytest.mark.skipif(os.environ.get("GRPO_FULL_DEMO") != "1", reason="set GRPO_FULL_DEMO=1: ~2 minutes")
def test_full_demo_gains_15_points(tmp_path):
    from grpo.demo import demo
    summary = demo(str(tmp_path / "demo"), ["progress=false"], ["progress=false"], say=lambda *a: None)
    assert summary["gain_points"] >= 15 and summary["total_s"] < 600
