"""What `verify serve` checks of a request before anything is scored: counts and unknown fields
before pydantic validates the body, sizes after, and each item on its face.

A failed count or size costs the request (413, naming the item and the limit); an item that is
bad on its face (a reference nested too deep, a spec that does not parse) costs that item alone:
it gets its error outcome here and never reaches the service, where it would raise in the
middle of a batch other clients share.

    pytest tests/verifiers/test_attacks_server.py
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, HTTPException, Request

from verifiers.runtime.local import Outcome
from verifiers.score import Score, SpecError
from verifiers.spec import parse_spec

MAX_UNKNOWN_FIELDS = 100  # beyond this, one error instead of one per field


def shape_check(max_items: int, lists: tuple[str, ...], item_fields: frozenset[str] | None = None,
                fields: frozenset[str] | None = None) -> Any:
    """A route dependency that runs after the JSON is parsed and before pydantic validates it:
    each of `lists` holds at most `max_items` (413), and past `MAX_UNKNOWN_FIELDS` unknown
    fields (top level: not in `fields`; in a list's objects: not in `item_fields`) one 422
    names the first. pydantic reports every bad element, and a 16 MiB body of wrong items made
    a million errors, seconds and gigabytes to turn into a reply."""

    async def check(request: Request) -> None:
        try:
            payload = await request.json()  # already parsed: Starlette keeps it
        except (ValueError, RecursionError):
            return  # not JSON: pydantic's one error says so
        if not isinstance(payload, dict):
            return
        unknown = [("", payload.keys() - fields)] if fields is not None else []
        for name in lists:
            values = payload.get(name)
            if not isinstance(values, list):
                continue
            if len(values) > max_items:
                raise HTTPException(413, f"{name}: {len(values)} items in one request; the limit is {max_items}")
            if item_fields is not None:
                unknown += [(f"{name}.{k}.", v.keys() - item_fields) for k, v in enumerate(values)
                            if isinstance(v, dict)]
        if sum(len(keys) for _, keys in unknown) > MAX_UNKNOWN_FIELDS:
            where, keys = next((w, k) for w, k in unknown if k)
            raise HTTPException(422, f"{where}{min(map(str, keys))[:40]}: Extra inputs are not permitted "
                                     "(and more unknown fields)")

    return Depends(check)


def check_sizes(max_items: int, n: int, fields: list[tuple[str, list[Any], int]]) -> None:
    """413 for more than `max_items` items, or for the first string in `fields` (where-format,
    values, limit in characters) over its limit."""
    if n > max_items:
        raise HTTPException(413, f"{n} items in one request; the limit is {max_items}")
    for where, values, limit in fields:
        for k, v in enumerate(values):
            if isinstance(v, str) and len(v) > limit:
                raise HTTPException(413, f"{where.format(k)}: {len(v)} characters; the limit is {limit}")


def spec_problem(spec: str) -> str | None:
    """Why a per-item spec cannot be used, or None. The server caches it per app in an LRU;
    the service checks the spec again, against the operator's limits too."""
    try:
        parse_spec(spec)
    except SpecError as e:
        return f"bad reward spec: {e}"
    except RecursionError:
        return "bad reward spec: nested too deeply"
    except Exception as e:  # noqa: BLE001 - a verifier factory that raises is this item's problem
        return f"bad reward spec: {type(e).__name__}: {e}"
    return None


def screen(reference: Any, spec: str | None, max_depth: int, spec_problem: Any) -> Outcome | None:
    """The error outcome of an item that is bad on its face, or None to score it."""
    if not within_depth(reference, max_depth):
        return Outcome(Score(0.0, False, "bad_reference"), f"bad reference: nested deeper than {max_depth} levels")
    problem = spec_problem(spec) if spec is not None else None
    return Outcome(Score(0.0, False, "error"), problem) if problem else None


def within_depth(value: Any, max_depth: int) -> bool:
    """Whether lists and dicts in `value` nest at most `max_depth` deep. Iterative: the point is
    to refuse what would overflow the stack of a recursive walk."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict | list):
            if depth > max_depth:
                return False
            stack.extend((x, depth + 1) for x in (v.values() if isinstance(v, dict) else v))
    return True
