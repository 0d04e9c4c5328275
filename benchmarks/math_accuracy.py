"""Accuracy of our `math` verifier vs math-verify 0.9's defaults on the labelled table.

Both graders see every row of fixtures/math_equivalence.jsonl in one run:
    math-verify:        verify(parse(reference), parse(completion))   (library defaults)
    math-verify $gold$: verify(parse(f"${reference}$"), parse(completion))
    ours:               MathVerifier()(completion, reference).passed
and the script prints, per category and overall, for each grader:
    recall   share of must-match rows (expected true) that pass
    FPR      share of must-not-match rows (expected false) that pass: false positives
    acc      share of rows where the grader agrees with the label
plus the rows where math-verify and ours disagree with the label, and the wall time of each.

    python benchmarks/math_accuracy.py [--table fixtures/math_equivalence.jsonl] [--rows]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import defaultdict
from pathlib import Path

from math_verify import parse, verify

from verifiers.math.verifier import MathVerifier

ROOT = Path(__file__).resolve().parents[1]


def math_verify_default(completion: str, reference: str) -> bool:
    try:
        return bool(verify(parse(reference), parse(completion)))
    except Exception:  # noqa: BLE001 - a crash of the baseline counts as "not passed"
        return False


def math_verify_wrapped_gold(completion: str, reference: str) -> bool:
    """math-verify with the gold wrapped in $...$, so that its LaTeX extractor sees it: a
    fairer baseline, since a bare gold such as \\frac34 is otherwise often not extracted."""
    try:
        return bool(verify(parse(f"${reference}$"), parse(completion)))
    except Exception:  # noqa: BLE001 - a crash of the baseline counts as "not passed"
        return False


_OURS = MathVerifier()


def ours(completion: str, reference: str) -> bool:
    return _OURS(completion, reference).passed


def summarise(rows: list[dict], results: list[bool]) -> dict[str, float | int]:
    pos = [r for r, got in zip(rows, results, strict=True) if r["expected"]]
    neg = [r for r, got in zip(rows, results, strict=True) if not r["expected"]]
    tp = sum(got for r, got in zip(rows, results, strict=True) if r["expected"])
    fp = sum(got for r, got in zip(rows, results, strict=True) if not r["expected"])
    correct = sum(got == r["expected"] for r, got in zip(rows, results, strict=True))
    return {
        "n": len(rows), "pos": len(pos), "neg": len(neg),
        "recall": tp / len(pos) if pos else float("nan"),
        "fpr": fp / len(neg) if neg else float("nan"),
        "acc": correct / len(rows) if rows else float("nan"),
    }


def pct(x: float) -> str:
    return "  -  " if x != x else f"{100 * x:5.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", default=str(ROOT / "fixtures" / "math_equivalence.jsonl"))
    ap.add_argument("--rows", action="store_true", help="list every row a grader gets wrong")
    args = ap.parse_args()
    logging.disable(logging.WARNING)  # math-verify logs each timeout; the table says enough

    rows = [json.loads(line) for line in Path(args.table).read_text().splitlines() if line.strip()]
    graders = {"math-verify": math_verify_default, "math-verify $gold$": math_verify_wrapped_gold,
               "ours": ours}
    results: dict[str, list[bool]] = {}
    seconds: dict[str, float] = {}
    for name, grade in graders.items():
        start = time.perf_counter()
        results[name] = [grade(r["completion"], r["reference"]) for r in rows]
        seconds[name] = time.perf_counter() - start

    by_cat: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_cat[r["category"]].append(i)

    print(f"{len(rows)} rows: {sum(r['expected'] for r in rows)} must match, "
          f"{sum(not r['expected'] for r in rows)} must not match\n")
    head = " | ".join(f"{name} recall | FPR | acc" for name in graders)
    print(f"| category | rows (+/-) | {head} |")
    print("|---|---|" + "---|" * 3 * len(graders))
    for cat in sorted(by_cat) + ["**all**"]:
        idx = range(len(rows)) if cat == "**all**" else by_cat[cat]
        sub = [rows[i] for i in idx]
        cells = []
        for name in graders:
            s = summarise(sub, [results[name][i] for i in idx])
            cells += [pct(s["recall"]), pct(s["fpr"]), pct(s["acc"])]
        pos = sum(r["expected"] for r in sub)
        print(f"| {cat} | {len(sub)} ({pos}/{len(sub) - pos}) | " + " | ".join(cells) + " |")
    print()
    for name in graders:
        print(f"{name}: {seconds[name]:.1f} s for {len(rows)} rows "
              f"({1000 * seconds[name] / len(rows):.1f} ms/row)")
    # steady state: the ANTLR parser's DFA cache is warm after the first pass (a training run
    # is always in this state); then the same rows again with our caches in place
    from verifiers.math import verifier as math_answers
    for cache in (math_answers._parse, math_answers._verdict, math_answers._normalized_reference):
        cache.cache_clear()
    start = time.perf_counter()
    again = [ours(r["completion"], r["reference"]) for r in rows]
    warm = time.perf_counter() - start
    start = time.perf_counter()
    [ours(r["completion"], r["reference"]) for r in rows]
    cached = time.perf_counter() - start
    assert again == results["ours"]
    print(f"ours, second pass (parser warm, our caches cleared): {1000 * warm / len(rows):.1f} ms/row; "
          f"third pass (verdicts cached): {1000 * cached / len(rows):.2f} ms/row")
    if args.rows:
        for name in graders:
            wrong = [i for i, r in enumerate(rows) if results[name][i] != r["expected"]]
            print(f"\n{name} disagrees with the label on {len(wrong)} rows:")
            for i in wrong:
                r = rows[i]
                print(f"  #{i} [{r['category']}] expected {r['expected']}: reference "
                      f"{r['reference']!r} -- {r['note']}")


if __name__ == "__main__":
    main()
