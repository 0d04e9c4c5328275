"""What isolation is in effect here, and what it covers: `python -m sandboxes doctor`."""

from __future__ import annotations

import os
import platform
import sys

from sandboxes import isolation
from sandboxes.zygote import Zygote, default_zygote

COVERS = {
    "namespaces": [
        "own user, PID, network, mount, IPC and UTS namespaces per program",
        "no network (only a down loopback)",
        "own PID space and /proc; every process dies with the program's init",
        "read-only filesystem except a private size-capped tmpfs work directory",
        "capabilities dropped, no_new_privs; as root an unused per-run uid",
        "process group, wall deadline, rlimits (CPU, memory, file size, files, processes)",
        "clean environment, stdin closed or fed, capped stdout/stderr",
    ],
    "rlimits": [
        "process group, wall deadline, rlimits (CPU, memory, file size, files, processes)",
        "fresh temporary work directory removed afterwards",
        "clean environment, stdin closed or fed, capped stdout/stderr",
        "as root: an unused per-run uid (RLIMIT_NPROC binds, leftovers swept by uid)",
    ],
}
NOT_COVERED = {
    "namespaces": [
        "memory and CPU are per-process rlimits times the process limit, not a cgroup",
        "world-readable host files can be read (read-only view, not a hidden one)",
        "kernel vulnerabilities",
        "the disk and memory holes left to the sandbox redesign (issue #14)",
    ],
    "rlimits": [
        "network access",
        "writes wherever the uid may write (e.g. /tmp); total disk use only per file",
        "as non-root, the program shares the trainer's uid: it can signal the user's "
        "processes (the trainer, runs in flight; a killed or stopped zygote is replaced), attach to the "
        "trainer where ptrace is not restricted (kernel.yama.ptrace_scope 0), open the "
        "stdin/stdout/stderr pipes of other runs via /proc; no process limit (RLIMIT_NPROC "
        "would count all the user's processes); setsid daemons outlive the group kill",
    ],
}


def isolation_report(zygote: Zygote | None = None) -> dict:
    """The isolation level in effect (starting the default zygote if needed), and what it covers."""
    z = zygote or default_zygote()
    return {
        "level": z.level,
        "why_not_namespaces": z.why,
        "root": os.getuid() == 0,
        "per_run_uid": os.getuid() == 0 and z.uid_ok,
        "hidden_dirs": z.hidden,
        "covers": COVERS[z.level],
        "not_covered": NOT_COVERED[z.level],
        "levels": list(isolation.LEVELS),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "zygote": f"warm fork server, pid {z.proc.pid}",
    }


def format_report(rep: dict) -> str:
    lines = [f"isolation level: {rep['level']}"]
    if rep["why_not_namespaces"]:
        lines.append(f"  namespaces unavailable: {rep['why_not_namespaces']}")
    lines.append(f"  kernel {rep['kernel']}, python {rep['python']}, root={rep['root']}, "
                 f"per-run uid={rep['per_run_uid']}")
    if rep["hidden_dirs"]:
        lines.append(f"  hidden from programs (only the interpreter exposed): {', '.join(rep['hidden_dirs'])}")
    lines.append("  covers:")
    lines += [f"    - {c}" for c in rep["covers"]]
    lines.append("  does not cover:")
    lines += [f"    - {c}" for c in rep["not_covered"]]
    lines.append(f"  {rep['zygote']}")
    return "\n".join(lines)
