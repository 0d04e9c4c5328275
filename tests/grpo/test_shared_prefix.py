"""A prompt encoded once for all its rows (KV cache) gives the log-probs, gradients and samples of
whole rows, in every architecture we try, and falls back to whole rows when there is no cache."""

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, MistralConfig, MistralForCausalLM

from grpo.policy import collate, completion_logprobs, load_tokenizer
from grpo.rollout import generate
from tests.grpo.conftest import tiny_llama

PROMPTS = ["<|user|>What is 12+7?<|assistant|>", "<|user|>1+1?<|assistant|>", "<|user|>30+45?<|assistant|>"]


def _model(kind: str, vocab: int):
    torch.manual_seed(0)
    if kind == "llama":
        return tiny_llama(vocab)
    if kind == "gpt2":  # learned absolute positions: position_ids must continue across the cache
        return GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_embd=64, n_layer=2, n_head=4, n_positions=128,
                                          eos_token_id=1, pad_token_id=0, bos_token_id=1, resid_pdrop=0.0,
                                          embd_pdrop=0.0, attn_pdrop=0.0))
    # sliding window shorter than the prompts: the cache keeps a window, not every position
    return MistralForCausalLM(MistralConfig(vocab_size=vocab, hidden_size=64, intermediate_size=128,
                                            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                            sliding_window=6, pad_token_id=0, eos_token_id=1, bos_token_id=None))


def _rows(tok):
    """Three groups: prompts of different lengths (left padding), completions of lengths 1 to 9
    (right padding), rows of a group interleaved with other groups."""
    enc = [tok(p, add_special_tokens=False)["input_ids"] for p in PROMPTS]
    completions = [[5, 6, 7, 1], [1], [9, 9, 9, 9, 9, 9, 9, 9, 1], [4, 1], [8, 8, 8], [6, 5, 4, 3, 1], [7]]
    which = [0, 1, 0, 2, 1, 0, 2]
    return [enc[w] for w in which], completions


def _logprobs_and_grads(model, batch, share):
    model.zero_grad()
    logp, ent = completion_logprobs(model, batch, temperature=0.8, entropy=True, share_prefix=share)
    (logp * batch.completion_mask * torch.arange(1.0, 1 + logp.shape[1])).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return logp * batch.completion_mask, ent * batch.completion_mask, grads


@pytest.mark.parametrize("kind", ["llama", "gpt2", "mistral"])
def test_shared_prefix_gives_the_log_probs_and_gradients_of_whole_rows(tokenizer, kind):
    model = _model(kind, len(tokenizer)).train()
    prompts, completions = _rows(tokenizer)
    batch = collate(prompts, completions, tokenizer.pad_token_id, torch.device("cpu"))
    assert batch.prompt_ids.shape[0] == 3 and batch.prompt_of.tolist() == [0, 1, 0, 2, 1, 0, 2]
    shared, shared_ent, shared_grads = _logprobs_and_grads(model, batch, share=True)
    full, full_ent, full_grads = _logprobs_and_grads(model, batch, share=False)
    assert torch.allclose(shared, full, atol=1e-5) and torch.allclose(shared_ent, full_ent, atol=1e-5)
    assert shared_grads.keys() == full_grads.keys() and len(full_grads) == len(list(model.parameters()))
    for name, g in full_grads.items():
        assert torch.allclose(shared_grads[name], g, rtol=1e-4, atol=1e-6), name
    # and whole rows match each row scored alone, without any padding
    for r, (p, c) in enumerate(zip(prompts, completions, strict=True)):
        logits = model(input_ids=torch.tensor([p + c])).logits[0, len(p) - 1:-1] / 0.8
        alone = logits.log_softmax(-1).gather(-1, torch.tensor(c)[:, None])[:, 0]
        assert torch.allclose(full[r, :len(c)], alone, atol=1e-5)


def test_gradient_checkpointing_falls_back_to_whole_rows(tokenizer):
    model = tiny_llama(len(tokenizer)).train()
    prompts, completions = _rows(tokenizer)
    batch = collate(prompts, completions, tokenizer.pad_token_id, torch.device("cpu"))
    expected, _, expected_grads = _logprobs_and_grads(model, batch, share=False)
    model.gradient_checkpointing_enable()
    calls = []
    model.register_forward_pre_hook(lambda m, args, kw: calls.append(kw["input_ids"].shape), with_kwargs=True)
    got, _, grads = _logprobs_and_grads(model, batch, share=True)
    assert calls == [torch.Size([7, batch.prompt_ids.shape[1] + batch.completion_ids.shape[1]])]  # one pass, whole rows
    assert torch.allclose(got, expected, atol=1e-5)
    assert all(torch.allclose(grads[n], g, rtol=1e-4, atol=1e-6) for n, g in expected_grads.items())


@pytest.mark.parametrize("greedy", [False, True])
def test_generation_with_a_shared_prompt_cache_samples_the_same_completions(model_dir, greedy):
    tok = load_tokenizer(model_dir)
    model = _model("llama", len(tok))
    runs = []
    for share in (True, False):
        torch.manual_seed(3)
        runs.append(generate(model, tok, PROMPTS, [0, 1, 2], 4, 12, temperature=0.9, greedy=greedy,
                             share_prefix=share))
    assert runs[0].completion_ids == runs[1].completion_ids and runs[0].prompt_ids == runs[1].prompt_ids
    assert runs[0].truncated == runs[1].truncated
    assert greedy or len({tuple(c) for c in runs[0].completion_ids}) > 3  # sampled, not one repeated row
