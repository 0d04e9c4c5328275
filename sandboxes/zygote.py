"""The zygote: a warm, pre-imported fork server that starts one sandboxed process tree per job.

Process tree for one job (parent = the process that asked, e.g. a reward-service worker):

    parent ──(unix socket, fds by SCM_RIGHTS)── zygote (fresh interpreter, clean environment)
                                                  └─ keeper (setsid, uid drop, namespaces)
                                                       └─ payload (PID 1 of its namespace:
                                                          mounts, rlimits, then the program)

The keeper runs only our code: it waits for the payload, writes the exit status and resource
use to a pipe the payload has closed, and sweeps leftovers. Each link dies with the one above
it (PR_SET_PDEATHSIG), so a SIGKILLed parent takes the whole tree with it; in the
`namespaces` level the payload is PID 1 of its PID namespace, so its death kills everything
inside, daemons included.

The zygote is started with exec (never fork) and a clean environment, so its memory, and
every program's memory forked from it, holds none of the parent's data: no secrets, no
expected outputs. Data for one job (the program, the tests) travels in a socket pair straight
from the parent to that job's payload, never through the zygote. The zygote is not dumpable
(no ptrace, no /proc/<pid>/fd or mem, even for a program with its uid), and a client whose
zygote died or stopped answering (a program that shares its uid can still kill or stop it)
starts a new one and resends.

Try it: `python -m sandboxes doctor`.
"""

from __future__ import annotations

import atexit
import fcntl
import gc
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading

from sandboxes import isolation

MAX_HEADER = 1 << 16
FD_SLOTS = 16  # payload fds 0..FD_SLOTS-1 are set up; everything above is closed
START_TIMEOUT_S = 60.0  # for the zygote's hello: a fresh interpreter, imports, the probe
REPLY_TIMEOUT_S = 10.0  # for its answer to one job (a fork: milliseconds, even under load)


log = logging.getLogger(__name__)


class SandboxError(RuntimeError):
    """The sandbox itself could not start or broke: infrastructure, not the program's fault."""


# ------------------------------------------------------------------------------------------
# server side (runs in the zygote process)
# ------------------------------------------------------------------------------------------

def serve() -> None:
    """Zygote main loop. argv: parent pid, socket fd, base dir, requested level."""
    parent_pid, sock_fd, base_dir, wanted = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
    # A program that shares our uid (the rlimits level as a non-root user) must not attach to
    # us or read our memory: we fork every later sandbox. (It can still kill us; the client
    # then starts a new zygote, see Zygote.spawn.) Children inherit this: our trusted `tests`
    # helper is never dumpable, and a program's payload turns it back on (_payload).
    isolation.prctl(isolation.PR_SET_DUMPABLE, 0)
    if os.getppid() != parent_pid:  # the parent died before we could arm PDEATHSIG
        os._exit(0)
    sock = socket.socket(fileno=sock_fd)
    import resource  # noqa: F401  (os.wait4 needs it; after a uid drop imports may fail)

    from sandboxes import harness, limits  # noqa: F401  (pre-import: every payload starts warm)
    harness.warm_imports()
    work = os.path.join(base_dir, "work")
    uid_ok = True
    plan = isolation.expose_plan([_ROOT]) if os.getuid() == 0 else {}
    if plan:
        try:
            isolation.hide_and_expose(plan)
        except OSError:
            uid_ok = False  # a per-run uid could not import from the hidden interpreter
    if wanted in ("auto", "namespaces"):
        level, why = isolation.probe(work) if uid_ok else ("rlimits", "interpreter hidden")
    else:
        level, why = "rlimits", "not requested (rlimits chosen explicitly)"
    # Keepers are reaped here, after their pidfd is open (with SIGCHLD ignored a fast child
    # could vanish before pidfd_open); a zombie also keeps its pid and group from reuse.
    sock.settimeout(1.0)
    gc.freeze()  # forked children then do not touch (and copy) the zygote's objects on GC
    sock.send(json.dumps({"level": level, "why": why, "pid": os.getpid(), "uid_ok": uid_ok,
                          "hidden": sorted(plan)}).encode())
    while True:
        _reap()
        try:
            msg, fds, _, _ = socket.recv_fds(sock, MAX_HEADER, FD_SLOTS + 2)
        except TimeoutError:
            continue
        except OSError:
            break
        if not msg:
            break
        job = json.loads(msg)
        try:
            pid = os.fork()
        except OSError as e:
            for fd in fds:
                os.close(fd)
            sock.send(json.dumps({"error": f"fork: {e}"}).encode())
            continue
        if pid == 0:
            sock.close()
            if job.get("light"):
                _light(job, fds)  # never returns
            _keeper(job, fds)  # never returns
        pidfd = os.pidfd_open(pid)  # the child cannot be reaped before this: we reap it
        for fd in fds:
            os.close(fd)
        try:
            socket.send_fds(sock, [json.dumps({"pid": pid}).encode()], [pidfd])
        except OSError:
            break
        finally:
            os.close(pidfd)
    os._exit(0)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _write_status(fd: int, obj: dict) -> None:
    try:
        os.write(fd, (json.dumps(obj) + "\n").encode())
    except OSError:
        pass


