"""Scoring rollouts: streamed scoring (rows scored as they finish) gives every row the score that
scoring the whole rollout afterwards gives, and loses none."""

import math
import threading

import pytest
import torch

from grpo.config import GRPOConfig
from grpo.policy import load_model, load_tokenizer
from grpo.rollout import _FinishedRows, generate
from grpo.scoring import LocalScorer, StreamedScoring, to_rewards
from grpo.train import train
from tests.grpo.conftest import digit_fraction
from verifiers.score import Score

EOS = 1


class Recording(LocalScorer):
    """A LocalScorer that notes each batch it scores, and can be told to fail."""

    def __init__(self, fn, fail: bool = False):
        super().__init__(fn)
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()
        self.fail = fail

    def score(self, completions, references, specs=None):
        self.batches.append(list(completions))
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise RuntimeError("scorer broke")
        return super().score(completions, references, specs)


def test_finished_rows_reports_each_row_once_at_its_first_eos():
    seen = []
    watch = _FinishedRows(width=2, eos_id=EOS, callback=lambda rows, comps: seen.append((rows, comps)))
    ids = torch.tensor([[7, 7], [7, 7], [7, 7]])
    # eos is also the pad: a finished row keeps receiving it and must not be reported again
    for column in ([5, EOS, 4], [EOS, EOS, 6], [EOS, EOS, EOS]):
        ids = torch.cat([ids, torch.tensor(column)[:, None]], 1)
        assert not watch(ids, None).any()  # it never stops generation
    assert seen == [([1], [[EOS]]), ([0], [[5, EOS]]), ([2], [[4, 6, EOS]])]


def test_streamed_scores_equal_scores_of_the_whole_rollout_in_row_order():
    texts = ["1", "22", "x3", "four", "5", "66"]
    refs = ["r0", "r1", "r2", "r3", "r4", "r5"]
    decode = lambda ids: ["".join(map(str, c)) for c in ids]  # noqa: E731 - tokens are the characters' digits here
    scorer = Recording(lambda c, r: Score(len(c) + int(r[1]) / 10, True, "ok"))
    stream = StreamedScoring(scorer, refs, None, decode)
    stream.submit([4, 1], [[5], [2, 2]])
    stream.submit([5], [[6, 7]])   # its final text will be "66": it must be scored again
    got = stream.results(texts)
    assert [s.value for s in got] == pytest.approx([len(t) + i / 10 for i, t in enumerate(texts)])
    assert scorer.threads == {"grpo-scoring", threading.current_thread().name}
    scored = [t for b in scorer.batches for t in b]
    assert sorted(set(scored) - {"67"}) == sorted(texts)  # every row once, plus the stale text


def test_a_scorer_error_in_the_stream_reaches_the_caller():
    stream = StreamedScoring(Recording(digit_fraction, fail=True), ["a", "b"], None, lambda ids: ["x"] * len(ids))
    stream.submit([0], [[3]])
    with pytest.raises(RuntimeError, match="scorer broke"):
        stream.results(["x", "y"])


def test_generation_reports_finished_rows_while_it_runs(model_dir):
    tok, model = load_tokenizer(model_dir), load_model(model_dir, torch.device("cpu"))
    reported: dict[int, list[int]] = {}
    torch.manual_seed(0)
    ro = generate(model, tok, ["<|user|>1+1?<|assistant|>", "<|user|>22+3?<|assistant|>"], [0, 1], 8, 60,
                  on_finished=lambda rows, comps: reported.update(zip(rows, comps, strict=True)))
    finished = {r for r in range(len(ro)) if not ro.truncated[r]}
    assert finished and set(reported) == finished  # a random model ends some rows by chance (p ~ 1/107 a token)
    assert all(reported[r] == ro.completion_ids[r] for r in finished)


def test_training_with_streamed_scoring_is_the_same_as_without(model_dir, data_file, tmp_path):
    runs = {}
    for stream in (True, False):
        cfg = GRPOConfig(model=model_dir, data=data_file, output_dir=str(tmp_path / f"run{stream}"), steps=2,
                         prompts_per_step=4, group_size=4, max_new_tokens=40, micro_batch_size=8, lr=3e-3,
                         device="cpu", progress=False, log_samples_every=0, stream_scoring=stream, beta=0.1)
        runs[stream] = train(cfg, scorer=LocalScorer(digit_fraction))
    # with beta > 0 the streamed run also moves the reference pass before the last scores
    keys = ("reward_mean", "loss", "kl", "completion_len_mean", "truncated_frac")
    assert [[h[k] for k in keys] for h in runs[True]] == [[h[k] for k in keys] for h in runs[False]]
    assert any(h["truncated_frac"] < 1 for h in runs[True])  # some rows ended early and were streamed


