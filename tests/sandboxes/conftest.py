"""Shared helpers for the hostile-program tests.

Every hostile program here is written to be harmless even if the sandbox failed to contain
it: bombs are bounded (at most 2**10 forks, 1000 threads, 4 GiB asked for in 64 MiB steps,
200 MiB of disk, 1 GiB of output), the network is only 127.0.0.1, and escape attempts write
only marker files that the test removes. The sandbox is what keeps them far below that.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from sandboxes import Limits, isolation_report
from sandboxes import isolation as iso

TIGHT = Limits(timeout_s=2.0, memory_bytes=256 << 20, file_bytes=8 << 20, output_bytes=64 << 10,
               max_processes=16, max_open_files=64)


@pytest.fixture(scope="session")
def report() -> dict:
    return isolation_report()


@pytest.fixture
def marker() -> str:
    return f"sbxmark{uuid.uuid4().hex[:12]}"


@pytest.fixture
def uids(monkeypatch) -> list[int]:
    """Records every per-run uid handed out during the test (root only)."""
    seen: list[int] = []
    real = iso.pick_uid

    def pick() -> int:
        seen.append(real())
        return seen[-1]

    monkeypatch.setattr(iso, "pick_uid", pick)
    return seen


def strays(marker: str | None = None, uids: list[int] | None = None) -> list[str]:
    """Processes still alive whose command line holds `marker` or whose uid is one of `uids`."""
    found = []
    want = set(uids or [])
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/status") as f:
                status = f.read()
        except OSError:
            continue
        uid = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:")))
        zombie = "\nState:\tZ" in status
        if not zombie and ((marker and marker in cmd) or uid in want):
            found.append(f"{pid} uid={uid} {cmd[:120]}")
    return found


def assert_no_strays(marker: str | None = None, uids: list[int] | None = None, wait_s: float = 3.0) -> None:
    deadline = time.monotonic() + wait_s
    while (left := strays(marker, uids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes survived the sandbox: {left}"
