"""Worst-case latency on adversarial answers: every item must return within its deadline + 1 s.

Power towers, huge factorials, deep nesting and megabyte strings are what a policy emits when
it learns that the grader can be made to hang. Each is scored alone through the reward
service (deadline --timeout) and timed. For contrast, math-verify's own parse + verify runs
each in a child process that we kill after --peer-limit seconds: its SIGALRM timeout cannot
interrupt long C arithmetic.

    python benchmarks/adversarial_latency.py
    python benchmarks/adversarial_latency.py --no-peer   # ours only
"""

from __future__ import annotations

import argparse
import multiprocessing
import time

CASES: list[tuple[str, str, str]] = [
    ("power tower 5^5^5^5", "<answer>5^{5^{5^{5}}}</answer>", "1"),
    ("power tower 9^9^9^9", "<answer>9^{9^{9^{9}}}</answer>", "2"),
    ("tower vs tower", "<answer>2^{2^{2^{2^{2^{2}}}}}</answer>", "2^{2^{2^{2^{2^{2}}}}}+1"),
    ("huge factorial", "<answer>(10^{8})!</answer>", "5"),
    ("factorial tower", "<answer>((100!)!)!</answer>", "3"),
    ("deep fraction nesting", "<answer>" + "\\frac{1}{" * 400 + "2" + "}" * 400 + "</answer>", "2"),
    ("deep parentheses", "<answer>" + "(" * 3000 + "1" + ")" * 3000 + "</answer>", "1"),
    ("deep sqrt nesting", "<answer>" + "\\sqrt{" * 300 + "2" + "}" * 300 + "</answer>", "2"),
    ("megabyte answer", "<answer>" + "1+" * 500_000 + "1</answer>", "1000001"),
    ("megabyte completion", "<think>" + "blah " * 200_000 + "</think><answer>7</answer>", "7"),
    ("long digit string", "<answer>" + "9" * 200_000 + "</answer>", "1"),
    ("huge exponent product", "<answer>10^{10^{10}} \\cdot 10^{10^{10}}</answer>", "10^{2\\cdot 10^{10}}"),
    ("big matrix", "<answer>\\begin{pmatrix}" + "\\\\".join("&".join(["x^{99}"] * 60) for _ in range(60))
     + "\\end{pmatrix}</answer>", "0"),
    ("many boxed", " ".join(f"\\boxed{{{i}}}" for i in range(20_000)), "19999"),
    ("polynomial expansion", "<answer>(x+1)^{100000}</answer>", "x"),
    ("integral", "<answer>\\int_0^1 e^{x^{9}} \\sin(x^{7}) dx</answer>", "1"),
    # Extraction itself: patterns that a lazy regex or a brace scan per box makes quadratic.
    ("unclosed boxes", "\\boxed{" * 150_000, "1"),
    ("nested boxes", "\\boxed{" * 100_000 + "1" + "}" * 100_000, "1"),
    ("unclosed answer tags", "</answer>" + "<answer>" * 120_000, "1"),
    ("unclosed think tags", "</think>" + "<think>" * 120_000, "1"),
    ("answer phrase spam", "the answer is .\n" * 60_000, "1"),
]

# What the service's parent process runs without a deadline: the verifier's cache key (answer
# extraction) on completions up to the keyed size (32 KB). Timed directly, in milliseconds.
KEY_CASES: list[tuple[str, str]] = [
    ("unclosed boxes", "\\boxed{" * 4_600),
    ("nested boxes", "\\boxed{" * 4_000 + "1" + "}" * 4_000),
    ("unclosed answer tags", "</answer>" + "<answer>" * 4_000),
    ("unclosed think tags", "</think>" + "<think>" * 4_000),
    ("answer phrase spam", "the answer is .\n" * 2_000),
    ("brace-less boxes", "\\boxed 1" * 4_000),
    ("GSM8K markers", "####\n" * 6_500),
    ("hedge after a box", "\\boxed{5} (or" + " " * 32_000),
    ("boxes with hedges", "\\boxed{5} or possibly " * 1_500),
]


def _peer_child(completion: str, reference: str, q) -> None:
    import logging

    logging.disable(logging.CRITICAL)  # math-verify logs each timeout with the whole (megabyte) input
    from math_verify import parse, verify

    q.put(bool(verify(parse(f"${reference}$"), parse(completion))))


def run_peer(completion: str, reference: str, limit_s: float) -> tuple[float, str]:
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_peer_child, args=(completion, reference, q))
    start = time.perf_counter()
    p.start()
    p.join(limit_s)
    elapsed = time.perf_counter() - start
    if p.is_alive():
        p.kill()
        p.join()
        return elapsed, f"no answer after {limit_s:.0f} s (killed)"
    return elapsed, str(q.get()) if not q.empty() else f"died (exit {p.exitcode})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=3.0, help="our per-item deadline in seconds")
    ap.add_argument("--peer-limit", type=float, default=30.0)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()

    from verifiers.runtime.local import RewardService

    worst = 0.0
    rows = []
    with RewardService("math", workers=2, timeout_s=args.timeout) as service:
        service.score(["<answer>1</answer>"], ["1"])  # workers up
        for name, completion, reference in CASES:
            start = time.perf_counter()
            s = service.score([completion], [reference])[0]
            elapsed = time.perf_counter() - start
            worst = max(worst, elapsed)
            peer = run_peer(completion, reference, args.peer_limit) if not args.no_peer else (float("nan"), "-")
            rows.append((name, elapsed, s.reason, peer))
    print(f"{'case':24s} {'ours s':>7s} {'our verdict':>12s}   {'math-verify s':>13s}  math-verify verdict")
    for name, elapsed, reason, (pt, pv) in rows:
        print(f"{name:24s} {elapsed:7.2f} {reason:>12s}   {pt:13.2f}  {pv}")
    budget = args.timeout + 1.0
    print(f"\nworst case ours: {worst:.2f} s (deadline {args.timeout:.1f} s + 1 s = {budget:.1f} s): "
          + ("WITHIN" if worst <= budget else "OVER"))

    from verifiers.math.verifier import MathVerifier

    key = MathVerifier().cache_key
    print("\nparent-side cache key on 32 KB adversarial completions (no deadline there):")
    worst_key = 0.0
    for name, completion in KEY_CASES:
        start = time.perf_counter()
        key(completion[:32_768])
        ms = (time.perf_counter() - start) * 1000
        worst_key = max(worst_key, ms)
        print(f"  {name:24s} {ms:8.1f} ms")
    print(f"worst cache key: {worst_key:.1f} ms")


if __name__ == "__main__":
    main()
