"""The batched reward service: a pool of worker processes with a hard deadline per item.

A batch goes in (completions, references, optional per-item specs) and a list of Scores of the
same length and order comes out, always. Each item runs in a worker process; an item that
outlives its deadline has its worker killed (SIGKILL, never `signal.alarm`, which breaks in
threads and Ray actors and cannot interrupt long C arithmetic such as `5^{5^{5^5}}`) and gets
`reason "timeout"`; an item whose worker dies gets `reason "crashed"`. The worker is replaced
and the rest of the batch goes on. A verifier that raises (a bad reference, a bug) gets
`reason "bad_reference"` or `"error"` for that item alone, with the message in `errors`; so
does an item the parent cannot prepare (a tests object it cannot budget, a reference that is
not JSON or holds a non-finite number, a bad per-item spec), an item whose budget is beyond
`max_item_s`, and a verifier that returns a non-finite reward or one beyond its `value_bound`.

Per-item spec strings are data: they may choose the verifiers, weights and composition, never
a resource or isolation limit looser than the operator's (`spec` and `spec_ceiling`; see
`verifiers.spec.check_within`). Verifier objects are the caller's own code and pass as they are.

Every request to a worker carries a fresh id that its reply must echo, and a call that ends
abnormally (an exception from a signal handler, such as verl's per-item SIGALRM timeout, or a
bug) kills every worker still holding an item: a late verdict can never land on, or be cached
for, another item.

The parent does only linear work per item, never any on the completion's content: it hashes
(spec, completion, reference) into a digest (`verifiers.keys`; references keyed type-exactly,
so `["a"]` and `'["a"]'` never share a verdict). GRPO batches share a reference across G
completions and repeat answers, so: items with equal digests are scored once; verdicts are kept
in a bounded LRU across batches, keyed by the digest (32 bytes, whatever the completion's
length; timeouts and crashes are never cached); a worker computes the verifier's `cache_key`
(math: the extracted answer) under the item's deadline and the parent reuses the verdict of an
equal key, cached or in flight, so eight reasonings that end in the same answer cost one
comparison; items are dispatched grouped by reference so each worker's parsed-reference cache
stays hot; and workers are forked from a server that has already imported sympy and
math-verify. Parsed specs are kept in LRUs (`SPEC_CACHE_SIZE`), in the parent and the workers.

    python -c "from verifiers.runtime.local import RewardService as R; print(R('math').score(['2'], ['2']))"
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

import dill
import multiprocess as mp

from verifiers.keys import LRU, Unkeyable, digest, reference_digest
from verifiers.runtime.pool import Item, WorkerPool, failed
from verifiers.runtime.workers import OBJECT_KEY_PREFIX, SPEC_CACHE_SIZE, valid_score
from verifiers.score import UNSCORED_REASONS, BadReference, Outcome, Score, ServiceError, SpecError
from verifiers.spec import builtin_modules, check_within, parse_spec
from verifiers.verifier import MAX_REWARD, Verifier, check_bound

__all__ = ["UNSCORED_REASONS", "BatchScorer", "Outcome", "RewardService", "SpecCeiling", "checked_outcome"]

log = logging.getLogger(__name__)

# UNSCORED_REASONS (imported above, and still importable from here) is defined in verifiers.score.

# The most seconds one item may hold a worker: the base deadline plus the verifier's budget (a
# code reference's worst case is every test running to its time limit). A reference with
# 10,000 tests would otherwise hold a worker for hours; beyond this it is a bad reference.
DEFAULT_MAX_ITEM_S = 600.0

# Imported once in the fork server so a fresh worker costs a fork, not a sympy import.
_PRELOAD = ["verifiers.runtime.workers", *builtin_modules(), "verifiers.math.warmup"]


def _positive_seconds(name: str, value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


# Specs beyond the default whose limits a per-item spec string may use: one, several, or none.
SpecCeiling = str | Verifier | Sequence[str | Verifier] | None


class BatchScorer:
    """What every reward service shares: the batch API and its checks, one batch at a time from
    any thread, closing, and parsed spec strings. Subclasses implement `_score_batch` (called
    under the lock, on a batch whose lengths agree) and `_release` (called once, under the lock)."""

    stats: dict[str, int]

    def __init__(self, spec: str | Verifier, timeout_s: float, spec_ceiling: SpecCeiling = None,
                 max_item_s: float | None = None):
        self.default_spec, self.timeout_s = spec, _positive_seconds("timeout_s", timeout_s)
        self.max_item_s = (max(DEFAULT_MAX_ITEM_S, self.timeout_s) if max_item_s is None
                           else _positive_seconds("max_item_s", max_item_s))
        if self.max_item_s < self.timeout_s:
            raise ValueError(f"max_item_s ({max_item_s}) is below timeout_s ({timeout_s})")
        self._parsed: LRU[str, Verifier] = LRU(SPEC_CACHE_SIZE)
        # What per-item spec strings may ask for at most: the operator's specs (a bad one
        # raises SpecError here, at construction).
        self._ceiling = [self._checked(parse_spec(c)) for c in [spec, *self._ceiling_specs(spec_ceiling)]]
        self._lock = threading.Lock()
        self._closed = False

    def score(self, completions: Sequence[str], references: Sequence[Any],
              specs: Sequence[str | Verifier | None] | None = None) -> list[Score]:
        """One Score per completion, in order; see the module docstring for what can go wrong."""
        return [o.score for o in self.score_outcomes(completions, references, specs)]

    def score_outcomes(self, completions: Sequence[str], references: Sequence[Any],
                       specs: Sequence[str | Verifier | None] | None = None) -> list[Outcome]:
        """Like `score`, with the error message of each item that could not be scored."""
        n = len(completions)
        if len(references) != n or (specs is not None and len(specs) != n):
            raise ValueError(f"batch lengths differ: {n} completions, {len(references)} references"
                             + (f", {len(specs)} specs" if specs is not None else ""))
        with self._lock:
            if self._closed:
                raise ServiceError("the reward service is closed")
            outcomes = self._score_batch(list(completions), list(references),
                                         list(specs) if specs is not None else None)
        return [checked_outcome(o) for o in outcomes]

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _ceiling_specs(spec_ceiling: SpecCeiling) -> list[str | Verifier]:
        if spec_ceiling is None:
            return []
        return [spec_ceiling] if isinstance(spec_ceiling, str | Verifier) else list(spec_ceiling)

    @staticmethod
    def _checked(v: Verifier) -> Verifier:
        try:
            return check_bound(v)  # a custom object that says it scores beyond MAX_REWARD
        except (TypeError, ValueError) as e:
            raise SpecError(str(e)) from e

    def _parse(self, spec: str | Verifier) -> Verifier:
        """The Verifier of a spec. An object is the caller's own code and passes as it is
        (within MAX_REWARD); a string may come from data, so it is parsed once (an LRU) and
        must stay within the ceiling (a bad one, or one asking for looser limits, raises
        SpecError)."""
        if isinstance(spec, Verifier):
            return self._checked(spec)
        if not isinstance(spec, str):
            raise SpecError(f"a reward spec must be a string, got {type(spec).__name__}")
        v = self._parsed.get(spec)
        if v is None:
            v = parse_spec(spec)
            check_within(v, self._ceiling)
            self._parsed.put(spec, v)
        return v

    def _score_batch(self, completions: list[str], references: list[Any],
                     specs: list[str | Verifier | None] | None) -> list[Outcome]:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError


def checked_outcome(o: Outcome) -> Outcome:
    """`o`, or an error outcome when its Score is not plain and finite (see `valid_score`) or
    beyond MAX_REWARD, whatever service produced it."""
    try:
        valid_score(o.score, MAX_REWARD)
    except (TypeError, ValueError) as e:
        return failed("error", str(e))
    return o


@dataclass(slots=True)
class _Batch:
    """What one call resolved: each spec's key, verifier and (for an object) dill bytes. Local
    to the call, so an LRU eviction meanwhile cannot take a verifier from under it."""

    verifiers: dict[str, Verifier | Any]
    blobs: dict[str, bytes]


class RewardService(BatchScorer):
    """Scores batches with a pool of worker processes and a hard deadline per item.

    spec:         default reward spec string ("0.1*format + math") or a Verifier object.
    spec_ceiling: more specs whose verifiers' limits a per-item spec string may use (a code
                  verifier's timeout, memory, isolation, ...); `spec` always counts. A
                  per-item spec asking for more is that item's error. See `spec.check_within`.
    workers:      number of worker processes (default: the CPU count).
    timeout_s:    base deadline per item, from the moment a worker takes it; a verifier's
                  `budget_s(reference)` (a code verifier's test time) is added to it.
    max_item_s:   the most an item may hold a worker (timeout_s + budget; default 600 s, or
                  timeout_s if larger); a reference that needs more (a code reference with
                  thousands of tests) is `bad_reference`: the data's problem, said so.
    memory_bytes: address-space limit of each worker (None: no limit).
    cache_size:   verdicts kept across batches for repeated (spec, completion, reference).

    Usable from any thread; concurrent calls are served one batch at a time.
    """

    def __init__(self, spec: str | Verifier = "math", workers: int | None = None, timeout_s: float = 10.0,
                 memory_bytes: int | None = 4 << 30, cache_size: int = 65536, start_method: str = "forkserver",
                 spec_ceiling: SpecCeiling = None, max_item_s: float | None = None):
        super().__init__(spec, timeout_s, spec_ceiling, max_item_s)
        self.n_workers = max(1, workers or os.cpu_count() or 1)
        self.memory_bytes, self.cache_size = memory_bytes, cache_size
        self._ctx = mp.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(_PRELOAD)
        # Python objects (specs, functions for `apply`) by id, each kept alive while listed so
        # that its id cannot be reused by another object meanwhile; keys come from a counter.
        self._object_ids: LRU[int, tuple[Any, str]] = LRU(SPEC_CACHE_SIZE)
        self._objects: LRU[str, bytes] = LRU(SPEC_CACHE_SIZE)  # key -> dill bytes
        self._object_keys = itertools.count(1)
        self._resolve(spec, _Batch({}, {}))  # a bad default spec fails here, not on the first batch
        self._cache: LRU[bytes, Score] = LRU(cache_size)
        self.stats = {"items": 0, "dispatched": 0, "cache_hits": 0, "answer_hits": 0, "timeouts": 0, "crashes": 0,
                      "workers_replaced": 0}
        self._pool = WorkerPool(self._ctx, self.n_workers, memory_bytes, self.stats)
        self._workers = self._pool.workers  # the same list: the finalizer stops what it holds
        self._finalizer = weakref.finalize(self, WorkerPool.shutdown, self._workers)

    def apply(self, fn: Callable[[str, Any], Any], completions: Sequence[str],
              references: Sequence[Any]) -> list[tuple[Any, str | None]]:
        """`fn(completion, reference)` for each pair, in the workers under the base deadline
        (timeout_s): `(value, None)`, or `(None, why)` when it raised, ran out of time or crashed.
        For work on model text the parent must not do itself (the CLI's answer extraction for
        maj@k): nothing is cached; equal pairs are computed once. `fn` travels by value (dill)."""
        if len(references) != len(completions):
            raise ValueError(f"batch lengths differ: {len(completions)} completions, {len(references)} references")
        with self._lock:
            if self._closed:
                raise ServiceError("the reward service is closed")
            batch = _Batch({}, {})
            key = self._object_key(fn, batch)
            return self._apply(key, list(completions), list(references), batch)

    # --- internals -----------------------------------------------------------------------
    def _score_batch(self, completions: list[str], references: list[Any],
                     specs: list[str | Verifier | None] | None) -> list[Outcome]:
        # A bad per-item spec fails that item alone; the default spec was checked at start.
        batch = _Batch({}, {})
        keys: list[str | None] = []
        spec_errors: dict[int, str] = {}
        resolved: dict[str, str | SpecError] = {}  # a spec string repeated in the batch is resolved once
        for i, spec in enumerate(specs or [None] * len(completions)):
            spec = spec if spec is not None else self.default_spec
            try:
                if isinstance(spec, str) and spec in resolved:
                    known = resolved[spec]
                    if isinstance(known, SpecError):
                        raise known
                    keys.append(known)
                    continue
                keys.append(self._resolve(spec, batch))
                if isinstance(spec, str):
                    resolved[spec] = keys[-1]
            except SpecError as e:
                keys.append(None)
                spec_errors[i] = f"bad reward spec: {e}"
                if isinstance(spec, str):
                    resolved[spec] = e
            except Exception as e:  # noqa: BLE001 - e.g. an object spec that does not pickle
                keys.append(None)
                spec_errors[i] = f"bad reward spec: {type(e).__name__}: {e}"
        return self._run(completions, references, keys, spec_errors, batch)

    def _release(self) -> None:
        self._finalizer()

    def _resolve(self, spec: str | Verifier, batch: _Batch) -> str:
        """The key a worker builds the verifier from; parses strings (once, an LRU) to fail fast."""
        if isinstance(spec, Verifier):
            self._checked(spec)
            return self._object_key(spec, batch)
        batch.verifiers[spec] = self._parse(spec)
        return spec

    def _object_key(self, obj: Any, batch: _Batch) -> str:
        entry = self._object_ids.get(id(obj))
        if entry is None or entry[0] is not obj:
            # recurse=True ships the globals a function uses (a user's `re`, `os`), so a
            # reward function defined in a script works without importing that script.
            blob = dill.dumps(obj, recurse=True)
            entry = (obj, f"{OBJECT_KEY_PREFIX}{next(self._object_keys)}")
            self._objects.put(entry[1], blob)
            self._object_ids.put(id(obj), entry)
        key = entry[1]
        blob = self._objects.get(key)
        if blob is None:  # evicted by other objects since: pickled again, under the same key
            blob = dill.dumps(obj, recurse=True)
            self._objects.put(key, blob)
        batch.verifiers[key], batch.blobs[key] = obj, blob
        return key

    def _run(self, completions: list[str], references: list[Any], keys: list[str | None],
             spec_errors: dict[int, str], batch: _Batch) -> list[Outcome]:
        n = len(completions)
        results: list[Outcome | None] = [None] * n
        # Exact duplicates are scored once: `owners[k]` lists the batch indices of unique item k.
        unique: dict[bytes, int] = {}
        owners: list[list[int]] = []
        items: list[Item] = []
        ref_digests: dict[int, bytes | Exception] = {}  # by id(): a reference shared by G items is keyed once
        budgets: dict[tuple[str, bytes], float | Outcome] = {}  # one budget per (spec, reference)
        for i in range(n):
            key = keys[i]
            if key is None:
                results[i] = failed("error", spec_errors[i])
                continue
            if not isinstance(completions[i], str):
                results[i] = failed("error", f"completion is {type(completions[i]).__name__}, not text")
                continue
            # Everything the parent computes about an item happens here, before any worker
            # holds one, and is linear in its size: what fails is that item's error.
            ref_digest = self._ref_digest(references[i], ref_digests)
            if isinstance(ref_digest, Exception):
                results[i] = failed("bad_reference", f"bad reference: {ref_digest}")
                continue
            d = digest(b"item", key, completions[i], ref_digest)
            hit = self._cache.get(d)
            if hit is not None:
                results[i] = Outcome(hit)
                self.stats["cache_hits"] += 1
                continue
            if d in unique:
                owners[unique[d]].append(i)
                continue
            budget = budgets.get((key, ref_digest))
            if budget is None:
                budget = budgets[key, ref_digest] = self._budget_s(batch.verifiers[key], references[i])
            if isinstance(budget, Outcome):
                results[i] = budget
                continue
            unique[d] = len(items)
            owners.append([i])
            items.append(Item("item", key, completions[i], references[i], d, ref_digest, budget))
        self.stats["items"] += n
        self.stats["dispatched"] += len(items)
        done = self._pool.dispatch(items, batch.blobs, self.timeout_s, self._cache.get)
        for k, outcome in done.items():
            if outcome.score.reason not in UNSCORED_REASONS:
                self._remember(items[k].digest, outcome.score)
                if items[k].answer is not None:
                    self._remember(items[k].answer, outcome.score)
            for i in owners[k]:
                results[i] = outcome
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def _apply(self, key: str, completions: list[str], references: list[Any], batch: _Batch) -> list[tuple[Any, str | None]]:
        results: list[tuple[Any, str | None] | None] = [None] * len(completions)
        unique: dict[bytes, int] = {}
        owners: list[list[int]] = []
        items: list[Item] = []
        ref_digests: dict[int, bytes | Exception] = {}
        for i, (c, ref) in enumerate(zip(completions, references, strict=True)):
            ref_digest = self._ref_digest(ref, ref_digests)
            if not isinstance(c, str):
                results[i] = (None, f"completion is {type(c).__name__}, not text")
                continue
            if isinstance(ref_digest, Exception):
                results[i] = (None, f"bad reference: {ref_digest}")
                continue
            d = digest(b"apply", key, c, ref_digest)
            if d in unique:
                owners[unique[d]].append(i)
                continue
            unique[d] = len(items)
            owners.append([i])
            items.append(Item("apply", key, c, ref, d, ref_digest))
        done = self._pool.dispatch(items, batch.blobs, self.timeout_s, self._cache.get)
        for k, outcome in done.items():
            for i in owners[k]:
                results[i] = (items[k].value, outcome.error)
        return results  # type: ignore[return-value]

    @staticmethod
    def _ref_digest(reference: Any, seen: dict[int, bytes | Exception]) -> bytes | Exception:
        got = seen.get(id(reference))  # the caller's list keeps every reference alive meanwhile
        if got is None:
            try:
                got = reference_digest(reference)
            except Unkeyable as e:  # not JSON, or a non-finite number: keyed apart from nothing
                got = e
            seen[id(reference)] = got
        return got

    def _budget_s(self, verifier: Verifier, reference: Any) -> float | Outcome:
        """Seconds the item may take beyond timeout_s, or the outcome of an item that cannot
        be budgeted or needs more than max_item_s."""
        try:
            budget = verifier.budget_s(reference)
            if not isinstance(budget, int | float) or not math.isfinite(budget) or budget < 0:
                raise ValueError(f"verifier budget_s returned {budget!r}, not a finite number of seconds")
        except BadReference as e:
            return failed("bad_reference", f"bad reference: {e}")
        except Exception as e:  # noqa: BLE001 - a verifier's budget_s that fails
            return failed("error", f"{type(e).__name__}: {e}")
        if self.timeout_s + budget > self.max_item_s:
            return failed("bad_reference", f"bad reference: scoring it may take {self.timeout_s + budget:.0f} s "
                           f"(its tests' worst case plus the {self.timeout_s:g} s deadline), more than the "
                           f"operator's max_item_s of {self.max_item_s:g} s")
        return float(budget)

    def _remember(self, key: bytes, score: Score) -> None:
        if self.cache_size <= 0:
            return
        self._cache.put(key, score)