def _keeper(job: dict, fds: list[int]) -> None:  # pragma: no cover - runs in a child
    """First child: isolate, fork the payload, report its exit status, sweep, exit."""
    status_fd, slots = fds[0], fds[1:]
    uid = job.get("uid")
    try:
        isolation.enter_keeper(job["level"], uid)
        isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change
        if job["role"] == "sweep":  # kill every process of a per-run uid (used on timeouts)
            os.kill(-1, signal.SIGKILL)
            os._exit(0)
        child = os.fork()
    except OSError as e:
        _write_status(status_fd, {"error": f"keeper: {e}"})
        os._exit(1)
    if child == 0:
        _payload(job, status_fd, slots)  # never returns
    for fd in slots:
        os.close(fd)
    isolation.prctl(isolation.PR_SET_DUMPABLE, 0)  # the payload may not open our fds via /proc
    _, status, ru = os.wait4(child, 0)
    _write_status(status_fd, {"status": status, "cpu_s": ru.ru_utime + ru.ru_stime,
                              "maxrss_kb": ru.ru_maxrss})
    os.close(status_fd)
    if uid is not None:
        os.kill(-1, signal.SIGKILL)  # as the per-run uid: every leftover of this run
    os.killpg(0, signal.SIGKILL)  # and our own process group, ourselves included
    os._exit(0)


def _lift(fd: int) -> int:
    new = fcntl.fcntl(fd, fcntl.F_DUPFD, FD_SLOTS)
    os.close(fd)
    return new


def _light(job: dict, fds: list[int]) -> None:  # pragma: no cover - runs in a child
    """One fork, no keeper, no namespaces, no uid change: for our own trusted helpers (the
    `tests` side of the assert kind), which report their own exit status at the end."""
    try:
        os.setsid()
        isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError as e:
        _write_status(fds[0], {"error": f"light: {e}"})
        os._exit(1)
    _payload(job, fds[0], fds[1:])


def _payload(job: dict, status_fd: int, slots: list[int]) -> None:  # pragma: no cover
    """Second child: finish isolation, move fds into place, hand over to the harness."""
    try:
        isolation.prctl(isolation.PR_SET_PDEATHSIG, signal.SIGKILL)
        if not job.get("light"):
            isolation.prctl(isolation.PR_SET_DUMPABLE, 1)  # the program's own /proc, as usual
        from sandboxes.limits import Limits, apply_rlimits
        limits = Limits(**job["limits"])
        workdir = job["workdir"]
        isolation.enter_payload(job["level"], workdir, limits.file_bytes)
        # slots arrive in the order given by job["slots"]: their fd numbers in the payload.
        # Lift everything above the slot range first so that placing one cannot clobber another.
        status_fd = _lift(status_fd)
        moved = [_lift(fd) for fd in slots]
        devnull = _lift(os.open(os.devnull, os.O_RDWR))
        targets = job["slots"]
        for t in range(FD_SLOTS):
            if t not in targets:
                try:
                    os.close(t)
                except OSError:
                    pass
        for t in (0, 1, 2):
            if t not in targets:
                os.dup2(devnull, t)
        for fd, t in zip(moved, targets, strict=True):
            os.dup2(fd, t)
        os.closerange(FD_SLOTS, status_fd)
        os.closerange(status_fd + 1, 1 << 16)
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update(isolation.clean_env(workdir))
        apply_rlimits(limits, nproc=job.get("nproc", True))
        from sandboxes import harness
    except OSError as e:
        _write_status(status_fd, {"error": f"payload setup: {e}"})
        os._exit(1)
    harness.main(job, status_fd)  # never returns


# ------------------------------------------------------------------------------------------
# client side (runs in the parent)
# ------------------------------------------------------------------------------------------

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BOOT = f"import sys; sys.path.insert(0, {_ROOT!r}); from sandboxes.zygote import serve; serve()"


