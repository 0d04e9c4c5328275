"""Attacks on the reward service, written as the attacker would try them (issue 16, items 6, 7, 11).

Data chooses which verifier scores it, never looser limits than the operator's (6); a bad item or
an exception from outside the call never lets one item's verdict land on, or be cached for,
another (7); no reward the service returns is ever non-finite (11).
"""

import math
import signal
import time

import pytest

from verifiers import Score, SpecError, Verifier
from verifiers.runtime.local import RewardService
from verifiers.score import BadReference
from verifiers.spec import check_within, parse_spec, register


class _Judge(Verifier):
    """`slow:X` sleeps, then X is compared with the reference. Its budget_s, which runs in the
    parent as code's does, rejects a dict or a string starting with "~"."""

    name = "judge"

    def budget_s(self, reference):
        if isinstance(reference, dict) or (isinstance(reference, str) and reference.startswith("~")):
            raise BadReference(f"judge cannot use the reference {reference!r:.40}")
        return 0.0

    def score(self, completion, reference):
        if completion.startswith("slow:"):
            time.sleep(3.0)
            completion = completion[5:]
        ok = completion == reference
        return Score(float(ok), ok, "ok" if ok else "mismatch", {"judge": float(ok)})


JUDGE = _Judge()


@pytest.fixture
def service():
    with RewardService(JUDGE, workers=2, timeout_s=30.0) as s:
        s.score(["warm", "up"], ["warm", "up"])  # both workers started: items go out at once
        yield s


def _deep(n):
    x: list = []
    for _ in range(n - 1):
        x = [x]
    return x


# --- 7: a bad item in the middle of dispatch ------------------------------------------------------
@pytest.mark.parametrize("bad", ["~malformed", {"kind": "nope"}, _deep(600), _deep(5000)],
                         ids=["string", "dict", "nested-600-deep", "nested-5000-deep"])
def test_a_bad_item_is_its_own_error_and_leaks_no_verdict(service, bad):
    # Items go out sorted by reference: "A" first, so the right-but-slow answer is in flight on
    # one worker when the bad item fails in the parent.
    out = service.score_outcomes(["slow:A", "x"], ["A", bad])
    assert out[0].score.passed
    assert out[1].score.reason in ("bad_reference", "error") and out[1].error
    # The next batch: a wrong program must not inherit the slow item's verdict, nor its cache.
    for _ in range(2):
        nxt = service.score(["wrong", "wrong"], ["A", "B"])
        assert [s.passed for s in nxt] == [False, False]


def test_a_very_deep_spec_is_its_items_error(service):
    specs = [None, "(" * 5000 + "judge" + ")" * 5000, "(" * 1000 + "math" + ")" * 1000, "-" * 3000 + "math",
             "+".join(["math"] * 2000), "+".join(["math"] * 100)]
    out = service.score_outcomes(["right"] * len(specs), ["right"] * len(specs), specs)
    assert out[0].score.passed
    assert all(o.score.reason == "error" and "bad reward spec" in o.error for o in out[1:])


def test_a_reply_to_another_request_is_never_taken_as_this_items_verdict(service):
    # A worker that answers a request the parent did not just send (a stale one): the parent
    # must notice by the request id, not file the verdict under whatever it waits for.
    w = service._workers[0]
    w.conn.send(("item", 10 ** 9, next(iter(service._objects)), "right", "right"))
    time.sleep(0.5)  # the stale "passed" reply is waiting in the pipe
    out = service.score_outcomes(["wrong"], ["right"])
    assert not out[0].score.passed
    assert [s.passed for s in service.score(["wrong", "right"], ["right", "right"])] == [False, True]


def test_an_exception_raised_by_a_signal_handler_inside_score_leaks_nothing(service):
    # verl's per-item timeout raises from SIGALRM inside compute_score_batch.
    def timeout(signum, frame):
        raise TimeoutError("verl: reward timed out")

    old = signal.signal(signal.SIGALRM, timeout)
    try:
        # One worker is still sleeping on the right answer when the alarm fires; the other is idle.
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(TimeoutError):
            service.score(["slow:right", "fine"], ["right", "fine"])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    # The idle worker answers the wrong program first; the sleeping one's "passed" must not
    # overwrite it, nor be cached for it.
    for _ in range(2):
        assert service.score_outcomes(["wrong"], ["right"])[0].score.reason == "mismatch"
    # Every later call is exact: no stale verdict, no IndexError, no timeouts.
    out = service.score_outcomes(["wrong", "nope", "right"], ["right", "fine", "right"])
    assert [o.score.reason for o in out] == ["mismatch", "mismatch", "ok"]


