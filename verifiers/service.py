"""The batched reward service: a pool of worker processes with a hard deadline per item.

A batch goes in (completions, references, optional per-item specs) and a list of Scores of the
same length and order comes out, always. Each item runs in a worker process; an item that
outlives its deadline has its worker killed (SIGKILL, never `signal.alarm`, which breaks in
threads and Ray actors and cannot interrupt long C arithmetic such as `5^{5^{5^5}}`) and gets
`reason "timeout"`; an item whose worker dies gets `reason "crashed"`. The worker is replaced
and the rest of the batch goes on. A verifier that raises (a bad reference, a bug) gets
`reason "bad_reference"` or `"error"` for that item alone, with the message in `errors`.

GRPO batches share a reference across G completions and repeat answers, so: identical
(spec, completion, reference) items are scored once, verdicts are kept in a bounded LRU across
batches (timeouts and crashes are never cached), items are dispatched grouped by reference so
each worker's parsed-reference cache stays hot, and workers are forked from a server that has
already imported sympy and math-verify.

    python -c "from verifiers.service import RewardService as R; print(R('math').score(['2'], ['2']))"
"""

from __future__ import annotations

import io
import json
import logging
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
from multiprocess import forkserver, popen_forkserver, reduction, spawn, util
from multiprocess.connection import wait
from multiprocess.context import ForkServerProcess

from verifiers.score import BadReference, Score, ServiceError, SpecError
from verifiers.spec import _REGISTRY, parse_spec, register
from verifiers.verifier import Verifier

log = logging.getLogger(__name__)

# Reasons that mean "could not be scored", not "scored wrong": the service's own failures. A
# code program past its own time limit is scored ("time_limit", a failed test), never one of these.
UNSCORED_REASONS = frozenset({"timeout", "crashed", "bad_reference", "error"})

# Longer completions are deduplicated on their whole text: computing a verifier's cache key
# (answer extraction) happens in the parent, which has no deadline of its own.
_MAX_KEYED_CHARS = 32_768

# Imported once in the fork server so a fresh worker costs a fork, not a sympy import.
_PRELOAD = ["verifiers.service", "verifiers.format", "verifiers.shaping", "verifiers.math_answers", "verifiers.warmup",
            "verifiers.code"]


@dataclass(frozen=True, slots=True)
class Outcome:
    score: Score
    error: str | None = None  # why the item could not be scored, when it could not


def _die_with_parent() -> None:
    # Linux: SIGKILL this worker when the process that forked it exits, so a worker stuck in C
    # arithmetic never outlives the service.
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main(conn: Any, memory_bytes: int | None, registry: dict) -> None:
    _die_with_parent()
    if memory_bytes:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    for name, factory in registry.items():
        register(name, factory)
    verifiers: dict[str, Verifier] = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        if msg[0] == "verifier":  # ("verifier", key, dill bytes): a Python object spec
            verifiers[msg[1]] = dill.loads(msg[2])
            continue
        _, idx, key, completion, reference = msg
        try:
            v = verifiers.get(key)
            if v is None:
                v = verifiers[key] = parse_spec(key)
            s = v(completion, reference)
            if not isinstance(s, Score):
                raise TypeError(f"verifier {v!r} returned {type(s).__name__}, not Score")
            out = (idx, s, None)
        except BadReference as e:
            out = (idx, Score(0.0, False, "bad_reference"), f"bad reference: {e}")
        except MemoryError:
            out = (idx, Score(0.0, False, "crashed"), "verifier ran out of memory")
        except Exception as e:  # noqa: BLE001 - the process boundary: report, never die silently
            out = (idx, Score(0.0, False, "error"), f"{type(e).__name__}: {e}")
        conn.send(out)


