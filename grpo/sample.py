"""Sample completions from a checkpoint into JSONL: the input of rejection sampling and of evaluation.

Every input row comes out n times, in order, with `completion`, `sample` (0 … n-1) and
`truncated` (reached max_new_tokens without eos) added; nothing else changes, so the rows keep
their `reference` and whatever key groups them, and `verify` can score, group and filter them:

    grpo sample runs/demo/grpo/checkpoints/step_000060/model data.jsonl -n 8 -o samples.jsonl
    verify samples.jsonl --reward "format & math" --group-key prompt \\
        --keep passed --max-per-group 2 --dedupe -o sft_data.jsonl      # rejection sampling
    grpo sample MODEL test.jsonl --greedy -o greedy.jsonl && verify greedy.jsonl   # pass@1

A row whose prompt field is missing or not text stops the run before any sampling, naming the
line: a sampled file that silently lacks problems would bias every figure computed from it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

import torch
from tqdm import tqdm

from grpo import rollout
from grpo.data import load_rows, render_prompt
from grpo.distributed import autocast_dtype, resolve_device
from grpo.policy import load_model, load_tokenizer


def sample(model: str, data: str, n: int = 8, out: TextIO | None = None, *, tokenizer: str | None = None,
           prompt_key: str = "prompt", max_new_tokens: int = 256, temperature: float = 1.0,
           top_p: float = 1.0, greedy: bool = False, batch_size: int = 64, seed: int = 0,
           device: str = "auto", dtype: str = "auto", system_prompt: str | None = None,
           chat_template: bool = True, limit: int | None = None, threads: int = 0,
           progress: bool = True) -> int:
    """Write n completions of every row of `data` to `out` (JSONL); returns the rows written."""
    if n < 1 or (greedy and n != 1):
        raise ValueError(f"n must be >= 1, and 1 with greedy decoding (got n={n}, greedy={greedy})")
    rows = load_rows(data, [prompt_key])[:limit]
    bad = [i + 1 for i, r in enumerate(rows) if not isinstance(r[prompt_key], str)]
    if bad:
        raise ValueError(f"{data}: field {prompt_key!r} is not text in row(s) {bad[:10]} (counting non-blank lines)")
    torch.manual_seed(seed)
    if threads:
        torch.set_num_threads(threads)
    dev = resolve_device(device)
    tok = load_tokenizer(tokenizer or model)
    policy = load_model(model, dev)
    amp = autocast_dtype(dtype, dev)
    out = out or sys.stdout
    per_call = max(1, batch_size // n)  # prompts per generate call: batch_size rows in all
    written = 0
    with tqdm(total=len(rows), disable=not progress, desc="sample", unit="prompt", file=sys.stderr) as bar:
        for start in range(0, len(rows), per_call):
            chunk = rows[start:start + per_call]
            prompts = [render_prompt(tok, r[prompt_key], system_prompt, chat_template) for r in chunk]
            with torch.no_grad():
                ro = rollout.generate(policy, tok, prompts, list(range(len(chunk))), n, max_new_tokens,
                                      temperature=temperature, top_p=top_p, greedy=greedy, dtype=amp)
            for k, text in enumerate(ro.texts):
                row: dict[str, Any] = dict(chunk[k // n])
                row.update(completion=text, sample=k % n, truncated=ro.truncated[k])
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                written += 1
            out.flush()
            bar.update(len(chunk))
    return written


def sample_to_file(path: str | None, **kwargs: Any) -> int:
    """`sample` into a file (parents created) or, with path None or '-', to stdout."""
    if path in (None, "-"):
        return sample(out=sys.stdout, **kwargs)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        return sample(out=f, **kwargs)
