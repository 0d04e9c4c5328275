"""Deprecated module paths from the flat layout, kept working: where each module lives now.

Until issue #12 every module sat at the top of `verifiers/`. Importing an old path now gives
the module at its new path, the very same object (`verifiers.service is verifiers.runtime.local`):
classes keep one identity (pickles made under either path load, `isinstance` holds), patching
the old path patches the real module, nothing is imported before it is asked for, and
`python -m verifiers.cli` still runs the CLI. New code should import the new paths; these
aliases will be removed in a later release.

Why aliases and not a file at each old path doing `from <new path> import *`: such a file
is a second module holding copies of the names (patching it would not reach the code that
runs), and a file at the old path makes git see "modified" instead of "renamed", so edits made
to the old file on other branches would no longer follow it to its new place.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import CodeType, ModuleType

MOVED = {
    # graders: math
    "verifiers.math_answers": "verifiers.math.verifier",
    "verifiers.math_compare": "verifiers.math.compare",
    "verifiers.math_guards": "verifiers.math.guards",
    "verifiers.latex_normalize": "verifiers.math.normalize",
    "verifiers.warmup": "verifiers.math.warmup",
    # runtime
    "verifiers.service": "verifiers.runtime.local",
    "verifiers.workers": "verifiers.runtime.workers",
    "verifiers.ray_backend": "verifiers.runtime.ray",
    # integrations
    "verifiers.for_trl": "verifiers.integrations.trl",
    "verifiers.for_verl": "verifiers.integrations.verl",
    "verifiers.for_openrlhf": "verifiers.integrations.openrlhf",
    # apps
    "verifiers.cli": "verifiers.apps.cli",
    "verifiers.cli_io": "verifiers.apps.cli_io",
    "verifiers.server": "verifiers.apps.server",
    "verifiers.microbatch": "verifiers.apps.microbatch",
    "verifiers.http_guards": "verifiers.apps.http_guards",
    "verifiers.request_checks": "verifiers.apps.request_checks",
    "verifiers.evaluate": "verifiers.apps.evaluate",
}
"""Old module path -> the path it lives at now (deprecated -> current)."""


class MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old path in MOVED to the module at its new path.

    First on `sys.meta_path`, and it answers only for the names in MOVED: an old path is an
    alias even where a stale file of that name is still importable (an old install's leftover,
    an editable install of another checkout)."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None  # a placeholder; exec_module swaps in the real module

    def exec_module(self, module: ModuleType) -> None:
        # The import system returns whatever sys.modules holds once exec_module is done.
        sys.modules[module.__name__] = importlib.import_module(MOVED[module.__name__])

    def get_code(self, fullname: str) -> CodeType | None:
        """For `python -m <old path>`: the new module's code, run as __main__."""
        spec = importlib.util.find_spec(MOVED[fullname])
        return spec.loader.get_code(spec.name) if spec and spec.loader else None


def install() -> None:
    """Make the old paths importable (once; `import verifiers` calls this)."""
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, MovedFinder())
