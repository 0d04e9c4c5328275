"""The batched reward service: order, deadlines, crashes, threads, caching, bad specs."""

import os
import signal
import threading

import pytest

from verifiers import Score, ServiceError, SpecError, Verifier
from verifiers.runtime.local import RewardService


def _judge(completion, reference):
    # Behaviour is chosen by the completion, so one verifier can hang, crash or raise.
    import os
    import time

    if completion == "hang":
        while True:
            pass
    if completion == "sleep":
        time.sleep(60)
    if completion == "exit":
        os._exit(3)
    if completion == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if completion == "raise":
        raise RuntimeError("verifier bug")
    return Score(float(completion == reference), completion == reference, "ok" if completion == reference else "mismatch")


JUDGE = Verifier.wrap(_judge, "judge")


@pytest.fixture(scope="module")
def service():
    with RewardService(JUDGE, workers=2, timeout_s=1.0) as s:
        yield s


def test_order_and_length_are_kept(service):
    comps = [str(i % 7) for i in range(50)]
    refs = [str(i % 5) for i in range(50)]
    out = service.score(comps, refs)
    assert [s.passed for s in out] == [c == r for c, r in zip(comps, refs, strict=True)]


def test_hanging_item_times_out_and_the_rest_is_scored(service):
    out = service.score_outcomes(["a", "hang", "b", "sleep", "c"], ["a", "a", "b", "b", "x"])
    assert [o.score.reason for o in out] == ["ok", "timeout", "ok", "timeout", "mismatch"]
    assert "deadline" in out[1].error


def test_crashing_item_is_reported_and_its_worker_replaced(service):
    before = service.stats["workers_replaced"]
    out = service.score_outcomes(["exit", "a", "segv", "b"], ["a", "a", "a", "b"])
    assert [o.score.reason for o in out] == ["crashed", "ok", "crashed", "ok"]
    assert "exit code 3" in out[0].error and "SIGSEGV" in out[2].error
    assert service.stats["workers_replaced"] >= before + 2
    assert service.score(["z"], ["z"])[0].passed  # the pool still works


def test_verifier_exception_is_an_error_for_that_item_only(service):
    out = service.score_outcomes(["raise", "q"], ["q", "q"])
    assert out[0].score.reason == "error" and "verifier bug" in out[0].error
    assert out[1].score.passed


def test_calls_from_many_threads_each_get_their_own_results(service):
    results: dict[int, list[Score]] = {}

    def call(k):
        results[k] = service.score([f"{k}-{j}" for j in range(10)], [f"{k}-{j}" if j % 2 else "no" for j in range(10)])

    threads = [threading.Thread(target=call, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(6):
        assert [s.passed for s in results[k]] == [bool(j % 2) for j in range(10)]


def test_duplicates_are_scored_once_and_cached_across_batches(service):
    hits = service.stats["cache_hits"]
    out = service.score(["dup"] * 8, ["dup"] * 8)
    assert all(s.passed for s in out)
    service.score(["dup"], ["dup"])
    assert service.stats["cache_hits"] == hits + 1


def test_timeouts_are_not_cached(service):
    service.score(["sleep"], ["x"])
    hits = service.stats["cache_hits"]
    assert service.score(["sleep"], ["x"])[0].reason == "timeout"
    assert service.stats["cache_hits"] == hits


def test_per_item_specs_and_a_bad_one(service):
    out = service.score_outcomes(
        ["<think>a</think><answer>1</answer>", "x", "x"], [None, "x", "x"], ["format", None, "nonsense"])
    assert out[0].score.passed and out[0].score.parts == {"format": 1.0}
    assert out[1].score.passed  # default spec: the judge
    assert out[2].score.reason == "error" and "unknown verifier" in out[2].error


def test_non_text_completion_is_an_error_item(service):
    out = service.score_outcomes([None, "a"], ["a", "a"])  # type: ignore[list-item]
    assert out[0].score.reason == "error" and out[1].score.passed


def test_mismatched_lengths_raise(service):
    with pytest.raises(ValueError, match="lengths differ"):
        service.score(["a", "b"], ["a"])


def test_bad_default_spec_fails_at_construction():
    with pytest.raises(SpecError):
        RewardService("nonsense")


def test_closed_service_refuses_and_leaves_no_workers():
    s = RewardService(JUDGE, workers=2, timeout_s=1.0)
    s.score(["a", "b"], ["a", "b"])
    pids = [w.proc.pid for w in s._workers]
    s.close()
    with pytest.raises(ServiceError):
        s.score(["a"], ["a"])
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_function_using_module_globals_works_in_workers():
    # A user's reward function refers to modules imported at the top of their script.
    import re

    def has_digit(completion, reference):
        return bool(re.search(r"\d", completion))

    with RewardService(Verifier.wrap(has_digit, "digit"), workers=1) as s:
        assert [x.passed for x in s.score(["a1", "b"], [None, None])] == [True, False]


class _LastWord(Verifier):
    """Scores the last word only, and says so through cache_key."""

    name = "lastword"

    def cache_key(self, completion):
        return completion.split()[-1]

    def score(self, completion, reference):
        ok = completion.split()[-1] == reference
        return Score(float(ok), ok, "ok" if ok else "mismatch")


def test_items_with_equal_cache_keys_are_scored_once():
    with RewardService(_LastWord(), workers=1) as s:
        out = s.score(["so it is 4", "hence 4", "maybe 5", "thus 4"], ["4"] * 4)
        assert [x.passed for x in out] == [True, True, False, True]
        # Two distinct answers were scored; the workers computed the keys, the parent reused verdicts.
        assert s.stats["dispatched"] - s.stats["answer_hits"] == 2


def test_a_failing_cache_key_falls_back_to_the_whole_text():
    class Broken(_LastWord):
        def cache_key(self, completion):
            raise RuntimeError("bug in key")

    with RewardService(Broken(), workers=1) as s:
        assert [x.passed for x in s.score(["a 4", "b 4"], ["4", "4"])] == [True, True]
        assert len(s._cache) == 2 and s.stats["answer_hits"] == 0


def test_math_completions_with_the_same_final_answer_are_compared_once():
    reasonings = ["<think>2/4 reduces</think><answer>\\frac{1}{2}</answer>",
                  "<think>half of it</think><answer>\\frac{1}{2}</answer>",
                  "<think>decimal</think><answer>0.5</answer>",
                  "<think>guess</think><answer>0.5</answer>",
                  "<think>wrong</think><answer>3</answer>",
                  "no answer at all, just rambling on and on " * 20]
    with RewardService("math", workers=1) as s:
        out = s.score(reasonings, ["1/2"] * len(reasonings))
        assert [x.passed for x in out] == [True, True, True, True, False, False]
        assert out[-1].reason == "no_answer"
        # compared: \frac{1}{2}, 0.5, 3, and no answer
        assert s.stats["dispatched"] - s.stats["answer_hits"] == 4
    with RewardService("format & math", workers=1) as s:
        s.score(reasonings, ["1/2"] * len(reasonings))
        assert s.stats["answer_hits"] == 0  # format reads the whole text
