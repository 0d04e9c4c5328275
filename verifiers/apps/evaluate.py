"""Evaluation over several samples per problem: pass@k, maj@k, and rejection sampling.

    verify samples.jsonl --group-key problem_id --k 1,4,8 --report report.json --plot curves.png
    verify samples.jsonl --group-key problem_id --keep passed --max-per-group 2 --dedupe -o sft.jsonl

pass@k is the unbiased estimator of Chen et al. (2021): with n samples of which c passed,
pass@k = 1 - C(n-c, k) / C(n, k), averaged over problems. A problem with fewer than k samples
has no pass@k: it is listed as skipped for that k, never padded or counted as a failure.

maj@k votes over the first k samples of a problem in file order: answers are clustered into
equivalence classes with the math verifier itself (`\\frac12`, `0.5` and `1/2` are one vote),
samples with no extractable answer do not vote, the largest class wins, and a tie goes to the
class whose first member came first in the file (deterministic, and it favours no answer
form). The winner is right when it matches the reference. maj@k is computed for string
references (math, exact); for code references only pass@k is reported.

Groups are told apart type-exactly: a group field of `1` and one of `"1"` are two problems, and
so are references that only serialise alike (`["a"]` and `'["a"]'`). The answers that vote are
extracted by `answer_of`, which the `verify` CLI runs in the reward service's workers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct; needs 0 <= c <= n and 1 <= k <= n."""
    if not 0 <= c <= n:
        raise ValueError(f"pass@k needs 0 <= correct <= samples, got {c} correct of {n}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    # C(n-c, k) / C(n, k) as a running product: exact enough and never overflows.
    return 1.0 - math.prod((n - c - i) / (n - i) for i in range(k))


def majority_vote(answers: Sequence[str | None], same: Callable[[str, str], bool]) -> tuple[int | None, list[list[int]]]:
    """(index of the winning class's first member, the classes as lists of indices)."""
    classes: list[list[int]] = []
    for i, a in enumerate(answers):
        if a is None:
            continue
        for cls in classes:
            if same(a, answers[cls[0]]):  # type: ignore[arg-type]
                cls.append(i)
                break
        else:
            classes.append([i])
    if not classes:
        return None, []
    # Largest class; on a tie, the one whose first member came first.
    best = max(classes, key=lambda cls: (len(cls), -cls[0]))
    return best[0], classes


@dataclass
class KeepRule:
    """Which scored records rejection sampling keeps: `passed`, or `reward>=X` (also >, ==)."""

    text: str
    op: str = "passed"
    threshold: float = 0.0

    @classmethod
    def parse(cls, text: str) -> KeepRule:
        if text.strip() == "passed":
            return cls(text)
        m = re.fullmatch(r"\s*reward\s*(>=|>|==)\s*(-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*", text, re.ASCII)
        if not m:
            raise ValueError(f"--keep must be 'passed' or 'reward>=X' (or >, ==), got {text!r}")
        return cls(text, m.group(1), float(m.group(2)))

    def __call__(self, reward: float, passed: bool) -> bool:
        if self.op == "passed":
            return passed
        return {">=": reward >= self.threshold, ">": reward > self.threshold, "==": reward == self.threshold}[self.op]


def answer_of(completion: str, reference: Any) -> str | None:
    """What a sample votes with (maj@k) and is deduplicated by (--dedupe): the extracted final
    answer for a string reference (None when there is none), else the stripped completion."""
    if not isinstance(reference, str):
        return completion.strip()
    from verifiers.extract import extract_answer

    try:
        return extract_answer(completion)
    except (RecursionError, ValueError):  # an answer that cannot be read casts no vote
        return None


def group_id(value: Any) -> bytes:
    """A type-exact key for a group field or a reference (`1` and `"1"` differ)."""
    from verifiers.keys import canonical

    return canonical(value, strict=False)


@dataclass
class Group:
    """Everything evaluation needs about one problem's samples, in file order."""

    key: Any  # the group field's value, as the records hold it
    references: list[Any] = field(default_factory=list)  # each distinct reference (type-exact)
    passed: list[bool] = field(default_factory=list)
    answers: list[str | None] = field(default_factory=list)
    bad_lines: int = 0
    kept: int = 0
    kept_answers: list[str | None] = field(default_factory=list)
    kept_exact: set[str | None] = field(default_factory=set, repr=False)  # the same, for lookups
    _reference_ids: set[bytes] = field(default_factory=set, repr=False)

    def add(self, reference: Any, passed: bool, answer: str | None) -> None:
        ref = group_id(reference)
        if ref not in self._reference_ids:
            self._reference_ids.add(ref)
            if len(self.references) < 3:  # enough to name a mix; the count is in _reference_ids
                self.references.append(reference)
        self.passed.append(bool(passed))
        self.answers.append(answer)

    def error(self) -> str | None:
        if not self.passed:
            return f"no scored samples ({self.bad_lines} bad lines)" if self.bad_lines else "no samples"
        if len(self._reference_ids) > 1:
            shown = ", ".join(json.dumps(r, default=str)[:40] for r in self.references[:3])
            return f"mixed references inside the group: {shown}"
        return None


def default_ks(max_n: int) -> list[int]:
    ks, k = [], 1
    while k <= max_n:
        ks.append(k)
        k *= 2
    return ks


def build_report(groups: dict[Any, Group], ks: list[int], same: Callable[[str, str], bool] | None,
                 keeping: bool = False) -> dict:
    """The JSON report: per group and overall pass@k / maj@k, with every skip explained.

    `keeping` (a --keep run) adds how many records each group kept and how many kept none."""
    per_group, skipped, no_vote = [], [], 0
    sums_pass = {k: [] for k in ks}
    sums_maj = {k: [] for k in ks}
    for g in groups.values():
        row: dict[str, Any] = {"group": g.key, "n": len(g.passed), "correct": sum(g.passed),
                               "bad_lines": g.bad_lines}
        if keeping:
            row["kept"] = g.kept
        err = g.error()
        if err:
            row["error"] = err
            skipped.append({"group": g.key, "reason": err})
            per_group.append(row)
            continue
        reference = g.references[0]
        n, c = len(g.passed), sum(g.passed)
        row["pass@k"], row["maj@k"] = {}, {}
        no_vote += not isinstance(reference, str)
        for k in ks:
            if k > n:
                row["pass@k"][str(k)] = None
                continue
            row["pass@k"][str(k)] = p = pass_at_k(n, c, k)
            sums_pass[k].append(p)
            if same is not None and isinstance(reference, str):
                winner, _ = majority_vote(g.answers[:k], same)
                ok = winner is not None and same(g.answers[winner], reference)  # type: ignore[arg-type]
                row["maj@k"][str(k)] = ok
                sums_maj[k].append(float(ok))
        short = [k for k in ks if k > n]
        if short:
            skipped.append({"group": g.key, "reason": f"only {n} samples: no pass@k/maj@k for k={short}"})
        per_group.append(row)
    overall = {
        "groups": len(groups),
        "groups_evaluated": sum(1 for g in groups.values() if not g.error()),
        "pass@k": {str(k): _mean(v) for k, v in sums_pass.items()},
        "maj@k": {str(k): _mean(v) for k, v in sums_maj.items()},
        "groups_per_k": {str(k): len(v) for k, v in sums_pass.items()},
    }
    if no_vote:
        overall["maj@k_not_computed"] = f"{no_vote} groups with code references (tests): maj@k votes on answers"
    if keeping:
        overall["groups_keeping_none"] = sum(1 for g in groups.values() if g.kept == 0)
    return {"overall": overall, "groups": per_group, "skipped": skipped}


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def format_table(report: dict) -> str:
    o = report["overall"]
    lines = [f"{'k':>5} {'pass@k':>8} {'maj@k':>8} {'groups':>7}"]
    for k, p in o["pass@k"].items():
        m = o["maj@k"].get(k)
        lines.append(f"{k:>5} {_fmt(p):>8} {_fmt(m):>8} {o['groups_per_k'][k]:>7}")
    lines.append(f"{o['groups_evaluated']} of {o['groups']} groups evaluated")
    if "maj@k_not_computed" in o:
        lines.append(f"  no maj@k for {o['maj@k_not_computed']}")
    for s in report["skipped"][:10]:
        lines.append(f"  skipped {s['group']}: {s['reason']}")
    if len(report["skipped"]) > 10:
        lines.append(f"  ... and {len(report['skipped']) - 10} more skips (see the report file)")
    return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def plot_report(report: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    o = report["overall"]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in ("pass@k", "maj@k"):
        pts = [(int(k), v) for k, v in o[name].items() if v is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (samples)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"{o['groups_evaluated']} problems")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
