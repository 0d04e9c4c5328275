"""Shared fixtures: the tiny tokenizer, a tiny randomly initialised Llama saved to disk, data."""

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

TOKENIZER = str(Path(__file__).parents[2] / "fixtures" / "tokenizer")


def tiny_llama(vocab_size: int, seed: int = 0, hidden: int = 64, layers: int = 2) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                      max_position_embeddings=256, pad_token_id=0, eos_token_id=1, bos_token_id=None,
                      tie_word_embeddings=True)
    return LlamaForCausalLM(cfg)


@pytest.fixture(scope="session")
def tokenizer():
    return AutoTokenizer.from_pretrained(TOKENIZER)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, tokenizer):
    path = tmp_path_factory.mktemp("tiny_model")
    tiny_llama(len(tokenizer)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "prompts.jsonl"
    with open(path, "w") as f:
        for a in range(16):
            f.write(json.dumps({"prompt": f"What is {a}+{a % 5}?", "reference": str(a + a % 5)}) + "\n")
    return str(path)


def digit_fraction(completion: str, reference) -> float:
    """A reward a random tiny model can climb in a few steps: the share of digits it writes."""
    return sum(ch.isdigit() for ch in completion) / max(len(completion), 1)
