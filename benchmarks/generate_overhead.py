"""How much of a rollout is `generate`'s own overhead? A bare KV-cache sampling loop against
`grpo.rollout.generate` (transformers' generate), on the demo's cold-started tiny model: 16
prompts x G=8, 24 new tokens, one thread, median of 5. Then the cost of one forward (and one
forward + backward) of 34-token rows against the number of rows: if it grows in proportion, the
model is compute-bound and fewer, larger calls would not help. Run `grpo demo` first (it writes
the model).

    python benchmarks/generate_overhead.py
"""

from __future__ import annotations

import statistics
import time
from functools import partial

import torch

from grpo import rollout
from grpo.data import load_rows, render_prompt
from grpo.policy import load_model, load_tokenizer

MODEL = "runs/demo/sft/checkpoints/step_000150/model"
G, NEW_TOKENS = 8, 24


def bare_loop(model, tok, prompts: list[str], temperature: float = 1.0) -> torch.Tensor:
    """Sample G completions per prompt: one prefill, then one cached forward per token."""
    encoded = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    rows = [ids for ids in encoded for _ in range(G)]
    width, pad = max(map(len, rows)), tok.pad_token_id
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    mask = (torch.arange(width)[None] >= torch.tensor([width - len(r) for r in rows])[:, None]).long()
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    done = torch.zeros(len(rows), dtype=torch.bool)
    out = []
    with torch.inference_mode():
        o = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True)
        for _ in range(NEW_TOKENS):
            probs = torch.softmax(o.logits[:, -1].float() / temperature, -1)
            nxt = torch.multinomial(probs, 1).squeeze(1).masked_fill(done, pad)
            out.append(nxt)
            done |= nxt == tok.eos_token_id
            if done.all():
                break
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
            pos = pos[:, -1:] + 1
            o = model(input_ids=nxt[:, None], attention_mask=mask, position_ids=pos,
                      past_key_values=o.past_key_values, use_cache=True)
    return torch.stack(out, 1)


def main() -> None:
    torch.set_num_threads(1)
    model, tok = load_model(MODEL, torch.device("cpu")), load_tokenizer(MODEL)
    prompts = [render_prompt(tok, r["prompt"]) for r in load_rows("runs/demo/data/grpo.jsonl", ["prompt"])[:16]]
    runs = {"generate": lambda: rollout.generate(model, tok, prompts, list(range(len(prompts))), G, NEW_TOKENS),
            "bare loop": lambda: bare_loop(model, tok, prompts)}
    print(f"median seconds per rollout of {len(prompts) * G} x {NEW_TOKENS} tokens:")
    for name, run in runs.items():
        print(f"  {name:10s} {_median_ms(run) / 1000:.3f} s")
    print("milliseconds per call on 34-token rows (median of 5):")
    for rows in (1, 8, 32, 128):
        ids = torch.randint(3, len(tok), (rows, 34))
        fwd, bwd = partial(_forward, model, ids), partial(_forward, model, ids, backward=True)
        print(f"  {rows:4d} rows  forward {_median_ms(fwd):7.1f}   forward+backward {_median_ms(bwd):7.1f}")


def _forward(model, ids: torch.Tensor, backward: bool = False) -> None:
    with torch.set_grad_enabled(backward):
        out = model(input_ids=ids).logits.float().log_softmax(-1).mean()
    if backward:
        out.backward()


def _median_ms(fn) -> float:
    fn()  # warm-up
    times = []
    for _ in range(5):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


if __name__ == "__main__":
    main()
