"""A compact GRPO trainer fed by the batched reward service."""
