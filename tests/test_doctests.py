"""The examples in docstrings run: every module of verifiers/ and sandboxes/ that has one.

Only modules with a `>>>` are imported, so optional extras (ray, fastapi) are not needed. The
sandbox examples run tiny programs (add two numbers, reverse a line) under the default limits.
"""

import doctest
import importlib
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _modules_with_examples() -> list[str]:
    out = []
    for pkg in ("verifiers", "sandboxes"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if ">>>" in path.read_text():
                parts = list(path.relative_to(ROOT).with_suffix("").parts)
                out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def test_there_are_examples_to_run():
    assert {"verifiers.verifier", "verifiers.code", "sandboxes"} <= set(_modules_with_examples())


@pytest.mark.parametrize("module", _modules_with_examples())
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted and not result.failed, result
