"""The TRL adapter: TRL's calling convention, both formats, 0 for a timeout, None for bad data, metrics,
the async variant from a thread's event loop. A real GRPOTrainer runs it in
test_adapters_docs.py::test_trl_example (the README's example, on a tiny model)."""

import asyncio
import inspect
import pickle
import threading
from pathlib import Path

import pytest

from tests.verifiers.fake_verifiers import JUDGE
from verifiers.integrations.trl import AsyncTRLReward, completion_text, trl_reward
from verifiers.runtime.local import RewardService

TOKENIZER = Path(__file__).resolve().parents[2] / "fixtures" / "tokenizer"


@pytest.fixture(scope="module")
def service():
    with RewardService(JUDGE, workers=2, timeout_s=1.0) as s:
        yield s


def test_completion_text_reads_both_formats():
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "hi"}]) == "hi"
    msgs = [{"role": "assistant", "content": "first"}, {"role": "tool", "content": "x"},
            {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]}]
    assert completion_text(msgs) == "ab"


def test_standard_format_with_reference_column_and_zero_for_a_timeout(service):
    # A completion that hangs the verifier is a failure (0.0), as in grpo, verl and OpenRLHF:
    # left out, it would escape a wrong answer's penalty.
    reward = trl_reward(JUDGE, service=service)
    out = reward(prompts=["p"] * 3, completions=["x 4", "x 5", "hang"], completion_ids=[[1]] * 3,
                 reference=["4", "4", "4"], trainer_state=None)
    assert out == [1.0, 0.0, 0.0]


def test_timeout_reward_none_keeps_the_old_behaviour_of_leaving_timeouts_out(service):
    reward = trl_reward(JUDGE, service=service, timeout_reward=None)
    assert reward(["p"] * 2, ["x 4", "hang"], None, reference=["4", "4"]) == [1.0, None]


def test_conversational_format(service):
    reward = trl_reward(JUDGE, service=service)
    prompts = [[{"role": "user", "content": "2+2?"}]] * 2
    completions = [[{"role": "assistant", "content": "it is 4"}], [{"role": "assistant", "content": "it is 5"}]]
    assert reward(prompts, completions, None, reference=["4", "4"]) == [1.0, 0.0]


def test_unscored_value_can_be_a_number(service):
    reward = trl_reward(JUDGE, service=service, unscored=-1.0, timeout_reward=-2.0)
    assert reward(["p", "p"], ["hang", "x"], None, reference=["4", 1e999]) == [-2.0, -1.0]


def test_missing_reference_column_names_the_columns_present(service):
    reward = trl_reward(JUDGE, service=service, reference_column="answer")
    with pytest.raises(KeyError, match=r"'answer'.*\['reference'\]"):
        reward(["p"], ["x"], None, reference=["4"], trainer_state=None, log_metric=print)


def test_per_row_spec_column(service):
    reward = trl_reward(JUDGE, service=service, spec_column="reward_spec")
    out = reward(["p", "p"], ["<think>a</think><answer>4</answer>", "x 4"], None,
                 reference=["9", "4"], reward_spec=["format", None])
    assert out == [1.0, 1.0]  # row 0 graded by `format` alone, row 1 by the default judge


def test_metrics_and_extra_columns_reach_trl_hooks(service):
    metrics, extra = {}, {}
    reward = trl_reward(JUDGE, service=service, name="acc")
    reward(["p"] * 4, ["a 4", "a 3", "hang", "b 4"], None, reference=["4"] * 4,
           log_metric=lambda k, v: metrics.__setitem__(k, v), log_extra=lambda k, v: extra.__setitem__(k, v))
    assert metrics["acc/unscored_frac"] == 0.25
    assert metrics["acc/pass_rate"] == pytest.approx(2 / 3)
    assert metrics["acc/part/judge"] == pytest.approx(2 / 3)
    assert extra["acc/reason"] == ["ok", "mismatch", "timeout", "ok"]


def test_async_variant_runs_on_an_event_loop_in_a_thread(service):
    # TRL runs async reward functions on an event loop in a daemon thread: no signals there.
    reward = trl_reward(JUDGE, service=service, asynchronous=True)
    assert isinstance(reward, AsyncTRLReward) and inspect.iscoroutinefunction(reward.__call__)
    result = {}

    def run():
        result["out"] = asyncio.run(reward(["p"] * 2, ["x 4", "hang"], None, reference=["4", "4"]))

    t = threading.Thread(target=run)
    t.start()
    t.join(30)
    assert result["out"] == [1.0, 0.0]


def test_reward_pickles_without_its_service():
    reward = trl_reward("format", workers=1)
    reward(["p"], ["<think>a</think><answer>b</answer>"], None, reference=["b"])
    copy = pickle.loads(pickle.dumps(reward))
    assert copy._service is None and copy.__name__ == "format"
    reward.close()
