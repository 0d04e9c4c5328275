"""SFT masking: the loss covers the completion tokens (and eos) only, never the prompt."""

import json

import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM

from grpo.cli import main
from grpo.data import render_prompt

ROWS = [("What is 12+30?", "<answer>42</answer>"), ("7?", "<think>seven</think><answer>7</answer>"),
        ("A much longer prompt, padded against the others: " + "z" * 40, "2")]


def _hf_loss(model, tokenizer, mask_prompt: bool) -> float:
    """Mean cross-entropy per target token, row by row with no padding, via transformers'
    own `labels` (-100 marks a token without loss): the usual SFT recipe, as a reference."""
    total, count = 0.0, 0
    for prompt, completion in ROWS:
        p = tokenizer(render_prompt(tokenizer, prompt), add_special_tokens=False)["input_ids"]
        c = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        labels = ([-100] * len(p) if mask_prompt else p) + c
        n = len(c) if mask_prompt else len(p) + len(c) - 1  # targets after the shift by one
        with torch.no_grad():
            loss = model(input_ids=torch.tensor([p + c]), labels=torch.tensor([labels])).loss
        total, count = total + float(loss) * n, count + n
    return total / count


def test_sft_loss_is_the_completion_tokens_cross_entropy_only(model_dir, tokenizer, tmp_path):
    # A random tiny model predicts every token at about log(vocab); sharper (scaled) embeddings
    # make the per-token losses differ, so that counting the prompt would show.
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    with torch.no_grad():
        model.get_input_embeddings().weight.mul_(8.0)
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    data = tmp_path / "sft.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "completion": c}) + "\n" for p, c in ROWS))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"model": str(tmp_path / "model"), "data": str(data), "steps": 1, "batch_size": 3,
                                   "micro_batch_size": 2, "device": "cpu", "progress": False,
                                   "output_dir": str(tmp_path / "sft")}))
    assert main(["sft", str(cfg)]) == 0
    logged = json.loads((tmp_path / "sft" / "metrics.jsonl").read_text().splitlines()[0])["loss"]

    model.eval()  # the weights the first step saw
    assert logged == pytest.approx(_hf_loss(model, tokenizer, mask_prompt=True), rel=1e-4)
    # and the test can tell: a loss that also counted the prompt tokens would differ
    assert logged != pytest.approx(_hf_loss(model, tokenizer, mask_prompt=False), rel=0.05)