def test_unscored_items_become_nan_rewards():
    scores = [Score(1.0, True, "ok"), Score(0.0, False, "timeout"), Score(0.2, False, "mismatch")]
    assert [math.isnan(r) for r in to_rewards(scores)] == [False, True, False]


def test_timeout_reward_scores_timeouts_and_crashes_but_not_broken_references():
    scores = [Score(0.0, False, "timeout"), Score(0.0, False, "crashed"), Score(0.0, False, "bad_reference"),
              Score(0.0, False, "error"), Score(0.1, False, "mismatch")]
    assert to_rewards(scores, timeout_reward=0.0)[:2] == [0.0, 0.0]
    assert [math.isnan(r) for r in to_rewards(scores, timeout_reward=0.0)[2:]] == [True, True, False]
    assert all(math.isnan(r) for r in to_rewards(scores)[:4])


def test_training_counts_timeouts_when_told(model_dir, data_file, tmp_path):
    def hangs_on_digits(completion, reference):  # stands in for the service's verdict on a hanging answer
        if any(ch.isdigit() for ch in completion):
            return Score(0.0, False, "timeout")
        return Score(0.5, False, "mismatch")
    runs = {}
    for timeout_reward in (None, 0.0):
        cfg = GRPOConfig(model=model_dir, data=data_file, output_dir=str(tmp_path / f"run{timeout_reward}"), steps=1,
                         prompts_per_step=4, group_size=4, max_new_tokens=16, micro_batch_size=8, device="cpu",
                         progress=False, log_samples_every=0, timeout_reward=timeout_reward)
        runs[timeout_reward] = train(cfg, scorer=LocalScorer(hangs_on_digits))[0]
    timed_out = runs[None]["reason/timeout"]
    assert 0 < timed_out < 1
    assert runs[None]["unscored_frac"] == timed_out and runs[None]["reward_mean"] == 0.5
    # counted, but still reported as unscored: timeouts on an overloaded machine stay visible
    assert runs[0.0]["unscored_frac"] == timed_out and runs[0.0]["reward_mean"] == pytest.approx(0.5 * (1 - timed_out))


def test_streaming_is_off_by_default_for_an_in_process_scorer(model_dir, data_file, tmp_path):
    scorer = Recording(digit_fraction)
    cfg = GRPOConfig(model=model_dir, data=data_file, output_dir=str(tmp_path / "run"), steps=1, prompts_per_step=2,
                     group_size=2, max_new_tokens=30, device="cpu", progress=False, log_samples_every=0)
    assert cfg.stream_scoring is None
    train(cfg, scorer=scorer)
    assert scorer.threads == {threading.current_thread().name}


def test_a_rows_spec_is_held_to_the_default_specs_limits_without_workers_too():
    # `grpo train` with 0 reward workers scores in process: a row's spec from the data must not
    # loosen the default's isolation or limits, nor give an unbounded reward; it is that row's error.
    scorer = LocalScorer("0.1*format + code(timeout_s=1)")
    tests = {"kind": "no such kind"}  # stops at the reference: nothing is executed
    for spec in ["code(isolation=rlimits)", "code(timeout_s=100000)", "math + code(memory_bytes=1e15)",
                 "1e6*(math + format)", "language(weight=1e18)"]:
        assert scorer.score(["x"], [tests], [spec])[0].reason == "error", spec
    assert scorer.score(["<think>a</think><answer>2</answer>"], ["2"], ["math"])[0].passed


def test_a_reward_beyond_the_verifiers_bound_is_an_error_without_workers_too():
    from verifiers.verifier import Verifier

    big = Verifier.wrap(lambda c, r: Score(1e300, True, "ok"), "big")
    assert LocalScorer(big).score(["x"], [None])[0].reason == "error"
    assert LocalScorer(lambda c, r: math.inf).score(["x"], [None])[0].reason == "error"
    assert LocalScorer(lambda c, r: 3.5).score(["x"], [None])[0].value == 3.5  # a plain callable: up to 1e6