def test_verl_batches_after_a_sigalrm_timeout_score_right_answers_right():
    # The reported failure, end to end: after one interrupted compute_score_batch, later calls
    # timed out or raised IndexError, and a right answer scored 0.
    from verifiers.integrations.verl import VerlReward

    register("slowjudge", _Judge)
    reward = VerlReward(spec="slowjudge", workers=2, timeout_s=30.0)
    old = signal.signal(signal.SIGALRM, lambda signum, frame: (_ for _ in ()).throw(TimeoutError("verl")))
    try:
        reward.compute_score_batch(["d", "d"], ["warm", "up"], ["warm", "up"])  # both workers started
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(TimeoutError):
            reward.compute_score_batch(["d", "d"], ["slow:A", "B"], ["A", "B"])
        signal.setitimer(signal.ITIMER_REAL, 0)
        for _ in range(2):
            assert reward.compute_score_batch(["d"], ["wrong"], ["A"]) == [{"score": 0.0, "acc": 0.0, "unscored": 0.0}]
        out = reward.compute_score_batch(["d"] * 3, ["wrong", "A", "nope"], ["A", "A", "B"])
        assert [(o["score"], o["unscored"]) for o in out] == [(0.0, 0.0), (1.0, 0.0), (0.0, 0.0)]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        reward.close()


# --- 11: no non-finite reward ---------------------------------------------------------------
class _Returns(Verifier):
    name = "returns"

    def __init__(self, value, part=0.0):
        self.value, self.part = value, part

    def score(self, completion, reference):
        return Score(self.value, True, "ok", {"returns": self.part})


@pytest.mark.parametrize("verifier", [_Returns(math.nan), _Returns(math.inf), _Returns(-math.inf),
                                      _Returns(1.0, math.nan), _Returns("1"), 1e6 * _Returns(1e303),
                                      _Returns(1e308) + _Returns(1e308)],
                         ids=["nan", "inf", "-inf", "nan-part", "str", "weight-overflow", "sum-overflow"])
def test_a_verifier_returning_a_non_finite_reward_is_an_error_for_that_item(verifier):
    with RewardService(verifier, workers=1) as s:
        o = s.score_outcomes(["x"], [None])[0]
    assert o.score.reason == "error" and o.score.value == 0.0 and not o.score.passed and o.error
    assert all(math.isfinite(v) for v in o.score.parts.values())


@pytest.mark.parametrize("spec", ["1e999*math", "1e7*math", "1000*1000*1000*math", "1e308*math",
                                  "overlong(max_len=1e999)", "overlong(max_len=" + "9" * 5000 + ")"])
def test_non_finite_or_absurd_weights_and_numbers_are_spec_errors(spec):
    with pytest.raises(SpecError):
        parse_spec(spec)


def test_a_non_finite_weight_in_python_is_refused():
    math_verifier = parse_spec("math")
    for w in (math.inf, math.nan, 1e9):
        with pytest.raises(ValueError):
            w * math_verifier  # noqa: B018


def test_a_per_item_non_finite_spec_is_that_items_error(service):
    out = service.score_outcomes(["right", "right"], ["right", "right"], [None, "1e999*judge"])
    assert out[0].score.passed and out[1].score.reason == "error" and "bad reward spec" in out[1].error


@pytest.mark.parametrize("timeout_s", [math.nan, math.inf, 0.0, -1.0])
def test_the_service_deadline_must_be_finite_and_positive(timeout_s):
    with pytest.raises(ValueError):
        RewardService("math", workers=1, timeout_s=timeout_s)


# --- 6: a spec chosen by data never loosens the operator's limits ---------------------------------
_TESTS_NOT_RUN = {"kind": "no such kind"}  # the item stops at its reference: nothing is executed


@pytest.fixture(scope="module")
def math_service():
    with RewardService("0.1*format + math", workers=1, timeout_s=5.0) as s:
        yield s


