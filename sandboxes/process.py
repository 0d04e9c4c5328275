"""The parent side of one sandboxed run: pipes, deadline, byte caps, kill, exit classification.

    >>> from sandboxes.process import run
    >>> run({"program": "print(input()[::-1])"}, stdin=b"abc\\n").stdout
    b'cba\\n'
"""

from __future__ import annotations

import json
import logging
import math
import os
import selectors
import shutil
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sandboxes.limits import Limits
from sandboxes.zygote import SandboxError, Zygote, default_zygote

GRACE_S = 0.5  # after the keeper reports, how long leftovers may hold our pipes open
STARTUP_S = 2.0  # slack for process start-up on a busy machine, on top of timeout_s
TIME_LIMIT = "time_limit"  # the reason of a program that ran out of wall or CPU time
# Channels that only our code uses (the payload's job data, its frames, the keeper's status)
# are socket pairs, not pipes: a program sharing our uid (the rlimits level as a non-root
# user) can open a pipe of ours through /proc/<pid>/fd/N and write into it (a forged verdict
# frame, a forged exit status), but a socket cannot be opened that way (ENXIO). stdin,
# stdout and stderr stay pipes: programs open /dev/stdin and /dev/stdout.
_SOCKET_CHANNELS = ("data", "frames", "status")

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """How one run ended. `frames` are the JSON lines the payload wrote on fd 4."""

    exit_code: int | None = None  # None when killed by a signal or by us
    signal: int | None = None
    timed_out: bool = False
    output_limited: bool = False
    stdout: bytes = b""
    stderr: bytes = b""
    frames: list = field(default_factory=list)
    duration_s: float = 0.0
    cpu_s: float = 0.0
    maxrss_kb: int = 0
    level: str = ""
    cpu_limit_s: float = float("inf")

    @property
    def reason(self) -> str:
        """Failure class of the process as a whole: ok, time_limit, memory, output_limit,
        runtime_error. `time_limit` (the wall deadline, or RLIMIT_CPU's SIGXCPU / SIGKILL) is
        the program's verdict, a wrong answer like the others; it is not the reward service's
        `timeout`, which means the service itself ran out of time and could not score."""
        if self.timed_out:
            return TIME_LIMIT
        if self.output_limited:
            return "output_limit"
        if self.signal in (signal.SIGXCPU, signal.SIGKILL) and self.cpu_s >= 0.9 * self.cpu_limit_s:
            return TIME_LIMIT
        tail = self.stderr[-2000:]
        if b"MemoryError" in tail or b"bad_alloc" in tail or b"out of memory" in tail.lower():
            return "memory"
        if self.exit_code == 0:
            return "ok"
        return "runtime_error"


