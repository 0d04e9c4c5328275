"""Deprecated: moved to `grpo.heldout` (greedy accuracy on held-out prompts), so that it is not
confused with `verifiers.apps.evaluate` (pass@k and maj@k reports for `verify`)."""

from grpo.heldout import greedy_accuracy, greedy_passes

__all__ = ["greedy_accuracy", "greedy_passes"]
