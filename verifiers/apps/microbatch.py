"""Micro-batching for the reward server: concurrent requests become one worker-pool call.

A request's items wait in a queue; a background task takes the first, keeps taking for up to
`window_s` (or until `max_items`), and scores them all in one `service.score_outcomes` call on
one background thread, so the event loop keeps accepting. While that batch is scored, the next
one fills. Each request gets exactly its own slice of the outcomes back.

Requests from different clients share a batch, so one bad item must not fail the others. When
the service call raises, or returns anything but one Outcome per item, each request is scored
on its own; within a request that still fails, the items are split in halves until the item
that raises is found, and that item alone gets `reason "error"` (or `"bad_reference"`) with
the exception as its error. Only `ServiceError`, the service saying it is broken itself (closed,
workers cannot start), fails a request, and only the requests it was raised for.

    pytest tests/verifiers/test_server.py tests/verifiers/test_attacks_server.py -k batch
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from verifiers.runtime.local import Outcome
from verifiers.score import BadReference, Score, ServiceError, SpecError

log = logging.getLogger(__name__)


@dataclass
class _Job:
    completions: list[str]
    references: list[Any]
    specs: list[str | None]
    future: asyncio.Future


class MicroBatcher:
    """Gathers concurrent requests into one service call, run on one background thread."""

    def __init__(self, service: Any, window_s: float = 0.002, max_items: int = 8192):
        self.service, self.window_s, self.max_items = service, window_s, max_items
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="reward-batch")
        self._task: asyncio.Task | None = None
        self.pending_items = 0
        self.stats = {"batches": 0, "requests": 0, "items": 0}

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Score what is queued, then stop."""
        if self._task is not None:
            await self._queue.put(None)
            await self._task
        self._executor.shutdown(wait=True)

    async def score(self, completions: list[str], references: list[Any], specs: list[str | None]) -> list[Outcome]:
        if self._task is None or self._task.done():
            raise RuntimeError("the batcher is not running")
        job = _Job(completions, references, specs, asyncio.get_running_loop().create_future())
        self.pending_items += len(completions)
        await self._queue.put(job)
        return await job.future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        carry: _Job | None = None
        stopping = False
        while not stopping:
            first = carry if carry is not None else await self._queue.get()
            carry = None
            if first is None:
                break
            jobs, n = [first], len(first.completions)
            deadline = loop.time() + self.window_s
            while n < self.max_items:
                try:
                    nxt = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        nxt = await asyncio.wait_for(self._queue.get(), remaining)
                    except TimeoutError:
                        break
                if nxt is None:
                    stopping = True
                    break
                if n + len(nxt.completions) > self.max_items:
                    carry = nxt
                    break
                jobs.append(nxt)
                n += len(nxt.completions)
            await self._flush(loop, jobs)
        if carry is not None:
            await self._flush(loop, [carry])

    async def _flush(self, loop: asyncio.AbstractEventLoop, jobs: list[_Job]) -> None:
        n = sum(len(j.completions) for j in jobs)
        try:
            results = await loop.run_in_executor(self._executor, self._score_jobs, jobs)
        except Exception as e:  # noqa: BLE001 - a bug in the isolation itself: fail these requests, keep serving
            log.exception("scoring a batch of %d items failed", n)
            results = [e] * len(jobs)
        finally:
            self.pending_items -= n
            self.stats["batches"] += 1
            self.stats["requests"] += len(jobs)
            self.stats["items"] += n
        for j, result in zip(jobs, results, strict=True):
            if j.future.done():  # a client that went away leaves a cancelled future
                continue
            if isinstance(result, Exception):
                j.future.set_exception(result)
            else:
                j.future.set_result(result)

    # --- on the batch thread ------------------------------------------------------------------
    def _score_jobs(self, jobs: list[_Job]) -> list[list[Outcome] | Exception]:
        """Each job's outcomes, or the ServiceError that fails it: one call for all, and if that
        raises, one call per job, so a bad item in one request cannot fail another."""
        try:
            outcomes = self._call([c for j in jobs for c in j.completions], [r for j in jobs for r in j.references],
                                  [s for j in jobs for s in j.specs])
        except Exception as e:  # noqa: BLE001 - whatever it was, find whose it is
            if len(jobs) == 1:
                return [self._score_alone(jobs[0], e)]
            log.warning("a batch of %d requests failed (%s: %s); scoring each request on its own", len(jobs),
                        type(e).__name__, _short(e))
            return [self._score_alone(j) for j in jobs]
        out, at = [], 0
        for j in jobs:
            out.append(outcomes[at:at + len(j.completions)])
            at += len(j.completions)
        return out

    def _score_alone(self, job: _Job, failure: Exception | None = None) -> list[Outcome] | Exception:
        try:
            return self._isolate(job.completions, job.references, job.specs, failure)
        except ServiceError as e:
            return e

    def _isolate(self, completions: list[str], references: list[Any], specs: list[str | None],
                 failure: Exception | None = None) -> list[Outcome]:
        """Score these items (`failure`: what scoring them all at once already raised); an item
        whose scoring raises gets that as its error. Bisection: a few calls per bad item, not
        one call per item."""
        if failure is None:
            try:
                return self._call(completions, references, specs)
            except Exception as e:  # noqa: BLE001 - one of these items broke the call
                failure = e
        if isinstance(failure, ServiceError):
            raise failure
        if len(completions) == 1:
            log.warning("an item could not be scored: %s: %s", type(failure).__name__, _short(failure))
            return [_failed(failure)]
        mid = len(completions) // 2
        return (self._isolate(completions[:mid], references[:mid], specs[:mid])
                + self._isolate(completions[mid:], references[mid:], specs[mid:]))

    def _call(self, completions: list[str], references: list[Any], specs: list[str | None]) -> list[Outcome]:
        outcomes = self.service.score_outcomes(completions, references,
                                               specs if any(s is not None for s in specs) else None)
        # Slicing hands each request its part by position: a result list of any other shape
        # would give one client's verdicts to another.
        if not (isinstance(outcomes, list) and len(outcomes) == len(completions)
                and all(isinstance(o, Outcome) for o in outcomes)):
            got = len(outcomes) if isinstance(outcomes, list) else type(outcomes).__name__
            raise TypeError(f"the service returned {got} results for {len(completions)} items")
        return outcomes


def _short(e: Exception, limit: int = 300) -> str:
    text = str(e)
    return text if len(text) <= limit else text[:limit] + "..."


def _failed(e: Exception) -> Outcome:
    if isinstance(e, BadReference):
        return Outcome(Score(0.0, False, "bad_reference"), f"bad reference: {_short(e)}")
    if isinstance(e, SpecError):
        return Outcome(Score(0.0, False, "error"), f"bad reward spec: {_short(e)}")
    return Outcome(Score(0.0, False, "error"), f"could not be scored: {type(e).__name__}: {_short(e)}")