class Proc:
    """One sandboxed process tree under supervision (create with `spawn`)."""

    def __init__(self) -> None:
        self.result = RunResult()
        self.fds: dict[int, str] = {}  # our pipe ends -> name
        self.out: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray(),
                                          "frames": bytearray(), "status": bytearray()}
        self.pending: dict[int, memoryview] = {}  # write ends -> bytes still to write
        self.keeper_done_at: float | None = None
        self.deadline = float("inf")
        self.on_frame: Callable[[Proc, dict], None] | None = None
        self.finished = False
        self.workdir_to_remove: str | None = None
        self.zygote: Zygote | None = None
        self.uid: int | None = None
        self.pid = -1
        self.pidfd = -1
        self.started = time.monotonic()
        # Set by the harness's `started` frame (see mark_started): the program's own time
        # begins there, after our start-up; None until then.
        self.program_started_at: float | None = None
        self.startup_cpu_s = 0.0

    # --- control --------------------------------------------------------------------------
    def kill(self, timed_out: bool = False, output_limited: bool = False) -> None:
        if timed_out and not self.keeper_done_at:
            self.result.timed_out = True
        if output_limited:
            self.result.output_limited = True
        if self.pidfd >= 0:
            try:
                os.killpg(self.pid, signal.SIGKILL)  # pgid == keeper pid while the keeper lives
            except (ProcessLookupError, PermissionError):
                pass
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.uid is not None and self.zygote is not None and self.result.level == "rlimits":
            _sweep_uid(self.zygote, self.uid)

    def _close_all(self) -> None:
        for fd in list(self.fds):
            os.close(fd)
        self.fds.clear()
        for fd in list(self.pending):
            os.close(fd)
        self.pending.clear()
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = -1
        if self.workdir_to_remove:
            _rmtree(self.workdir_to_remove)
            self.workdir_to_remove = None

    def _finish(self) -> None:
        r = self.result
        r.duration_s = time.monotonic() - self.started
        r.stdout, r.stderr = bytes(self.out["stdout"]), bytes(self.out["stderr"])
        status_lines = [m for m in map(_status_line, bytes(self.out["status"]).splitlines()) if m]
        for msg in status_lines:
            if "error" in msg:
                self._close_all()
                self.finished = True
                raise SandboxError(msg["error"])
            st = msg["status"]
            r.cpu_s, r.maxrss_kb = msg["cpu_s"], msg["maxrss_kb"]
            if os.WIFSIGNALED(st):
                r.signal = os.WTERMSIG(st)
            elif os.WIFEXITED(st):
                r.exit_code = os.WEXITSTATUS(st)
        if not status_lines and not r.timed_out and not r.output_limited:
            r.signal = signal.SIGKILL  # the keeper was killed (by the program, in `rlimits`)
        self._close_all()
        self.finished = True

    def mark_started(self, frame: dict) -> bool:
        """Is `frame` the harness's `started` (the first frame of a run, written before any
        of the program's code)? If so, note when and how much CPU start-up took."""
        if self.program_started_at is not None or len(self.result.frames) != 1:
            return False
        cpu = frame.get("cpu_s")
        if set(frame) != {"started", "cpu_s"} or type(cpu) not in (int, float) or not 0 <= cpu < 1e6:
            return False
        self.program_started_at, self.startup_cpu_s = time.monotonic(), float(cpu)
        return True

    # --- I/O --------------------------------------------------------------------------------
    def on_readable(self, fd: int, cap: int) -> None:
        name = self.fds[fd]
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            os.close(fd)
            del self.fds[fd]
            if name == "status":
                self.keeper_done_at = time.monotonic()
            return
        buf = self.out[name]
        room = cap - len(buf)
        buf += chunk[:max(room, 0)]
        if len(chunk) > room and name in ("stdout", "stderr", "frames"):
            self.kill(output_limited=True)
        if name == "frames" and self.on_frame is not None:
            while (nl := buf.find(b"\n")) >= 0:
                line = bytes(buf[:nl])
                del buf[:nl + 1]
                try:
                    frame = json.loads(line)
                except (ValueError, RecursionError):
                    frame = {"bad": True}
                if type(frame) is not dict:
                    frame = {"bad": True}
                self.result.frames.append(frame)
                try:
                    self.on_frame(self, frame)
                except Exception:
                    # Frames carry the candidate's data. A handler that cannot take one must
                    # not make the whole run raise (an unscored `error`, an escape from the
                    # penalty): the process is no longer trusted and its current test fails.
                    log.exception("frame handler failed on a frame from pid %d; killing it", self.pid)
                    self.kill()
                    return

    def on_writable(self, fd: int) -> None:
        view = self.pending[fd]
        try:
            n = os.write(fd, view[:1 << 16])
        except BlockingIOError:
            return
        except (BrokenPipeError, ConnectionResetError):
            n = len(view)  # the program closed its stdin: drop the rest
        self.pending[fd] = view = view[n:]
        if not view:
            os.close(fd)
            del self.pending[fd]


