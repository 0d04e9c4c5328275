"""Attacks on the judging layer: how a program's run becomes a verdict and a reward.

Written as the policy under RL pressure would try them. Two classes:

- escape the penalty by hanging: a program that loops (in a test, while loading, in the
  setup, on one input, past its CPU limit) must come back as a scored wrong answer
  (`time_limit`, credit kept for the tests it passed), never as an unscored item that a
  trainer drops, and within the deadline the reward service sets for it;
- pass with a wrong number: an integer off by less than a float tolerance, a Python-only
  spelling (`٤٢`, `4_2`), a float for an int, a set or a reordered list for an ordered one.

Every program here is harmless outside a sandbox: loops and sleeps only, bounded by small
time limits (0.5-1 s) so that the file stays fast.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from sandboxes import BadTests, budget_s, run, run_tests, validate
from sandboxes.judge import REASONS
from sandboxes.wire import Opaque, tokens_equal, values_equal
from tests.sandboxes.conftest import TIGHT
from verifiers.service import UNSCORED_REASONS

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
    from verifiers.service import RewardService
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
    from verifiers.for_openrlhf import openrlhf_response
    from verifiers.for_trl import trl_reward
    from verifiers.for_verl import VerlReward
    from verifiers.score import Score
    from verifiers.service import Outcome

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
