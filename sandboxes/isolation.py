"""Isolation levels: what the kernel lets us do, detected at start-up, applied in the child.

Levels, strongest first (`python -m sandboxes doctor` prints the one in effect):

namespaces  Every program gets its own user, PID, network, mount, IPC and UTS namespaces.
            Covered: no network (a fresh network namespace has only a down loopback); its own
            PID space with a fresh /proc (host processes are invisible and unsignalable; when
            the program's init dies the kernel kills every process inside, daemons included);
            the whole filesystem is read-only except a private tmpfs work directory (size
            capped, gone when the namespace dies); capabilities dropped, no_new_privs set;
            as root the program runs as an unused per-run uid, so RLIMIT_NPROC binds.
            Not covered: kernel bugs; CPU and memory are bounded per process (RLIMIT_CPU,
            RLIMIT_AS) and by the process count, not by a cgroup; reading world-readable
            host files (read-only view, not a hidden one); the disk and memory holes left to
            the sandbox redesign (issue #14).
rlimits     Process group, rlimits, a fresh temporary work directory, a clean environment,
            stdin closed; as root, an unused per-run uid (RLIMIT_NPROC binds, root-owned files
            are protected, and every leftover process of that uid is swept at the end).
            Not covered: network; writing anywhere the uid may write (/tmp). As a non-root
            user the program shares the trainer's uid, and then:
            - it can signal every process of that user: the trainer, its workers, runs in
              flight, the zygote (a zygote that died or stopped answering is replaced, so
              killing or stopping it costs the program its own test and nothing is left
              unscored; a daemon that keeps killing new zygotes makes later items an
              unscored `error`);
            - it can attach to, or read the memory of, the trainer unless the kernel forbids
              it (kernel.yama.ptrace_scope >= 1): then it can forge anything. The zygote and
              the `tests` process are not dumpable, so they are out of its reach;
            - through /proc/<pid>/fd it can open the pipes of the user's processes: the stdin,
              stdout and stderr of other runs in flight (read another program's input, garble
              another program's output). The channels that carry verdicts (job data, frames,
              the keeper's exit status) are socket pairs, which /proc cannot open;
            - RLIMIT_NPROC is not set (it would count all the user's processes), and a daemon
              that calls setsid survives the group kill.
            A fresh uid per program (issue #14) closes these; use root or namespaces to train.

Run `python -m sandboxes doctor` to see the level in effect and why a stronger one failed.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import sys

LEVELS = ("namespaces", "rlimits")

_libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NS_FLAGS = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC = 2, 4, 8, 4096, 16384
MS_PRIVATE = 1 << 18
MOUNT_ATTR_RDONLY = 0x1
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
SYS_MOUNT_ATTR = {"x86_64": 442, "aarch64": 442}
SYS_CAPSET = {"x86_64": 126, "aarch64": 91}

# Per-run uids for root, far above any real account.
SANDBOX_UID_BASE, SANDBOX_UID_SPAN = 1_600_000_000, 100_000_000

CLEAN_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def prctl(option: int, arg: int) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


def _syscall_nr(table: dict[str, int]) -> int:
    machine = os.uname().machine
    if machine not in table:
        raise OSError(38, f"unsupported architecture {machine}")
    return table[machine]


def pick_uid() -> int:
    """An unused uid for one run (only used when running as root)."""
    return SANDBOX_UID_BASE + secrets.randbelow(SANDBOX_UID_SPAN)


def drop_uid(uid: int) -> None:
    """As root: become `uid`/`uid` with no supplementary groups (RLIMIT_NPROC then binds)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def enter_keeper(level: str, uid: int | None) -> None:
    """In the keeper (first child): new session, unprivileged uid, and the namespaces.

    The keeper forks the program's process next; with CLONE_NEWPID that process is PID 1 of
    the new PID namespace, so its death takes every other process inside with it.
    """
    os.setsid()
    if uid is not None:
        drop_uid(uid)
    if level == "namespaces":
        prctl(PR_SET_DUMPABLE, 1)  # a uid change clears it; /proc/self/uid_map needs it
        real_uid, real_gid = os.getuid(), os.getgid()
        _check(_libc.unshare(NS_FLAGS), "unshare")
        # Map our own ids only: inside the namespace the program is the same non-zero uid,
        # so an execve() leaves it with no capabilities at all.
        for name, text in (("setgroups", "deny"), ("uid_map", f"{real_uid} {real_uid} 1"),
                           ("gid_map", f"{real_gid} {real_gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)


def expose_plan(extra: list[str]) -> dict[str, list[str]]:
    """Paths the sandboxed interpreter needs that hide under a directory others cannot enter
    (a pyenv under a 0700 /root): {that directory: [needed paths under it]}.

    Only matters when root drops to a per-run uid: see `hide_and_expose`, which also hides
    the rest of such a directory (e.g. root's home) from every program.
    """
    needed = {os.path.realpath(p) for p in [sys.prefix, sys.exec_prefix, sys.base_prefix,
                                            os.path.dirname(os.path.realpath(sys.executable)),
                                            *sys.path, *extra] if p and os.path.exists(p)}
    plan: dict[str, list[str]] = {}
    for path in sorted(needed):
        cur = ""
        for part in path.strip("/").split("/")[:-1]:
            cur += "/" + part
            if not os.stat(cur).st_mode & 0o001:
                plan.setdefault(cur, []).append(path)
                break
    return {a: [p for p in ps if not any(p.startswith(q + "/") for q in ps)]
            for a, ps in plan.items()}


def hide_and_expose(plan: dict[str, list[str]]) -> None:
    """As root, in the zygote: enter a private mount namespace in which each hidden directory
    of `plan` is an empty tmpfs holding bind mounts of just the needed paths. Every sandbox
    forked later inherits this view (and cannot undo it)."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    for hidden, paths in plan.items():
        fds = {p: os.open(p, os.O_PATH | os.O_CLOEXEC) for p in paths}
        try:
            _check(_libc.mount(b"tmpfs", hidden.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                               b"size=1m,mode=0755"), f"mount tmpfs on {hidden}")
            for path, fd in fds.items():
                if os.path.isdir(f"/proc/self/fd/{fd}"):
                    os.makedirs(path, exist_ok=True)
                else:
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    open(path, "a").close()
                _check(_libc.mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None,
                                   MS_BIND | MS_REC, None), f"bind {path}")
        finally:
            for fd in fds.values():
                os.close(fd)


def enter_payload(level: str, workdir: str, file_bytes: int) -> None:
    """In the program's process, before any untrusted code: mounts, capabilities, privileges."""
    if level == "namespaces":
        attr = _MountAttr(MOUNT_ATTR_RDONLY, 0, MS_PRIVATE, 0)
        _check(_libc.syscall(_syscall_nr(SYS_MOUNT_ATTR), AT_FDCWD, b"/", AT_RECURSIVE,
                             ctypes.byref(attr), ctypes.sizeof(attr)), "mount_setattr(/, ro)")
        opts = f"size={max(file_bytes, 1 << 20)},mode=0700".encode()
        _check(_libc.mount(b"tmpfs", workdir.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts),
               "mount tmpfs work dir")
        _check(_libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
               "mount /proc")
        for shm in ("/dev/shm",):
            if os.path.isdir(shm):  # multiprocessing wants a writable /dev/shm
                _libc.mount(b"tmpfs", shm.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                            b"size=16m,mode=1777")
        _libc.sethostname(b"sandbox", 7)
        hdr, data = _CapHeader(0x20080522, 0), (_CapData * 2)()
        _check(_libc.syscall(_syscall_nr(SYS_CAPSET), ctypes.byref(hdr), ctypes.byref(data)),
               "capset(drop all)")
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def clean_env(workdir: str) -> dict[str, str]:
    return {**CLEAN_ENV, "HOME": workdir, "TMPDIR": workdir}


def probe(workdir: str) -> tuple[str, str]:
    """Try the full namespace setup in a throwaway child. Returns (best level, why not better).

    Must run in a single-threaded process (unshare(CLONE_NEWUSER) refuses threaded callers):
    the zygote calls it at start-up.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(r)
        try:
            enter_keeper("namespaces", pick_uid() if os.getuid() == 0 else None)
            child = os.fork()
            if child == 0:
                try:
                    enter_payload("namespaces", workdir, 1 << 20)
                    with open(os.path.join(workdir, "probe"), "w") as f:
                        f.write("ok")
                    os.listdir(os.path.join(sys.prefix, "lib"))  # the interpreter stays usable
                    os.write(w, b"ok")
                except OSError as e:
                    os.write(w, str(e).encode()[:500])
                os._exit(0)
            os.waitpid(child, 0)
        except OSError as e:
            os.write(w, str(e).encode()[:500])
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        msg = f.read().decode(errors="replace")
    os.waitpid(pid, 0)
    if msg == "ok":
        return "namespaces", ""
    return "rlimits", msg or "namespace probe died"