def spawn(job: dict, limits: Limits, *, data: bytes = b"", stdin: bytes | None = None,
          frames: bool = False, extra: dict[int, int] | None = None,
          zygote: Zygote | None = None, drop_uid: bool = True, isolate: bool = True) -> Proc:
    """Start one sandboxed process tree; `extra` maps payload fd -> an fd of ours to hand over
    (we close ours). `isolate=False` runs our own trusted helpers: one fork, `rlimits`, no uid
    change, no per-run directory."""
    z = zygote or default_zygote()
    p = Proc()
    p.zygote = z
    level = z.level if isolate else "rlimits"
    p.result.level = level
    p.result.cpu_limit_s = float(limits.cpu_s if limits.cpu_s is not None else math.ceil(limits.timeout_s) + 1)
    uid = None
    if os.getuid() == 0 and drop_uid and (z.uid_ok or "argv" in job):
        from sandboxes.isolation import pick_uid
        uid = pick_uid()
    p.uid = uid
    if level == "namespaces":
        workdir = z.work_mount
    elif not isolate:  # a trusted helper: no per-run directory to make and remove
        workdir = z.base_dir
        job = {**job, "light": True}
    else:
        workdir = os.path.join(z.base_dir, f"run-{os.getpid()}-{time.monotonic_ns()}")
        os.mkdir(workdir, 0o700)
        if uid is not None:
            os.chown(workdir, uid, uid)
        p.workdir_to_remove = workdir
    theirs: list[int] = []
    slots: list[int] = []

    def pipe(name: str, slot: int, ours_reads: bool, payload: bytes = b"") -> None:
        if name in _SOCKET_CHANNELS:
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            ours, their = a.detach(), b.detach()
        else:
            r, w = os.pipe()
            ours, their = (r, w) if ours_reads else (w, r)
        os.set_blocking(ours, False)
        if ours_reads:
            p.fds[ours] = name
        elif payload:
            p.pending[ours] = memoryview(payload)
        else:
            os.close(ours)  # nothing to send: the payload sees EOF at once
        theirs.append(their)
        slots.append(slot)

    status_pair = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    status_r, status_w = (sk.detach() for sk in status_pair)
    os.set_blocking(status_r, False)
    p.fds[status_r] = "status"
    try:
        if stdin is not None:
            pipe("stdin", 0, False, stdin)
        pipe("stdout", 1, True)
        pipe("stderr", 2, True)
        pipe("data", 3, False, data)
        if frames:
            pipe("frames", 4, True)
        for slot, fd in (extra or {}).items():
            theirs.append(fd)
            slots.append(slot)
        job = {**job, "level": level, "uid": uid, "workdir": workdir, "slots": slots,
               "limits": limits.to_dict(), "nproc": uid is not None or level == "namespaces"}
        p.pid, p.pidfd = z.spawn(job, [status_w, *theirs])
    except BaseException:
        p._close_all()
        raise
    finally:
        for fd in [status_w, *theirs]:
            os.close(fd)
        for fd in (extra or {}).values():
            if fd not in theirs:
                os.close(fd)
    p.started = time.monotonic()
    p.deadline = p.started + limits.timeout_s + STARTUP_S * 0.5
    return p


