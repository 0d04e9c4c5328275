"""Programs per second on a HumanEval-sized workload: our sandbox vs two common approaches.

    python benchmarks/sandbox_throughput.py            # 164 programs, each approach in turn
    python benchmarks/sandbox_throughput.py --n 40     # quicker

Workload: 164 small Python programs (one function each, a quarter of them wrong) with 5-8
asserts each, the shape of HumanEval's `check(candidate)`. All three approaches run them
one at a time, interleaved in chunks of 8 programs with the order rotating (so background
load falls on all three alike), and must agree on every verdict.

  ours       sandboxes.run_tests, kind "assert": warm zygote, candidate and tests in two
             isolated processes (namespaces where available), per-test verdicts.
  subprocess a fresh `python file.py` per program (program + asserts in one file),
             `subprocess.run(..., timeout=...)`: the plain approach.
  human-eval the approach of openai/human-eval's execution.py, reimplemented here (it is not
             installed): per program a multiprocessing.Manager list and a forked
             multiprocessing.Process that enters a temporary directory, disables destructive
             functions (its `reliability_guard`), swallows stdio, sets a SIGALRM time limit
             and exec()s program + tests in-process; the parent joins with timeout + 1.
             Its own docstring says this is not a sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import io
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sandboxes import Limits, isolation_report, run_tests  # noqa: E402

TIMEOUT_S = 3.0


# --- workload ------------------------------------------------------------------------------

TEMPLATES = [
    ("def f{i}(xs):\n    return sorted(xs)[::-1][:{k}]\n", "sorted({xs})[::-1][:{k}]", "f{i}({xs})"),
    ("def f{i}(s):\n    return ''.join(c for c in s if c not in 'aeiou') * {k}\n",
     "''.join(c for c in {s!r} if c not in 'aeiou') * {k}", "f{i}({s!r})"),
    ("def f{i}(n):\n    a, b = 0, 1\n    for _ in range(n + {k}):\n        a, b = b, a + b\n    return a\n",
     None, "f{i}({n})"),
    ("def f{i}(xs):\n    seen = set()\n    out = []\n    for x in xs:\n        if x % {k} and x not in seen:\n"
     "            seen.add(x)\n            out.append(x)\n    return out\n", None, "f{i}({xs})"),
]


def _fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def workload(n: int) -> list[dict]:
    """n problems: program text, assert snippets, and whether the program is correct."""
    problems = []
    for i in range(n):
        t = i % len(TEMPLATES)
        k = 2 + i % 5
        src = TEMPLATES[t][0].format(i=i, k=k)
        wrong = i % 4 == 3
        if wrong:  # an off-by-one in the program, so the verdicts differ
            src = src.replace(f"{k}", f"{k + 1}", 1)
        asserts = []
        for j in range(5 + i % 4):
            xs = [(i * 7 + j * 13 + m * 5) % 23 for m in range(6 + j)]
            s = "".join("abcdeio"[(i + j + m) % 7] for m in range(5 + j))
            nn = 5 + j
            call = TEMPLATES[t][2].format(i=i, xs=xs, s=s, n=nn)
            if t == 0:
                exp = sorted(xs)[::-1][:k]
            elif t == 1:
                exp = "".join(c for c in s if c not in "aeiou") * k
            elif t == 2:
                exp = _fib(nn + k)
            else:
                seen, exp = set(), []
                for x in xs:
                    if x % k and x not in seen:
                        seen.add(x)
                        exp.append(x)
            asserts.append(f"assert {call} == {exp!r}")
        problems.append({"program": src, "tests": asserts, "correct": not wrong})
    return problems


# --- (a) plain subprocess -------------------------------------------------------------------

def run_subprocess(problems: list[dict], workdir: str) -> list[bool]:
    verdicts = []
    for k, p in enumerate(problems):
        path = os.path.join(workdir, f"prog_{k}.py")
        with open(path, "w") as f:
            f.write(p["program"] + "\n" + "\n".join(p["tests"]) + "\n")
        try:
            r = subprocess.run([sys.executable, path], capture_output=True, timeout=TIMEOUT_S)
            verdicts.append(r.returncode == 0)
        except subprocess.TimeoutExpired:
            verdicts.append(False)
    return verdicts


# --- (b) human-eval's approach, reimplemented -------------------------------------------------

class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _alarm(seconds: float):
    def on_alarm(signum, frame):
        raise _Timeout()
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class _NoReadIO(io.StringIO):
    def read(self, *a, **k):
        raise OSError

    def readline(self, *a, **k):
        raise OSError


def _guard() -> None:
    """Same spirit as human-eval's reliability_guard: switch off destructive functions."""
    faulthandler.disable()
    import builtins
    import shutil
    builtins.exit = builtins.quit = None
    os.environ["OMP_NUM_THREADS"] = "1"
    for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid",
                 "fork", "forkpty", "killpg", "rename", "renames", "truncate", "replace", "unlink",
                 "fchmod", "fchown", "chmod", "chown", "chroot", "lchown", "getcwd", "chdir"):
        if hasattr(os, name):
            setattr(os, name, None)
    shutil.rmtree = shutil.move = shutil.chown = None
    subprocess.Popen = None  # type: ignore[misc]
    for mod in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[mod] = None  # type: ignore[assignment]


