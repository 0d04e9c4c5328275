"""The code blocks of docs/integrations.md, by section, for the tests that run them."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def blocks(section: str, language: str = "python") -> list[str]:
    """The fenced `language` blocks under the `## section` heading, in order."""
    text = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    body = next((p for p in parts if p.startswith(section + "\n")), None)
    if body is None:
        raise KeyError(f"no section {section!r} in {DOC}")
    return re.findall(rf"^```{language}\n(.*?)^```", body, flags=re.MULTILINE | re.DOTALL)


def run(code: str, replacements: dict[str, str] | None = None) -> dict:
    """Execute a block (after exact-text replacements, each of which must apply); its globals."""
    for old, new in (replacements or {}).items():
        assert old in code, f"{old!r} is no longer in the example; update the test"
        code = code.replace(old, new)
    namespace: dict = {"__name__": "__docs__"}
    exec(compile(code, str(DOC), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace
