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


# --- The parent does no work on a completion's content (second red team, items 1, 2) -------------
from verifiers.workers import SPEC_CACHE_SIZE, VerifierTable  # noqa: E402

from tests.verifiers.parent_guard import record_parent_extraction  # noqa: E402
from verifiers.keys import LRU  # noqa: E402


@pytest.mark.parametrize("spec", ["math", "exact", "format & math", "+".join(["math"] * 64)])
def test_the_parent_never_extracts_answers_or_computes_cache_keys(monkeypatch, spec):
    # 32K-character answers full of dots: extraction took 10 s in the parent, with no deadline,
    # once per leaf of `math+math+...`. Now the workers compute keys, under the item's deadline.
    calls = record_parent_extraction(monkeypatch)
    completions = ["#### " + "." * 32000 + "x" * (i + 1) for i in range(2)] + ["\\boxed{2}", "so \\boxed{2}"]
    with RewardService("math", workers=2, timeout_s=3.0, spec_ceiling=spec) as s:
        out = s.score_outcomes(completions, ["7"] * 2 + ["2", "2"], [spec] * 4)  # the long ones may time out
        per_item = s.score_outcomes(["\\boxed{2}"], ["2"], [spec])  # a per-item spec, parsed in the parent
    assert calls == []
    assert all(o.score.reason not in ("error", "bad_reference") for o in out), out
    assert out[2].score.parts.get("math", 1.0) == 1.0 and per_item[0].score.value == out[2].score.value


def test_equal_answers_are_compared_once_across_workers_and_never_across_references():
    # The workers report each item's cache key; the parent reuses a verdict for an equal key
    # (cached or in flight), but only under the same spec and the same reference.
    reasonings = [f"<think>step {i}</think><answer>{a}</answer>" for i, a in enumerate(["1/2", "0.5", "3"] * 6)]
    with RewardService("math", workers=2, timeout_s=30.0) as s:
        out = s.score(reasonings + reasonings[:3], ["1/2"] * 18 + ["3"] * 3)
        assert [x.passed for x in out] == [True, True, False] * 6 + [False, False, True]
        assert s.stats["answer_hits"] >= 10  # 21 items, 6 distinct (answer, reference) pairs
        again = s.score(["<think>new</think><answer>\\frac{1}{2}</answer>", "<think>x</think><answer>3</answer>"],
                        ["1/2", "1/2"])
        assert [x.passed for x in again] == [True, False]


def _typed(reference):
    return f"{type(reference).__name__}:{reference!r:.200}"  # repr tells 1 from 1.0, (1,) from [1] at any depth


class _Typed(Verifier):
    """Reports the reference it was given, types included: any verdict that lands on an item
    with another reference shows."""

    name = "typed"

    def score(self, completion, reference):
        return Score(0.0, False, _typed(reference))


# --- References that serialise alike are different references (item 3) ---------------------------
@pytest.mark.parametrize("a, b", [(["a"], '["a"]'), (None, "null"), (True, "true"), (1, "1"), (("a",), ["a"]),
                                  ({"a": 1}, '{"a": 1}'), ({"a": [1, 2]}, {"a": (1, 2)}), (1, 1.0), (0.0, -0.0)],
                         ids=["list-vs-json", "none-vs-null", "true-vs-text", "int-vs-text", "tuple-vs-list",
                              "dict-vs-json", "nested-tuple", "int-vs-float", "zero-vs-minus-zero"])
def test_references_that_serialise_alike_never_share_a_verdict(a, b):
    with RewardService(_Typed(), workers=1, timeout_s=30.0) as s:
        same_batch = s.score(["x", "x"], [a, b])
        assert [x.reason for x in same_batch] == [_typed(a), _typed(b)]
        for ref in (b, a):  # and across batches, through the verdict cache
            assert s.score(["x"], [ref])[0].reason == _typed(ref)


@pytest.mark.parametrize("bad", [1e999, -1e999, math.nan, {"x": [1e999]}, {1, 2}, b"bytes", object()],
                         ids=["inf", "-inf", "nan", "nested-inf", "set", "bytes", "object"])
def test_a_reference_that_is_not_json_or_not_finite_is_a_bad_reference(bad):
    with RewardService(_Typed(), workers=1, timeout_s=30.0) as s:
        out = s.score_outcomes(["x", "x", "x"], [bad, "Infinity", "nan"])
    assert out[0].score.reason == "bad_reference" and "bad reference" in out[0].error
    assert [o.score.reason for o in out[1:]] == [_typed("Infinity"), _typed("nan")]


