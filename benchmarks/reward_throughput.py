"""Throughput on GRPO-shaped batches: our reward service vs math-verify's parse + verify, serially.

Each batch has P references with G = 8 completions each, written like model outputs
(`<think>…</think><answer>…</answer>` or a boxed answer after reasoning), whose answers repeat
and vary as a policy's do: the right answer in several notations, common wrong answers.
Both sides see the same batches in one run; every batch uses fresh references so the
service's cross-batch cache cannot help (its in-batch dedup and reference caching can).

    python benchmarks/reward_throughput.py            # full run (~1 min)
    python benchmarks/reward_throughput.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
import time
from fractions import Fraction

G = 8


def _problem(rng: random.Random, k: int) -> tuple[str, list[str], list[str]]:
    """(reference, equivalent answers, wrong answers) for problem k."""
    kind = k % 6
    if kind == 0:
        a, b = rng.randint(1, 40), rng.randint(2, 50)
        f = Fraction(a, b)
        if f.denominator == 1:
            f = Fraction(a, b + 1) if Fraction(a, b + 1).denominator != 1 else Fraction(1, 3)
        ref = f"\\frac{{{f.numerator}}}{{{f.denominator}}}"
        same = [ref, f"{f.numerator}/{f.denominator}", f"\\dfrac{{{f.numerator * 2}}}{{{f.denominator * 2}}}"]
        wrong = [f"\\frac{{{f.denominator}}}{{{f.numerator}}}", f"\\frac{{{f.numerator + 1}}}{{{f.denominator}}}"]
    elif kind == 1:
        n = rng.randint(-500, 5000)
        ref = str(n)
        same = [ref, f"{n}.0", f"x = {n}"]
        wrong = [str(n + 1), str(-n - 1), str(n * 10)]
    elif kind == 2:
        a, b = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7])
        ref = f"{a}\\sqrt{{{b}}}"
        same = [ref, f"\\sqrt{{{a * a * b}}}", f"{a} \\sqrt{{{b}}}"]
        wrong = [f"{a + 1}\\sqrt{{{b}}}", f"\\sqrt{{{a * b}}}", str(a)]
    elif kind == 3:
        a = rng.randint(-9, 9)
        ref = f"({a},\\infty)"
        same = [ref, f"x > {a}", f"({a}, \\infty)"]
        wrong = [f"[{a},\\infty)", f"(-\\infty,{a})", f"x < {a}"]
    elif kind == 4:
        a, b = rng.randint(1, 9), rng.randint(1, 9)
        ref = f"x^2+{2 * a}x+{a * a}"
        same = [ref, f"(x+{a})^2", f"x^{{2}} + {2 * a} x + {a * a}"]
        wrong = [f"x^2+{a}x+{a * a}", f"(x-{a})^2", f"x^2+{b * a}x+{b}"]
    else:
        p, q = rng.randint(1, 9), rng.randint(10, 99)
        ref = f"{p}.{q}"
        same = [ref, f"{p}.{q}0", f"\\frac{{{p * 100 + q}}}{{100}}"]
        wrong = [f"{p}.{q + 1}", f"{q}.{p}", str(p)]
    return ref, same, wrong


def _completion(rng: random.Random, answer: str) -> str:
    steps = " ".join(rng.choice(["First,", "Then", "So", "Next,", "Therefore"]) + f" step {i}." for i in range(rng.randint(3, 12)))
    if rng.random() < 0.5:
        return f"<think>{steps}</think>\n<answer>{answer}</answer>"
    return f"{steps} The final answer is $\\boxed{{{answer}}}$."


def make_batches(n_batches: int, prompts: int, seed: int) -> tuple[list[tuple[list[str], list[str]]], list[bool]]:
    """The batches, and whether each completion's answer is truly right (for accuracy)."""
    rng = random.Random(seed)
    batches, truth, k = [], [], 0
    for _ in range(n_batches):
        comps, refs = [], []
        for _ in range(prompts):
            ref, same, wrong = _problem(rng, k)
            k += 1
            for _ in range(G):
                # A policy mid-training: about half right, answers repeat within the group.
                right = rng.random() < 0.5
                answer = rng.choice(same[:2] if rng.random() < 0.7 else same) if right else rng.choice(wrong)
                comps.append(_completion(rng, answer))
                refs.append(ref)
                truth.append(right)
        batches.append((comps, refs))
    return batches, truth


def run_math_verify(batches) -> tuple[float, list[bool]]:
    from math_verify import parse, verify

    verdicts, start = [], time.perf_counter()
    for comps, refs in batches:
        for c, r in zip(comps, refs, strict=True):
            verdicts.append(bool(verify(parse(f"${r}$"), parse(c))))
    return time.perf_counter() - start, verdicts


def run_ours(batches, workers: int) -> tuple[float, float, list[bool]]:
    from verifiers.runtime.local import RewardService

    start = time.perf_counter()
    service = RewardService("math", workers=workers, timeout_s=10.0)
    service.score(["<answer>1</answer>"] * workers, ["1"] * workers)  # start the workers
    startup = time.perf_counter() - start
    verdicts, start = [], time.perf_counter()
    for comps, refs in batches:
        verdicts.extend(s.passed for s in service.score(comps, refs))
    elapsed = time.perf_counter() - start
    service.close()
    return startup, elapsed, verdicts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--prompts", type=int, default=32, help="prompts per batch (x8 completions)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.batches, args.prompts = 2, 8
    batches, truth = make_batches(args.batches, args.prompts, args.seed)
    n = sum(len(c) for c, _ in batches)
    print(f"# {args.batches} batches x {args.prompts} prompts x {G} completions = {n} items; "
          f"{platform.machine()}, {platform.python_version()}, workers={args.workers}", file=sys.stderr)
    t_mv, v_mv = run_math_verify(batches)
    startup, t_ours, v_ours = run_ours(batches, args.workers)
    agree = statistics.mean(a == b for a, b in zip(v_mv, v_ours, strict=True))
    acc_mv = statistics.mean(a == t for a, t in zip(v_mv, truth, strict=True))
    acc_ours = statistics.mean(a == t for a, t in zip(v_ours, truth, strict=True))
    print(f"math-verify parse+verify, serial : {t_mv:7.2f} s  {n / t_mv:8.1f} items/s")
    print(f"ours, RewardService({args.workers} workers): {t_ours:7.2f} s  {n / t_ours:8.1f} items/s"
          f"   (+{startup:.2f} s one-off worker start)")
    print(f"speed-up: {t_mv / t_ours:.2f}x  (cold, counting the worker start: {t_mv / (t_ours + startup):.2f}x)")
    print(f"verdicts right (vs the generator's truth): math-verify {100 * acc_mv:.1f}%, ours {100 * acc_ours:.1f}%"
          f"   (agreement {100 * agree:.1f}%, true pass rate {statistics.mean(truth):.3f})")


if __name__ == "__main__":
    main()
