"""The reward service on Ray: the same `score` / `score_outcomes` API, scored across a cluster.

Each Ray actor hosts an ordinary `RewardService` (its own worker processes, per-item deadlines,
crash replacement, verdict cache), so an item that hangs or crashes gets `"timeout"` or
`"crashed"` exactly as it would locally, and the actor lives on; per-item spec strings are
held to the operator's ceiling (`spec`, `spec_ceiling`) inside each actor, as locally. The
driver sorts a batch by reference (the G completions of one prompt land on one actor, where its
cache and de-duplication see them together), splits it into one chunk per actor, and waits
with `ray.wait`. Above the actors' own deadlines the driver keeps a backstop per chunk: an
actor that does not answer in time (a node that froze, an unpicklable object that blocks) is
killed with `ray.kill` and its items get `"timeout"`; an actor that died (node lost, OOM
killer) is replaced and its chunk retried once on the fresh actor, then reported `"crashed"`.
A call that ends abnormally (an exception from a signal handler) replaces the actors still busy
with its chunks, so the next call never waits behind work nobody will read.

    import ray; ray.init(address="auto")              # or let the service start a local Ray
    with RayRewardService("0.1*format + math", actors=16, workers_per_actor=4) as service:
        scores = service.score(completions, references)

Every node needs this package installed (or a `runtime_env` that ships it). Needs `ray`
(the `ray` extra). Exercised by `pytest tests/verifiers/test_ray_backend.py`.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import socket
import time
from typing import Any

import dill
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError

from verifiers.keys import Unkeyable, reference_digest
from verifiers.runtime.local import BatchScorer, Outcome, RewardService, SpecCeiling
from verifiers.score import Score, ServiceError
from verifiers.spec import register, registered
from verifiers.verifier import Verifier

log = logging.getLogger(__name__)


def _sort_key(reference: Any) -> bytes:
    try:
        return reference_digest(reference)
    except Unkeyable:  # the actor reports such a reference itself
        return b""


class _ScoringActor:
    """One Ray actor: a local RewardService behind a method Ray can call."""

    def __init__(self, default: Any, registry: bytes, workers: int, timeout_s: float,
                 memory_bytes: int | None, cache_size: int, ceiling: list[Any] | None = None,
                 max_item_s: float | None = None):
        for name, factory in dill.loads(registry).items():
            register(name, factory)
        self._objects: dict[str, Verifier] = {}
        self._default_blob = default
        self.service = RewardService(self._spec(default, {}), workers=workers, timeout_s=timeout_s,
                                     memory_bytes=memory_bytes, cache_size=cache_size,
                                     spec_ceiling=[self._spec(c, {}) for c in ceiling or []], max_item_s=max_item_s)

    def _spec(self, spec: Any, blobs: dict[str, bytes]) -> Any:
        # ("object", key): a Verifier object shipped once per actor and kept, so the local
        # service sees the same object (and caches its verdicts) batch after batch.
        if isinstance(spec, tuple):
            key = spec[1]
            if key not in self._objects:
                self._objects[key] = dill.loads(blobs[key] if key in blobs else spec[2])
            return self._objects[key]
        return spec

    def where(self) -> tuple[str, int]:
        return socket.gethostname(), os.getpid()

    def score(self, completions: list[str], references: list[Any], specs: list[Any] | None,
              blobs: dict[str, bytes]) -> list[Outcome]:
        resolved = [self._spec(s, blobs) if s is not None else None for s in specs] if specs else None
        return self.service.score_outcomes(completions, references, resolved)

    def stats(self) -> dict[str, int]:
        return dict(self.service.stats)

    def close(self) -> None:
        self.service.close()


class RayRewardService(BatchScorer):
    """Scores batches on Ray actors, each hosting a local RewardService; see the module docstring.

    spec, timeout_s, memory_bytes, cache_size, spec_ceiling, max_item_s: as for RewardService
                       (per actor).
    actors:            scoring actors (default: the cluster's CPUs / workers_per_actor).
    workers_per_actor: worker processes per actor; each actor reserves that many CPUs.
    address:           Ray cluster to join when Ray is not initialised yet ("auto",
                       "ray://head:10001"); None starts a local Ray instance.
    runtime_env:       passed to `ray.init` (e.g. {"pip": ["rlvr-verifiers"]}).
    actor_options:     extra `.options()` for the actors (resources, scheduling strategy).
    actor_slack_s:     added to each chunk's deadline, for the actor's worker processes to start.
    start_timeout_s:   how long to wait for the actors to be placed and started; also added to
                       the deadline of the first chunk sent to a replacement actor.
    """

    def __init__(self, spec: str | Verifier = "math", actors: int | None = None, workers_per_actor: int | None = None,
                 timeout_s: float = 10.0, memory_bytes: int | None = 4 << 30, cache_size: int = 65536,
                 address: str | None = None, runtime_env: dict | None = None, actor_options: dict | None = None,
                 actor_slack_s: float = 60.0, start_timeout_s: float = 300.0,
                 spec_ceiling: SpecCeiling = None, max_item_s: float | None = None):
        super().__init__(spec, timeout_s, spec_ceiling, max_item_s)
        self.actor_slack_s, self.start_timeout_s = actor_slack_s, start_timeout_s
        self._parse(spec)  # a bad default spec fails here
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        self.workers_per_actor = max(1, workers_per_actor or 4)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.n_actors = max(1, actors or cpus // self.workers_per_actor)
        self.n_workers = self.n_actors * self.workers_per_actor
        self._object_keys: dict[int, tuple[str, Verifier, bytes]] = {}
        self._key_ids = itertools.count()
        default = self._encode(spec)
        options = {"num_cpus": self.workers_per_actor, "max_restarts": 0, "scheduling_strategy": "SPREAD",
                   **(actor_options or {})}
        self._actor_cls = ray.remote(_ScoringActor).options(**options)
        self._actor_args = (default, dill.dumps(registered(), recurse=True), self.workers_per_actor,
                            self.timeout_s, memory_bytes, cache_size, [self._encode(c) for c in self._ceiling_specs(spec_ceiling)],
                            self.max_item_s)
        self._actors = [self._actor_cls.remote(*self._actor_args) for _ in range(self.n_actors)]
        self._known: list[set[str]] = [set() for _ in self._actors]
        self._started = [False] * self.n_actors  # has this actor answered yet?
        self.stats = {"items": 0, "chunks": 0, "actor_timeouts": 0, "actor_deaths": 0, "actors_replaced": 0}
        try:
            self.placement = ray.get([a.where.remote() for a in self._actors], timeout=start_timeout_s)
            self._started = [True] * self.n_actors
        except (GetTimeoutError, RayError) as e:
            self.close()
            raise ServiceError(f"could not start {self.n_actors} Ray scoring actors with {self.workers_per_actor} "
                               f"CPUs each within {start_timeout_s:g}s: {e}") from e

    # --- what BatchScorer asks of a service ------------------------------------------------
    def _score_batch(self, completions: list[str], references: list[Any], specs: list[Any] | None) -> list[Outcome]:
        self.stats["items"] += len(completions)
        return self._run(completions, references, specs)

    def _release(self) -> None:
        try:
            ray.get([a.close.remote() for a in self._actors], timeout=10)
        except RayError as e:
            log.warning("closing Ray scoring actors: %s", e)
        for a in self._actors:
            ray.kill(a)
        if self._owns_ray:
            ray.shutdown()

    def actor_stats(self) -> list[dict[str, int]]:
        """Each actor's local service counters (items, cache hits, timeouts, crashes, ...)."""
        return ray.get([a.stats.remote() for a in self._actors], timeout=60)

    # --- internals -----------------------------------------------------------------------
    def _encode(self, spec: str | Verifier) -> Any:
        """A spec as it travels to actors: a string, or ("object", key, blob) for a Verifier."""
        if isinstance(spec, str):
            return spec
        entry = self._object_keys.get(id(spec))
        if entry is None:
            # Kept alive here so its id() is not reused; recurse=True as RewardService does.
            entry = (f"obj{next(self._key_ids)}", spec, dill.dumps(spec, recurse=True))
            self._object_keys[id(spec)] = entry
        return ("object", entry[0], entry[2])

    def _deadline_s(self, references: list[Any], specs: list[Any]) -> float:
        per_item = []
        for ref, spec in zip(references, specs, strict=True):
            try:
                budget = self._parse(spec).budget_s(ref)
            except Exception:  # noqa: BLE001 - a bad spec is reported per item by the actor
                budget = 0.0
            per_item.append(min(self.timeout_s + budget, self.max_item_s))  # more: the actor refuses it
        rounds = math.ceil(len(per_item) / self.workers_per_actor)
        return self.actor_slack_s + rounds * max(per_item, default=self.timeout_s)

    def _run(self, completions: list[str], references: list[Any], specs: list[Any] | None) -> list[Outcome]:
        n = len(completions)
        results: list[Outcome | None] = [None] * n
        raw_specs = specs or [None] * n
        eff_specs = [s if s is not None else self.default_spec for s in raw_specs]
        encoded = [self._encode(s) if isinstance(s, str | Verifier) else s for s in raw_specs]
        order = sorted(range(n), key=lambda i: _sort_key(references[i]))
        k = min(len(self._actors), n) or 1
        size = math.ceil(n / k) if n else 0
        chunks = [order[j:j + size] for j in range(0, n, size)] if n else []
        pending: dict[Any, tuple[int, list[int], int, float]] = {}
        try:
            for slot, idxs in enumerate(chunks):
                self._submit(slot, idxs, 0, completions, references, encoded, eff_specs, pending)
            self._collect(results, pending, completions, references, encoded, eff_specs)
        finally:
            # Normally empty. After an exception, these actors are busy with chunks nobody
            # will read: replace them rather than queue the next call behind that work.
            for slot in {p[0] for p in pending.values()}:
                self._replace(slot)
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def _collect(self, results: list[Outcome | None], pending: dict, completions: list[str], references: list[Any],
                 encoded: list[Any], eff_specs: list[Any]) -> None:
        while pending:
            now = time.monotonic()
            wait_s = max(0.0, min(p[3] for p in pending.values()) - now)
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=wait_s)
            for ref in ready:
                slot, idxs, attempt, _, _ = pending.pop(ref)
                try:
                    outcomes = ray.get(ref)
                except RayActorError as e:
                    self.stats["actor_deaths"] += 1
                    self._replace(slot)
                    if attempt == 0:
                        log.warning("Ray scoring actor died (%s); retrying its %d items on a fresh actor", e, len(idxs))
                        self._submit(slot, idxs, 1, completions, references, encoded, eff_specs, pending)
                    else:
                        self._fill(results, idxs, "crashed", f"Ray scoring actor died twice: {e}")
                    continue
                except RayError as e:  # the actor's own service raised: report, replace, go on
                    self._replace(slot)
                    self._fill(results, idxs, "error", f"Ray scoring actor failed: {e}")
                    continue
                self._started[slot] = True
                for i, o in zip(idxs, outcomes, strict=True):
                    results[i] = o
            now = time.monotonic()
            for ref, (slot, idxs, _, deadline, allowed_s) in list(pending.items()):
                if now >= deadline:
                    del pending[ref]
                    self.stats["actor_timeouts"] += 1
                    self._replace(slot)  # ray.kill: the actor may be stuck anywhere, even outside Python
                    self._fill(results, idxs, "timeout",
                               f"Ray scoring actor did not answer within {allowed_s:.0f}s; actor killed")

    def _submit(self, slot: int, idxs: list[int], attempt: int, completions: list[str], references: list[Any],
                encoded: list[Any], eff_specs: list[Any], pending: dict) -> None:
        actor, known = self._actors[slot], self._known[slot]
        chunk_specs = [encoded[i] for i in idxs]
        blobs: dict[str, bytes] = {}
        light: list[Any] = []
        for s in chunk_specs:  # send each object's bytes once per actor
            if isinstance(s, tuple):
                if s[1] not in known:
                    blobs[s[1]] = s[2]
                light.append(("object", s[1], b""))
            else:
                light.append(s)
        ref = actor.score.remote([completions[i] for i in idxs], [references[i] for i in idxs],
                                 light if any(s is not None for s in light) else None, blobs)
        known.update(blobs)
        allowed_s = self._deadline_s([references[i] for i in idxs], [eff_specs[i] for i in idxs])
        if not self._started[slot]:  # a replacement still being placed and started by Ray
            allowed_s += self.start_timeout_s
        pending[ref] = (slot, idxs, attempt, time.monotonic() + allowed_s, allowed_s)
        self.stats["chunks"] += 1

    def _replace(self, slot: int) -> None:
        try:
            ray.kill(self._actors[slot])
        except RayError:
            pass
        self._actors[slot] = self._actor_cls.remote(*self._actor_args)
        self._known[slot] = set()
        self._started[slot] = False
        self.stats["actors_replaced"] += 1

    @staticmethod
    def _fill(results: list[Outcome | None], idxs: list[int], reason: str, error: str) -> None:
        for i in idxs:
            results[i] = Outcome(Score(0.0, False, reason), error)
