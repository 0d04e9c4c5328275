"""Prompt datasets: JSONL rows, prompts rendered with the chat template, a resumable sampler.

A row needs the prompt field (`prompt` by default) and, for GRPO, a reference; an optional
`reward_spec` field overrides the run's reward for that row. Other fields are ignored.

    python -c "from grpo.data import load_rows; print(load_rows('runs/demo/data/grpo.jsonl', ['prompt'])[0])"
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch


def load_rows(path: str | Path, required: list[str]) -> list[dict[str, Any]]:
    """Every line of a JSONL file; a bad line raises with its line number."""
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not valid JSON ({e.msg})") from None
            missing = [k for k in required if k not in row]
            if missing:
                raise ValueError(f"{path}:{n}: missing field(s) {missing}")
            rows.append(row)
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def render_prompt(tokenizer: Any, text: str, system_prompt: str | None = None, chat: bool = True) -> str:
    """The prompt as the model sees it: in the chat template when the tokenizer has one."""
    if chat and getattr(tokenizer, "chat_template", None):
        messages = ([{"role": "system", "content": system_prompt}] if system_prompt else [])
        messages.append({"role": "user", "content": text})
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return f"{system_prompt}\n\n{text}" if system_prompt else text


class Sampler:
    """Epoch-shuffled row indices, `batch` per step over all processes, this process's share.

    The order of epoch e is a permutation seeded by (seed, e), so the state is two integers
    and a resumed run draws exactly the prompts it would have drawn.
    """

    def __init__(self, n_rows: int, batch: int, seed: int, rank: int = 0, world: int = 1):
        if batch % world:
            raise ValueError(f"a batch of {batch} prompts does not split over {world} processes")
        self.n, self.batch, self.seed, self.rank, self.world = n_rows, batch, seed, rank, world
        self.epoch, self.pos = 0, 0

    def _order(self) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def next(self) -> list[int]:
        """The next `batch` indices of the global order, and of those every world-th from rank."""
        picked: list[int] = []
        while len(picked) < self.batch:
            order = self._order()
            take = order[self.pos:self.pos + self.batch - len(picked)]
            picked += take
            self.pos += len(take)
            if self.pos >= self.n:
                self.epoch, self.pos = self.epoch + 1, 0
        return picked[self.rank::self.world]

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "pos": self.pos}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.pos = state["epoch"], state["pos"]
