"""Resource limits for one sandboxed run, and how they are applied in the child (rlimits)."""

from __future__ import annotations

import math
import resource
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Limits:
    """Limits for one program run. Per process unless said otherwise.

    timeout_s:      wall clock; at the deadline the parent kills the whole process group.
                    In run_tests: per test, counted from the harness's `started` (after the
                    sandbox's own start-up), and for a stdio case also its CPU time (judge.py).
    cpu_s:          RLIMIT_CPU, a backstop per process; None means ceil(timeout_s) + 1.
    memory_bytes:   RLIMIT_AS (address space) of each process.
    file_bytes:     RLIMIT_FSIZE (largest file); also the size of the tmpfs work directory
                    under the `namespaces` level.
    output_bytes:   bytes kept of stdout and of stderr each; more kills the run (`output_limit`).
    max_processes:  RLIMIT_NPROC (threads count too); binds only for a non-root uid, which
                    the sandbox arranges (an unused uid as root, a fresh user namespace).
    max_open_files: RLIMIT_NOFILE.
    """

    timeout_s: float = 5.0
    cpu_s: float | None = None
    memory_bytes: int = 1 << 30
    file_bytes: int = 16 << 20
    output_bytes: int = 1 << 20
    max_processes: int = 32
    max_open_files: int = 64

    def to_dict(self) -> dict:
        return asdict(self)


# The stack limit is also glibc's default thread stack size: a stack limit as large as the
# address-space limit would make every pthread_create fail, so keep it small.
STACK_BYTES = 8 << 20


def apply_rlimits(lim: Limits, nproc: bool = True) -> None:
    """Set rlimits in the current (child) process. Soft = hard, so the program cannot raise them."""
    cpu = int(lim.cpu_s) if lim.cpu_s is not None else math.ceil(lim.timeout_s) + 1
    pairs = [
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),  # soft: SIGXCPU, hard: SIGKILL a second later
        (resource.RLIMIT_AS, (lim.memory_bytes, lim.memory_bytes)),
        (resource.RLIMIT_FSIZE, (lim.file_bytes, lim.file_bytes)),
        (resource.RLIMIT_NOFILE, (lim.max_open_files, lim.max_open_files)),
        (resource.RLIMIT_STACK, (min(STACK_BYTES, lim.memory_bytes // 8),) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
    ]
    if nproc:
        pairs.append((resource.RLIMIT_NPROC, (lim.max_processes, lim.max_processes)))
    for which, value in pairs:
        resource.setrlimit(which, value)
