"""Run a tests object against a program and decide each test in the trusted parent.

    >>> from sandboxes import run_tests
    >>> run_tests("def add(a, b): return a + b",
    ...           {"kind": "call", "entry_point": "add", "cases": [{"args": [1, 2], "expected": 3}]}).fraction
    1.0

Kinds (docs/design.md): `stdio` runs the program once per case and compares stdout here;
`call` runs the program once, calls the entry point per case, and compares the returned
values here; `assert` runs the candidate and the test snippets in two separate processes
(harness.py). Expected outputs never enter the candidate's process. A test that hangs or
crashes fails alone: the run restarts after it, so the tests after it still count.

Time. timeout_s bounds the program's own time, per test, with no slack on top: the clock
starts at the harness's `started` frame, written once our start-up (fork, namespaces,
reading the job; for `assert`, the tests process's own imports) is over and before any of
the program's code runs. From there each test has timeout_s of wall clock; a process's first
test also carries the program's loading (its imports, its top-level code; for `assert`, the
setup). A stdio case is also bounded by the CPU time the program used after `started` (its
threads and the children it waited for), so parallel workers do not stretch the limit
(children it never waits for are bounded by the wall clock and the process limit only; a
cgroup per program, issue #14, would count them too).
Past the limit, the test fails with reason `time_limit`: a wrong answer, scored like any
other, with partial credit for the tests it passed, wherever it hangs. A `call` program that
runs out of time before it has loaded (the harness's `loaded` frame) fails every case left
at once: loading again would end the same way. `budget_s` bounds the whole run, so a
caller's own deadline (the reward service's) can be set past it and never preempt the verdict.

Nothing the program sends makes run_tests raise: every frame, value, nesting and size (up to
the caps) ends as that test's failure (a value that does not decode or cannot be compared is
`wrong_answer`, a frame out of turn ends the process: `runtime_error`), never as an exception
the reward service would turn into an unscored `error`. Only a sandbox that cannot start at
all raises (SandboxError); a zygote that died or stopped answering, even one the program
killed or stopped, is replaced.

Comparisons (wire.values_equal, wire.tokens_equal) are exact except where the expected
value is a float. `stdio`: tokens split on ASCII whitespace; an expected integer token
needs exactly that spelling (`42`, not `+42`, `042`, `42.0`, `٤٢`, `4_2`); an expected
decimal or exponent token (`2.50`, `1e-3`) takes an ASCII number within 1e-6 (relative or
absolute); any other token, the same string. `call`: an int expected needs an int of that
value (not `1e9` or `True`), a float expected an int or float within 1e-6 relative; lists
and tuples alike, element by element; a dict's keys in any order. A set (or a list in another
order) matches an expected list only where the test declares the result unordered:
`"unordered": true` on the tests object (every case) or on one case (overriding the tests
object's), allowed only for `call` and only where `expected` is a list.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field, replace

from sandboxes import wire
from sandboxes.limits import Limits
from sandboxes.process import (
    GRACE_S,
    STARTUP_S,
    TIME_LIMIT,
    Proc,
    abandon,
    caps_for,
    drive,
    kill_all,
    spawn,
)
from sandboxes.zygote import Zygote, default_zygote

KINDS = ("assert", "stdio", "call")
LANGUAGES = ("python",)
# Every reason a test can fail with. All are the program's verdicts (scored), none means "could
# not score": those belong to the reward service (timeout, crashed, bad_reference, error).
REASONS = ("ok", "wrong_answer", "runtime_error", TIME_LIMIT, "memory", "output_limit",
           "syntax_error", "unsupported")
# Per round on top of timeout_s, for budget_s: start-up, leftovers holding the pipes after the
# program ended, and killing and respawning on a busy machine.
_ROUND_OVERHEAD_S = STARTUP_S + GRACE_S + 1.0
_MAX_FRAME_BYTES = 64 << 20  # one `call` result line, at most


class BadTests(ValueError):
    """The tests object is malformed: a data bug, not a wrong program."""


@dataclass(frozen=True)
class TestOutcome:
    passed: bool
    reason: str = "ok"  # one of REASONS
    detail: str = ""


@dataclass
class TestReport:
    outcomes: list[TestOutcome] = field(default_factory=list)
    level: str = ""
    duration_s: float = 0.0

    @property
    def fraction(self) -> float:
        return sum(o.passed for o in self.outcomes) / len(self.outcomes) if self.outcomes else 0.0

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.passed for o in self.outcomes)

    @property
    def reason(self) -> str:
        """"ok", or the reason of the first failed test."""
        return next((o.reason for o in self.outcomes if not o.passed), "ok")


def validate(tests) -> dict:
    """Check a tests object (dict or JSON string); returns it as a dict or raises BadTests."""
    if isinstance(tests, str | bytes):
        try:
            tests = json.loads(tests)
        except ValueError as e:
            raise BadTests(f"tests object is not JSON: {e}") from e
    if not isinstance(tests, dict):
        raise BadTests("tests object must be a JSON object")
    lang, kind = tests.get("language", "python"), tests.get("kind")
    if lang not in LANGUAGES:
        raise BadTests(f"unsupported language {lang!r}")
    if kind not in KINDS:
        raise BadTests(f"unknown kind {kind!r}, expected one of {KINDS}")
    if kind == "assert":
        snippets, setup = tests.get("tests"), tests.get("setup", "") or ""
        if not isinstance(snippets, list) or not snippets or not all(isinstance(t, str) for t in snippets):
            raise BadTests("`assert` needs a non-empty list of strings in `tests`")
        if not isinstance(setup, str):
            raise BadTests("`setup` must be a string")
        _check_unordered(tests, [], kind)
        for i, src in enumerate([setup, *snippets]):
            try:
                compile(src, "<test>", "exec")
            except (SyntaxError, ValueError) as e:
                raise BadTests(f"test {i - 1 if i else 'setup'} does not compile: {e}") from e
    else:
        cases = tests.get("cases")
        if not isinstance(cases, list) or not cases or not all(isinstance(c, dict) for c in cases):
            raise BadTests(f"`{kind}` needs a non-empty list of objects in `cases`")
        _check_unordered(tests, cases, kind)
        for c in cases:
            if kind == "stdio" and not (isinstance(c.get("stdin", ""), str) and isinstance(c.get("stdout"), str)):
                raise BadTests("a `stdio` case needs string `stdout` (and optional string `stdin`)")
            if kind == "call" and not (isinstance(c.get("args", []), list)
                                       and isinstance(c.get("kwargs", {}), dict) and "expected" in c):
                raise BadTests("a `call` case needs `args` (list), optional `kwargs` (object), `expected`")
        if kind == "call" and not (isinstance(tests.get("entry_point"), str) and tests["entry_point"].isidentifier()):
            raise BadTests("`call` needs an identifier in `entry_point`")
    return tests


def _check_unordered(tests: dict, cases: list[dict], kind: str) -> None:
    """`unordered` (on the tests object, or on a case to override it): a bool, for `call`
    cases whose `expected` is a list. An order-free match is what the test declares, never
    what a result's type (a set) implies."""
    default = tests.get("unordered", False)
    flags = [default, *(c["unordered"] for c in cases if "unordered" in c)]
    if any(type(f) is not bool for f in flags):
        raise BadTests("`unordered` must be true or false")
    if kind != "call" and any(flags):
        raise BadTests("`unordered` applies to `call` results only")
    for c in cases:
        if c.get("unordered", default) and type(c.get("expected")) not in (list, tuple, set, frozenset):
            raise BadTests("an `unordered` case needs a list in `expected`")