@pytest.mark.parametrize("spec", [
    "code(isolation=rlimits)",
    "code(isolation='rlimits')",
    "code(isolation=none)",
    "code(timeout_s=100000)",
    "code(timeout_s=1e18)",
    "code(timeout_s=nan)",
    "code(timeout_s=inf)",
    "code(timeout_s='1')",
    "code(memory_bytes=100000000000)",
    "code(output_bytes=1e12)",
    "code(max_processes=100000)",
    "code(timeout_s=1, isolation=rlimits)",
    "0.1*format + (math | code(isolation=rlimits))",
    "((((code(timeout_s=60)))))",
    "-code(timeout_s=60)",
    "math & 0.5*code(memory_bytes=1e15)",
])
def test_data_cannot_loosen_isolation_or_limits(math_service, spec):
    out = math_service.score_outcomes(["x", "\\boxed{2}"], [_TESTS_NOT_RUN, "2"], [spec, None])
    assert out[0].score.reason == "error" and "bad reward spec" in out[0].error, out[0]
    assert out[1].score.parts["math"] == 1.0  # the batch goes on


@pytest.mark.parametrize("spec", ["code", "code(timeout_s=1)", "code(isolation=namespaces, memory_bytes=1000000)",
                                  "2*math", "format & code(max_processes=4)", "exact | math"])
def test_data_may_choose_the_verifier_and_tighten_its_limits(math_service, spec):
    out = math_service.score_outcomes(["x"], [_TESTS_NOT_RUN], [spec])[0]
    assert "bad reward spec" not in (out.error or ""), out


def test_the_operators_own_limits_are_the_ceiling_not_the_defaults():
    with RewardService("code(timeout_s=1, isolation=rlimits)", workers=1) as s:
        allowed, tighter, default = s.score_outcomes(["x"] * 3, [_TESTS_NOT_RUN] * 3,
                                                     ["code(isolation=rlimits, timeout_s=0.5)",
                                                      "code(isolation=namespaces, timeout_s=1)", "code"])
    assert "bad reward spec" not in (allowed.error or "") and "bad reward spec" not in (tighter.error or "")
    assert "timeout_s=5" in default.error  # the default 5 s is more than this operator's 1 s


def test_spec_ceiling_widens_what_data_may_ask_for():
    with RewardService("math", workers=1, spec_ceiling="code(timeout_s=20)") as s:
        ok, over = s.score_outcomes(["x", "x"], [_TESTS_NOT_RUN] * 2, ["code(timeout_s=10)", "code(timeout_s=30)"])
    assert "bad reward spec" not in (ok.error or "") and "bad reward spec" in over.error


def test_a_registered_alias_is_bounded_by_its_class_not_its_name():
    # An operator's plugin name that builds a code verifier is still a code verifier.
    from verifiers.code import CodeVerifier

    register("loosecode", lambda: CodeVerifier(isolation="rlimits", timeout_s=60))
    with pytest.raises(SpecError, match="isolation"):
        check_within(parse_spec("loosecode"), parse_spec("math"))
    check_within(parse_spec("loosecode"), parse_spec("code(isolation=rlimits, timeout_s=60)"))


class _Knobbed(Verifier):
    """A custom verifier with a resource knob and no defaults."""

    name = "knobbed"

    def __init__(self, seconds):
        self.seconds = seconds

    def resource_limits(self):
        return {"seconds": self.seconds}

    def score(self, completion, reference):
        return Score(1.0, True)


def test_a_custom_knob_is_bounded_by_the_operators_and_refused_without_one():
    register("knobbed", _Knobbed)
    check_within(parse_spec("knobbed(seconds=1)"), parse_spec("knobbed(seconds=2)"))
    with pytest.raises(SpecError, match="seconds"):
        check_within(parse_spec("knobbed(seconds=3)"), parse_spec("knobbed(seconds=2)"))
    with pytest.raises(SpecError, match="no default"):
        check_within(parse_spec("knobbed(seconds=1)"), parse_spec("math"))


@pytest.mark.parametrize("spec", [42, ["math"], {"spec": "math"}, 1.5, True])
def test_a_spec_that_is_not_a_string_is_that_items_error(math_service, spec):
    out = math_service.score_outcomes(["\\boxed{2}", "\\boxed{2}"], ["2", "2"], [spec, None])
    assert out[0].score.reason == "error" and out[1].score.parts["math"] == 1.0
