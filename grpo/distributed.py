"""Processes and devices: one process per device under torchrun (DDP), or a single process.

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; we join the process group with NCCL on GPUs and
gloo on the CPU (so multi-process runs are testable on a laptop). Helpers reduce across
processes and are no-ops in a single process.

    torchrun --nproc_per_node 2 -m grpo.cli train fixtures/grpo_demo.yaml output_dir=runs/ddp steps=4 device=cpu
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """'auto' -> cuda:LOCAL_RANK when CUDA is present, else cpu."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def autocast_dtype(name: str, device: torch.device) -> torch.dtype | None:
    """The dtype forward passes run in; None means plain float32 (no autocast)."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return None if name == "float32" else getattr(torch, name)


def autocast(dtype: torch.dtype | None, device: torch.device):
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def init(device_name: str, threads: int = 0) -> World:
    """Join the process group when launched by torchrun; pick this process's device."""
    if threads:
        torch.set_num_threads(threads)
    size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_name, local_rank)
    if size > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    return World(rank, size, device)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def gather(items: list[Any]) -> list[Any]:
    """Concatenate a list across processes (rank order), for logging."""
    if not dist.is_initialized():
        return list(items)
    parts: list[list[Any]] = [[] for _ in range(dist.get_world_size())]
    dist.all_gather_object(parts, items)
    return [x for part in parts for x in part]


def total(value: float, device: torch.device) -> float:
    """Sum of a number over processes."""
    if not dist.is_initialized():
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item())


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()