# --- Every spec has a bounded reward (item 4) -----------------------------------------------------
def _nested(levels: int) -> str:
    spec = "format+format"
    for _ in range(levels):
        spec = f"1e6*({spec})+format"
    return spec


@pytest.mark.parametrize("spec", [
    "language(weight=1e18)", "repetition(weight=1e18)", "language(weight=1e7)", "repetition(weight=1e6)+math",
    _nested(7), _nested(1), "1e6*(math+format)", "1e6*math + 1e6*math", "1e6*math - format",
    "(1e6*math) | (1e6*math + format)", "1e6*math & (1e6*math + 0.5*format)", "-1e6*(format + -1*math)",
    "٣*math", "１*math", "code(timeout_s=٣)", "overlong(max_len=４096)", "2*math\u3000+ math",
])
def test_a_spec_whose_reward_is_unbounded_or_spelt_in_other_digits_is_refused(spec):
    with pytest.raises(SpecError):
        parse_spec(spec)


@pytest.mark.parametrize("spec, bound", [("1e6*math", 1e6), ("0.1*format + math", 1.1),
                                         ("math - 0.5*repetition(weight=2)", 2.0), ("language(weight=3)", 3.0),
                                         ("(2*math) | (3*format)", 3.0), ("format & 5*math", 5.0)])
def test_a_spec_reports_the_largest_reward_it_can_give(spec, bound):
    assert parse_spec(spec).value_bound() == pytest.approx(bound)


def test_python_composition_is_bounded_however_weights_nest():
    m, f = parse_spec("math"), parse_spec("format")
    with pytest.raises(ValueError, match="limit"):
        1e6 * (1e6 * m + f)  # noqa: B018
    with pytest.raises(ValueError, match="limit"):
        (1e6 * m) + (1e6 * f)  # noqa: B018


class _Bounded(_Returns):
    def value_bound(self):
        return 10.0


@pytest.mark.parametrize("verifier, ok", [(_Returns(1e300), False), (_Returns(2.0), False), (_Returns(-1.5), False),
                                          (_Returns(1.0), True), (_Bounded(9.5), True), (_Bounded(11.0), False),
                                          (3 * _Returns(1.0), True), (3 * _Returns(1.5), False)],
                         ids=["1e300", "2", "-1.5", "1", "within-own-bound", "beyond-own-bound", "scaled",
                              "scaled-beyond"])
def test_a_reward_beyond_the_verifiers_bound_is_an_error(verifier, ok):
    with RewardService(verifier, workers=1) as s:
        o = s.score_outcomes(["x"], [None])[0]
    if ok:
        assert o.error is None and o.score.reason == "ok", o
    else:
        assert o.score.reason == "error" and o.score.value == 0.0 and "bound" in o.error, o


def test_a_custom_verifier_claiming_a_huge_bound_is_refused():
    class Huge(_Returns):
        def value_bound(self):
            return 1e300

    register("huge", lambda: Huge(1.0))
    with pytest.raises(SpecError, match="limit"):
        parse_spec("huge")
    with pytest.raises(SpecError):
        RewardService(Huge(1.0), workers=1)


# --- Bounded memory: digests for keys, LRUs for specs (item 6) -----------------------------------
def test_cached_verdicts_are_keyed_by_a_digest_not_the_completion():
    with RewardService("format", workers=1, timeout_s=30.0) as s:
        s.score(["<think>a</think><answer>" + "x" * 32_000 + str(i) + "</answer>" for i in range(20)], [None] * 20)
        assert len(s._cache) == 20 and all(isinstance(k, bytes) and len(k) == 32 for k in s._cache)


def test_distinct_spec_strings_and_objects_are_kept_in_bounded_tables():
    n = SPEC_CACHE_SIZE + 50
    with RewardService("format", workers=1, timeout_s=60.0) as s:
        specs = [f"{1 + i / 10_000}*format" for i in range(n)]
        out = s.score(["<think>a</think><answer>b</answer>"] * n, [None] * n, specs)
        assert [x.value for x in out] == pytest.approx([1 + i / 10_000 for i in range(n)])
        objects = [_Returns(i / n) for i in range(n)]
        out = s.score(["x"] * n, [None] * n, objects)
        assert [x.value for x in out] == pytest.approx([i / n for i in range(n)])
        assert len(s._parsed) <= SPEC_CACHE_SIZE and len(s._objects) <= SPEC_CACHE_SIZE
        assert len(s._object_ids) <= SPEC_CACHE_SIZE


