"""Group advantages against hand-computed values."""

import math

import pytest
import torch

from grpo.advantages import group_advantages

NAN = math.nan
REWARDS = torch.tensor([
    [1.0, 0.0, 1.0, 0.0],   # mean 0.5, std 0.5
    [1.0, 1.0, 1.0, 1.0],   # all equal: no signal
    [0.5, NAN, 1.5, NAN],   # two unscored: mean 1.0 over the scored pair, std 0.5
])


def test_group_scale_divides_by_the_group_std():
    adv, informative = group_advantages(REWARDS, "group", eps=0.0 + 1e-12)
    expected = torch.tensor([[1.0, -1.0, 1.0, -1.0], [0.0, 0.0, 0.0, 0.0], [-1.0, 0.0, 1.0, 0.0]])
    assert torch.allclose(adv, expected, atol=1e-6)
    assert informative.tolist() == [True, False, True]


def test_none_scale_is_dr_grpo_mean_centering_only():
    adv, _ = group_advantages(REWARDS, "none")
    expected = torch.tensor([[0.5, -0.5, 0.5, -0.5], [0.0] * 4, [-0.5, 0.0, 0.5, 0.0]])
    assert torch.allclose(adv, expected)


def test_batch_scale_divides_by_the_std_of_every_scored_reward():
    # scored rewards: 1 0 1 0 1 1 1 1 0.5 1.5 -> mean 0.8, population variance 2.1 / 10
    adv, _ = group_advantages(REWARDS, "batch", eps=0.0)
    std = math.sqrt(0.21)
    assert adv[0, 0].item() == pytest.approx(0.5 / std, rel=1e-5)
    assert adv[2, 0].item() == pytest.approx(-0.5 / std, rel=1e-5)
    assert adv[1].abs().sum().item() == 0.0


def test_unscored_items_are_excluded_not_counted_as_zero():
    with_none = torch.tensor([[1.0, NAN, NAN, 0.0]])
    as_zero = torch.tensor([[1.0, 0.0, 0.0, 0.0]])
    adv_none, _ = group_advantages(with_none, "none")
    adv_zero, _ = group_advantages(as_zero, "none")
    assert adv_none.tolist() == [[0.5, 0.0, 0.0, -0.5]]   # mean of the scored pair is 0.5
    assert adv_zero.tolist() == [[0.75, -0.25, -0.25, -0.25]]


def test_a_group_with_one_scored_item_or_none_carries_no_signal():
    adv, informative = group_advantages(torch.tensor([[NAN, 2.0, NAN], [NAN, NAN, NAN]]))
    assert informative.tolist() == [False, False]
    assert not torch.isnan(adv).any() and adv.abs().sum() == 0


def test_unknown_scale_is_rejected():
    with pytest.raises(ValueError, match="scale"):
        group_advantages(REWARDS, "max")
