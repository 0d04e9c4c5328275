"""Attacks on the `verify` CLI, written as the attacker would try them (issue 16, items 6, 9, 11).

Whatever a line holds, it gets exactly one output line and the run goes on (9); the output is
always strict JSON in valid UTF-8 (11); a run never overwrites its own input (9); a record's
`reward_spec` may choose the verifier, never looser limits than `--reward` (6); SIGTERM and
Ctrl-C stop the run and its workers at once, even with a long item in flight (6).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from verifiers.apps.cli import main

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"completion": "<think>1 + 1</think><answer>2</answer>", "reference": "2"}
WRONG = {"completion": "<think>1 + 1</think><answer>3</answer>", "reference": "2"}


def _strict(line: bytes) -> dict:
    def refuse(name):
        raise ValueError(f"{name} in the output")

    return json.loads(line.decode("utf-8"), parse_constant=refuse)


def _write(path: Path, lines: list) -> None:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines))


def _rows(path: Path) -> list[dict]:
    return [_strict(line) for line in path.read_bytes().splitlines()]


def _verify(tmp_path: Path, lines: list, *args: str) -> tuple[int, list[dict]]:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    _write(src, lines)
    rc = main([str(src), "-o", str(dst), "--workers", "1", "-q", *args])
    return rc, _rows(dst)


# --- 9: every line gets exactly one output line ---------------------------------------------------
def _deep_json(n: int) -> bytes:
    return b'{"completion": "2", "reference": ' + b"[" * n + b"]" * n + b"}"


@pytest.mark.parametrize("bad, why", [
    ({"completion": "x", "reference": {"kind": "nope", "tests": []}, "reward_spec": "code"}, "unknown kind"),
    ({"completion": "x", "tests": "not json", "reward_spec": "code"}, "not JSON"),
    ({"completion": "x", "reference": {"kind": "assert", "tests": "assert 1"}, "reward_spec": "code"}, "assert"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (_deep_json(600), "reference"),
    (_deep_json(5000), "nested too deeply"),
    (b'{"completion": "2", "reference": "2", "extra": NaN}', "NaN"),
    (b'{"completion": "2", "reference": "2"} \xff\xfe', "UTF-8"),
    (b'{"completion": "\xc3\x28", "reference": "2"}', "UTF-8"),
])
def test_a_bad_line_gets_its_own_error_line_and_the_rest_is_scored(tmp_path, bad, why):
    rc, rows = _verify(tmp_path, [GOOD, bad, WRONG, GOOD], "--reward", "math")
    assert rc == 1 and len(rows) == 4
    assert [r["passed"] for r in rows] == [True, None, False, True]
    assert rows[1]["reward"] is None and why in rows[1]["error"], rows[1]["error"][:300]


def test_invalid_utf8_on_stdin_is_that_lines_error(tmp_path):
    data = json.dumps(GOOD).encode() + b"\n" + b'{"completion": "\xff"}\n' + json.dumps(GOOD).encode() + b"\n"
    proc = subprocess.run([sys.executable, "-m", "verifiers.apps.cli", "--reward", "math", "--workers", "1", "-q"],
                          input=data, capture_output=True, timeout=300, cwd=ROOT)
    rows = [_strict(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 1 and [r["passed"] for r in rows] == [True, None, True]
    assert "line 2" in proc.stderr.decode() and "UTF-8" in rows[1]["error"]


def test_a_lone_surrogate_escape_is_written_back_as_valid_utf8_json(tmp_path):
    rec = b'{"completion": "<answer>2</answer> \\ud800", "reference": "2", "note": "\\udfff"}'
    rc, rows = _verify(tmp_path, [rec, GOOD], "--reward", "math")
    assert len(rows) == 2 and rows[0]["note"] == "\udfff" and rows[1]["passed"] is True


def test_a_bad_record_in_a_group_loses_nothing_else_and_the_report_is_written(tmp_path):
    report = tmp_path / "report.json"
    lines = [dict(GOOD, pid="a"), dict(WRONG, pid="a"),
             dict(GOOD, pid="a", reward_spec="code(isolation=rlimits)"),   # refused: looser isolation
             dict(GOOD, pid="a", reward_spec="code"),                      # "2" is no tests object
             dict(GOOD, pid="b"), b"\xff", _deep_json(600)[:-1] + b', "pid": "b"}', dict(GOOD, pid="b")]
    rc, rows = _verify(tmp_path, lines, "--reward", "math", "--group-key", "pid", "--report", str(report), "--k", "1,2")
    assert rc == 1 and len(rows) == len(lines)
    groups = {g["group"]: g for g in json.loads(report.read_text())["groups"]}
    assert groups["a"]["n"] == 2 and groups["a"]["correct"] == 1 and groups["a"]["bad_lines"] == 2
    assert groups["b"]["n"] == 2 and groups["b"]["correct"] == 2 and groups["b"]["bad_lines"] == 1


def test_keep_and_dedupe_survive_bad_records(tmp_path):
    lines = [dict(GOOD, pid="a"), dict(GOOD, pid="a", reward_spec="code(timeout_s=100000)"),
             dict(GOOD, pid="a", completion="<think>x</think><answer>2.0</answer>"),
             dict(GOOD, pid="a", reference={"kind": "nope"}, reward_spec="code"), b"\xff", dict(GOOD, pid="b")]
    rc, rows = _verify(tmp_path, lines, "--reward", "math", "--group-key", "pid", "--keep", "passed", "--dedupe")
    assert rc == 1
    assert [(r["pid"], r["passed"]) for r in rows] == [("a", True), ("b", True)]  # 2.0 is a duplicate of 2


# --- 9: a run never overwrites its own input -------------------------------------------------
def _refused(src: Path, content: bytes, capsys) -> None:
    assert src.read_bytes() == content
    assert "refusing" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["same", "relative", "symlink", "hardlink", "report", "plot"])
def test_an_output_that_is_the_input_is_refused_before_anything_is_written(tmp_path, how, capsys, monkeypatch):
    src = tmp_path / "x.jsonl"
    _write(src, [GOOD, WRONG])
    content = src.read_bytes()
    out = {"same": src, "relative": Path("x.jsonl"), "symlink": tmp_path / "link.jsonl",
           "hardlink": tmp_path / "hard.jsonl"}.get(how, tmp_path / "out.jsonl")
    if how == "symlink":
        out.symlink_to(src)
    if how == "hardlink":
        os.link(src, out)
    monkeypatch.chdir(tmp_path)
    extra = {"report": ["--group-key", "reference", "--report", str(src)], "plot": ["--group-key", "reference",
                                                                                     "--plot", "./x.jsonl"]}
    assert main([str(src), "-o", str(out), "--workers", "1", *extra.get(how, [])]) == 2
    _refused(src, content, capsys)


def test_shell_redirections_onto_the_input_are_refused(tmp_path):
    src = tmp_path / "x.jsonl"
    _write(src, [GOOD])
    content = src.read_bytes()
    cmd = [sys.executable, "-m", "verifiers.apps.cli", "--reward", "math", "--workers", "1"]
    with open(src, "rb") as stdin:  # verify -o x.jsonl < x.jsonl
        proc = subprocess.run([*cmd, "-o", str(src)], stdin=stdin, capture_output=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and src.read_bytes() == content
    with open(src, "ab") as stdout:  # verify x.jsonl >> x.jsonl: would read its own output forever
        proc = subprocess.run([*cmd, str(src)], stdout=stdout, stderr=subprocess.PIPE, timeout=120, cwd=ROOT)
    assert proc.returncode == 2 and src.read_bytes() == content and b"refusing" in proc.stderr


# --- 6: a record's reward_spec never loosens --reward's limits ------------------------------------
@pytest.mark.parametrize("spec", ["code(isolation=rlimits)", "code(timeout_s=100000)", "code(memory_bytes=1e15)",
                                  "math + code(max_processes=10000)", "code(timeout_s=nan)", "1e999*math",
                                  "(" * 100 + "math" + ")" * 100])
def test_a_records_spec_cannot_loosen_the_operators_limits(tmp_path, spec):
    bad = {"completion": "x", "reference": {"kind": "assert", "tests": ["assert True"]}, "reward_spec": spec}
    good = dict(GOOD, reward_spec="math")
    rc, rows = _verify(tmp_path, [good, bad, good], "--reward", "0.1*format + code(timeout_s=2)")
    assert rc == 1 and [r["passed"] for r in rows] == [True, None, True]
    assert "bad reward spec" in rows[1]["error"]


def test_spec_ceiling_lets_the_operator_allow_more(tmp_path):
    rec = {"completion": "x", "reference": {"kind": "nope"}, "reward_spec": "code(timeout_s=10)"}
    _, rows = _verify(tmp_path, [rec], "--reward", "math")
    assert "bad reward spec" in rows[0]["error"]
    _, rows = _verify(tmp_path, [rec], "--reward", "math", "--spec-ceiling", "code(timeout_s=20)")
    assert "bad reward spec" not in rows[0]["error"] and "unknown kind" in rows[0]["error"]


# --- 11: no non-finite number, anywhere ----------------------------------------------------
@pytest.mark.parametrize("args", [["--reward", "1e999*math"], ["--reward", "1e7*math"],
                                  ["--spec-ceiling", "code(timeout_s=1e999)"], ["--timeout", "nan"],
                                  ["--timeout", "inf"]])
def test_non_finite_numbers_in_the_command_are_usage_errors(tmp_path, args, capsys):
    src = tmp_path / "in.jsonl"
    _write(src, [GOOD])
    assert main([str(src), "-o", str(tmp_path / "out.jsonl"), *args]) == 2
    assert "verify:" in capsys.readouterr().err


# --- SIGTERM and Ctrl-C with a long item in flight ------------------------------------------------
PLUGIN = '''
import os, time
from pathlib import Path
from verifiers import Score, Verifier, register

class Sleepy(Verifier):
    name = "sleepy"

    def score(self, completion, reference):
        Path(reference).write_text(str(os.getpid()))  # in flight: the test may signal now
        time.sleep(120)
        return Score(1.0, True)

register("sleepy", Sleepy)
'''


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_run_and_its_workers_with_an_item_in_flight(tmp_path, sig, code):
    (tmp_path / "sleepy_plugin.py").write_text(PLUGIN)
    marker = tmp_path / "worker.pid"
    src = tmp_path / "in.jsonl"
    _write(src, [{"completion": "x", "reference": str(marker)}])
    run = "import sys, sleepy_plugin; from verifiers.apps.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.Popen([sys.executable, "-c", run, str(src), "--reward", "sleepy", "--timeout", "600",
                             "--workers", "1", "-o", str(tmp_path / "out.jsonl")], env=env, stderr=subprocess.PIPE)
    worker = None
    try:
        deadline = time.monotonic() + 120  # bounds a hang only: the worker starts and writes its pid
        while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        worker = int(marker.read_text())
        proc.send_signal(sig)
        rc = proc.wait(timeout=60)
        assert rc == code, proc.stderr.read().decode()[-2000:]
        assert "stopped by" in proc.stderr.read().decode()
        assert not _alive(worker)  # killed on the way out, not left running its item
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if worker is not None and _alive(worker):
            os.kill(worker, signal.SIGKILL)


# --- The parent never reads model text (second red team, item 1) ---------------------------------
DOTS = {"completion": "#### " + "." * 200_000 + "5", "reference": "7"}


@pytest.mark.parametrize("mode", [[], ["--keep", "passed"], ["--group-key", "pid", "--k", "1,2"],
                                  ["--group-key", "pid", "--keep", "passed", "--dedupe", "--max-per-group", "2"]],
                         ids=["plain", "keep", "maj@k", "dedupe"])
def test_the_parent_never_extracts_an_answer_whatever_the_mode(tmp_path, monkeypatch, mode):
    # `verify dos.jsonl --timeout 1` spent 78 s extracting this answer in the parent, which has
    # no deadline. Answers for maj@k and --dedupe now come from the workers, under the deadline.
    from tests.verifiers.parent_guard import record_parent_extraction

    calls = record_parent_extraction(monkeypatch)
    lines = [dict(DOTS, pid="a"), dict(GOOD, pid="b"), dict(GOOD, pid="b", completion="<think>x</think><answer>2.0</answer>"),
             dict(WRONG, pid="b")]
    report = tmp_path / "report.json"
    extra = ["--report", str(report)] if "--group-key" in mode else []
    rc, rows = _verify(tmp_path, lines, "--reward", "math", "--timeout", "2", *mode, *extra)
    assert calls == [] and rc == 0
    kept = [r["completion"][-12:] for r in rows]
    if mode[:1] == ["--keep"]:
        assert kept == ["r>2</answer>", "2.0</answer>"]
    if "--dedupe" in mode:
        assert kept == ["r>2</answer>"]  # 2.0 is the same answer as 2, as the workers judge it
    if "--k" in mode:
        groups = {g["group"]: g for g in json.loads(report.read_text())["groups"]}
        assert groups["b"]["maj@k"] == {"1": True, "2": True} and groups["b"]["correct"] == 2


# --- Paths that will collide, before any exists (item 5) -------------------------------------------
@pytest.mark.parametrize("how", ["output-report", "output-plot", "report-plot", "relative", "dotted"])
def test_two_outputs_on_one_new_path_are_refused(tmp_path, monkeypatch, capsys, how):
    src = tmp_path / "in.jsonl"
    _write(src, [dict(GOOD, pid="a")])
    monkeypatch.chdir(tmp_path)
    x = tmp_path / "new.out"
    args = {"output-report": ["-o", str(x), "--report", str(x)],
            "output-plot": ["-o", str(x), "--plot", str(x)],
            "report-plot": ["--report", str(x), "--plot", str(x)],
            "relative": ["-o", "new.out", "--report", str(x)],
            "dotted": ["-o", "./sub/../new.out", "--report", "new.out"]}[how]
    (tmp_path / "sub").mkdir()
    assert main([str(src), "--group-key", "pid", "--workers", "1", *args]) == 2
    assert not x.exists() and "refusing" in capsys.readouterr().err


# --- Group keys and the error field (item 8) -------------------------------------------------------
def test_group_keys_are_type_exact(tmp_path):
    report = tmp_path / "report.json"
    lines = [dict(GOOD, pid=1), dict(WRONG, pid="1"), dict(GOOD, pid=1), dict(WRONG, pid="1"), dict(GOOD, pid=[1])]
    rc, rows = _verify(tmp_path, lines, "--reward", "math", "--group-key", "pid", "--report", str(report), "--k", "1")
    groups = [(g["group"], g["n"], g["correct"]) for g in json.loads(report.read_text())["groups"]]
    assert rc == 0 and sorted(groups, key=repr) == sorted([(1, 2, 2), ("1", 2, 0), ([1], 1, 1)], key=repr)


def test_a_scored_records_error_field_is_the_services_never_the_inputs(tmp_path):
    inf = b'{"completion": "<answer>2</answer>", "reference": [1e999], "error": "old"}'  # 1e999 reads as inf
    lines = [dict(GOOD, error="stale: do not trust"), dict(WRONG, error="x"), inf]
    rc, rows = _verify(tmp_path, lines, "--reward", "math")
    assert rows[0]["passed"] is True and rows[0]["error"] is None
    assert rows[1]["passed"] is False and rows[1]["error"] is None
    assert rows[2]["passed"] is None and "bad reference" in rows[2]["error"] and rc == 1


# --- The operator's cap on one item's time (item 7) ------------------------------------------------
def test_max_item_s_refuses_a_reference_with_too_many_tests(tmp_path):
    many = {"completion": "x", "reference": {"kind": "assert", "tests": ["assert True"] * 500}}
    rc, rows = _verify(tmp_path, [many], "--reward", "code(timeout_s=1)", "--max-item-s", "60")
    assert rc == 1 and rows[0]["reward"] is None and "max_item_s" in rows[0]["error"]
    src = tmp_path / "in.jsonl"
    assert main([str(src), "-o", str(tmp_path / "o.jsonl"), "--timeout", "10", "--max-item-s", "5"]) == 2