class Zygote:
    """Client handle on one zygote process. Thread-safe; one per parent process is enough.

    level: "auto" (strongest that works), "namespaces" (required, else SandboxError) or
    "rlimits" (skip namespaces even where they work).
    """

    def __init__(self, level: str = "auto", reply_timeout_s: float = REPLY_TIMEOUT_S):
        if level not in ("auto", *isolation.LEVELS):
            raise ValueError(f"unknown isolation level {level!r}")
        self.owner_pid = os.getpid()
        self.requested = level
        self.reply_timeout_s = reply_timeout_s
        self.base_dir = tempfile.mkdtemp(prefix="sandboxes-")
        os.chmod(self.base_dir, 0o711)  # a per-run uid must reach the work mount point
        os.mkdir(os.path.join(self.base_dir, "work"), 0o755)
        self._lock = threading.Lock()
        self.restarts = 0
        self.proc: subprocess.Popen | None = None
        self._start()
        if level == "namespaces" and self.level != "namespaces":
            self.close()
            raise SandboxError(f"namespaces isolation unavailable: {self.why}")

    def _start(self) -> None:
        """Start the server process and read its hello (level, uid_ok, hidden dirs)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {k: v for k, v in isolation.CLEAN_ENV.items()}
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, str(os.getpid()), str(theirs.fileno()),
                 self.base_dir, self.requested],
                pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, cwd="/")
        except OSError as e:
            ours.close()
            raise SandboxError(f"cannot start the zygote: {e}") from e
        finally:
            theirs.close()
        self.sock = ours
        self.sock.settimeout(START_TIMEOUT_S)
        try:
            hello = json.loads(self.sock.recv(MAX_HEADER) or b"null")
        except (OSError, ValueError) as e:
            self.close()
            raise SandboxError(f"the zygote did not start: {e}") from e
        if not hello:
            self.close()
            raise SandboxError("the zygote exited during start-up")
        self.sock.settimeout(self.reply_timeout_s)
        self.level, self.why = hello["level"], hello["why"]
        self.uid_ok: bool = hello["uid_ok"]  # may a per-run uid be used (root only)
        self.hidden: list[str] = hello["hidden"]

    @property
    def work_mount(self) -> str:
        return os.path.join(self.base_dir, "work")

    def alive(self) -> bool:
        return self.proc.poll() is None and os.getpid() == self.owner_pid

    def spawn(self, job: dict, fds: list[int]) -> tuple[int, int]:
        """Start one job; returns (keeper pid, pidfd). `fds[0]` is the status channel's write
        end. A zygote that died or stopped answering (a program at the rlimits level as a
        non-root user shares its uid: it can SIGKILL or SIGSTOP it) is replaced and the job
        sent again: losing it must cost the program that did it its own test, never turn
        the tests after it, its own or the next item's, into an unscored error."""
        header = json.dumps(job).encode()
        with self._lock:
            if self._lost(wait_s=0.0):
                self._restart()
            try:
                return self._send(header, fds)
            except SandboxError:
                if not self._lost(wait_s=1.0):  # alive but not answering: stopped or stuck
                    self.proc.kill()
                    self.proc.wait()
            self._restart()
            return self._send(header, fds)

    def _send(self, header: bytes, fds: list[int]) -> tuple[int, int]:
        try:
            socket.send_fds(self.sock, [header], fds)
            msg, got, _, _ = socket.recv_fds(self.sock, MAX_HEADER, 1)
        except OSError as e:
            raise SandboxError(f"zygote unreachable: {e}") from e
        try:
            reply = json.loads(msg or b"null")
        except ValueError:
            reply = None
        if type(reply) is not dict or "pid" not in reply or len(got) != 1:
            for fd in got:
                os.close(fd)
            raise SandboxError(f"zygote refused the job: {reply}")
        return reply["pid"], got[0]

    def _lost(self, wait_s: float) -> bool:
        """Has our zygote process ended (waiting up to wait_s for a dying one)?"""
        if os.getpid() != self.owner_pid or self.proc is None:
            return False
        if not wait_s:
            return self.proc.poll() is not None
        try:
            self.proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _restart(self) -> None:
        old_level = self.level
        log.warning("sandbox zygote (pid %d) is gone (exit %s); starting a new one",
                    self.proc.pid, self.proc.returncode)
        try:
            self.sock.close()
        except OSError:
            pass
        self.restarts += 1
        self._start()
        if self.level != old_level:
            raise SandboxError(f"the restarted zygote runs at {self.level}, not {old_level}")

    def close(self) -> None:
        try:
            self.sock.close()
        except (OSError, AttributeError):
            pass
        if getattr(self, "proc", None) is not None and os.getpid() == self.owner_pid:
            self.proc.kill()
            self.proc.wait()
        import shutil
        shutil.rmtree(self.base_dir, ignore_errors=True)


_zygotes: dict[str, Zygote] = {}
_zygotes_lock = threading.Lock()


def default_zygote(level: str = "auto") -> Zygote:
    """The process-wide zygote for `level`, started on first use and restarted if it died.
    `level="auto"` honours the SANDBOXES_ISOLATION environment variable (e.g. "rlimits")."""
    if level == "auto":
        level = os.environ.get("SANDBOXES_ISOLATION", "auto")
    with _zygotes_lock:
        z = _zygotes.get(level)
        if z is None or not z.alive():
            if z is not None and os.getpid() == z.owner_pid:
                z.close()
            z = _zygotes[level] = Zygote(level)
        return z


def shutdown() -> None:
    """Stop every zygote this process started (also registered with atexit)."""
    with _zygotes_lock:
        for z in _zygotes.values():
            if os.getpid() == z.owner_pid:
                z.close()
        _zygotes.clear()


atexit.register(shutdown)
