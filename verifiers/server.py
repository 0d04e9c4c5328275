"""`verify serve`: the reward service over HTTP (FastAPI + uvicorn, the `serve` extra).

    verify serve --reward "0.1*format + math" --port 8000
    curl -s localhost:8000/score -H 'content-type: application/json' \
         -d '{"items": [{"id": 1, "completion": "<think>…</think><answer>4</answer>", "reference": "4"}]}'

Endpoints: POST /score (our JSON: items with ids in, results with the same ids out),
POST /get_reward (OpenRLHF's remote reward model protocol, see `verifiers.for_openrlhf`),
GET /health, and the OpenAPI schema at /openapi.json (browsable at /docs).

Concurrent requests are gathered for a few milliseconds (`--batch-window-ms`) into one call
to the worker pool, run on a background thread so the event loop keeps accepting; each
request gets exactly its own items back. The service gives every item a deadline and replaces
a worker that hangs or crashes, so a bad verifier costs its item, never the server.

Safe by default: binds to 127.0.0.1 and refuses any other address unless a bearer token is
set (`--token` or $VERIFY_SERVE_TOKEN), which every endpoint except /health then requires
(`Authorization: Bearer …`, or `?token=…` for clients that cannot set headers, e.g. OpenRLHF);
request bodies and items per request are capped; a malformed body gets a 4xx whose `error`
says what is wrong. SIGINT/SIGTERM stop accepting, finish the requests in flight (up to
`--graceful-timeout` seconds), then stop the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import importlib
import logging
import math
import os
import sys
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from verifiers.for_openrlhf import (
    DEFAULT_STRIP_TOKENS,
    openrlhf_response,
    part_names,
    response_text,
)
from verifiers.microbatch import MicroBatcher
from verifiers.score import SpecError
from verifiers.service import UNSCORED_REASONS, Outcome
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


# --- body size limit ---------------------------------------------------------------------------
class BodyLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, declared or streamed."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._reject(scope, receive, send)
        # Read the body here (JSON needs all of it anyway) so a chunked body is capped too.
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self._reject(scope, receive, send)
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: dict, receive: Any, send: Any) -> None:
        response = JSONResponse({"error": f"request body is larger than the limit of {self.max_bytes} bytes"},
                                status_code=413)
        await response(scope, receive, send)


# --- the app -----------------------------------------------------------------------------------
@dataclass
class Limits:
    max_body_bytes: int = 16 << 20
    max_items: int = 4096            # per request
    batch_window_s: float = 0.002
    max_batch_items: int = 8192      # per call to the worker pool


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def create_app(service: Any, *, limits: Limits | None = None, token: str | None = None,
               strip_tokens: tuple[str, ...] = DEFAULT_STRIP_TOKENS, close_service: bool = False) -> FastAPI:
    """The FastAPI app over `service` (anything with `score_outcomes`, e.g. RewardService or
    RayRewardService). `close_service`: close it when the app shuts down."""
    limits = limits or Limits()
    spec = getattr(service, "default_spec", None)
    spec_label = spec if isinstance(spec, str) else repr(spec)
    leaves = part_names(parse_spec(spec)) if spec is not None else []

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

    app = FastAPI(title="verifiers reward server", version="1", lifespan=lifespan,
                  description="Rule-based rewards (format, math, code) for RL trainers, batched over a worker pool.")
    app.add_middleware(BodyLimit, max_bytes=limits.max_body_bytes)

    def authorize(request: Request) -> None:
        if token is None:
            return
        header = request.headers.get("authorization", "")
        # `?token=` is for clients that cannot set headers (OpenRLHF's remote RM client);
        # the access log, which would record it, is off unless --access-log.
        query = request.query_params.get("token", "")
        if not (hmac.compare_digest(header.encode(), f"Bearer {token}".encode())
                or hmac.compare_digest(query.encode(), token.encode())):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            msg = e.get("msg", "invalid")
            if e.get("type") == "json_invalid" and e.get("ctx", {}).get("error"):
                msg = f"body is not valid JSON: {e['ctx']['error']}"
            problems.append(f"{_where(tuple(e.get('loc', ())))}: {msg}")
        return JSONResponse({"error": "; ".join(problems[:20]), "detail": _jsonable(exc.errors())}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    async def run(request: Request, completions: list[str], references: list[Any],
                  specs: list[str | None]) -> list[Outcome]:
        if len(completions) > limits.max_items:
            raise HTTPException(413, f"{len(completions)} items in one request; the limit is {limits.max_items}")
        try:
            return await request.app.state.batcher.score(completions, references, specs)
        except SpecError as e:
            raise HTTPException(422, str(e)) from e
        except Exception as e:  # noqa: BLE001 - the service broke; the server stays up
            raise HTTPException(503, f"reward service unavailable: {type(e).__name__}: {e}") from e

    @app.post("/score", response_model=ScoreResponse, dependencies=[Depends(authorize)],
              summary="Score items; each result carries its item's id")
    async def score(body: ScoreRequest, request: Request) -> ScoreResponse:
        ids = [it.id for it in body.items]
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

    @app.post("/get_reward", response_model=OpenRLHFResponse, dependencies=[Depends(authorize)],
              summary="OpenRLHF remote reward model protocol (--remote_rm_url http://HOST:PORT/get_reward)")
    async def get_reward(body: OpenRLHFRequest, request: Request) -> dict[str, Any]:
        n = len(body.query)
        if body.labels is None:
            raise HTTPException(422, "labels: required; start OpenRLHF with --label_key <dataset column holding "
                                     "the reference answer>")
        for name, values in (("prompts", body.prompts), ("labels", body.labels)):
            if values is not None and len(values) != n:
                raise HTTPException(422, f"{name}: {len(values)} entries for {n} queries; they must match")
        prompts = body.prompts or [None] * n
        completions = [response_text(q, p, strip_tokens) for q, p in zip(body.query, prompts, strict=True)]
        outcomes = await run(request, completions, list(body.labels), [None] * n)
        return openrlhf_response(outcomes, leaves)

    @app.get("/health", summary="Liveness and load")
    async def health(request: Request) -> dict[str, Any]:
        batcher: MicroBatcher = request.app.state.batcher
        return {"status": "ok", "spec": spec_label, "pending_items": batcher.pending_items,
                "served": dict(batcher.stats), "service": dict(getattr(service, "stats", {}))}

    return app


def _result(item_id: str | int, o: Outcome) -> ScoreResult:
    s = o.score
    finite = math.isfinite(s.value)
    parts = {k: v for k, v in s.parts.items() if math.isfinite(v)}
    error = o.error if finite else (o.error or "verifier returned a non-finite reward")
    return ScoreResult(id=item_id, reward=s.value if finite else None, passed=s.passed, reason=s.reason,
                       scored=finite and s.reason not in UNSCORED_REASONS, parts=parts, error=error)


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
    p.add_argument("--max-body-bytes", type=int, default=Limits.max_body_bytes)
    p.add_argument("--max-items", type=int, default=Limits.max_items, help="items per request")
    p.add_argument("--max-batch-items", type=int, default=Limits.max_batch_items, help="items per worker-pool call")
    p.add_argument("--batch-window-ms", type=float, default=Limits.batch_window_s * 1000,
                   help="how long to gather concurrent requests into one batch")
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
    if min(args.max_body_bytes, args.max_items, args.max_batch_items) < 1 or args.timeout <= 0:
        print("verify serve: the limits must be >= 1 and --timeout > 0", file=sys.stderr)
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
        from verifiers.ray_backend import RayRewardService

        service: Any = RayRewardService(args.reward, actors=args.ray_actors, workers_per_actor=args.workers,
                                        timeout_s=args.timeout, address=args.ray_address)
    else:
        from verifiers.service import RewardService

        service = RewardService(args.reward, workers=args.workers, timeout_s=args.timeout)
    # Start every worker before accepting requests, so /health answering means ready.
    n_warm = getattr(service, "n_workers", 1)
    service.score_outcomes([f"warm-up {i}" for i in range(n_warm)], [""] * n_warm)
    limits = Limits(args.max_body_bytes, args.max_items, args.batch_window_ms / 1000, args.max_batch_items)
    app = create_app(service, limits=limits, token=token, close_service=True)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level, access_log=args.access_log,
                            timeout_graceful_shutdown=args.graceful_timeout)
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
