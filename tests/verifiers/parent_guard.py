"""Record every answer extraction and cache key computed in this (the parent) process.

The reward service's parent has no deadline of its own, so it must never run work that depends
on a completion's content: answer extraction (`verifiers.extract`) and verifiers' `cache_key`
belong in the workers, under each item's deadline. Workers are forked from a fresh forkserver
interpreter, so the patches below never reach them: whatever they record ran in the parent.
"""

import inspect
import sys

import verifiers.math_answers  # noqa: F401 - loaded, so that its imported names are patched too

import verifiers.extract
from verifiers.verifier import Verifier


def record_parent_extraction(monkeypatch) -> list[str]:
    """Patch extraction and cache keys in this process; return the list of what was called."""
    calls: list[str] = []

    def recorder(name, original):
        def wrapped(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)
        return wrapped

    originals = {f: n for n, f in vars(verifiers.extract).items()
                 if inspect.isfunction(f) and f.__module__ == "verifiers.extract"}
    for module in [m for name, m in sys.modules.items() if name.startswith("verifiers") and m is not None]:
        for attr, value in list(vars(module).items()):
            if inspect.isfunction(value) and value in originals:
                monkeypatch.setattr(module, attr, recorder(originals[value], value))
    classes, seen = [Verifier], set()
    while classes:
        cls = classes.pop()
        if cls in seen:
            continue
        seen.add(cls)
        classes.extend(cls.__subclasses__())
        if "cache_key" in vars(cls):
            monkeypatch.setattr(cls, "cache_key", recorder(f"{cls.__name__}.cache_key", vars(cls)["cache_key"]))
    return calls