class _NoMainPopen(popen_forkserver.Popen):
    """Forkserver launch without re-running the caller's `__main__` in the worker.

    multiprocessing re-imports the main script in every forkserver/spawn child. For a reward
    worker that is wrong twice over: a training script would re-import torch in each worker
    (seconds and gigabytes per replacement), and a script without an `if __name__` guard
    would recurse. Workers need nothing from `__main__`: verifier objects travel by value
    (dill), spec strings are rebuilt from the registry.
    """

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        popen_forkserver.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            popen_forkserver.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _WorkerProcess(ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _NoMainPopen:
        return _NoMainPopen(process_obj)


class _Worker:
    def __init__(self, ctx: Any, memory_bytes: int | None):
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        process_cls = _WorkerProcess if ctx.get_start_method() == "forkserver" else ctx.Process
        self.proc = process_cls(target=_worker_main, args=(child_conn, memory_bytes, dict(_REGISTRY)), daemon=True)
        self.proc.start()
        child_conn.close()  # so the parent sees EOF when the worker dies
        self.conn = parent_conn
        self.item: int | None = None
        self.deadline = 0.0
        self.known: set[str] = set()  # object-spec keys already sent to this worker

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()


def _how_died(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            import signal

            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def _ref_key(reference: Any) -> str:
    if isinstance(reference, str):
        return reference
    return json.dumps(reference, sort_keys=True, default=str)


class BatchScorer:
    """What every reward service shares: the batch API and its checks, one batch at a time from
    any thread, closing, and parsed spec strings. Subclasses implement `_score_batch` (called
    under the lock, on a batch whose lengths agree) and `_release` (called once, under the lock)."""

    stats: dict[str, int]

    def __init__(self, spec: str | Verifier, timeout_s: float):
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.default_spec, self.timeout_s = spec, float(timeout_s)
        self._parsed: dict[str, Verifier] = {}
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
            return self._score_batch(list(completions), list(references), list(specs) if specs is not None else None)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _parse(self, spec: str | Verifier) -> Verifier:
        """The Verifier of a spec; strings are parsed once (a bad one raises SpecError)."""
        if isinstance(spec, Verifier):
            return spec
        if spec not in self._parsed:
            self._parsed[spec] = parse_spec(spec)
        return self._parsed[spec]

    def _score_batch(self, completions: list[str], references: list[Any],
                     specs: list[str | Verifier | None] | None) -> list[Outcome]:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError


class RewardService(BatchScorer):
    """Scores batches with a pool of worker processes and a hard deadline per item.

    spec:         default reward spec string ("0.1*format + math") or a Verifier object.
    workers:      number of worker processes (default: the CPU count).
    timeout_s:    base deadline per item, from the moment a worker takes it; a verifier's
                  `budget_s(reference)` (a code verifier's test time) is added to it.
    memory_bytes: address-space limit of each worker (None: no limit).
    cache_size:   verdicts kept across batches for repeated (spec, completion, reference).

    Usable from any thread; concurrent calls are served one batch at a time.
    """

    def __init__(self, spec: str | Verifier = "math", workers: int | None = None, timeout_s: float = 10.0,
                 memory_bytes: int | None = 4 << 30, cache_size: int = 65536, start_method: str = "forkserver"):
        super().__init__(spec, timeout_s)
        self.n_workers = max(1, workers or os.cpu_count() or 1)
        self.memory_bytes, self.cache_size = memory_bytes, cache_size
        self._ctx = mp.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(_PRELOAD)
        self._verifiers: dict[str, Verifier] = {}
        self._objects: dict[str, bytes] = {}
        self._resolve(spec)  # a bad default spec fails here, not on the first batch
        self._workers: list[_Worker] = []
        self._cache: OrderedDict[tuple[str, Any, str], Score] = OrderedDict()
        self.stats = {"items": 0, "dispatched": 0, "cache_hits": 0, "timeouts": 0, "crashes": 0, "workers_replaced": 0}
        self._finalizer = weakref.finalize(self, RewardService._shutdown, self._workers)

    # --- internals -----------------------------------------------------------------------
    def _score_batch(self, completions: list[str], references: list[Any],
                     specs: list[str | Verifier | None] | None) -> list[Outcome]:
        # A bad per-item spec fails that item alone; the default spec was checked at start.
        keys: list[str | None] = []
        spec_errors: dict[int, str] = {}
        for i, spec in enumerate(specs or [None] * len(completions)):
            try:
                keys.append(self._resolve(spec if spec is not None else self.default_spec))
            except SpecError as e:
                keys.append(None)
                spec_errors[i] = f"bad reward spec: {e}"
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
        items: list[tuple[str, str, Any, tuple[str, Any, str]]] = []
        for i in range(n):
            if keys[i] is None:
                results[i] = Outcome(Score(0.0, False, "error"), spec_errors[i])
                continue
            if not isinstance(completions[i], str):
                results[i] = Outcome(Score(0.0, False, "error"), f"completion is {type(completions[i]).__name__}, not text")
                continue
            cache_key = (keys[i], self._completion_key(keys[i], completions[i]), _ref_key(references[i]))
            hit = self._cache.get(cache_key)
            if hit is not None:
                self._cache.move_to_end(cache_key)
                results[i] = Outcome(hit)
                self.stats["cache_hits"] += 1
                continue
            if cache_key in unique:
                owners[unique[cache_key]].append(i)
                continue
            unique[cache_key] = len(items)
            owners.append([i])
            items.append((keys[i], completions[i], references[i], cache_key))
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

    def _dispatch(self, items: list, pending: deque[int]) -> dict[int, Outcome]:
        done: dict[int, Outcome] = {}
        while len(self._workers) < min(self.n_workers, max(1, len(pending))):
            self._workers.append(_Worker(self._ctx, self.memory_bytes))
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
                        _, s, err = w.conn.recv()
                        done[w.item] = Outcome(s, err)
                        w.item = None
                        continue
                    except (EOFError, OSError):
                        w.proc.join(timeout=1.0)  # to report how it died
                        done[w.item] = Outcome(Score(0.0, False, "crashed"),
                                               f"worker died while scoring ({_how_died(w.proc.exitcode)})")
                        self.stats["crashes"] += 1
                elif time.monotonic() >= w.deadline:
                    done[w.item] = Outcome(Score(0.0, False, "timeout"), "item exceeded its deadline; worker killed")
                    self.stats["timeouts"] += 1
                else:
                    continue
                self._replace(w)
        return done

    def _send(self, w: _Worker, k: int, items: list, done: dict[int, Outcome]) -> None:
        key, completion, reference, _ = items[k]
        budget = self._verifiers[key].budget_s(reference)
        for _attempt in range(2):
            try:
                if key in self._objects and key not in w.known:
                    w.conn.send(("verifier", key, self._objects[key]))
                    w.known.add(key)
                w.conn.send(("item", k, key, completion, reference))
                w.item, w.deadline = k, time.monotonic() + self.timeout_s + budget
                return
            except (BrokenPipeError, EOFError, OSError):
                # The worker died while idle (killed from outside): replace it and retry once.
                self._replace(w)
        raise ServiceError("cannot start reward workers: every fresh worker died at once")

    def _replace(self, w: _Worker) -> None:
        w.kill()
        fresh = _Worker(self._ctx, self.memory_bytes)
        w.proc, w.conn, w.item, w.known = fresh.proc, fresh.conn, None, set()
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
    def _shutdown(workers: list[_Worker]) -> None:
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
