"""`verify serve`: the reward service over HTTP (FastAPI + uvicorn, the `serve` extra).

    verify serve --reward "0.1*format + math" --port 8000
    curl -s localhost:8000/score -H 'content-type: application/json' \
         -d '{"items": [{"id": 1, "completion": "<think>…</think><answer>4</answer>", "reference": "4"}]}'

Endpoints: POST /score (our JSON: items with ids in, results with the same ids out),
POST /get_reward (OpenRLHF's remote reward model protocol, see `verifiers.integrations.openrlhf`),
GET /health, and the OpenAPI schema at /openapi.json (browsable at /docs without a token).

Concurrent requests are gathered for a few milliseconds (`--batch-window-ms`) into one call
to the worker pool, run on a background thread so the event loop keeps accepting; each
request gets exactly its own items back. A bad item costs that item alone, never the other
items of its batch, whoever sent them: one nested too deep or with a spec that does not parse
gets its error here, before the service; the service gives every item a deadline and replaces
a worker that hangs or crashes; and if the service call raises anyway, the batcher scores each
request, then each half, on its own until the item that raises has its `error` (see
`verifiers.apps.microbatch`). Only the service failing as a whole (closed, no workers) is a 503.

Safe by default: binds to 127.0.0.1 and refuses any other address unless a bearer token is
set (`--token` or $VERIFY_SERVE_TOKEN), which every path except /health then requires
(`Authorization: Bearer …`, or `?token=…` for clients that cannot set headers, e.g. OpenRLHF),
checked in constant time before the body is read; with a token, /openapi.json needs it and
/docs, /redoc are off. Bounded (see `RequestLimits`; `verify serve --help`): open connections, with a
deadline on request headers, so slow clients cannot take every file descriptor (`/health`
keeps answering; `verifiers.apps.http_guards`); requests in flight (503); the body's size (413,
declared or chunked) and arrival time (408); items per request and each item's completion,
spec and id (413, naming the item and the limit); the problems a 422 lists (counts and
unknown fields are checked before pydantic, which reports every bad element); per-item specs
kept parsed (LRU); and repeated warnings in the log (a count instead of a flood).
SIGINT/SIGTERM stop accepting, finish the requests in flight (up to `--graceful-timeout`
seconds), then stop the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import logging
import math
import os
import sys
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from verifiers.apps import request_checks as checks
from verifiers.apps.http_guards import (
    RequestGuard,
    bounded_h11,
    fit_file_limit,
    install_log_rate_limit,
)
from verifiers.apps.microbatch import MicroBatcher
from verifiers.integrations.openrlhf import (
    DEFAULT_STRIP_TOKENS,
    openrlhf_response,
    part_names,
    response_text,
)
from verifiers.runtime.local import UNSCORED_REASONS, Outcome
from verifiers.score import SpecError
from verifiers.spec import parse_spec

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
TOKEN_ENV = "VERIFY_SERVE_TOKEN"


# --- request and response bodies -------------------------------------------------------------
class ScoreItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | int = Field(description="the caller's id for this item; echoed in its result")
    completion: str = Field(description="the model's text")
    reference: Any = Field(description="the gold answer (a string), or a code `tests` object")
    spec: str | None = Field(None, description="reward spec for this item; default: the server's --reward")

    @field_validator("id")
    @classmethod
    def _id_is_text(cls, v: str | int) -> str | int:
        # The id is echoed in the response, which cannot carry a lone surrogate.
        if isinstance(v, str) and _text(v) != v:
            raise ValueError("the id holds a lone surrogate, which is not text")
        return v


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[ScoreItem] = Field(description="items to score; ids must be unique within the request")


class ScoreResult(BaseModel):
    id: str | int
    reward: float | None = Field(description="the shaped reward; null only when it is not a finite number")
    passed: bool = Field(description="strict correctness")
    reason: str = Field(description='"ok", "mismatch", "no_answer", ..., or an unscored reason such as "timeout"')
    scored: bool = Field(description="false when the item could not be scored (timeout, crashed, bad_reference, error)")
    parts: dict[str, float] = Field(description="value of each sub-verifier")
    error: str | None = Field(None, description="why the item could not be scored")


class ScoreResponse(BaseModel):
    results: list[ScoreResult]


class OpenRLHFRequest(BaseModel):
    # OpenRLHF forks add fields (datasources, metadata, ...): accepted and ignored.
    model_config = ConfigDict(extra="allow")
    query: list[str] = Field(description="prompt + response, decoded with special tokens")
    prompts: list[str] | None = Field(None, description="the prompts, to cut from each query")
    labels: list[Any] | None = Field(None, description="references: the dataset column named by --label_key")


class OpenRLHFResponse(BaseModel):
    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]


# --- the app -----------------------------------------------------------------------------------
@dataclass
class RequestLimits:
    """What one client can ask of the server; `verify serve --help` sets most of them."""

    max_body_bytes: int = 16 << 20
    max_items: int = 4096               # per request
    batch_window_s: float = 0.002
    max_batch_items: int = 8192         # per call to the worker pool
    max_completion_chars: int = 1 << 20  # per item (a /get_reward query counts whole)
    max_spec_chars: int = 1024          # per item
    max_id_chars: int = 256             # per item
    max_reference_depth: int = 64       # deeper nesting is that item's bad_reference
    spec_cache_size: int = 256          # distinct per-item specs kept parsed (LRU)
    max_in_flight: int = 256            # requests being read or scored at once (503 beyond)
    body_timeout_s: float = 60.0        # to receive a request's body (408 beyond)
    max_connections: int = 1024         # open at once; one more closes the oldest waiting for headers
    header_timeout_s: float = 10.0      # to receive a request's headers
    keep_alive_s: float = 5.0           # an idle connection is closed after this
    listen_backlog: int = 64            # connections the kernel queues; asyncio accepts this many at once


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


# Deprecated: the old name, easily confused with sandboxes.Limits (one program's resources).
Limits = RequestLimits


def create_app(service: Any, *, limits: RequestLimits | None = None, token: str | None = None,
               strip_tokens: tuple[str, ...] = DEFAULT_STRIP_TOKENS, close_service: bool = False) -> FastAPI:
    """The FastAPI app over `service` (anything with `score_outcomes`, e.g. RewardService or
    RayRewardService). `close_service`: close it when the app shuts down."""
    limits = limits or RequestLimits()
    spec = getattr(service, "default_spec", None)
    spec_label = spec if isinstance(spec, str) else repr(spec)
    leaves = part_names(parse_spec(spec)) if spec is not None else []
    spec_problem = functools.lru_cache(maxsize=limits.spec_cache_size)(checks.spec_problem)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher = MicroBatcher(service, limits.batch_window_s, limits.max_batch_items)
        batcher.start()
        app.state.batcher = batcher
        try:
            yield
        finally:
            await batcher.stop()
            if close_service:
                await asyncio.get_running_loop().run_in_executor(None, service.close)
            log.info("reward server stopped after %d requests, %d items", batcher.stats["requests"],
                     batcher.stats["items"])

    # With a token, the schema is behind it like everything but /health, and the browsable
    # pages are off: a browser could not send the token with the schema request they make.
    app = FastAPI(title="verifiers reward server", version="1", lifespan=lifespan,
                  docs_url=None if token else "/docs", redoc_url=None if token else "/redoc",
                  description="Rule-based rewards (format, math, code) for RL trainers, batched over a worker pool.")
    # Outermost, so the token is checked before the body is read. `?token=` is for clients that
    # cannot set headers (OpenRLHF's); the access log, which would record it, is off by default.
    app.add_middleware(RequestGuard, token=token, max_body_bytes=limits.max_body_bytes,
                       body_timeout_s=limits.body_timeout_s, max_in_flight=limits.max_in_flight)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            msg = e.get("msg", "invalid")
            if e.get("type") == "json_invalid" and e.get("ctx", {}).get("error"):
                msg = f"body is not valid JSON: {e['ctx']['error']}"
            problems.append(f"{_where(tuple(e.get('loc', ())))}: {msg}")
        return JSONResponse({"error": "; ".join(problems[:20]), "detail": _jsonable(exc.errors()[:20])},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    async def run(request: Request, completions: list[str], references: list[Any],
                  specs: list[str | None]) -> list[Outcome]:
        # An item that is bad on its face gets its own error here and never reaches the
        # service; the batcher isolates whatever else fails, so either costs that item alone.
        outcomes: list[Outcome | None] = [checks.screen(r, s, limits.max_reference_depth, spec_problem)
                                          for r, s in zip(references, specs, strict=True)]
        todo = [i for i, o in enumerate(outcomes) if o is None]
        if todo:
            try:
                scored = await request.app.state.batcher.score([completions[i] for i in todo],
                                                               [references[i] for i in todo], [specs[i] for i in todo])
            except Exception as e:  # noqa: BLE001 - the service itself broke; the server stays up
                raise HTTPException(503, f"reward service unavailable: {type(e).__name__}: {e}") from e
            for i, o in zip(todo, scored, strict=True):
                outcomes[i] = o
        return outcomes  # type: ignore[return-value]

    @app.post("/score", response_model=ScoreResponse, summary="Score items; each result carries its item's id",
              dependencies=[checks.shape_check(limits.max_items, ("items",), frozenset(ScoreItem.model_fields),
                                               frozenset({"items"}))])
    async def score(body: ScoreRequest, request: Request) -> ScoreResponse:
        ids = [it.id for it in body.items]
        checks.check_sizes(limits.max_items, len(ids), [
            ("items.{}.completion", [it.completion for it in body.items], limits.max_completion_chars),
            ("items.{}.spec", [it.spec for it in body.items], limits.max_spec_chars),
            ("items.{}.id", ids, limits.max_id_chars)])
        if len(set(ids)) != len(ids):
            seen, dup = set(), None
            for i in ids:
                if i in seen:
                    dup = i
                    break
                seen.add(i)
            raise HTTPException(422, f"items: id {dup!r} appears more than once; ids must be unique per request")
        outcomes = await run(request, [it.completion for it in body.items], [it.reference for it in body.items],
                             [it.spec for it in body.items])
        return ScoreResponse(results=[_result(it.id, o) for it, o in zip(body.items, outcomes, strict=True)])

    @app.post("/get_reward", response_model=OpenRLHFResponse,
              dependencies=[checks.shape_check(limits.max_items, ("query", "prompts", "labels"))],
              summary="OpenRLHF remote reward model protocol (--remote_rm_url http://HOST:PORT/get_reward)")
    async def get_reward(body: OpenRLHFRequest, request: Request) -> dict[str, Any]:
        n = len(body.query)
        if body.labels is None:
            raise HTTPException(422, "labels: required; start OpenRLHF with --label_key <dataset column holding "
                                     "the reference answer>")
        for name, values in (("prompts", body.prompts), ("labels", body.labels)):
            if values is not None and len(values) != n:
                raise HTTPException(422, f"{name}: {len(values)} entries for {n} queries; they must match")
        checks.check_sizes(limits.max_items, n, [("query.{}", body.query, limits.max_completion_chars)])
        prompts = body.prompts or [None] * n
        completions = [response_text(q, p, strip_tokens) for q, p in zip(body.query, prompts, strict=True)]
        outcomes = await run(request, completions, list(body.labels), [None] * n)
        return openrlhf_response(outcomes, leaves)

    @app.get("/health", summary="Liveness and load")
    async def health(request: Request) -> dict[str, Any]:
        batcher: MicroBatcher = request.app.state.batcher
        cached = spec_problem.cache_info()
        return {"status": "ok", "spec": spec_label, "pending_items": batcher.pending_items,
                "served": dict(batcher.stats), "service": dict(getattr(service, "stats", {})),
                "spec_cache": {"size": cached.currsize, "limit": cached.maxsize}}

    return app


def _text(s: str) -> str:
    # Text a verifier produced may hold lone surrogates, which JSON cannot carry.
    return s.encode("utf-8", "backslashreplace").decode("utf-8")


def _result(item_id: str | int, o: Outcome) -> ScoreResult:
    s = o.score
    finite = math.isfinite(s.value)
    parts = {_text(k): v for k, v in s.parts.items() if math.isfinite(v)}
    error = o.error if finite else (o.error or "verifier returned a non-finite reward")
    return ScoreResult(id=item_id, reward=s.value if finite else None, passed=s.passed, reason=_text(s.reason),
                       scored=finite and s.reason not in UNSCORED_REASONS, parts=parts,
                       error=_text(error) if error is not None else None)


def _jsonable(errors: list[dict]) -> list[dict]:
    # pydantic's error dicts may hold exceptions in `ctx`; keep what JSON can carry.
    out = []
    for e in errors:
        e = {k: v for k, v in e.items() if k in ("type", "loc", "msg")}
        e["loc"] = [str(p) if not isinstance(p, int) else p for p in e.get("loc", ())]
        out.append(e)
    return out


# --- the command -------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="verify serve", description="Serve the reward service over HTTP.")
    p.add_argument("--reward", default="math", help='default reward spec, e.g. "0.1*format + math"')
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need --token)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token", default=None, help=f"bearer token required on every request (or ${TOKEN_ENV})")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count)")
    p.add_argument("--timeout", type=float, default=10.0, help="deadline per item in seconds")
    p.add_argument("--max-body-bytes", type=int, default=RequestLimits.max_body_bytes)
    p.add_argument("--max-items", type=int, default=RequestLimits.max_items, help="items per request")
    p.add_argument("--max-batch-items", type=int, default=RequestLimits.max_batch_items, help="items per worker-pool call")
    p.add_argument("--batch-window-ms", type=float, default=RequestLimits.batch_window_s * 1000,
                   help="how long to gather concurrent requests into one batch")
    p.add_argument("--max-completion-chars", type=int, default=RequestLimits.max_completion_chars, help="per item")
    p.add_argument("--max-in-flight", type=int, default=RequestLimits.max_in_flight,
                   help="requests being read or scored at once; more get 503")
    p.add_argument("--max-connections", type=int, default=RequestLimits.max_connections,
                   help="open connections; one more closes the one that has waited longest for its headers")
    p.add_argument("--header-timeout", type=float, default=RequestLimits.header_timeout_s,
                   help="seconds for a connection to send a request's headers")
    p.add_argument("--body-timeout", type=float, default=RequestLimits.body_timeout_s,
                   help="seconds for a request's body to arrive (408 after)")
    p.add_argument("--graceful-timeout", type=float, default=30.0, help="seconds to finish requests on shutdown")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE first (to `verifiers.register` custom verifiers); repeatable")
    p.add_argument("--backend", choices=["local", "ray"], default="local", help="worker pool: local processes or Ray")
    p.add_argument("--ray-address", default=None, help='Ray cluster to join ("auto", "ray://head:10001")')
    p.add_argument("--ray-actors", type=int, default=None, help="Ray scoring actors (default: one per 4 cluster CPUs)")
    p.add_argument("--log-level", default="info")
    p.add_argument("--access-log", action="store_true", help="log every request (off: it would record ?token=)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if args.host not in LOOPBACK and not token:
        print(f"verify serve: refusing to bind to {args.host} without a bearer token: anyone who can reach it "
              f"could use the workers. Set --token or ${TOKEN_ENV}, or bind to 127.0.0.1.", file=sys.stderr)
        return 2
    if (min(args.max_body_bytes, args.max_items, args.max_batch_items, args.max_completion_chars, args.max_in_flight,
            args.max_connections) < 1 or min(args.timeout, args.header_timeout, args.body_timeout) <= 0):
        print("verify serve: the limits must be >= 1 and the timeouts > 0", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for module in args.imports:
        importlib.import_module(module)
    try:
        parse_spec(args.reward)
    except SpecError as e:
        print(f"verify serve: bad --reward: {e}", file=sys.stderr)
        return 2
    import uvicorn

    if args.backend == "ray":
        from verifiers.runtime.ray import RayRewardService

        service: Any = RayRewardService(args.reward, actors=args.ray_actors, workers_per_actor=args.workers,
                                        timeout_s=args.timeout, address=args.ray_address)
    else:
        from verifiers.runtime.local import RewardService

        service = RewardService(args.reward, workers=args.workers, timeout_s=args.timeout)
    # Start every worker before accepting requests, so /health answering means ready.
    n_warm = getattr(service, "n_workers", 1)
    service.score_outcomes([f"warm-up {i}" for i in range(n_warm)], [""] * n_warm)
    # Room for every connection, the workers' pipes, and the bursts asyncio accepts before any
    # is looked at (a few backlogs), or accept() fails and /health with it.
    max_connections = fit_file_limit(args.max_connections, reserve=64 + 4 * n_warm + 4 * RequestLimits.listen_backlog)
    limits = RequestLimits(max_body_bytes=args.max_body_bytes, max_items=args.max_items,
                    batch_window_s=args.batch_window_ms / 1000, max_batch_items=args.max_batch_items,
                    max_completion_chars=args.max_completion_chars, body_timeout_s=args.body_timeout,
                    max_in_flight=min(args.max_in_flight, max(1, max_connections // 2)),
                    max_connections=max_connections, header_timeout_s=args.header_timeout)
    app = create_app(service, limits=limits, token=token, close_service=True)
    config = uvicorn_config(app, limits, host=args.host, port=args.port, log_level=args.log_level,
                            access_log=args.access_log, timeout_graceful_shutdown=args.graceful_timeout)
    install_log_rate_limit()  # after uvicorn.Config, which sets up uvicorn's own handlers
    uvicorn.Server(config).run()
    return 0


def uvicorn_config(app: FastAPI, limits: RequestLimits, **kwargs: Any) -> Any:
    """uvicorn's Config for `app` with the connection limits (`max_connections`,
    `header_timeout_s`, `keep_alive_s`); `kwargs` go to uvicorn (host, port, log_level, ...)."""
    import uvicorn

    # Our h11 protocol, never httptools: the connection cap and header deadline live in it.
    # No WebSocket upgrades: nothing here speaks it, and it would be one more way in.
    return uvicorn.Config(app, http=bounded_h11(limits.max_connections, limits.header_timeout_s), ws="none",
                          timeout_keep_alive=limits.keep_alive_s, backlog=limits.listen_backlog, **kwargs)


if __name__ == "__main__":
    sys.exit(main())
