"""pass@k, maj@k and rejection sampling: hand-computed values, ties, skips, `--keep`."""

import json
from math import comb

import pytest

from verifiers.apps.cli import main
from verifiers.apps.evaluate import KeepRule, majority_vote, pass_at_k


@pytest.mark.parametrize("n, c, k", [(10, 3, 1), (10, 3, 2), (10, 3, 5), (5, 0, 3), (5, 5, 2), (8, 7, 2), (20, 1, 20)])
def test_pass_at_k_matches_the_binomial_formula(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))


def test_pass_at_k_by_hand():
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert pass_at_k(4, 2, 4) == 1.0


@pytest.mark.parametrize("n, c, k", [(3, 1, 4), (3, 4, 1), (3, 1, 0)])
def test_pass_at_k_refuses_impossible_inputs(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_majority_clusters_equivalent_answers_with_the_math_verifier():
    from verifiers.math.verifier import math_equal

    answers = ["\\frac12", "0.7", "0.5", "1/2", "0.7", None, None, None]
    winner, classes = majority_vote(answers, math_equal)
    assert answers[winner] == "\\frac12" and sorted(map(len, classes)) == [2, 3]


def test_majority_tie_goes_to_the_class_seen_first():
    same = str.__eq__
    assert majority_vote(["b", "a", "a", "b"], same)[0] == 0
    assert majority_vote(["a", "b", "b", "a"], same)[0] == 0
    assert majority_vote(["c", "a", "b", "b", "a"], same)[0] == 1
    assert majority_vote([None, None], same) == (None, [])


def test_keep_rule_parsing():
    assert KeepRule.parse("passed")(0.0, True)
    assert KeepRule.parse("reward>=0.5")(0.5, False) and not KeepRule.parse("reward>0.5")(0.5, True)
    with pytest.raises(ValueError, match="--keep"):
        KeepRule.parse("reward >= lots")


def _samples(tmp_path, rows):
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _c(answer):
    return f"<think>work</think><answer>{answer}</answer>"


def test_report_per_group_with_equivalent_forms_and_a_short_group(tmp_path, capsys):
    rows = [{"pid": "a", "completion": _c(x), "reference": "\\frac{1}{2}"} for x in ["0.5", "1/2", "0.3", "\\frac12"]]
    rows += [{"pid": "b", "completion": _c(x), "reference": "3"} for x in ["4", "3"]]
    src, report = _samples(tmp_path, rows), tmp_path / "r.json"
    assert main([str(src), "-o", str(tmp_path / "o.jsonl"), "--group-key", "pid", "--k", "1,2,4",
                 "--report", str(report), "--workers", "1"]) == 0
    r = json.loads(report.read_text())
    a, b = r["groups"]
    assert a["pass@k"]["1"] == pytest.approx(0.75) and a["maj@k"]["4"] is True
    assert b["pass@k"]["4"] is None and b["maj@k"]["1"] is False  # first sample says 4
    assert r["overall"]["groups_per_k"] == {"1": 2, "2": 2, "4": 1}
    assert any("only 2 samples" in s["reason"] for s in r["skipped"])
    assert "pass@k" in capsys.readouterr().err


def test_mixed_references_and_missing_group_key_are_reported_not_dropped(tmp_path, capsys):
    rows = [{"pid": "a", "completion": _c("1"), "reference": "1"},
            {"pid": "a", "completion": _c("2"), "reference": "2"},
            {"completion": _c("1"), "reference": "1"}]
    src, report = _samples(tmp_path, rows), tmp_path / "r.json"
    out = tmp_path / "o.jsonl"
    assert main([str(src), "-o", str(out), "--group-key", "pid", "--report", str(report), "--workers", "1"]) == 1
    r = json.loads(report.read_text())
    assert "mixed references" in r["groups"][0]["error"]
    assert len(out.read_text().splitlines()) == 3  # every record accounted for
    assert "missing field 'pid'" in capsys.readouterr().err


def test_keep_passed_with_max_per_group_and_dedupe(tmp_path, capsys):
    rows = [{"pid": "a", "completion": _c(x), "reference": "\\frac{1}{2}"} for x in ["0.5", "1/2", "0.3", "\\frac{2}{4}"]]
    rows += [{"pid": "b", "completion": _c("9"), "reference": "3"}]
    rows += [{"pid": "c", "completion": _c(x), "reference": "7"} for x in ["7", "6", "7.0"]]
    src, out = _samples(tmp_path, rows), tmp_path / "sft.jsonl"
    assert main([str(src), "-o", str(out), "--group-key", "pid", "--keep", "passed", "--dedupe", "--workers", "1"]) == 0
    kept = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(r["pid"], r["completion"]) for r in kept] == [("a", _c("0.5")), ("c", _c("7"))]
    assert "1 groups kept none: b" in capsys.readouterr().err

    assert main([str(src), "-o", str(out), "--group-key", "pid", "--keep", "passed", "--max-per-group", "2",
                 "--workers", "1", "-q"]) == 0
    kept = [json.loads(x)["pid"] for x in out.read_text().splitlines()]
    assert kept == ["a", "a", "c", "c"]