def budget_s(tests, limits: Limits) -> float:
    """Upper bound on the wall time of run_tests (for a caller's own deadline). Worst case:
    every test hangs and costs its own round (a fresh process that loads the program, runs
    to the deadline and is killed), so the time_limit verdict arrives within this bound."""
    tests = validate(tests)
    n = len(tests["tests"] if tests["kind"] == "assert" else tests["cases"])
    return n * (limits.timeout_s + _ROUND_OVERHEAD_S) + STARTUP_S


def run_tests(program: str, tests, limits: Limits | None = None, zygote: Zygote | None = None) -> TestReport:
    """Run every test of `tests` against `program`; raises BadTests or SandboxError."""
    tests = validate(tests)
    limits = limits or Limits()
    z = zygote or default_zygote()
    t0 = time.monotonic()
    kind = tests["kind"]
    if kind == "stdio":
        outcomes = _stdio(program, tests["cases"], limits, z)
    elif kind == "call":
        outcomes = _call(program, tests, limits, z)
    else:
        outcomes = _assert(program, tests, limits, z)
    # Defence in depth: whatever a test process reported, the verdict is one of REASONS.
    outcomes = [o if o.reason in REASONS else replace(o, reason="runtime_error") for o in outcomes]
    return TestReport(outcomes, z.level, time.monotonic() - t0)


