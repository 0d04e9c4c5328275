"""The layout's promises: dependencies flow one way, and modules stay small enough to read."""

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAX_MODULE_LINES = 500  # STYLE.md: a module past ~400 lines is asking to be split


def _imports(package: str) -> set[str]:
    names = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package, forbidden", [
    ("verifiers", {"torch", "transformers", "grpo"}),
    ("sandboxes", {"verifiers", "torch", "transformers", "grpo"}),
])
def test_dependencies_flow_one_way(package, forbidden):
    assert not (_imports(package) & forbidden)


def test_importing_verifiers_pulls_in_no_heavy_package():
    code = "import sys, verifiers; print(sorted(m for m in ('torch', 'transformers', 'sympy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_modules_stay_within_the_size_budget():
    too_long = {str(p.relative_to(ROOT)): n for pkg in ("verifiers", "sandboxes", "grpo")
                for p in (ROOT / pkg).rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not too_long, f"split these modules: {too_long}"
