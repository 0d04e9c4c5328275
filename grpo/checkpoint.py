"""Checkpoints that resume exactly: weights, optimizer, schedule, every RNG, data order, step.

Layout: OUTPUT_DIR/checkpoints/step_000100/ holding `model/` (save_pretrained, with the
tokenizer, so it loads anywhere with from_pretrained), `trainer.pt` (optimizer, scheduler,
step, sampler) and `rng_rank{r}.pt` (each process's python / torch / CUDA generators).

    pytest tests/grpo/test_checkpoint.py
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import torch

from grpo.distributed import World, barrier


def _dir(output_dir: str | Path) -> Path:
    return Path(output_dir) / "checkpoints"


def latest(output_dir: str | Path) -> Path | None:
    """The newest complete checkpoint (one with trainer.pt), or None."""
    done = sorted(p for p in _dir(output_dir).glob("step_*") if (p / "trainer.pt").exists())
    return done[-1] if done else None


def save(output_dir: str | Path, step: int, model: Any, tokenizer: Any, optimizer: Any, scheduler: Any,
         sampler: Any, world: World, keep: int = 2, extra: dict | None = None) -> Path:
    path = _dir(output_dir) / f"step_{step:06d}"
    path.mkdir(parents=True, exist_ok=True)
    torch.save({"python": random.getstate(), "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
               path / f"rng_rank{world.rank}.pt")
    barrier()
    if world.main:
        model.save_pretrained(path / "model")
        tokenizer.save_pretrained(path / "model")
        # trainer.pt last: its presence marks the checkpoint complete
        torch.save({"step": step, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "sampler": sampler.state_dict(), **(extra or {})}, path / "trainer.pt")
        for old in sorted(_dir(output_dir).glob("step_*"))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    barrier()
    return path


def restore(path: Path, optimizer: Any, scheduler: Any, sampler: Any, world: World) -> dict:
    """Load trainer state and this process's RNG; returns the trainer dict (step, ...)."""
    state = torch.load(path / "trainer.pt", map_location=world.device, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    sampler.load_state_dict(state["sampler"])
    rng_file = path / f"rng_rank{world.rank}.pt"
    if rng_file.exists():  # a run resumed on a different number of processes reseeds the others
        rng = torch.load(rng_file, weights_only=False)
        random.setstate(rng["python"])
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
    return state