def _for_rounds(limits: Limits, remaining: int) -> Limits:
    # One process may serve many tests: its CPU limit covers all of them; the per-test wall
    # deadline (enforced here) is what bounds each one.
    return replace(limits, cpu_s=math.ceil(limits.timeout_s * remaining) + 1)


# --- stdio --------------------------------------------------------------------------------

def _stdio(program: str, cases: list[dict], limits: Limits, z: Zygote) -> list[TestOutcome]:
    outcomes: list[TestOutcome] = []
    data = json.dumps({"program": program}).encode()
    for case in cases:
        p = spawn({"role": "script"}, limits, data=data, stdin=case.get("stdin", "").encode(),
                  frames=True, zygote=z)
        _await_start(p, limits)
        # `started` is the only frame: the harness closes fd 4 before the program runs.
        p.on_frame = lambda p, f: _on_started(p, f, limits) or p.kill()
        try:
            drive([p], caps_for(limits))
        finally:
            kill_all([p])
        r = p.result
        reason = r.reason
        if reason == "runtime_error" and r.exit_code == 1 and b"SyntaxError" in r.stderr[-2000:]:
            outcomes.append(TestOutcome(False, "syntax_error"))
            outcomes += [TestOutcome(False, "syntax_error")] * (len(cases) - len(outcomes))
            break
        if reason == "ok" and r.cpu_s - p.startup_cpu_s > limits.timeout_s:
            # In time by the wall clock but not by the CPU: threads or worker processes
            # that it waited for ran in parallel. timeout_s bounds the program's CPU time too.
            reason = TIME_LIMIT
            outcomes.append(TestOutcome(False, reason, f"{r.cpu_s - p.startup_cpu_s:.2f} s of CPU"))
        elif reason != "ok":
            outcomes.append(TestOutcome(False, reason, r.stderr[-300:].decode(errors="replace")))
        elif wire.tokens_equal(r.stdout.decode(errors="replace"), case["stdout"]):
            outcomes.append(TestOutcome(True))
        else:
            outcomes.append(TestOutcome(False, "wrong_answer"))
    return outcomes


def _await_start(p: Proc, limits: Limits) -> None:
    """Until the harness says `started`, only our start-up runs (fork, namespaces, reading the
    job; for `assert`, also the tests process's imports): none of it is the program's time.
    It may take STARTUP_S + timeout_s (budget_s counts on STARTUP_S); past that (a machine
    too loaded to start a process) the test fails as time_limit, as it did before."""
    p.deadline = p.started + STARTUP_S + limits.timeout_s


def _on_started(p: Proc, f: dict, limits: Limits) -> bool:
    """The `started` frame: the program's own time begins; it has timeout_s from here."""
    if not p.mark_started(f):
        return False
    p.deadline = p.program_started_at + limits.timeout_s
    return True


# --- call ---------------------------------------------------------------------------------

