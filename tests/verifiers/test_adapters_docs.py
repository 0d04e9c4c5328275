"""The README sections in docs/integrations.md, run as written (Ray's runs in test_ray_backend).

The TRL example's hub model id becomes a tiny model saved from a config (and, without a GPU,
`use_cpu=True` is added); the HTTP examples run against `verify serve` started from the `bash`
block above them, on a free port instead of theirs.
"""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.verifiers.docs_examples import blocks, run

ROOT = Path(__file__).resolve().parents[2]


def test_every_section_has_its_examples():
    for section in ["Use with TRL", "Use with verl", "Use with OpenRLHF", "Serve over HTTP", "Scale out on Ray"]:
        assert blocks(section), section


def test_trl_example(tmp_path, monkeypatch):
    pytest.importorskip("trl")
    transformers = pytest.importorskip("transformers")
    import torch

    torch.manual_seed(0)
    tok = transformers.AutoTokenizer.from_pretrained(ROOT / "fixtures" / "tokenizer")
    config = transformers.LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    transformers.LlamaForCausalLM(config).save_pretrained(tmp_path / "tiny")
    tok.save_pretrained(tmp_path / "tiny")
    monkeypatch.chdir(tmp_path)
    (code,) = blocks("Use with TRL")
    swaps = {'"Qwen/Qwen2.5-0.5B-Instruct"': repr(str(tmp_path / "tiny"))}
    if not torch.cuda.is_available():  # TRL's config asks for bf16 on a GPU unless told otherwise
        swaps['report_to="none")'] = 'report_to="none", use_cpu=True)'
    ns = run(code, swaps)
    # TRL called our reward every step and took its metrics (reward mean, pass rate, parts).
    history = ns["trainer"].state.log_history
    assert ns["trainer"].state.global_step == 2
    name = "0.1*format + math"
    for key in [f"rewards/{name}/mean", f"{name}/pass_rate", f"{name}/unscored_frac", f"{name}/part/format"]:
        assert sum(key in h for h in history) == 2, key


def test_verl_example():
    (bash,) = blocks("Use with verl", "bash")
    assert "custom_reward_function.path=reward.py" in bash
    (code,) = blocks("Use with verl")
    ns = run(code)
    assert ns["result"] == {"score": 1.0, "acc": 1.0, "unscored": 0.0}


def _serve_command(section: str, port: int) -> list[str]:
    line = next(ln for ln in blocks(section, "bash")[0].splitlines() if ln.startswith("verify serve"))
    argv = shlex.split(line)
    argv[argv.index("--port") + 1] = str(port)
    return [sys.executable, "-m", "verifiers.apps.cli", *argv[1:]]


@pytest.fixture(scope="module")
def served():

    from tests.verifiers.test_server import free_port, wait_until_serving

    port = free_port()
    cmd = _serve_command("Serve over HTTP", port)
    assert cmd[4:] == _serve_command("Use with OpenRLHF", port)[4:], "both sections start the same server"
    proc = subprocess.Popen(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, proc, lambda: proc.stderr.read().decode())
        yield base
    finally:
        proc.terminate()
        proc.wait(30)


def test_serve_over_http_example(served, capsys):
    (code,) = blocks("Serve over HTTP")
    run(code, {"http://127.0.0.1:8000": served})
    printed = capsys.readouterr().out.splitlines()
    expected = [ln[2:] for ln in code.splitlines() if ln.startswith("# q1-")]
    assert printed == expected


def test_openrlhf_example(served):
    (code,) = blocks("Use with OpenRLHF")
    ns = run(code, {"http://127.0.0.1:5000": served})
    assert ns["reply"]["rewards"] == pytest.approx([1.1, 0.1]) and ns["reply"]["scores"] == [1.0, 0.0]
    assert ns["reply"]["extra_logs"] == {"format": [1.0, 1.0], "math": [1.0, 0.0], "unscored": [0.0, 0.0]}