def test_evaluation_flag_errors_are_usage_errors(tmp_path):
    src = _samples(tmp_path, [{"pid": "a", "completion": _c("1"), "reference": "1"}])
    assert main([str(src), "--dedupe"]) == 2
    assert main([str(src), "--group-key", "pid", "--k", "0"]) == 2
    assert main([str(src), "--keep", "sometimes"]) == 2


def test_majority_vote_over_answers_that_are_no_valid_reference(tmp_path):
    # Clustering compares two model answers, one standing in for the reference; a garbled one
    # (unbalanced braces) must count as its own vote, not crash the run.
    rows = [{"pid": "a", "completion": _c(x), "reference": "5"} for x in [")}B0", ")}B0", "5", "{{x"]]
    src, report = _samples(tmp_path, rows), tmp_path / "r.json"
    assert main([str(src), "-o", str(tmp_path / "o.jsonl"), "--group-key", "pid", "--k", "1,4",
                 "--report", str(report), "--workers", "1", "-q"]) == 0
    group = json.loads(report.read_text())["groups"][0]
    assert group["maj@k"]["4"] is False  # the two garbled answers outvote the right one
    assert group["pass@k"]["4"] == 1.0


def test_code_groups_get_pass_at_k_over_test_results_and_say_why_there_is_no_maj_at_k(tmp_path, capsys):
    tests = {"language": "python", "kind": "assert", "tests": ["assert f(2) == 4", "assert f(3) == 9"]}
    programs = ["def f(x):\n    return x * x", "def f(x):\n    return x + x", "def f(x):\n    return x ** 2",
                "def f(x):\n    return 4"]
    rows = [{"pid": "sq", "tests": tests, "completion": f"<think>square</think><answer>\n```python\n{p}\n```\n</answer>"}
            for p in programs]
    src, report = _samples(tmp_path, rows), tmp_path / "r.json"
    assert main([str(src), "-o", str(tmp_path / "o.jsonl"), "--reward", "code", "--group-key", "pid",
                 "--k", "1,2,4", "--report", str(report), "--workers", "1"]) == 0
    r = json.loads(report.read_text())
    group = r["groups"][0]
    assert (group["n"], group["correct"]) == (4, 2)
    assert group["pass@k"] == {"1": 0.5, "2": pytest.approx(1 - 1 / 6), "4": 1.0}
    assert group["maj@k"] == {} and "kept" not in group
    assert "code references" in r["overall"]["maj@k_not_computed"]
    assert "groups_keeping_none" not in r["overall"]
    assert "no maj@k for 1 groups with code references" in capsys.readouterr().err



def test_majority_votes_are_decided_in_the_service_under_its_deadline(monkeypatch):
    # While `verify` runs, two answers are compared in the reward service's workers (with the
    # run's deadline), never in the parent: a pair that times out is two votes.
    import argparse

    import verifiers.math.verifier
    from verifiers.apps.cli import Selection, same_answer_verifier
    from verifiers.runtime.local import Outcome
    from verifiers.score import Score

    def in_parent(*_):
        raise AssertionError("compared in the parent process")
    monkeypatch.setattr(verifiers.math.verifier, "math_equal", in_parent)

    class Service:
        calls = []

        def score_outcomes(self, completions, references, specs):
            self.calls.append((completions[0], references[0]))
            assert specs == [same_answer_verifier()]
            verdict = Score(0.0, False, "timeout") if references[0] == "slow" else Score(1.0, True, "ok")
            return [Outcome(verdict)]

    selection = Selection(argparse.Namespace(keep=None))
    selection.service = Service()
    assert selection.same("\\frac12", "0.5") is True
    assert selection.same("7", "slow") is False            # timed out: not one vote
    assert selection.same("{{x", "{{x") is True              # identical: no comparison at all
    assert selection.same("\\frac12", "0.5") is True       # remembered
    assert Service.calls == [("\\frac12", "0.5"), ("7", "slow")]


def test_answers_compare_the_same_in_the_workers_as_in_process_and_in_either_order():
    import argparse

    from verifiers.apps.cli import Selection, same_answer
    from verifiers.runtime.local import RewardService

    pairs = [("a", "A"), ("\\frac12", "0.5"), ("B", "(B)"), (")}B0", "{{x"), ("{ {x", "{{x"), ("3", "4"),
             ("x = 5", "5"), ("\\{1, 2\\}", "\\{2, 1\\}")]
    selection = Selection(argparse.Namespace(keep=None))
    with RewardService("math", workers=1) as service:
        selection.service = service
        for a, b in pairs:
            assert selection.same(a, b) == same_answer(a, b).passed == same_answer(b, a).passed == selection.same(b, a), (a, b)