def _call(program: str, tests: dict, limits: Limits, z: Zygote) -> list[TestOutcome]:
    cases = tests["cases"]
    n = len(cases)
    outcomes: list[TestOutcome | None] = [None] * n
    # Only the inputs travel: `expected` stays here.
    inputs = [{"args": c.get("args", []), "kwargs": c.get("kwargs", {})} for c in cases]
    frame_caps = [_frame_cap(c["expected"]) for c in cases]
    start = 0
    while start < n:
        # The frames of one round, in order: `started` (ours), then `loaded` or `load_error`
        # (ours, though the program could have written them first), then one result per case
        # from `start` on. All but `started` may be the program's: anything out of turn ends
        # the round.
        st = {"next": start, "loaded": False, "load_error": None}
        # Read on every read of the pipe: the longest line the next result may take.
        caps = {**caps_for(limits), "frames": frame_caps[start]}

        def on_frame(p: Proc, f: dict, st: dict = st, caps: dict = caps) -> None:
            if _on_started(p, f, limits):
                return
            if p.program_started_at is None:
                p.kill()
                return
            if not st["loaded"]:
                if f == {"loaded": 1}:
                    st["loaded"] = True
                    return
                if "load_error" in f and set(f) <= {"load_error", "detail"} and st["load_error"] is None:
                    st["load_error"] = f["load_error"] if f["load_error"] in ("syntax_error", "memory") else "runtime_error"
                    return
                # A result written by the program's own code while it loads is its answer, as
                # anywhere else (it gains nothing over returning it); it got far enough to answer.
                st["loaded"] = "i" in f
            k = st["next"]
            if k >= n or type(f.get("i")) is not int or f["i"] != k:  # out of order, forged, garbage
                p.kill()
                return
            outcomes[k] = _call_outcome(f, cases[k], tests)
            st["next"] = k + 1
            caps["frames"] = frame_caps[min(k + 1, n - 1)]
            p.deadline = time.monotonic() + limits.timeout_s

        data = json.dumps({"program": program, "entry_point": tests["entry_point"],
                           "cases": inputs, "start": start}).encode()
        p = spawn({"role": "call"}, _for_rounds(limits, n - start), data=data, frames=True, zygote=z)
        _await_start(p, limits)
        p.on_frame = on_frame
        try:
            drive([p], caps, until=lambda st=st: st["next"] >= n)
        finally:
            if st["next"] >= n:
                abandon([p])  # every case answered: its exit status adds nothing
            kill_all([p])
        if st["load_error"] or not st["loaded"]:
            # It never got to a case: it did not load (an error, a crash, or out of time while
            # loading). Loading again would end the same way, so every case left fails now
            # (one round, not one per case: a hang while loading costs timeout_s once).
            reason = st["load_error"] or _ended(p)
            for k in range(start, n):
                outcomes[k] = TestOutcome(False, reason)
            break
        k = st["next"]
        if k < n:  # the process ended while case k was running
            outcomes[k] = TestOutcome(False, _ended(p))
        start = k + 1
    return [o or TestOutcome(False, "runtime_error") for o in outcomes]


def _call_outcome(f: dict, case: dict, tests: dict) -> TestOutcome:
    """One case's verdict from its result frame. Everything in the frame is the program's
    data; a value that does not decode, or cannot be compared, is a wrong answer."""
    if set(f) == {"i", "v"}:
        unordered = case.get("unordered", tests.get("unordered", False))
        try:
            ok = wire.values_equal(wire.decode(f["v"]), case["expected"], unordered=unordered)
        except wire.WireError:
            ok = False
        return TestOutcome(ok, "ok" if ok else "wrong_answer")
    reason = f.get("reason") if f.get("reason") in ("memory", "runtime_error") else "runtime_error"
    detail = f.get("detail")
    return TestOutcome(False, reason, detail[:300] if type(detail) is str else "")


def _frame_cap(expected) -> int:
    """The longest result line worth parsing for a case: a result that can match is at most a
    small multiple of the expected value's own encoding (a float's long repr, a big int for
    an expected float), so a longer line is wrong (`output_limit`). Parsing it would cost the
    parent, the reward service's worker, time and memory outside every deadline: a forged
    60 MB line took 24 s and 3 GB, long enough for the service's own unscored `timeout`."""
    try:
        size = len(json.dumps(wire.encode(expected), separators=(",", ":")))
    except (wire.WireError, RecursionError, TypeError, ValueError):
        return _MAX_FRAME_BYTES
    return min(max(16 * size, 1 << 20), _MAX_FRAME_BYTES)


def _ended(p: Proc) -> str:
    reason = p.result.reason
    return "runtime_error" if reason == "ok" else reason


# --- assert -------------------------------------------------------------------------------

