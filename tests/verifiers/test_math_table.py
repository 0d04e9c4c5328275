"""The `math` verifier against every row of the labelled table fixtures/math_equivalence.jsonl.

Each row is {"completion", "reference", "expected", "category", "note"}; the verifier's
`passed` must equal `expected`. Rows we cannot get right yet go in XFAIL with the reason;
the list is meant to stay short and honest (strict=True: a row that starts passing must be
taken off it).

    python -m pytest tests/verifiers/test_math_table.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifiers.math_answers import MathVerifier

TABLE = Path(__file__).resolve().parents[2] / "fixtures" / "math_equivalence.jsonl"

# row index (0-based line number) -> why our verifier disagrees with the label
XFAIL: dict[int, str] = {}


def _rows() -> list[dict]:
    if not TABLE.exists():
        return []
    return [json.loads(line) for line in TABLE.read_text(encoding="utf-8").splitlines() if line.strip()]


ROWS = _rows()


def _params():
    for i, row in enumerate(ROWS):
        marks = [pytest.mark.xfail(reason=XFAIL[i], strict=True)] if i in XFAIL else []
        yield pytest.param(i, row, id=f"{i}-{row.get('category', '?')}", marks=marks)


@pytest.mark.skipif(not ROWS, reason="fixtures/math_equivalence.jsonl is not there")
@pytest.mark.parametrize(("index", "row"), list(_params()))
def test_row(index, row):
    score = MathVerifier()(row["completion"], row["reference"])
    assert score.passed is row["expected"], (
        f"row {index} [{row.get('category')}] {row.get('note')}: expected {row['expected']}, "
        f"got {score.reason}; reference {row['reference']!r}")


def test_table_is_large_enough():
    if not ROWS:
        pytest.skip("fixtures/math_equivalence.jsonl is not there")
    assert len(ROWS) >= 300
    assert {r["expected"] for r in ROWS} == {True, False}
