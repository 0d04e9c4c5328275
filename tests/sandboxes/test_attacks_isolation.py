"""Attacks on the isolation around the judge: the parts of the trainer a program can reach.

At the `rlimits` level as a non-root user, the program shares the trainer's uid: it can see
and signal the trainer's processes and open their descriptors through /proc. Written as a
policy would try it (same_uid_attacks.py, run here as an unprivileged user):
- kill or stop the sandbox's fork server (the zygote), so that every later test of its own
  item, and the items after it, cannot start (an unscored `error` instead of a wrong answer);
- write forged verdicts, results and exit statuses into the trainer's channels;
- look inside the zygote, which forks every later sandbox.
Safe as root: the attacks run as `nobody` (uid 65534), which can reach nothing of root's.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys

import pytest

from sandboxes import Zygote, run_tests
from sandboxes.process import kill_all, spawn
from tests.sandboxes.conftest import TIGHT

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "tests", "sandboxes", "same_uid_attacks.py")
NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"]
CHECK = "import subprocess, sys; assert sys.version_info >= (3, 11); subprocess.run([sys.executable, '-c', ''], check=True)"


def _as_unprivileged(argv: list[str]) -> list[str]:
    return argv if os.getuid() != 0 else [shutil.which("setpriv") or "setpriv", *NOBODY, *argv]


def _python() -> str | None:
    """An interpreter (3.11+) the unprivileged user can run, and start again by sys.executable."""
    if os.getuid() == 0 and not shutil.which("setpriv"):
        return None
    for exe in dict.fromkeys([sys.executable, shutil.which("python3"), "/usr/bin/python3"]):
        if exe and subprocess.run(_as_unprivileged([exe, "-c", CHECK]), capture_output=True, env=_env(),
                                  timeout=60).returncode == 0:
            return exe
    return None


def _env() -> dict:
    return {"PATH": "/usr/bin:/bin", "PYTHONPATH": ROOT, "TMPDIR": "/tmp", "HOME": "/tmp", "LANG": "C.UTF-8"}


@pytest.fixture(scope="module")
def same_uid() -> dict:
    exe = _python()
    if exe is None:
        pytest.skip("no Python 3.11+ that an unprivileged user can run here")
    r = subprocess.run(_as_unprivileged([exe, SCRIPT]), capture_output=True, env=_env(), timeout=300, cwd="/tmp")
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    out = json.loads(r.stdout)
    assert out["uid_is_root"] is False
    return out


@pytest.mark.parametrize("attack", ["kill_zygote", "stop_zygote"])
@pytest.mark.parametrize("kind", ["stdio", "call", "assert"])
def test_killing_or_stopping_the_zygote_costs_the_program_its_own_test_only(same_uid, kind, attack):
    reasons = same_uid[f"{attack}_{kind}"]
    assert isinstance(reasons, list), reasons  # the judge did not raise (an unscored error)
    assert reasons[0] == reasons[2] == "ok" and reasons[1] in ("ok", "runtime_error"), reasons


@pytest.mark.parametrize("kind", ["stdio", "call", "assert"])
def test_forged_frames_and_statuses_through_proc_do_not_land(same_uid, kind):
    reasons = same_uid[f"forge_{kind}"]
    # add(-1, 1) == 0 is right; in stdio the forgery also lands in the program's own stdout
    # (a pipe, reachable through /proc like any pipe of ours), so that answer is garbled too.
    right = "wrong_answer" if kind == "stdio" else "ok"
    assert reasons == ["wrong_answer", "wrong_answer", right], reasons


def test_the_zygote_cannot_be_inspected(same_uid):
    assert same_uid["peek_zygote"] == ["fd PermissionError", "mem PermissionError", "environ PermissionError"]


# --- the same properties, checked from here (any uid) ------------------------------------

def test_the_trainers_private_channels_are_sockets():
    # /proc/<pid>/fd/N opens a pipe, but not a socket (ENXIO): the job data, the frames and
    # the keeper's status, which decide the verdict, are socket pairs; stdin/out/err pipes.
    p = spawn({"role": "script"}, TIGHT, data=b'{"program": "pass"}', stdin=b"", frames=True)
    try:
        kinds = {name: stat.S_ISSOCK(os.fstat(fd).st_mode) for fd, name in p.fds.items()}
        kinds |= {"data": any(stat.S_ISSOCK(os.fstat(fd).st_mode) for fd in p.pending)}
    finally:
        kill_all([p])
    assert kinds == {"status": True, "frames": True, "data": True, "stdout": False, "stderr": False}


def test_a_zygote_that_died_is_replaced_between_and_within_runs(monkeypatch):
    from sandboxes import judge
    z = Zygote()
    tests = {"kind": "stdio", "cases": [{"stdin": f"{k}", "stdout": f"{k}"} for k in range(3)]}
    try:
        os.kill(z.proc.pid, signal.SIGKILL)  # between two items
        assert run_tests("print(input())", tests, TIGHT, zygote=z).passed and z.restarts == 1
        real, calls = judge.spawn, []

        def spawn_after_a_kill(*a, **kw):  # within an item: gone before its second case
            calls.append(1)
            if len(calls) == 2:
                os.kill(z.proc.pid, signal.SIGKILL)
            return real(*a, **kw)

        monkeypatch.setattr(judge, "spawn", spawn_after_a_kill)
        assert run_tests("print(input())", tests, TIGHT, zygote=z).passed and z.restarts == 2
    finally:
        z.close()

