"""Micro-batching for the reward server: concurrent requests become one worker-pool call.

A request's items wait in a queue; a background task takes the first, keeps taking for up to
`window_s` (or until `max_items`), and scores them all in one `service.score_outcomes` call on
one background thread, so the event loop keeps accepting. While that batch is scored, the next
one fills. Each request gets exactly its own slice of the outcomes back. A failure of the
service fails the requests of that batch and nothing else.

    pytest tests/verifiers/test_server.py -k batched
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from verifiers.service import Outcome

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
        completions = [c for j in jobs for c in j.completions]
        references = [r for j in jobs for r in j.references]
        specs = [s for j in jobs for s in j.specs]
        try:
            outcomes = await loop.run_in_executor(
                self._executor, self.service.score_outcomes, completions, references,
                specs if any(s is not None for s in specs) else None)
        except Exception as e:  # noqa: BLE001 - the service broke: fail these requests, keep serving
            log.exception("reward service failed on a batch of %d items", len(completions))
            for j in jobs:
                if not j.future.done():
                    j.future.set_exception(e)
        else:
            at = 0
            for j in jobs:
                k = len(j.completions)
                if not j.future.done():  # a client that went away leaves a cancelled future
                    j.future.set_result(outcomes[at:at + k])
                at += k
        finally:
            self.pending_items -= len(completions)
            self.stats["batches"] += 1
            self.stats["requests"] += len(jobs)
            self.stats["items"] += len(completions)
