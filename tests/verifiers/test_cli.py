"""The `verify` CLI: one output line per input line, bad lines reported, exit status."""

import json
import subprocess
import sys

import pytest

from verifiers.apps.cli import main

GOOD = "<think>1 + 1</think><answer>2</answer>"


def _write(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_scores_every_line_in_order_and_passes_fields_through(tmp_path, capsys):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(src, [{"completion": GOOD, "reference": "2", "id": i} for i in range(5)]
           + [{"completion": "no tags", "reference": "2", "id": 5}])
    assert main([str(src), "-o", str(dst), "--reward", "format", "--workers", "1"]) == 0
    rows = _read(dst)
    assert [r["id"] for r in rows] == list(range(6))
    assert [r["passed"] for r in rows] == [True] * 5 + [False]
    assert rows[5]["reason"] == "no_answer" and rows[0]["parts"] == {"format": 1.0}
    err = capsys.readouterr().err
    assert "6 records, 6 scored, 0 bad" in err and "pass rate 0.8333" in err


def test_bad_lines_get_an_error_row_and_a_nonzero_exit(tmp_path, capsys):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(src, [
        {"completion": GOOD, "reference": "2"},
        "{not json",
        {"reference": "2"},
        [1, 2],
        {"completion": 7, "reference": "2"},
        {"completion": GOOD, "reference": "2", "reward_spec": "bogus"},
        {"completion": GOOD, "reference": "2"},
    ])
    assert main([str(src), "-o", str(dst), "--reward", "format", "--workers", "1"]) == 1
    rows = _read(dst)
    assert len(rows) == 7
    assert [r["reward"] for r in rows] == [1.0, None, None, None, None, None, 1.0]
    assert "not valid JSON" in rows[1]["error"] and rows[1]["line"] == "{not json"
    assert "missing field 'completion'" in rows[2]["error"]
    assert "expected a JSON object" in rows[3]["error"]
    assert "must be a string" in rows[4]["error"]
    assert "unknown verifier 'bogus'" in rows[5]["error"]
    err = capsys.readouterr().err
    for n in (2, 3, 4, 5, 6):
        assert f"line {n}:" in err


def test_custom_keys_and_tests_field_fallback(tmp_path):
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(src, [{"text": GOOD, "gold": "2"}, {"text": GOOD, "tests": {"kind": "assert"}}])
    assert main([str(src), "-o", str(dst), "--reward", "format", "--completion-key", "text",
                 "--reference-key", "gold", "-q"]) == 0
    assert [r["passed"] for r in _read(dst)] == [True, True]


def test_bad_spec_and_missing_file_are_usage_errors(tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    _write(src, [{"completion": GOOD, "reference": "2"}])
    assert main([str(src), "--reward", "format &"]) == 2
    assert "bad --reward" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.jsonl")]) == 2


def test_stdin_to_stdout_through_the_console_entry(tmp_path):
    lines = json.dumps({"completion": GOOD, "reference": "2"}) + "\n" + "oops\n"
    proc = subprocess.run([sys.executable, "-m", "verifiers.apps.cli", "--reward", "format", "--workers", "1"],
                          input=lines, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert rows[0]["passed"] is True and rows[1]["reward"] is None
    assert "line 2" in proc.stderr


@pytest.mark.parametrize("args", [["--workers", "0"], ["--timeout", "0"], ["--batch-size", "0"]])
def test_nonsense_numbers_are_usage_errors(tmp_path, args):
    src = tmp_path / "in.jsonl"
    _write(src, [{"completion": GOOD, "reference": "2"}])
    assert main([str(src), *args]) == 2
