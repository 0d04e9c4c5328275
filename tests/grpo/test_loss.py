"""The policy loss against hand-computed values, one option per test."""

import math

import pytest
import torch

from grpo.loss import policy_loss

LN = math.log


def _leaf(values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


def test_ratio_one_gives_minus_advantage_under_each_aggregation():
    logp = torch.zeros(2, 3, dtype=torch.float64)
    adv = torch.tensor([1.0, -1.0])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    # per-token losses: row 0 -> -1, -1; row 1 -> +1
    token, _ = policy_loss(logp, logp, adv, mask, aggregation="token")
    sequence, _ = policy_loss(logp, logp, adv, mask, aggregation="sequence")
    constant, _ = policy_loss(logp, logp, adv, mask, aggregation="constant", max_new_tokens=3)
    assert token.item() == pytest.approx(-1 / 3)     # (-1 - 1 + 1) / 3 tokens
    assert sequence.item() == pytest.approx(0.0)     # mean(-1, +1)
    assert constant.item() == pytest.approx(-1 / 6)  # -1 / (2 rows * 3)


def test_token_gradient_is_minus_advantage_over_token_count():
    logp = _leaf([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    loss, _ = policy_loss(logp, logp.detach(), torch.tensor([1.0, -1.0]), torch.tensor([[1, 1, 0], [1, 0, 0]]))
    loss.backward()
    third = 1 / 3
    assert torch.allclose(logp.grad, torch.tensor([[-third, -third, 0], [third, 0, 0]], dtype=torch.float64))


@pytest.mark.parametrize(
    "ratio, adv, clip_high, loss_value, clipped",
    [
        (1.5, 1.0, 0.2, -1.2, True),     # above 1 + 0.2 with A > 0: clipped, no gradient
        (1.5, 1.0, 0.28, -1.28, True),   # clip-higher widens only the upper range
        (1.1, 1.0, 0.28, -1.1, False),   # inside the range
        (0.5, 1.0, 0.2, -0.5, False),    # below 1 - 0.2 with A > 0: the min keeps the ratio
        (0.5, -1.0, 0.2, 0.8, True),     # below 1 - 0.2 with A < 0: clipped at 0.8
        (1.5, -1.0, 0.2, 1.5, False),    # above with A < 0: pessimistic, unclipped
    ],
)
def test_clipping_with_separate_low_and_high_ranges(ratio, adv, clip_high, loss_value, clipped):
    logp = _leaf([[LN(ratio)]])
    loss, stats = policy_loss(logp, torch.zeros(1, 1, dtype=torch.float64), torch.tensor([adv]),
                              torch.ones(1, 1), clip_low=0.2, clip_high=clip_high)
    loss.backward()
    assert loss.item() == pytest.approx(loss_value)
    assert stats["clip_frac"] == (1.0 if clipped else 0.0)
    assert (logp.grad.abs().item() == 0.0) == clipped
    if not clipped:  # d/dlogp of -r * A = -r * A
        assert logp.grad.item() == pytest.approx(-ratio * adv)


def test_k3_kl_to_the_reference():
    # pi = 0.25, pi_ref = 0.5: q = ln 2, k3 = e^q - q - 1 = 1 - ln 2
    logp = _leaf([[LN(0.25)]])
    loss, stats = policy_loss(logp, logp.detach(), torch.tensor([0.0]), torch.ones(1, 1),
                              ref_logp=torch.tensor([[LN(0.5)]], dtype=torch.float64), beta=0.1)
    loss.backward()
    assert stats["kl"] == pytest.approx(1 - LN(2))
    assert loss.item() == pytest.approx(0.1 * (1 - LN(2)))
    # d/dlogp [e^(r - l) - (r - l) - 1] = -e^(r - l) + 1 = -1 -> times beta
    assert logp.grad.item() == pytest.approx(-0.1)


def test_kl_needs_a_reference():
    with pytest.raises(ValueError, match="ref_logp"):
        policy_loss(torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1), torch.ones(1, 1), beta=0.1)


def test_sequence_ratio_gspo_uses_the_mean_log_ratio_of_each_completion():
    old = torch.zeros(1, 2, dtype=torch.float64)
    # log ratios ln 2 and ln 0.5 average to 0: sequence ratio 1, nothing clipped
    logp = _leaf([[LN(2), LN(0.5)]])
    loss, stats = policy_loss(logp, old, torch.tensor([1.0]), torch.ones(1, 2), ratio_level="sequence",
                              aggregation="sequence")
    loss.backward()
    assert loss.item() == pytest.approx(-1.0) and stats["clip_frac"] == 0.0
    assert torch.allclose(logp.grad, torch.tensor([[-0.5, -0.5]], dtype=torch.float64))
    # log ratios ln 2 and 0: the sequence ratio sqrt(2) > 1.2 clips the whole completion,
    # where the token-level ratios (2 and 1) would clip only the first token
    logp = _leaf([[LN(2), 0.0]])
    seq, _ = policy_loss(logp, old, torch.tensor([1.0]), torch.ones(1, 2), ratio_level="sequence",
                         aggregation="sequence")
    seq.backward()
    assert seq.item() == pytest.approx(-1.2) and logp.grad.abs().sum() == 0
    tok, _ = policy_loss(logp, old, torch.tensor([1.0]), torch.ones(1, 2), aggregation="sequence")
    assert tok.item() == pytest.approx(-(1.2 + 1.0) / 2)


def test_masked_tokens_have_no_effect_on_loss_or_gradient():
    mask = torch.tensor([[1, 1, 0, 0]])
    # float32 on purpose: exp of these gaps would overflow to inf, and inf * 0 is NaN
    logp = torch.tensor([[-1.0, -2.0, -50.0, 9.0]], requires_grad=True)
    garbage_old = torch.tensor([[-1.0, -2.0, 30.0, -130.0]])
    loss, stats = policy_loss(logp, garbage_old, torch.tensor([2.0]), mask, beta=0.5,
                              ref_logp=torch.tensor([[-1.0, -2.0, 80.0, -180.0]]))
    loss.backward()
    assert loss.item() == pytest.approx(-2.0) and stats["kl"] == 0.0 and stats["tokens"] == 2
    assert logp.grad[0, 2:].abs().sum() == 0 and torch.isfinite(logp.grad).all()


@pytest.mark.parametrize("aggregation", ["token", "sequence", "constant"])
def test_micro_batches_with_batch_normalisers_add_up_to_the_full_batch(aggregation):
    torch.manual_seed(0)
    logp, old = torch.randn(4, 5, dtype=torch.float64) * 0.1, torch.randn(4, 5, dtype=torch.float64) * 0.1
    adv = torch.randn(4)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0], [1, 1, 0, 0, 0]])
    full, _ = policy_loss(logp, old, adv, mask, aggregation=aggregation)
    counts = dict(num_rows=4.0, num_tokens=float(mask.sum()), max_new_tokens=5, aggregation=aggregation)
    halves = [policy_loss(logp[s], old[s], adv[s], mask[s], **counts)[0] for s in (slice(0, 2), slice(2, 4))]
    assert (halves[0] + halves[1]).item() == pytest.approx(full.item())


def test_unknown_options_are_rejected():
    args = (torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1), torch.ones(1, 1))
    with pytest.raises(ValueError, match="aggregation"):
        policy_loss(*args, aggregation="mean")
    with pytest.raises(ValueError, match="ratio_level"):
        policy_loss(*args, ratio_level="seq")
