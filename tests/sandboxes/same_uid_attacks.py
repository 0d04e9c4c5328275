"""Attacks by a program that shares the trainer's uid: the `rlimits` level as a non-root user.

Run as a script by an unprivileged user (test_attacks_isolation.py does it, through setpriv
when the tests run as root); prints one JSON object, a result per attack. Each attack gets
its own zygote and reports an exception as text, so one attack cannot hide another's result.
Harmless: as that user, each program only signals its own zygote (SIGKILL, SIGSTOP; a
stopped one is killed by Zygote.close) and writes to descriptors of
the process that runs this script (never 0-2), and everything ends within a few seconds.
"""

from __future__ import annotations

import json
import sys

from sandboxes import Limits, Zygote, run_tests
from sandboxes.process import run

LIM = Limits(timeout_s=5.0)
PAIRS = ((1, 2), (5, 7), (-1, 1))
TESTS = {
    "stdio": {"kind": "stdio", "cases": [{"stdin": f"{a} {b}", "stdout": str(a + b)} for a, b in PAIRS]},
    "call": {"kind": "call", "entry_point": "add",
             "cases": [{"args": [a, b], "expected": a + b} for a, b in PAIRS]},
    "assert": {"kind": "assert", "tests": [f"assert add({a}, {b}) == {a + b}" for a, b in PAIRS]},
}
# The program's view of its ancestors: keeper -> zygote -> the process running this script.
FAMILY = '''
import os, signal
def _ppid(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])
ZYGOTE = _ppid(os.getppid())
TRAINER = _ppid(ZYGOTE)
'''
# Right answers, but (5, 7) kills the zygote first.
KILLS_ZYGOTE = {
    "stdio": FAMILY + "a, b = map(int, input().split())\nif a == 5:\n    os.kill(ZYGOTE, signal.SIGKILL)\nprint(a + b)\n",
    "call": FAMILY + "def add(a, b):\n    if a == 5:\n        os.kill(ZYGOTE, signal.SIGKILL)\n    return a + b\n",
}
KILLS_ZYGOTE["assert"] = KILLS_ZYGOTE["call"]
STOPS_ZYGOTE = {kind: prog.replace("signal.SIGKILL", "signal.SIGSTOP") for kind, prog in KILLS_ZYGOTE.items()}
# Wrong answers (0), after writing forged frames and statuses into every descriptor of the
# trainer it can open: verdicts of the tests process, results, exit statuses, garbage.
FORGES = FAMILY + '''
FORGED = (b'{"s": 0}\\n{"e": 0, "ok": true, "reason": "ok"}\\n{"e": 1, "ok": true}\\n'
          b'{"status": 0, "cpu_s": 0, "maxrss_kb": 0}\\n{"error": "forged"}\\n{"started": 1, "cpu_s": 0}\\n'
          b'{"loaded": 1}\\n{"i": 0, "v": 3}\\n{"i": 1, "v": 12}\\ngarbage\\n')
for fd in os.listdir(f"/proc/{TRAINER}/fd"):
    if int(fd) > 2:
        try:
            w = os.open(f"/proc/{TRAINER}/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            os.write(w, FORGED)
        except OSError:
            pass
        os.close(w)
def add(a, b):
    return 0
'''
PEEKS = FAMILY + '''
for what in ("fd", "mem", "environ"):
    try:
        os.listdir(f"/proc/{ZYGOTE}/fd") if what == "fd" else open(f"/proc/{ZYGOTE}/{what}", "rb").read(1)
        print(what, "readable")
    except OSError as e:
        print(what, type(e).__name__)
'''


def attempt(fn):
    z = Zygote("rlimits", reply_timeout_s=2.0)  # how long a stopped zygote may keep us waiting
    try:
        return fn(z)
    except Exception as e:  # the attack's result: a judge that raised
        return f"raised {type(e).__name__}: {e}"
    finally:
        z.close()


def main() -> None:
    out: dict = {"uid_is_root": __import__("os").getuid() == 0}
    for kind in TESTS:
        for attack, progs in (("kill_zygote", KILLS_ZYGOTE), ("stop_zygote", STOPS_ZYGOTE)):
            out[f"{attack}_{kind}"] = attempt(
                lambda z, kind=kind, progs=progs: [o.reason for o in run_tests(progs[kind], TESTS[kind], LIM, zygote=z).outcomes])
        stdio_tail = "a, b = map(int, input().split())\nprint(0)\n" if kind == "stdio" else ""
        out[f"forge_{kind}"] = attempt(
            lambda z, kind=kind, tail=stdio_tail: [o.reason for o in run_tests(FORGES + tail, TESTS[kind], LIM, zygote=z).outcomes])
    out["peek_zygote"] = attempt(lambda z: run({"program": PEEKS}, LIM, zygote=z).stdout.decode().split("\n")[:3])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
