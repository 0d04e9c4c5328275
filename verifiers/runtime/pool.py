"""The reward service's dispatcher: items out to a pool of worker processes, verdicts back.

`WorkerPool.dispatch` keeps every worker busy until each item has an Outcome: a verdict, an
apply's value, `"timeout"` when an item outlives its deadline (its worker is killed and
replaced), `"crashed"` when its worker dies or answers out of protocol (a reply that does not
echo the request id, a key it was not asked for). An item whose worker reports a cache key
equal to one being scored waits for that verdict instead of being scored again (see
`verifiers.workers` for the handshake). An exception from outside (a signal handler) kills
every worker still holding an item, so no late verdict can land on another item.

    pytest tests/verifiers/test_service.py tests/verifiers/test_attacks_service.py
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from multiprocess.connection import wait
from multiprocess.reduction import ForkingPickler

from verifiers.keys import digest
from verifiers.runtime.workers import Worker, how_died, is_key_of, is_reply_to, is_value_of
from verifiers.score import Outcome, Score, ServiceError


def failed(reason: str, error: str) -> Outcome:
    return Outcome(Score(0.0, False, reason), error)


@dataclass(slots=True)
class Item:
    """One distinct piece of work of a call, as the dispatcher tracks it."""

    kind: str                   # "item" (score it) or "apply" (call a function on it)
    key: str                    # the verifier (or function) the worker looks up
    completion: str
    reference: Any
    digest: bytes               # of (kind, key, completion, reference): equal digests, one item
    ref_digest: bytes
    budget_s: float = 0.0
    answer: bytes | None = None  # digest of (key, the worker's cache key, reference), once known
    value: Any = None            # what an apply returned


class WorkerPool:
    """Up to `n_workers` worker processes; `stats` counts timeouts, crashes, replacements and
    answer hits into the service's own dict."""

    def __init__(self, ctx: Any, n_workers: int, memory_bytes: int | None, stats: dict[str, int]):
        self.ctx, self.n_workers, self.memory_bytes, self.stats = ctx, n_workers, memory_bytes, stats
        self.workers: list[Worker] = []
        self._rids = itertools.count(1)

    def dispatch(self, items: list[Item], blobs: dict[str, bytes], timeout_s: float,
                 cached: Callable[[bytes], Score | None]) -> dict[int, Outcome]:
        """Each item's Outcome (an apply's value goes to `item.value`), by index in `items`.
        `blobs`: dill bytes of the object keys the items use; `cached`: the verdict cached
        for an answer digest, if any."""
        # Dispatch grouped by reference so a worker's parsed-reference cache is reused.
        pending = deque(sorted(range(len(items)), key=lambda k: items[k].ref_digest))
        done: dict[int, Outcome] = {}
        # An item whose worker reported a cache key equal to one being scored waits for that
        # verdict: `leaders[answer digest]` is the item being scored, `followers[leader]` the rest.
        leaders: dict[bytes, int] = {}
        followers: dict[int, list[int]] = {}
        self.drop_busy()  # left busy by a call that was interrupted inside its `finally`
        while len(self.workers) < min(self.n_workers, max(1, len(pending))):
            self.workers.append(Worker(self.ctx, self.memory_bytes))
        try:
            while pending or any(w.item is not None for w in self.workers):
                for w in self.workers:
                    if w.item is None and pending:
                        self._send(w, pending.popleft(), items, blobs, timeout_s, done)
                busy = [w for w in self.workers if w.item is not None]
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
                            done[w.item] = failed("crashed", f"worker died while scoring ({how_died(w.proc.exitcode)})")
                            self.stats["crashes"] += 1
                        except Exception as e:  # noqa: BLE001 - a reply that does not unpickle
                            done[w.item] = failed("crashed", f"unreadable reply from the worker: {type(e).__name__}: {e}")
                            self.stats["crashes"] += 1
                        else:
                            if self._take(w, reply, items, done, leaders, followers, cached):
                                continue
                            done[w.item] = failed("crashed", "the worker answered another request")
                            self.stats["crashes"] += 1
                    elif time.monotonic() >= w.deadline:
                        done[w.item] = failed("timeout", "item exceeded its deadline; worker killed")
                        self.stats["timeouts"] += 1
                    else:
                        continue
                    self._replace(w)
        finally:
            # Normally no worker is busy here. After an exception (a signal handler's, a bug)
            # the busy ones hold items of this call: their replies must never be read.
            self.drop_busy()
        for leader, waiting in followers.items():
            for k in waiting:
                done[k] = done[leader]
        return done

    def _take(self, w: Worker, reply: Any, items: list[Item], done: dict[int, Outcome],
              leaders: dict[bytes, int], followers: dict[int, list[int]],
              cached: Callable[[bytes], Score | None]) -> bool:
        """Handle a worker's message about its item; False when it does not fit the request."""
        k = w.item
        item = items[k]  # type: ignore[index]
        if item.kind == "apply":
            if not is_value_of(reply, w.rid):
                return False
            item.value, done[k] = reply[2], Outcome(Score(0.0, True, "ok"), reply[3])  # type: ignore[index]
            w.item = None
            return True
        if is_reply_to(reply, w.rid):
            done[k] = Outcome(reply[1], reply[2])  # type: ignore[index]
            w.item = None
            return True
        if not is_key_of(reply, w.rid) or w.keyed:
            return False
        # The worker's cache key: a verdict for an equal key, cached or being scored, is this
        # item's too (the verifier's promise); otherwise this item leads for that key.
        answer = digest(b"answer", item.key, reply[2], item.ref_digest)
        hit = cached(answer)
        if hit is not None:
            done[k] = Outcome(hit)  # type: ignore[index]
        elif answer in leaders:
            followers.setdefault(leaders[answer], []).append(k)  # type: ignore[arg-type]
        else:
            leaders[answer], item.answer, w.keyed = k, answer, True  # type: ignore[assignment]
            self._tell(w, ("go", w.rid))  # a worker that died meanwhile shows as EOF next
            return True
        self.stats["answer_hits"] += 1
        self._tell(w, ("skip", w.rid))
        w.item = None  # after the send: interrupted before, the worker is still busy and killed
        return True

    @staticmethod
    def _tell(w: Worker, msg: tuple) -> None:
        try:
            w.conn.send(msg)
        except OSError:
            pass  # dead: read as EOF while it holds its item, or replaced when next sent one

    def _send(self, w: Worker, k: int, items: list[Item], blobs: dict[str, bytes], timeout_s: float,
              done: dict[int, Outcome]) -> None:
        item = items[k]
        rid = next(self._rids)
        try:
            # Pickled here, before any byte is written, so that a reference that does not
            # pickle (nested too deep, an odd object) is its item's error with the worker idle.
            data = ForkingPickler.dumps((item.kind, rid, item.key, item.completion, item.reference))
        except Exception as e:  # noqa: BLE001 - the item's own data
            done[k] = failed("bad_reference", f"reference cannot be sent to a worker: {type(e).__name__}: {e}")
            return
        for _attempt in range(2):
            # Busy from before the first byte: if anything interrupts the send, the worker's
            # state is unknown and `_drop_busy` kills it.
            deadline_s = timeout_s + item.budget_s
            w.item, w.rid, w.keyed, w.deadline = k, rid, False, time.monotonic() + deadline_s
            try:
                if item.key in blobs and item.key not in w.known:
                    w.conn.send(("verifier", item.key, blobs[item.key]))
                if item.key in blobs:
                    w.known.put(item.key, True)  # as the worker's table is touched: blob, then item
                w.conn.send_bytes(data)
                return
            except (BrokenPipeError, EOFError, OSError):
                # The worker died while idle (killed from outside): replace it and retry once.
                self._replace(w)
        raise ServiceError("cannot start reward workers: every fresh worker died at once")

    def _replace(self, w: Worker) -> None:
        w.kill()
        fresh = Worker(self.ctx, self.memory_bytes)
        w.proc, w.conn, w.item, w.known = fresh.proc, fresh.conn, None, fresh.known
        self.stats["workers_replaced"] += 1

    def drop_busy(self) -> None:
        """Kill and forget every worker that holds an item; the next dispatch starts fresh ones."""
        for w in [w for w in self.workers if w.item is not None]:
            w.kill()  # first: interrupted here, the worker is still listed and killed next time
            self.workers.remove(w)  # in place: the finalizer holds this list
            self.stats["workers_replaced"] += 1

    @staticmethod
    def shutdown(workers: list[Worker]) -> None:
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