def _assert(program: str, tests: dict, limits: Limits, z: Zygote) -> list[TestOutcome]:
    snippets = tests["tests"]
    n = len(snippets)
    outcomes: list[TestOutcome | None] = [None] * n
    start = 0
    while start < n:
        running: list[int] = []  # the test B has started and not finished
        stop: list[str] = []  # B could not get to the tests at all: reason for all the rest
        first = [True]  # the round's first test: its deadline also covers loading and setup

        a_to_b, b_to_a = os.pipe(), os.pipe()
        unconsumed = {*a_to_b, *b_to_a}  # spawn hands these over (and closes ours)
        lim = _for_rounds(limits, n - start)
        procs: list[Proc] = []
        try:
            unconsumed -= {a_to_b[1], b_to_a[0]}
            a = spawn({"role": "server"}, lim, data=json.dumps({"program": program}).encode(),
                      extra={5: a_to_b[1], 6: b_to_a[0]}, frames=True, zygote=z)
            procs.append(a)
            unconsumed -= {a_to_b[0], b_to_a[1]}
            b = spawn({"role": "tests"}, lim, frames=True, zygote=z, isolate=False, drop_uid=False,
                      data=json.dumps({"setup": tests.get("setup", ""), "tests": snippets,
                                       "start": start}).encode(),
                      extra={5: a_to_b[0], 6: b_to_a[1]})
            procs.append(b)
        except BaseException:
            for fd in unconsumed:
                os.close(fd)
            kill_all(procs)
            raise

        def on_a_frame(p: Proc, f: dict, a: Proc = a, b: Proc = b, first: list = first) -> None:
            # A's one frame: `started`, written once B has asked for its names (so B's own
            # start-up, its imports included, is over) and before the program loads. The
            # round's clock (loading, the setup, the first test) starts there. The harness
            # closes fd 4 before the program runs: any other frame is impossible, so garbage.
            if not _on_started(a, f, limits):
                a.kill()
            elif first[0]:
                b.deadline = a.deadline

        def on_frame(p: Proc, f: dict, a: Proc = a, b: Proc = b, running: list = running,
                     stop: list = stop, first: list = first, start: int = start) -> None:
            # B is our own process, but check its frames all the same: a frame that does not
            # name a test of this round must not be able to make the judge raise.
            k = f.get("s", f.get("e"))
            if ("s" in f or "e" in f) and not (type(k) is int and start <= k < n):
                b.kill()
            elif f == {"ready": 1} and a.program_started_at is None:
                # B's start-up (its imports: numpy, torch) is over; A starts the program's
                # clock once B asks it for names. Until then, only our start-up runs: it gets
                # a fresh allowance from here, however long B's imports took.
                a.deadline = b.deadline = time.monotonic() + limits.timeout_s + STARTUP_S
            elif "s" in f:
                running[:] = [k]
                # The round's first test keeps the round's deadline if that is sooner: loading
                # shares it (as in `call` and `stdio`). Else a program that loads for most of
                # it and then hangs would cost two deadlines per test and outrun budget_s.
                deadline = time.monotonic() + limits.timeout_s
                a.deadline = b.deadline = min(deadline, b.deadline) if first[0] else deadline
                first[0] = False
            elif "e" in f:
                ok = f.get("ok") is True
                reason = "ok" if ok else str(f.get("reason", "runtime_error"))[:40]
                if f.get("dead"):
                    reason = "dead"  # refined below from how the candidate ended
                detail = f.get("detail")
                outcomes[k] = TestOutcome(ok, reason, detail[:300] if type(detail) is str else "")
                running.clear()
            elif "load_error" in f or "setup_error" in f:
                stop.append(str(f.get("load_error") or f.get("setup_error"))[:40])

        a.on_frame = on_a_frame
        b.on_frame = on_frame
        # Until A says `started`, only start-up runs (both processes', B's imports included).
        a.deadline = b.deadline = time.monotonic() + limits.timeout_s + STARTUP_S
        caps = caps_for(limits)
        try:
            drive([a, b], caps, until=lambda b=b: b.finished)
        finally:
            clean = not running and not stop and not any(
                o is not None and o.reason == "dead" for o in outcomes[start:])
            if clean:
                abandon([a])  # B is done and A did not die: how A ends adds nothing
            kill_all([a, b])
        dead_reason = _ended(a) if a.result.reason != "ok" else "runtime_error"
        for k in range(start, n):
            if outcomes[k] is not None and outcomes[k].reason == "dead":
                outcomes[k] = TestOutcome(False, dead_reason)
        if stop or (not running and all(outcomes[k] is None for k in range(start, n))):
            reason = stop[0] if stop else (TIME_LIMIT if b.result.timed_out else dead_reason)
            if reason not in ("syntax_error", "memory", TIME_LIMIT, "output_limit"):
                reason = "runtime_error"
            if reason == "runtime_error" and (a.result.timed_out or b.result.timed_out):
                # The deadline killed A a moment before B, and B reported "candidate died":
                # the death was ours, the program had simply not finished loading in time.
                reason = TIME_LIMIT
            for k in range(start, n):
                if outcomes[k] is None:
                    outcomes[k] = TestOutcome(False, reason)
            break
        if running:
            k = running[0]
            outcomes[k] = TestOutcome(False, TIME_LIMIT if b.result.timed_out else dead_reason)
            start = k + 1
        else:
            done = [k for k in range(start, n) if outcomes[k] is not None]
            start = (max(done) + 1) if done else n
    return [o or TestOutcome(False, "runtime_error") for o in outcomes]
