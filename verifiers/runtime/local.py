"""The batched reward service: a pool of worker processes with a hard deadline per item.

A batch goes in (completions, references, optional per-item specs) and a list of Scores of the
same length and order comes out, always. Each item runs in a worker process; an item that
outlives its deadline has its worker killed (SIGKILL, never `signal.alarm`, which breaks in
threads and Ray actors and cannot interrupt long C arithmetic such as `5^{5^{5^5}}`) and gets
`reason "timeout"`; an item whose worker dies gets `reason "crashed"`. The worker is replaced
and the rest of the batch goes on. A verifier that raises (a bad reference, a bug) gets
`reason "bad_reference"` or `"error"` for that item alone, with the message in `errors`; so
does an item the parent cannot prepare (a tests object it cannot budget, a reference too deep
to key or send, a bad per-item spec) and a verifier that returns a non-finite reward.

Per-item spec strings are data: they may choose the verifiers, weights and composition, never
a resource or isolation limit looser than the operator's (`spec` and `spec_ceiling`; see
`verifiers.spec.check_within`). Verifier objects are the caller's own code and pass as they are.

Every request to a worker carries a fresh id that its reply must echo, and a call that ends
abnormally (an exception from a signal handler, such as verl's per-item SIGALRM timeout, or a
bug) kills every worker still holding an item: a late verdict can never land on, or be cached
for, another item.

GRPO batches share a reference across G completions and repeat answers, so: identical
(spec, completion, reference) items are scored once, verdicts are kept in a bounded LRU across
batches (timeouts and crashes are never cached), items are dispatched grouped by reference so
each worker's parsed-reference cache stays hot, and workers are forked from a server that has
already imported sympy and math-verify.

    python -c "from verifiers.runtime.local import RewardService as R; print(R('math').score(['2'], ['2']))"
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import dill
import multiprocess as mp
from multiprocess.connection import wait
from multiprocess.reduction import ForkingPickler

from verifiers.runtime.workers import Worker, how_died, is_reply_to, valid_score
from verifiers.score import UNSCORED_REASONS, BadReference, Score, ServiceError, SpecError
from verifiers.spec import builtin_modules, check_within, parse_spec
from verifiers.verifier import Verifier

log = logging.getLogger(__name__)

# UNSCORED_REASONS (imported above, and still importable from here) is defined in verifiers.score.

# Longer completions are deduplicated on their whole text: computing a verifier's cache key
# (answer extraction) happens in the parent, which has no deadline of its own.
_MAX_KEYED_CHARS = 32_768

# Imported once in the fork server so a fresh worker costs a fork, not a sympy import.
_PRELOAD = ["verifiers.runtime.workers", *builtin_modules(), "verifiers.math.warmup"]


@dataclass(frozen=True, slots=True)
class Outcome:
    score: Score
    error: str | None = None  # why the item could not be scored, when it could not


def _failed(reason: str, error: str) -> Outcome:
    return Outcome(Score(0.0, False, reason), error)


def reference_key(reference: Any) -> str:
    if isinstance(reference, str):
        return reference
    return json.dumps(reference, sort_keys=True, default=str)


# Specs beyond the default whose limits a per-item spec string may use: one, several, or none.
SpecCeiling = str | Verifier | Sequence[str | Verifier] | None


class BatchScorer:
    """What every reward service shares: the batch API and its checks, one batch at a time from
    any thread, closing, and parsed spec strings. Subclasses implement `_score_batch` (called
    under the lock, on a batch whose lengths agree) and `_release` (called once, under the lock)."""

    stats: dict[str, int]

    def __init__(self, spec: str | Verifier, timeout_s: float, spec_ceiling: SpecCeiling = None):
        if not isinstance(timeout_s, int | float) or not math.isfinite(timeout_s) or timeout_s <= 0:
            raise ValueError(f"timeout_s must be a positive finite number, got {timeout_s}")
        self.default_spec, self.timeout_s = spec, float(timeout_s)
        self._parsed: dict[str, Verifier] = {}
        # What per-item spec strings may ask for at most: the operator's specs (a bad one
        # raises SpecError here, at construction).
        self._ceiling = [parse_spec(c) for c in [spec, *self._ceiling_specs(spec_ceiling)]]
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

    def _parse(self, spec: str | Verifier) -> Verifier:
        """The Verifier of a spec. An object is the caller's own code and passes as it is; a
        string may come from data, so it is parsed once and must stay within the ceiling (a
        bad one, or one asking for looser limits, raises SpecError)."""
        if isinstance(spec, Verifier):
            return spec
        if not isinstance(spec, str):
            raise SpecError(f"a reward spec must be a string, got {type(spec).__name__}")
        v = self._parsed.get(spec)
        if v is None:
            v = parse_spec(spec)
            check_within(v, self._ceiling)
            self._parsed[spec] = v
        return v

    def _score_batch(self, completions: list[str], references: list[Any],
                     specs: list[str | Verifier | None] | None) -> list[Outcome]:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError


def checked_outcome(o: Outcome) -> Outcome:
    """`o`, or an error outcome when its Score is not plain and finite (see `valid_score`)."""
    try:
        valid_score(o.score)
    except (TypeError, ValueError) as e:
        return _failed("error", str(e))
    return o


class RewardService(BatchScorer):
    """Scores batches with a pool of worker processes and a hard deadline per item.

    spec:         default reward spec string ("0.1*format + math") or a Verifier object.
    spec_ceiling: more specs whose verifiers' limits a per-item spec string may use (a code
                  verifier's timeout, memory, isolation, ...); `spec` always counts. A
                  per-item spec asking for more is that item's error. See `spec.check_within`.
    workers:      number of worker processes (default: the CPU count).
    timeout_s:    base deadline per item, from the moment a worker takes it; a verifier's
                  `budget_s(reference)` (a code verifier's test time) is added to it.
    memory_bytes: address-space limit of each worker (None: no limit).
    cache_size:   verdicts kept across batches for repeated (spec, completion, reference).

    Usable from any thread; concurrent calls are served one batch at a time.
    """

    def __init__(self, spec: str | Verifier = "math", workers: int | None = None, timeout_s: float = 10.0,
                 memory_bytes: int | None = 4 << 30, cache_size: int = 65536, start_method: str = "forkserver",
                 spec_ceiling: SpecCeiling = None):
        super().__init__(spec, timeout_s, spec_ceiling)
        self.n_workers = max(1, workers or os.cpu_count() or 1)
        self.memory_bytes, self.cache_size = memory_bytes, cache_size
        self._ctx = mp.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(_PRELOAD)
        self._verifiers: dict[str, Verifier] = {}
        self._objects: dict[str, bytes] = {}
        self._resolve(spec)  # a bad default spec fails here, not on the first batch
        self._workers: list[Worker] = []
        self._rids = itertools.count(1)
        self._cache: OrderedDict[tuple[str, Any, str], Score] = OrderedDict()
        self.stats = {"items": 0, "dispatched": 0, "cache_hits": 0, "timeouts": 0, "crashes": 0, "workers_replaced": 0}
        self._finalizer = weakref.finalize(self, RewardService._shutdown, self._workers)

    # --- internals -----------------------------------------------------------------------
    def _score_batch(self, completions: list[str], references: list[Any],
                     specs: list[str | Verifier | None] | None) -> list[Outcome]:
        # A bad per-item spec fails that item alone; the default spec was checked at start.
        keys: list[str | None] = []
        spec_errors: dict[int, str] = {}
        rejected: dict[str, str] = {}  # a bad spec string repeated in the batch is parsed once
        for i, spec in enumerate(specs or [None] * len(completions)):
            try:
                if isinstance(spec, str) and spec in rejected:
                    raise SpecError(rejected[spec])
                keys.append(self._resolve(spec if spec is not None else self.default_spec))
            except SpecError as e:
                keys.append(None)
                spec_errors[i] = f"bad reward spec: {e}"
                if isinstance(spec, str):
                    rejected[spec] = str(e)
            except Exception as e:  # noqa: BLE001 - e.g. an object spec that does not pickle
                keys.append(None)
                spec_errors[i] = f"bad reward spec: {type(e).__name__}: {e}"
        return self._run(completions, references, keys, spec_errors)

    def _release(self) -> None:
        self._finalizer()

    def _resolve(self, spec: str | Verifier) -> str:
        """The key a worker builds the verifier from; parses strings once to fail fast."""
        if isinstance(spec, Verifier):
            key = f"object:{id(spec)}"
            if key not in self._objects:
                # recurse=True ships the globals a function uses (a user's `re`, `os`), so a
                # reward function defined in a script works without importing that script.
                self._objects[key] = dill.dumps(spec, recurse=True)
            self._verifiers[key] = spec
            return key
        self._verifiers[spec] = self._parse(spec)
        return spec

    def _run(self, completions: list[str], references: list[Any], keys: list[str | None],
             spec_errors: dict[int, str]) -> list[Outcome]:
        n = len(completions)
        results: list[Outcome | None] = [None] * n
        # Exact duplicates are scored once: `owners[k]` lists the batch indices of unique item k.
        unique: dict[tuple[str, Any, str], int] = {}
        owners: list[list[int]] = []
        items: list[tuple[str, str, Any, tuple[str, Any, str], float]] = []
        for i in range(n):
            key = keys[i]
            if key is None:
                results[i] = _failed("error", spec_errors[i])
                continue
            if not isinstance(completions[i], str):
                results[i] = _failed("error", f"completion is {type(completions[i]).__name__}, not text")
                continue
            # Everything the parent computes about an item happens here, before any worker
            # holds one: what fails is that item's error, never the batch's.
            try:
                cache_key = (key, self._completion_key(key, completions[i]), reference_key(references[i]))
            except Exception as e:  # noqa: BLE001 - e.g. a reference nested too deep to key
                results[i] = _failed("bad_reference", f"reference cannot be keyed: {type(e).__name__}: {e}")
                continue
            hit = self._cache.get(cache_key)
            if hit is not None:
                self._cache.move_to_end(cache_key)
                results[i] = Outcome(hit)
                self.stats["cache_hits"] += 1
                continue
            if cache_key in unique:
                owners[unique[cache_key]].append(i)
                continue
            try:
                budget = self._budget_s(key, references[i])
            except BadReference as e:
                results[i] = _failed("bad_reference", f"bad reference: {e}")
                continue
            except Exception as e:  # noqa: BLE001 - a verifier's budget_s that fails
                results[i] = _failed("error", f"{type(e).__name__}: {e}")
                continue
            unique[cache_key] = len(items)
            owners.append([i])
            items.append((key, completions[i], references[i], cache_key, budget))
        self.stats["items"] += n
        self.stats["dispatched"] += len(items)
        # Dispatch grouped by reference so a worker's parsed-reference cache is reused.
        pending = deque(sorted(range(len(items)), key=lambda k: items[k][3][2]))
        done = self._dispatch(items, pending)
        for k, outcome in done.items():
            if outcome.score.reason not in UNSCORED_REASONS:
                self._remember(items[k][3], outcome.score)
            for i in owners[k]:
                results[i] = outcome
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def _budget_s(self, key: str, reference: Any) -> float:
        budget = self._verifiers[key].budget_s(reference)
        if not isinstance(budget, int | float) or not math.isfinite(budget) or budget < 0:
            raise ValueError(f"verifier budget_s returned {budget!r}, not a finite number of seconds")
        return float(budget)

    def _dispatch(self, items: list, pending: deque[int]) -> dict[int, Outcome]:
        done: dict[int, Outcome] = {}
        self._drop_busy()  # left busy by a call that was interrupted inside its `finally`
        while len(self._workers) < min(self.n_workers, max(1, len(pending))):
            self._workers.append(Worker(self._ctx, self.memory_bytes))
        try:
            while pending or any(w.item is not None for w in self._workers):
                for w in self._workers:
                    if w.item is None and pending:
                        self._send(w, pending.popleft(), items, done)
                busy = [w for w in self._workers if w.item is not None]
                if not busy:
                    continue
                wait_s = max(0.0, min(w.deadline for w in busy) - time.monotonic())
                ready = set(wait([w.conn for w in busy], timeout=wait_s))
                for w in busy:
                    if w.conn in ready:
                        try:
                            reply = w.conn.recv()
                        except (EOFError, OSError):
                            w.proc.join(timeout=1.0)  # to report how it died
                            done[w.item] = _failed("crashed", f"worker died while scoring ({how_died(w.proc.exitcode)})")
                            self.stats["crashes"] += 1
                        except Exception as e:  # noqa: BLE001 - a reply that does not unpickle
                            done[w.item] = _failed("crashed", f"unreadable reply from the worker: {type(e).__name__}: {e}")
                            self.stats["crashes"] += 1
                        else:
                            if is_reply_to(reply, w.rid):
                                done[w.item] = Outcome(reply[1], reply[2])
                                w.item = None
                                continue
                            done[w.item] = _failed("crashed", "the worker answered another request")
                            self.stats["crashes"] += 1
                    elif time.monotonic() >= w.deadline:
                        done[w.item] = _failed("timeout", "item exceeded its deadline; worker killed")
                        self.stats["timeouts"] += 1
                    else:
                        continue
                    self._replace(w)
        finally:
            # Normally no worker is busy here. After an exception (a signal handler's, a bug)
            # the busy ones hold items of this call: their replies must never be read.
            self._drop_busy()
        return done

    def _send(self, w: Worker, k: int, items: list, done: dict[int, Outcome]) -> None:
        key, completion, reference, _, budget = items[k]
        rid = next(self._rids)
        try:
            # Pickled here, before any byte is written, so that a reference that does not
            # pickle (nested too deep, an odd object) is its item's error with the worker idle.
            data = ForkingPickler.dumps(("item", rid, key, completion, reference))
        except Exception as e:  # noqa: BLE001 - the item's own data
            done[k] = _failed("bad_reference", f"reference cannot be sent to a worker: {type(e).__name__}: {e}")
            return
        for _attempt in range(2):
            # Busy from before the first byte: if anything interrupts the send, the worker's
            # state is unknown and `_drop_busy` kills it.
            w.item, w.rid, w.deadline = k, rid, time.monotonic() + self.timeout_s + budget
            try:
                if key in self._objects and key not in w.known:
                    w.conn.send(("verifier", key, self._objects[key]))
                    w.known.add(key)
                w.conn.send_bytes(data)
                return
            except (BrokenPipeError, EOFError, OSError):
                # The worker died while idle (killed from outside): replace it and retry once.
                self._replace(w)
        raise ServiceError("cannot start reward workers: every fresh worker died at once")

    def _replace(self, w: Worker) -> None:
        w.kill()
        fresh = Worker(self._ctx, self.memory_bytes)
        w.proc, w.conn, w.item, w.known = fresh.proc, fresh.conn, None, set()
        self.stats["workers_replaced"] += 1

    def _drop_busy(self) -> None:
        """Kill and forget every worker that holds an item; the next dispatch starts fresh ones."""
        for w in [w for w in self._workers if w.item is not None]:
            w.kill()  # first: interrupted here, the worker is still listed and killed next time
            self._workers.remove(w)  # in place: the finalizer holds this list
            self.stats["workers_replaced"] += 1

    def _completion_key(self, key: str, completion: str) -> Any:
        # The part of the completion the verdict depends on (e.g. the extracted answer); a
        # verifier whose key function fails falls back to the whole text, which is always safe.
        if len(completion) > _MAX_KEYED_CHARS:
            return ("text", completion)  # key extraction runs in the parent, without a deadline
        try:
            return self._verifiers[key].cache_key(completion)
        except Exception:  # noqa: BLE001 - a buggy key must cost speed, never correctness
            return ("text", completion)

    def _remember(self, key: tuple[str, Any, str], score: Score) -> None:
        if self.cache_size <= 0:
            return
        self._cache[key] = score
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    @staticmethod
    def _shutdown(workers: list[Worker]) -> None:
        for w in workers:
            try:
                w.conn.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + 2.0
        for w in workers:
            w.proc.join(timeout=max(0.0, deadline - time.monotonic()))
            w.kill()
        workers.clear()
