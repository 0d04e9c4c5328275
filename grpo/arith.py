"""Synthetic addition problems in the R1 format, for the demo, the tests and the benchmark.

Two numbers of up to `digits` digits; the worked completion adds column by column from the
units, writing each carry it takes:

    What is 47+38?  ->  <think>7+8=15 4+3+1=8</think><answer>85</answer>

`slip` is the share of problems with a carry whose worked solution forgets it (47+38 -> 75,
"4+3=7"): a systematic mistake of the kind imperfect cold-start traces carry. The reference
is always the true sum. `write_jsonl` writes rows with `prompt`, `reference` and
`completion` (the worked solution, for SFT). Seeded: the same seed, the same problems.

    python -m grpo.arith 5
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path


def worked(a: int, b: int, slip: bool = False) -> str:
    """Column addition of a + b; with `slip`, every carry is dropped."""
    steps, out, carry = [], "", 0
    while a or b or not steps:
        x, y = a % 10, b % 10
        s = x + y + carry
        steps.append(f"{x}+{y}" + (f"+{carry}" if carry else "") + f"={s}")
        out = str(s % 10) + out
        carry = 0 if slip else s // 10
        a, b = a // 10, b // 10
        if not (a or b) and s >= 10:
            out = "1" + out
    return f"<think>{' '.join(steps)}</think><answer>{int(out)}</answer>"


def has_carry(a: int, b: int) -> bool:
    while a or b:
        if a % 10 + b % 10 >= 10:
            return True
        a, b = a // 10, b // 10
    return False


def problem(rng: random.Random, digits: int = 2, slip: float = 0.0) -> dict[str, str]:
    a, b = rng.randrange(10 ** digits), rng.randrange(10 ** digits)
    slipped = has_carry(a, b) and rng.random() < slip
    return {"prompt": f"What is {a}+{b}?", "reference": str(a + b), "completion": worked(a, b, slipped)}


def problems(n: int, seed: int, exclude: set[str] | None = None, **kw) -> list[dict[str, str]]:
    """n distinct problems, none of whose prompts is in `exclude`."""
    rng, seen, out = random.Random(seed), set(exclude or ()), []
    while len(out) < n:
        p = problem(rng, **kw)
        if p["prompt"] not in seen:
            seen.add(p["prompt"])
            out.append(p)
    return out


def write_jsonl(rows: list[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


if __name__ == "__main__":
    for row in problems(int(sys.argv[1]) if len(sys.argv) > 1 else 3, seed=0):
        print(json.dumps(row))