def _unsafe_execute(program: str, timeout: float, result) -> None:
    with tempfile.TemporaryDirectory() as d:
        cwd = os.getcwd()
        os.chdir(d)
        rmtree, rmdir, chdir = __import__("shutil").rmtree, os.rmdir, os.chdir
        _guard()
        try:
            sink = _NoReadIO()
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), _alarm(timeout):
                exec(program, {})
            result.append("passed")
        except _Timeout:
            result.append("timed out")
        except BaseException as e:  # noqa: B036 - faithful to the approach measured
            result.append(f"failed: {e}")
        __import__("shutil").rmtree, os.rmdir, os.chdir = rmtree, rmdir, chdir
        os.chdir(cwd)


def run_human_eval(problems: list[dict]) -> list[bool]:
    ctx = multiprocessing.get_context("fork")
    verdicts = []
    for p in problems:
        manager = ctx.Manager()
        result = manager.list()
        program = p["program"] + "\n" + "\n".join(p["tests"]) + "\n"
        proc = ctx.Process(target=_unsafe_execute, args=(program, TIMEOUT_S, result))
        proc.start()
        proc.join(timeout=TIMEOUT_S + 1)
        if proc.is_alive():
            proc.kill()
            proc.join()
        verdicts.append(bool(result) and result[0] == "passed")
        manager.shutdown()
    return verdicts


# --- ours -----------------------------------------------------------------------------------

def run_ours(problems: list[dict]) -> list[bool]:
    limits = Limits(timeout_s=TIMEOUT_S)
    return [run_tests(p["program"], {"kind": "assert", "tests": p["tests"]}, limits).passed
            for p in problems]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=164)
    ap.add_argument("--chunk", type=int, default=8, help="programs per turn when interleaving")
    args = ap.parse_args()
    problems = workload(args.n)
    expected = [p["correct"] for p in problems]
    rep = isolation_report()  # also warms the zygote, as a long-lived reward worker would be
    run_ours(problems[:2])
    # Interleaved in chunks, rotating the order, so that load from other processes on a
    # shared machine falls on all three alike.
    spent = {"subprocess": 0.0, "human-eval": 0.0, "ours": 0.0}
    verdicts: dict[str, list[bool]] = {k: [] for k in spent}
    with tempfile.TemporaryDirectory() as d:
        fns = {"subprocess": lambda ps: run_subprocess(ps, d), "human-eval": run_human_eval,
               "ours": run_ours}
        for c, lo in enumerate(range(0, len(problems), args.chunk)):
            chunk = problems[lo:lo + args.chunk]
            order = list(spent)[c % 3:] + list(spent)[:c % 3]
            for name in order:
                t0 = time.perf_counter()
                verdicts[name] += fns[name](chunk)
                spent[name] += time.perf_counter() - t0
    rates = {}
    for name, dt in spent.items():
        assert verdicts[name] == expected, f"{name} disagrees with the ground truth"
        rates[name] = len(problems) / dt
        print(f"{name:>11}: {len(problems)} programs in {dt:6.2f} s = {rates[name]:6.1f} programs/s "
              f"({1000 * dt / len(problems):5.1f} ms each)", flush=True)
    print(f"isolation level (ours): {rep['level']}; machine: {platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"ours / subprocess = {rates['ours'] / rates['subprocess']:.2f}x, "
          f"ours / human-eval = {rates['ours'] / rates['human-eval']:.2f}x, "
          f"human-eval / subprocess = {rates['human-eval'] / rates['subprocess']:.2f}x")


if __name__ == "__main__":
    main()