def test_objects_evicted_from_a_workers_table_are_sent_again_and_never_confused():
    # A table of 3 and 8 objects in turn: the parent's mirror of each worker's table must agree
    # with it, or an item would reach a worker that no longer holds its verifier (or another's).
    with RewardService("format", workers=2, timeout_s=30.0) as s:
        s._pool.table_size = 3
        objects = [_Returns(i / 10) for i in range(8)]
        for _ in range(3):
            for chunk in (objects[:5], objects[3:], objects[::-1]):
                out = s.score_outcomes(["x"] * len(chunk), [None] * len(chunk), chunk)
                assert [(o.error, o.score.value) for o in out] == [(None, pytest.approx(v.value)) for v in chunk]


def test_a_new_object_never_inherits_an_old_ones_verifier():
    # Objects come and go (a caller building a spec per call): each gets its own key.
    with RewardService("format", workers=1, timeout_s=30.0) as s:
        for i in range(30):
            v = _Returns(i / 100)
            assert s.score(["x"], [None], [v])[0].value == pytest.approx(i / 100)
            del v


def test_a_workers_table_of_specs_is_an_lru():
    table = VerifierTable(size=4)
    for i in range(10):
        table.get(f"{i + 1}*format")
    assert len(table.parsed) == 4 and table.get("10*format").value_bound() == 10.0
    mirror: LRU[str, bool] = LRU(2)
    for key in ("object:1", "object:2", "object:1", "object:3"):  # as the parent and the worker do
        if key not in mirror:
            table.add(key, key)
        mirror.put(key, True)
        assert table.get(key) == key
    assert sorted(mirror) == ["object:1", "object:3"] and "object:2" not in mirror


# --- An operator cap on the time one item may take (item 7) ---------------------------------------
def _assert_tests(n):
    return {"kind": "assert", "tests": ["assert True"] * n}


def test_a_reference_needing_more_than_max_item_s_is_a_bad_reference_not_hours_of_a_worker():
    with RewardService("code(timeout_s=1)", workers=1, timeout_s=5.0, max_item_s=60.0) as s:
        out = s.score_outcomes(["x", "x"], [_assert_tests(10_000), _assert_tests(200)])
    for o in out:
        assert o.score.reason == "bad_reference" and "max_item_s" in o.error, o
    with RewardService("code", workers=1) as s:  # the default cap: 600 s
        assert s.max_item_s == 600.0
        o = s.score_outcomes(["x"], [_assert_tests(10_000)])[0]
        assert o.score.reason == "bad_reference" and "max_item_s" in o.error


def test_max_item_s_must_be_a_number_at_least_the_deadline():
    for bad in (math.inf, math.nan, 0.0, -1.0, 5.0):
        with pytest.raises(ValueError):
            RewardService("math", workers=1, timeout_s=10.0, max_item_s=bad)
    with RewardService("math", workers=1, timeout_s=900.0) as s:
        assert s.max_item_s == 900.0  # a deadline above 600 s raises the default cap with it


class _LastWordJudge(Verifier):
    """Keys its verdicts on the last word, so its workers take part in the key handshake."""

    name = "lastword"

    def cache_key(self, completion):
        return ("last", completion.split()[-1] if completion.split() else "")

    def score(self, completion, reference):
        ok = bool(completion.split()) and completion.split()[-1] == reference
        return Score(float(ok), ok, "ok" if ok else "mismatch")


def test_a_stale_request_mid_handshake_never_gives_another_item_its_verdict():
    with RewardService(_LastWordJudge(), workers=1, timeout_s=30.0) as s:
        assert s.score(["so right"], ["right"])[0].passed  # the worker holds the verifier object
        w = s._workers[0]
        w.conn.send(("item", 10 ** 9, next(iter(s._objects)), "so right", "right"))  # it now waits for go/skip
        time.sleep(0.5)
        out = s.score_outcomes(["so wrong"], ["right"])[0]
        assert not out.score.passed  # "crashed" (the worker broke protocol) or "mismatch", never "ok"
        for _ in range(2):
            assert [x.passed for x in s.score(["a wrong", "b right", "c right"], ["right"] * 3)] == [False, True, True]
