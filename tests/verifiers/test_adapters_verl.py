"""The verl adapter: dispatch on data_source, the dict verl accepts, loading as verl loads it.

verl itself (torch, vllm, ray, hydra) is too heavy to install here; the loader below does what
`verl/trainer/ppo/reward.py::get_custom_reward_fn` does: import the file as "custom_module",
take the named function, and merge `reward_kwargs` into each call.
"""

import importlib.util
import sys
from functools import partial

import pytest

import verifiers.integrations.verl as for_verl
from verifiers.integrations.verl import VerlReward, compute_score, compute_score_batch

GOOD = "<think>2+2 is 4</think><answer>4</answer>"
WRONG = "<think>guess</think><answer>5</answer>"


def _load_like_verl(path, name, reward_kwargs):
    # get_custom_reward_fn: spec_from_file_location("custom_module", path), then
    # partial(_call_with_kwargs, raw_fn, reward_kwargs) with reward_kwargs taking precedence.
    spec = importlib.util.spec_from_file_location("custom_module", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_module"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["custom_module"]
    raw_fn = getattr(module, name)

    def _call_with_kwargs(raw_fn, extra_kwargs, *args, **kwargs):
        return raw_fn(*args, **{**kwargs, **extra_kwargs})

    return partial(_call_with_kwargs, raw_fn, dict(reward_kwargs))


@pytest.fixture(scope="module", autouse=True)
def _close_instances():
    yield
    for inst in for_verl._INSTANCES.values():
        inst.close()


def test_dispatch_on_data_source_uses_the_pattern_table():
    r = VerlReward(sources={"my_fmt_set": "format"})
    assert r.spec_for("openai/gsm8k") == "math"
    assert r.spec_for("lighteval/MATH") == "math"
    assert r.spec_for("codecontests") == "code"
    assert r.spec_for("my_fmt_set") == "format"
    assert r.spec_for("openai/gsm8k", {"reward_spec": "format"}) == "format"
    with pytest.raises(ValueError, match="no reward spec for data_source 'chitchat'"):
        r.spec_for("chitchat")
    assert VerlReward(default_spec="format").spec_for("chitchat") == "format"


def test_a_typo_in_the_configured_specs_fails_at_once():
    with pytest.raises(ValueError, match="unknown verifier"):
        VerlReward(sources={"x": "fromat"})


def test_compute_score_returns_the_dict_verl_accepts():
    out = compute_score("openai/gsm8k", GOOD, "4", {"split": "train", "index": 0})
    assert out == {"score": 1.0, "acc": 1.0, "unscored": 0.0}
    out = compute_score("openai/gsm8k", WRONG, "4", None)
    assert out["acc"] == 0.0 and set(out) == {"score", "acc", "unscored"}


def test_batch_form_dispatches_each_item_and_keeps_order():
    out = compute_score_batch(["openai/gsm8k", "fmt", "openai/gsm8k"], [GOOD, GOOD, WRONG], ["4", "9", "4"],
                              [None, None, None], sources={"fmt": "format"})
    assert [o["acc"] for o in out] == [1.0, 1.0, 0.0]


def test_unscored_items_are_flagged_not_hidden():
    out = compute_score("x", GOOD, {"not": "a math answer"}, None, spec="math")
    assert out["unscored"] == 1.0 and out["score"] == 0.0


def test_loaded_through_verls_loader_from_a_user_file(tmp_path):
    user_file = tmp_path / "reward.py"
    user_file.write_text("from verifiers.integrations.verl import compute_score, compute_score_batch  # noqa: F401\n")
    fn = _load_like_verl(str(user_file), "compute_score", {"sources": {"my_math": "0.1*format + math"}})
    out = fn(data_source="my_math", solution_str=GOOD, ground_truth="4", extra_info={"index": 3})
    assert out["score"] == pytest.approx(1.1) and out["acc"] == 1.0


def test_loaded_through_verls_loader_from_the_module_file_itself():
    fn = _load_like_verl(for_verl.__file__, "compute_score_batch", {})
    out = fn(data_sources=["openai/gsm8k"], solution_strs=[GOOD], ground_truths=["4"], extra_infos=[None])
    assert out == [{"score": 1.0, "acc": 1.0, "unscored": 0.0}]
