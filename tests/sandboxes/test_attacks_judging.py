"""Attacks on the judging layer: how a program's run becomes a verdict and a reward.

Written as the policy under RL pressure would try them. Two classes:

- escape the penalty by hanging: a program that loops (in a test, while loading, in the
  setup, on one input, past its CPU limit) must come back as a scored wrong answer
  (`time_limit`, credit kept for the tests it passed), never as an unscored item that a
  trainer drops, and within the deadline the reward service sets for it;
- pass with a wrong number: an integer off by less than a float tolerance, a Python-only
  spelling (`٤٢`, `4_2`), a float for an int, a set or a reordered list for an ordered one.

- escape the penalty by making the judge raise: any frame, value, nesting or size the
  program sends (A2) must end as that test's scored failure, never as an exception;
- take more time than the limit: start-up is ours, timeout_s is the program's own time (C4).

Every program here is harmless outside a sandbox: loops, sleeps and writes to its own
descriptors only, bounded by small time limits (0.5-1 s) so that the file stays fast.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import replace

import pytest

from sandboxes import BadTests, budget_s, run, run_tests, validate, wire
from sandboxes.judge import REASONS
from sandboxes.wire import Opaque, tokens_equal, values_equal
from tests.sandboxes.conftest import TIGHT
from verifiers.runtime.local import UNSCORED_REASONS

FAST = replace(TIGHT, timeout_s=0.5)

ASSERT = {"kind": "assert", "tests": ["assert add(1, 2) == 3", "assert add(5, 7) == 12", "assert add(-1, 1) == 0"]}
CALL = {"kind": "call", "entry_point": "add",
        "cases": [{"args": [1, 2], "expected": 3}, {"args": [5, 7], "expected": 12}, {"args": [-1, 1], "expected": 0}]}
STDIO = {"kind": "stdio", "cases": [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "5 7\n", "stdout": "12\n"},
                                    {"stdin": "-1 1\n", "stdout": "0\n"}]}
ALL = {"assert": ASSERT, "call": CALL, "stdio": STDIO}

# Right on every input but (5, 7), where it hangs in the way named.
FUNC_HANGS = {
    "busy_loop": "def add(a, b):\n    if a == 5:\n        while True: pass\n    return a + b\n",
    "sleep": "import time\ndef add(a, b):\n    if a == 5:\n        time.sleep(3600)\n    return a + b\n",
    "blocked_read": "import os\ndef add(a, b):\n    if a == 5:\n        r, w = os.pipe()\n        os.read(r, 1)\n"
                    "    return a + b\n",
    "ignores_signals": "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU, signal.SIGALRM):\n"
                       "    signal.signal(s, signal.SIG_IGN)\n"
                       "def add(a, b):\n    if a == 5:\n        while True: pass\n    return a + b\n",
    "threads_spin": "import threading\ndef spin():\n    while True: pass\n"
                    "def add(a, b):\n    if a == 5:\n        for _ in range(4):\n"
                    "            threading.Thread(target=spin, daemon=True).start()\n        spin()\n    return a + b\n",
}
SCRIPT_HANGS = {
    "busy_loop": "a, b = map(int, input().split())\nif a == 5:\n    while True: pass\nprint(a + b)\n",
    "sleep": "import time\na, b = map(int, input().split())\nif a == 5:\n    time.sleep(3600)\nprint(a + b)\n",
    "answers_then_hangs": "a, b = map(int, input().split())\nprint(a + b, flush=True)\nif a == 5:\n"
                          "    while True: pass\n",
    "ignores_signals": "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGXCPU):\n"
                       "    signal.signal(s, signal.SIG_IGN)\n"
                       "a, b = map(int, input().split())\nif a == 5:\n    while True: pass\nprint(a + b)\n",
}


def assert_scored(outcomes) -> None:
    for o in outcomes:
        assert o.reason in REASONS and o.reason not in UNSCORED_REASONS, o


# --- 1. a hanging program is a scored wrong answer ---------------------------------------

def test_no_sandbox_reason_is_an_unscored_reason():
    assert "time_limit" in REASONS
    assert not set(REASONS) & UNSCORED_REASONS


@pytest.mark.parametrize("kind", ["assert", "call"])
@pytest.mark.parametrize("hang", sorted(FUNC_HANGS))
def test_a_test_that_hangs_is_time_limit_and_the_others_keep_their_credit(kind, hang):
    rep = run_tests(FUNC_HANGS[hang], ALL[kind], FAST)
    assert [o.reason for o in rep.outcomes] == ["ok", "time_limit", "ok"]
    assert rep.fraction == pytest.approx(2 / 3) and not rep.passed and rep.reason == "time_limit"
    assert_scored(rep.outcomes)


@pytest.mark.parametrize("hang", sorted(SCRIPT_HANGS))
def test_a_stdio_case_that_hangs_is_time_limit(hang):
    rep = run_tests(SCRIPT_HANGS[hang], STDIO, FAST)
    assert [o.reason for o in rep.outcomes] == ["ok", "time_limit", "ok"]
    assert rep.fraction == pytest.approx(2 / 3) and rep.reason == "time_limit"


@pytest.mark.parametrize("kind", ["assert", "call", "stdio"])
@pytest.mark.parametrize("how", ["while True: pass", "import time; time.sleep(3600)"])
def test_a_program_that_hangs_while_loading_fails_every_test_with_time_limit(kind, how):
    rep = run_tests(f"{how}\ndef add(a, b):\n    return a + b\n", ALL[kind], FAST)
    assert [o.reason for o in rep.outcomes] == ["time_limit"] * 3 and rep.fraction == 0.0
    assert_scored(rep.outcomes)


def test_a_hang_in_the_setup_fails_every_test_with_time_limit():
    tests = {**ASSERT, "setup": "BASE = add(5, 7)"}
    rep = run_tests(FUNC_HANGS["busy_loop"], tests, FAST)
    assert [o.reason for o in rep.outcomes] == ["time_limit"] * 3
    assert_scored(rep.outcomes)


def test_the_cpu_limit_is_time_limit_too():
    # CPU limit well inside the wall deadline: RLIMIT_CPU's SIGXCPU (then SIGKILL, for a
    # program that ignores SIGXCPU) ends the run, not the parent's deadline.
    lim = replace(TIGHT, timeout_s=20.0, cpu_s=1)
    r = run({"program": "while True: pass"}, lim)
    assert not r.timed_out and r.reason == "time_limit", r
    ignores = "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True: pass"
    rep = run_tests(ignores, {"kind": "stdio", "cases": [{"stdout": "1"}]}, lim)
    assert [o.reason for o in rep.outcomes] == ["time_limit"]


def test_a_wall_deadline_on_a_single_run_is_time_limit():
    r = run({"program": "import time; time.sleep(3600)"}, FAST)
    assert r.timed_out and r.reason == "time_limit"


def test_budget_covers_every_round_of_the_worst_case():
    # budget_s is what the reward service adds to its deadline: each test may cost a whole
    # round (start a process, load for up to the deadline's start-up slack, hang, be killed).
    for tests in ALL.values():
        assert budget_s(tests, FAST) >= 3 * (FAST.timeout_s + 3.0)


def test_a_forged_giant_result_line_is_refused_unparsed():
    # Parsed, 24 MB of `[],` is 8M lists: seconds of the parent's time and a GB of its memory,
    # outside every deadline (the parent is the reward service's worker, whose own deadline
    # would then fire: an unscored `timeout`). Longer than any matching result can be, so
    # the case fails as `output_limit` without being parsed; the next case still counts.
    forge = ("import os\n"
             "def add(a, b):\n"
             "    if a == 5:\n"
             "        line = b'{\"i\": 1, \"v\": [' + b'[],' * (8 << 20) + b'[]]}\\n'\n"
             "        view = memoryview(line)\n"
             "        while view:\n"
             "            view = view[os.write(4, view):]\n"
             "    return a + b\n")
    rep = run_tests(forge, CALL, replace(FAST, timeout_s=5.0))
    assert [o.reason for o in rep.outcomes] == ["ok", "output_limit", "ok"]


def test_large_right_results_are_still_read():
    n = 200_000
    tests = {"kind": "call", "entry_point": "f", "cases": [{"args": [], "expected": [0.3] * n},
                                                          {"args": [], "expected": list(range(n))}]}
    program = f"def f():\n    f.k = getattr(f, 'k', -1) + 1\n    return [0.1 + 0.2] * {n} if f.k == 0 else list(range({n}))\n"
    assert run_tests(program, tests, replace(FAST, timeout_s=5.0)).passed


# --- the same through the reward service, the code spec and the trainers' adapters --------

@pytest.fixture(scope="module")
def code_service():
    from verifiers.code import CodeVerifier
    from verifiers.runtime.local import RewardService
    # A base deadline far below the tests' time: only the code verifier's budget_s keeps the
    # service from cutting the sandbox short and reporting its own, unscored, `timeout`.
    with RewardService(CodeVerifier(timeout_s=0.5), workers=1, timeout_s=0.1) as service:
        yield service


def fence(program: str) -> str:
    return f"<answer>\n```python\n{program}```\n</answer>"


SLOW_LOAD_THEN_HANG = "import time\ntime.sleep(2.2)\ndef add(a, b):\n    while True: pass\n"


def test_a_looping_program_through_the_service_is_scored_time_limit(code_service):
    completions = [fence(FUNC_HANGS["busy_loop"])] * 2 + [fence(SCRIPT_HANGS["busy_loop"]),
                                                          fence(SLOW_LOAD_THEN_HANG)]
    references = [ASSERT, CALL, STDIO, ASSERT]
    outcomes = code_service.score_outcomes(completions, references)
    for o in outcomes[:3]:
        assert (o.score.value, o.score.passed, o.score.reason) == (pytest.approx(2 / 3), False, "time_limit"), o
        assert o.score.reason not in UNSCORED_REASONS and o.error is None
    assert (outcomes[3].score.value, outcomes[3].score.reason) == (0.0, "time_limit"), outcomes[3]
    assert code_service.stats["timeouts"] == 0


def test_the_adapters_and_the_trainer_score_time_limit_as_a_wrong_answer():
    from grpo.scoring import UNSCORED_REASONS as GRPO_UNSCORED
    from grpo.scoring import to_rewards
    from verifiers.integrations.openrlhf import openrlhf_response
    from verifiers.integrations.trl import trl_reward
    from verifiers.integrations.verl import VerlReward
    from verifiers.runtime.local import Outcome
    from verifiers.score import Score

    verdict = Score(2 / 3, False, "time_limit", {"code": 2 / 3})

    class Fixed:  # stands in for a service that returned this verdict
        def score_outcomes(self, completions, references, specs=None):
            return [Outcome(verdict)] * len(completions)

    assert "time_limit" not in GRPO_UNSCORED
    for timeout_reward in (None, 0.0):
        assert to_rewards([verdict], timeout_reward) == [pytest.approx(2 / 3)]
    assert trl_reward("code", service=Fixed())(["p"], ["c"], None, reference=[ASSERT]) == [pytest.approx(2 / 3)]
    assert VerlReward(spec="code", service=Fixed()).compute_score("apps", "c", ASSERT) == {
        "score": pytest.approx(2 / 3), "acc": 0.0, "unscored": 0.0}
    out = openrlhf_response([Outcome(verdict)], ["code"])
    assert out["rewards"] == [pytest.approx(2 / 3)] and out["extra_logs"]["unscored"] == [0.0]


def test_grpo_counts_a_timed_out_math_item_as_a_failure_by_default():
    from grpo.config import GRPOConfig
    from grpo.scoring import to_rewards
    from verifiers.score import Score

    default = GRPOConfig.model_fields["timeout_reward"].default
    assert default == 0.0
    rewards = to_rewards([Score(0.0, False, "timeout"), Score(0.0, False, "crashed"),
                          Score(0.0, False, "bad_reference")], default)
    assert rewards[:2] == [0.0, 0.0] and math.isnan(rewards[2])


# --- 5. numbers compare exactly unless the expected value is a float ---------------------

@pytest.mark.parametrize("got, expected", [
    ("999999000", "999999937"),            # within a float tolerance of the right answer
    (str(10**30), str(10**30 + 1)),
    ("٤٢", "42"), ("４２", "42"), ("4_2", "42"),   # Python's int() reads these as 42
    ("+42", "42"), ("042", "42"), ("42.0", "42"), ("4.2e1", "42"), ("0x2a", "42"), ("1e2", "100"),
    ("-0", "0"), ("0", "-0"),
    ("inf", "1.5"), ("nan", "1.5"), ("infinity", "1e999"), ("1e999", "1e999999"),
    ("1_0.5", "10.5"), ("١٠.٥", "10.5"), ("１０.５", "10.5"), ("2.6", "2.50"), ("0x1p1", "2.0"),
    ("1\u30002", "1 2"), ("1\xa02", "1 2"), ("1\x1c2", "1 2"), ("1\u20282", "1 2"),  # non-ASCII separators
    ("yes", "YES"), ("3", "3 4"), ("3 4", "3"),
])
def test_stdio_tokens_that_must_not_match(got, expected):
    assert not tokens_equal(got, expected)


@pytest.mark.parametrize("got, expected", [
    ("42", "42"), ("-7 8\n", "-7\n8"), ("  1\t2\r\n3  ", "1 2 3"), ("", "\n"),
    ("2.5000001", "2.50"), ("2.5", "2.50"), ("+2.5", "2.50"), ("25e-1", "2.50"), ("3", "3.0"),
    ("100", "1e2"), ("-0.0", "0.0"), (".5", "0.5"), ("5.", "5.0"),
    ("nan", "nan"), ("inf", "inf"), ("YES", "YES"),        # not numbers here: the same string
])
def test_stdio_tokens_that_match(got, expected):
    assert tokens_equal(got, expected)


def test_stdio_end_to_end_off_by_a_little_or_spelled_differently_is_wrong():
    tests = {"kind": "stdio", "cases": [{"stdin": "", "stdout": "999999937\n"}]}
    for printed in ("999999000", "999999937.0", "٩٩٩٩٩٩٩٣٧", "999_999_937", "+999999937"):
        rep = run_tests(f"print({printed!r})", tests, FAST)
        assert rep.outcomes[0].reason == "wrong_answer", printed
    assert run_tests("print(999999937)", tests, FAST).passed


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("got, expected", [
    (1e9, 1000000007), (1000000007.0, 1000000007), (6.0, 6), (True, 1), (1, True), (0, False), (None, 0),
    (10**30 + 1, 10**30), (1 + 0j, 1), (1 + 0j, 1.0), ("1", 1), (b"a", "a"),
    ({1, 2}, [1, 2]), (frozenset({1, 2}), [1, 2]), ([2, 1], [1, 2]), ([[2, 1]], [[1, 2]]),
    ([{1, 2}], [[1, 2]]), ((1, (2, 3)), [1, [2, 4]]), ([1, True], [1, 1]),
    ({"a": 1.0}, {"a": 1}), ({1: "x", "1": "y"}, {"1": "x", "2": "y"}), ({True: 1}, {1: 1}),
    ({"a": 1, "b": 2}, {"a": 1}), (NAN, 1.0), (1.0, NAN), (1e308, INF), (-INF, INF),
    (10**400, 1.0), (10**400, INF), (True, 1.0), (Opaque("E"), 3), ([Opaque("E")], [3]),
])
def test_call_values_that_must_not_match(got, expected):
    assert not values_equal(got, expected)


@pytest.mark.parametrize("got, expected", [
    (1000000007, 1000000007), (10**30 + 1, 10**30 + 1), (3, 3.0), (2.5000001, 2.5), (-0.0, 0.0),
    (NAN, NAN), (INF, INF), (1.0, 1 + 0j), (True, True), (None, None),
    ((1, 2), [1, 2]), ([1, (2, 3)], [1, [2, 3]]), ({"b": 1, "a": [2, 3]}, {"a": [2, 3], "b": 1}),
    ({1: "x"}, {"1": "x"}), ({3, 1, 2}, {1, 2, 3}), ({(1, 2)}, frozenset({(1, 2)})),
])
def test_call_values_that_match(got, expected):
    assert values_equal(got, expected)


@pytest.mark.parametrize("got, expected, ok", [
    ({1, 2}, [2, 1], True), ((2, 1), [1, 2], True), ([1, 2, 2], [2, 1, 2], True), ([1, 1, 2], [1, 2, 2], False),
    ({1, 2}, [1, 2, 2], False), ([True, 1], [1, 1], False), ([1.0, 2], [2, 1], False),
    ([[2, 1]], [[1, 2]], False),                               # only the top level is unordered
    ([0.3, 0.1, 0.2], [0.1, 0.2, 0.30000001], True), ([NAN, 1.0], [1.0, NAN], True), ([NAN, 1.0], [1.0, 2.0], False),
    ([{"b": 2}, {"a": 1}], [{"a": 1}, {"b": 2}], True), ([3, 1.5], [1.5, 3], True), ([3.0, 1.5], [1.5, 3], False),
    (list(range(20000))[::-1], list(range(20000)), True),  # linear: a reversed result costs no more
])
def test_unordered_matches_the_same_elements_in_any_order(got, expected, ok):
    assert values_equal(got, expected, unordered=True) is ok


def test_call_end_to_end_float_for_int_and_set_for_list_are_wrong_unless_declared():
    tests = {"kind": "call", "entry_point": "f", "cases": [
        {"args": [0], "expected": 1000000007}, {"args": [1], "expected": [1, 2, 3]},
        {"args": [2], "expected": [1, 2, 3], "unordered": True}]}
    cheat = "def f(k):\n    return [1e9, {3, 2, 1}, {3, 2, 1}][k]\n"
    assert [o.passed for o in run_tests(cheat, tests, FAST).outcomes] == [False, False, True]
    right = "def f(k):\n    return [1000000007, [1, 2, 3], [3, 1, 2]][k]\n"
    assert run_tests(right, tests, FAST).passed
    every = {**tests, "unordered": True, "cases": [{**tests["cases"][0], "unordered": False}, *tests["cases"][1:]]}
    assert [o.passed for o in run_tests(cheat, every, FAST).outcomes] == [False, True, True]


@pytest.mark.parametrize("tests", [
    {"kind": "call", "entry_point": "f", "unordered": 1, "cases": [{"expected": [1]}]},
    {"kind": "call", "entry_point": "f", "cases": [{"expected": [1], "unordered": "yes"}]},
    {"kind": "call", "entry_point": "f", "unordered": True, "cases": [{"expected": 3}]},
    {"kind": "call", "entry_point": "f", "cases": [{"expected": {"a": 1}, "unordered": True}]},
    {"kind": "stdio", "unordered": True, "cases": [{"stdout": "1 2"}]},
    {"kind": "stdio", "cases": [{"stdout": "1 2", "unordered": True}]},
    {"kind": "assert", "unordered": True, "tests": ["assert True"]},
])
def test_unordered_is_validated(tests):
    with pytest.raises(BadTests, match="unordered"):
        validate(tests)


def test_unordered_false_is_always_allowed():
    validate({"kind": "call", "entry_point": "f", "unordered": True,
              "cases": [{"expected": 3, "unordered": False}, {"expected": [1, 2]}]})
    validate({"kind": "stdio", "unordered": False, "cases": [{"stdout": "1"}]})


# --- A2. nothing the program sends makes run_tests raise ---------------------------------
# A judge that raises turns the item into the reward service's unscored `error`: the wrong
# program escapes its penalty. Every frame, value, nesting and size (up to the caps) must end
# as that test's scored failure. Property-style: seeded random hostile data, every wire tag.

SENTINEL = "ꙮ never produced by the generator"
_TAGS = ["t", "d", "s", "fs", "i", "f", "b", "c", "h", "r", "x", "nd", "ns", "v", "e", "stop"]


def _atom(rng):
    return rng.choice([
        None, True, False, 0, -1, 1 << 62, -(1 << 63), 10 ** 4000, -(10 ** 300), 1e308, -1e-320,
        math.nan, math.inf, -math.inf, "", "nan", "inf", "-inf", "f" * 300, "zz", "-", "0x10",
        "\ud800", "é" * 50, [], {}, [[]], {"": None},
        # shapes that broke a decoder or a comparison before: complex and float conversions
        # of ints past float range, NaN against ints, a bad tag inside a good one
        {"c": [{"i": "f" * 300}, 0]}, {"c": [10 ** 400, 1]}, {"c": [0, {"i": "-" + "f" * 300}]},
        {"c": [{"c": [1, 2]}, 0]}, {"s": [{"i": "f" * 300}, 1.5]}, {"t": [{"c": [10 ** 309, 0]}]},
    ])


def _tagged(rng, depth):
    tag = rng.choice(_TAGS)
    body = rng.choice([
        lambda: _atom(rng), lambda: [hostile_value(rng, depth + 1) for _ in range(rng.randrange(4))],
        lambda: "f" * rng.choice([1, 300, 5000]), lambda: [{"i": "f" * 300}, rng.choice([0, 1e308, math.nan])],
        lambda: [[hostile_value(rng, depth + 1), hostile_value(rng, depth + 1)]],
        lambda: ["<i8", [2], [10 ** 30, 1]], lambda: ["<U999999999", [1], ["x"]], lambda: ["O", [1], [1]],
        lambda: ["<f8", [3], [1.0]], lambda: ["|b1", [-1], []], lambda: ["<i8", {"x": 1}],
    ])()
    value = {tag: body}
    if rng.random() < 0.3:  # a second key, or a third
        value[rng.choice(_TAGS)] = hostile_value(rng, depth + 1)
    return value


def _deep(rng):
    # JSON levels: about the wire's MAX_DEPTH, past it, and near what json itself accepts
    # (deeper lines, which json refuses, are in hostile_frame)
    levels = rng.choice([150, 199, 201, 400, 700])
    per, wrap = rng.choice([(1, lambda v: [v]), (2, lambda v: {"t": [v]}), (2, lambda v: {"c": [v, 0]}),
                            (3, lambda v: {"d": [[0, v]]}), (1, lambda v: {"h": 0, "r": v})])
    v = rng.choice([0, {"i": "f" * 300}, "x"])
    for _ in range(levels // per):
        v = wrap(v)
    return v


def hostile_value(rng, depth: int = 0):
    """A JSON-able structure built to break a decoder: every wire tag, wrong arities and types,
    ints past float range, NaN and infinities, deep nesting, huge claimed sizes."""
    if depth > 3:
        return _atom(rng)
    return rng.choice([lambda: _atom(rng), lambda: _tagged(rng, depth), lambda: _deep(rng),
                       lambda: [hostile_value(rng, depth + 1) for _ in range(rng.randrange(5))]])()


def _line(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"  # NaN/Infinity as Python writes them


def hostile_frame(rng, k: int) -> bytes:
    """One line on the `call` result channel for case k: mostly a well-formed frame with a
    hostile value, sometimes a frame that is hostile in itself."""
    if rng.random() < 0.75:
        return _line({"i": k, "v": hostile_value(rng)})
    return rng.choice([
        lambda: _line({"i": k, "e": hostile_value(rng), "reason": hostile_value(rng), "detail": _deep(rng)}),
        lambda: _line({"i": k, "reason": "memory", "detail": [[[[[]]]]]}),
        lambda: _line({"i": str(k), "v": 1}), lambda: _line({"i": float(k), "v": 1}),
        lambda: _line({"i": True, "v": 1}), lambda: _line({"i": 10 ** 100, "v": 1}),
        lambda: _line({"i": k, "v": 1, "extra": _deep(rng)}), lambda: _line({"i": k}),
        lambda: _line([k, 1]), lambda: _line("str"), lambda: _line(12),
        lambda: _line({"load_error": _deep(rng), "detail": _deep(rng)}),
        lambda: _line({"started": 1, "cpu_s": 0}), lambda: _line({"loaded": 1}),
        lambda: b"\xff\xfe not json\n", lambda: b'{"i": ' + b"9" * 5000 + b"}\n",
        lambda: b"[" * 100_000 + b"\n", lambda: b'{"i": %d, "v": "' % k + b"x" * (2 << 20) + b'"}\n',
    ])()


def test_the_reported_overflow_is_a_wrong_answer():
    prog = ("import os\ndef two_sum(nums, target):\n"
            "    os.write(4, b'{\"i\":0,\"v\":{\"c\":[{\"i\":\"' + b'f'*300 + b'\"},0]}}\\n')\n    os._exit(0)\n")
    tests = {"kind": "call", "entry_point": "two_sum", "cases": [{"args": [[2, 7, 11, 15], 9], "expected": [0, 1]}]}
    assert [o.reason for o in run_tests(prog, tests, FAST).outcomes] == ["wrong_answer"]


@pytest.mark.parametrize("value, expected", [
    ({"c": [{"i": "f" * 300}, 0]}, [0, 1]), ({"c": [0, {"i": "-" + "f" * 300}]}, 1j),
    ({"i": "f" * 300}, 1.5), ({"i": "f" * 300}, math.inf), ({"i": "f" * 300}, 1 + 2j),
    ({"f": "nan"}, 3), ([{"i": "f" * 300}, {"f": "nan"}], [1.0, 2.0]), ({"i": "f" * 300}, {"a": 1}),
    ({"s": [{"i": "f" * 300}, 1.5, {"f": "nan"}]}, [1.5, 2.0]), ({"d": [[{"i": "f" * 5000}, 1]]}, {"1": 1}),
])
def test_values_that_cannot_be_compared_are_wrong_answers(value, expected):
    line = json.dumps({"i": 0, "v": value})
    prog = f"import os\ndef f():\n    os.write(4, {line!r}.encode() + b'\\n')\n    os._exit(0)\n"
    for unordered in (False, True):
        if unordered and type(expected) is not list:
            continue
        tests = {"kind": "call", "entry_point": "f", "unordered": unordered, "cases": [{"args": [], "expected": expected}]}
        assert [o.reason for o in run_tests(prog, tests, FAST).outcomes] == ["wrong_answer"]


def test_wire_decode_raises_wire_error_and_nothing_else():
    rng = random.Random(16)
    for _ in range(3000):
        data = hostile_value(rng)
        for from_handle in (None, lambda h, r: Opaque(r)):
            try:
                wire.decode(data, from_handle)
            except wire.WireError:
                pass


def test_values_equal_never_raises():
    rng = random.Random(17)
    specials = [10 ** 400, -(10 ** 400), math.nan, math.inf, -math.inf, 1e308, 0, 1.5, 1 + 2j,
                complex(math.nan, 1), True, "1", b"1", None, Opaque("E"), (), frozenset({10 ** 400})]
    expecteds = [1.5, math.nan, math.inf, 1 + 2j, 3, [1.0, 2.0], [1, 2], {"1": 1.0}, {1: [2.0]},
                 {1.5, 2.5}, (1.0, math.nan), [[1.0]], "x", None]
    for _ in range(3000):
        try:
            got = wire.decode(hostile_value(rng))
        except wire.WireError:
            got = rng.choice(specials)
        if rng.random() < 0.3:
            got = [rng.choice(specials) for _ in range(rng.randrange(4))]
        expected = rng.choice(expecteds)
        for unordered in (False, True):
            assert values_equal(got, expected, unordered=unordered) in (True, False)


def test_fuzzed_call_frames_never_make_run_tests_raise():
    rng = random.Random(18)
    n = 60
    lines = [hostile_frame(rng, k) for k in range(n)]
    # f(k) writes the lines for cases k.. itself and exits: after each line that ends a round
    # (garbage, out of turn), the judge restarts the program at the next case.
    prog = ("import json, os\n"
            f"LINES = [bytes.fromhex(h) for h in json.loads({json.dumps([x.hex() for x in lines])!r})]\n"
            "def f(k):\n"
            "    for line in LINES[k:]:\n"
            "        view = memoryview(line)\n"
            "        try:\n"
            "            while view:\n"
            "                view = view[os.write(4, view):]\n"
            "        except OSError:\n"
            "            break\n"
            "    os._exit(0)\n")
    tests = {"kind": "call", "entry_point": "f", "cases": [{"args": [k], "expected": SENTINEL} for k in range(n)]}
    rep = run_tests(prog, tests, replace(FAST, timeout_s=5.0))
    assert len(rep.outcomes) == n and not any(o.passed for o in rep.outcomes)
    assert_scored(rep.outcomes)


def test_fuzzed_stdio_output_never_makes_run_tests_raise():
    rng = random.Random(19)
    outputs = [bytes(rng.randrange(256) for _ in range(rng.randrange(200))) for _ in range(6)]
    outputs += [json.dumps(hostile_value(rng)).encode() for _ in range(6)]
    outputs += [b"9" * 100_000, b"1e99999999 nan -inf 0x1p3 \xff", "٤٢ ４２ 4_2".encode()]
    prog = ("import os, sys\n"
            f"OUT = [bytes.fromhex(h) for h in {[o.hex() for o in outputs]!r}]\n"
            "k = int(input())\n"
            "for fd in (4, 5, 6):  # the parent's channels: none is open to the program\n"
            "    try:\n        os.write(fd, b'{\"started\": 1, \"cpu_s\": 0}\\n{\"i\": 0, \"v\": 1}\\n')\n"
            "    except OSError:\n        pass\n"
            "sys.stderr.buffer.write(OUT[-k - 1])\nsys.stdout.buffer.write(OUT[k])\n")
    tests = {"kind": "stdio", "cases": [{"stdin": f"{k}\n", "stdout": SENTINEL} for k in range(len(outputs))]}
    rep = run_tests(prog, tests, FAST)
    assert len(rep.outcomes) == len(outputs) and not any(o.passed for o in rep.outcomes)
    assert {o.reason for o in rep.outcomes} <= {"wrong_answer", "output_limit"}  # 100 kB > the 64 kB cap


# --- C4. timeout_s is the program's own time ---------------------------------------------
# Start-up (fork, namespaces, reading the job) is ours and not counted; the program's own
# time is: from the harness's `started` frame, timeout_s of wall clock per test, and for a
# stdio case the CPU time of its threads and waited-for children too. No slack on top.

BURN = "import time\ndef burn(s):\n    t = time.process_time()\n    while time.process_time() - t < s:\n        pass\n"
SEC = replace(TIGHT, timeout_s=1.0)


def test_a_stdio_case_that_computes_longer_than_the_limit_is_time_limit():
    # 1.3 s of CPU with timeout_s=1 passed before: timeout_s + 1 of wall clock per case.
    prog = BURN + "a, b = map(int, input().split())\nburn(1.3 if a == 5 else 0)\nprint(a + b)\n"
    assert [o.reason for o in run_tests(prog, STDIO, SEC).outcomes] == ["ok", "time_limit", "ok"]


def test_a_stdio_case_is_bounded_by_cpu_time_across_processes():
    # Three processes of 0.45 s each: within a second of wall clock on enough cores, but
    # 1.35 s of the program's CPU time. (On a busy machine the wall clock catches it first.)
    prog = (BURN + "import os\na, b = map(int, input().split())\n"
            "if a == 5:\n    kids = []\n    for _ in range(3):\n        pid = os.fork()\n"
            "        if pid == 0:\n            burn(0.45)\n            os._exit(0)\n        kids.append(pid)\n"
            "    for pid in kids:\n        os.waitpid(pid, 0)\nprint(a + b)\n")
    assert [o.reason for o in run_tests(prog, STDIO, SEC).outcomes] == ["ok", "time_limit", "ok"]


@pytest.mark.parametrize("kind", ["call", "assert"])
def test_the_first_test_after_a_restart_gets_no_extra_second(kind):
    # Case (5, 7) hangs, so the run restarts for (-1, 1), which computes for 1.3 s: the first
    # test of a fresh process had timeout_s + 1 s before.
    prog = BURN + ("def add(a, b):\n    if a == 5:\n        while True: pass\n"
                   "    if a == -1:\n        burn(1.3)\n    return a + b\n")
    assert [o.reason for o in run_tests(prog, ALL[kind], SEC).outcomes] == ["ok", "time_limit", "time_limit"]


def test_a_call_program_that_hangs_while_loading_costs_one_round(monkeypatch):
    # The judge cannot tell a hang while loading from a hang in the first case without the
    # harness's `loaded` frame; with it, every case fails at once instead of one restart
    # (and timeout_s) per case.
    from sandboxes import judge
    spawns = []
    real = judge.spawn

    def counting(*a, **kw):
        spawns.append(a[0]["role"])
        return real(*a, **kw)

    monkeypatch.setattr(judge, "spawn", counting)
    rep = run_tests("while True: pass\ndef add(a, b):\n    return a + b\n", CALL, FAST)
    assert [o.reason for o in rep.outcomes] == ["time_limit"] * 3 and spawns == ["call"]
    spawns.clear()
    rep = run_tests(FUNC_HANGS["busy_loop"], CALL, FAST)  # a case that hangs still fails alone
    assert [o.reason for o in rep.outcomes] == ["ok", "time_limit", "ok"] and spawns == ["call", "call"]
