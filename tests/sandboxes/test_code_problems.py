"""Every fixture problem: its solution scores 1.0 and each wrong completion scores < 1.0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifiers.code import CodeVerifier

ROWS = [json.loads(line) for line in
        (Path(__file__).parents[2] / "fixtures" / "code_problems.jsonl").read_text().splitlines()
        if line.strip()]
VERIFIER = CodeVerifier(timeout_s=5.0)


def test_fixture_has_enough_problems():
    assert len(ROWS) >= 50
    assert {r["tests"]["kind"] for r in ROWS} == {"assert", "stdio", "call"}


@pytest.mark.slow  # the whole problem set, wrong solutions included (some run to their time limit)
@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_solution_passes_and_wrong_ones_do_not(row):
    s = VERIFIER(row["solution"], row["tests"])
    assert (s.value, s.passed, s.reason) == (1.0, True, "ok"), s
    for wrong in row["wrong"]:
        w = VERIFIER(wrong, row["tests"])
        assert w.value < 1.0 and not w.passed and w.reason != "ok", (wrong[:200], w)