def drive(procs: list[Proc], caps: dict[str, int], until: Callable[[], bool] | None = None) -> None:
    """Pump I/O for `procs` until all finished (or `until()`), enforcing each one's deadline."""
    sel = selectors.DefaultSelector()
    registered: dict[int, tuple[Proc, int]] = {}
    try:
        while True:
            now = time.monotonic()
            live = [p for p in procs if not p.finished]
            for p in live:
                if now >= p.deadline and p.keeper_done_at is None:
                    p.kill(timed_out=True)
                    p.deadline = float("inf")
                if p.keeper_done_at is not None and (not p.fds or now - p.keeper_done_at > GRACE_S):
                    if p.fds:
                        p.kill()  # leftovers hold our pipes: kill the group and stop reading
                    p._finish()
            live = [p for p in procs if not p.finished]
            if not live or (until is not None and until()):
                return
            wanted = {}
            for p in live:
                for fd in p.fds:
                    wanted[fd] = (p, selectors.EVENT_READ)
                for fd in p.pending:
                    wanted[fd] = (p, selectors.EVENT_WRITE)
            for fd in list(registered):
                if fd not in wanted or registered[fd] != wanted[fd]:
                    sel.unregister(fd)
                    del registered[fd]
            for fd, (p, ev) in wanted.items():
                if fd not in registered:
                    sel.register(fd, ev)
                    registered[fd] = (p, ev)
            wake = min([p.deadline for p in live] +
                       [p.keeper_done_at + GRACE_S for p in live if p.keeper_done_at is not None])
            for key, _ in sel.select(max(0.0, min(wake - now, 1.0))):
                p, ev = registered[key.fd]
                if ev == selectors.EVENT_READ:
                    name = p.fds[key.fd]
                    cap = caps.get(name, 1 << 20)
                    p.on_readable(key.fd, cap)
                else:
                    p.on_writable(key.fd)
    finally:
        sel.close()


def kill_all(procs: list[Proc]) -> None:
    """Kill every unfinished proc and wait for it to end."""
    for p in procs:
        if not p.finished:
            p.kill()
            p.deadline = float("inf")
    drive(procs, {"stdout": 1 << 20, "stderr": 1 << 20, "frames": 64 << 20})


def abandon(procs: list[Proc]) -> None:
    """Kill and stop supervising without waiting for the exit, when nothing more is needed
    from the runs (the kernel finishes the job: PDEATHSIG and PID-namespace teardown). A run
    with a work directory on the host (`rlimits`) is waited for, so the directory goes too."""
    waited = [p for p in procs if not p.finished and p.workdir_to_remove]
    for p in procs:
        if not p.finished and not p.workdir_to_remove:
            p.kill()
            p._close_all()
            p.finished = True
    kill_all(waited)


def caps_for(limits: Limits) -> dict[str, int]:
    return {"stdout": limits.output_bytes, "stderr": limits.output_bytes,
            "frames": max(64 << 20, 4 * limits.output_bytes), "status": 1 << 16}


def run(job: dict | None = None, limits: Limits | None = None, *, argv: list[str] | None = None,
        stdin: bytes | None = None, zygote: Zygote | None = None) -> RunResult:
    """Run one program to completion: `{"program": src}` (Python) or `argv=[...]` (any binary)."""
    limits = limits or Limits()
    if argv is not None:
        role, data = {"role": "exec", "argv": argv}, b""
    else:
        role, data = {"role": "script"}, json.dumps(job or {}).encode()
    p = spawn(role, limits, data=data, stdin=stdin, zygote=zygote)
    try:
        drive([p], caps_for(limits))
    finally:
        kill_all([p])
    return p.result


def _status_line(line: bytes) -> dict | None:
    """One line the keeper wrote, or None for a line it cannot have written (only a program
    that reached our end of the channel could; it gets no say in its exit status)."""
    try:
        msg = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if type(msg) is not dict:
        return None
    if set(msg) == {"error"} and type(msg["error"]) is str:
        return msg
    ok = (set(msg) == {"status", "cpu_s", "maxrss_kb"} and type(msg["status"]) is int
          and 0 <= msg["status"] < 1 << 16 and type(msg["cpu_s"]) in (int, float)
          and math.isfinite(msg["cpu_s"]) and type(msg["maxrss_kb"]) is int)
    return msg if ok else None


def _sweep_uid(z: Zygote, uid: int) -> None:
    """Kill every process of a per-run uid (daemons that left our process group)."""
    r, w = os.pipe()
    try:
        pid, pidfd = z.spawn({"role": "sweep", "level": "rlimits", "uid": uid}, [w])
        os.close(pidfd)
    except SandboxError:
        pass
    finally:
        os.close(w)
        os.close(r)


def _rmtree(path: str) -> None:
    def fix(func, p, _exc):  # a program may chmod its files to 000
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=fix)
