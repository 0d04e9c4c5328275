"""What keeps `verify serve` answering under hostile clients, each guard closing one way to
exhaust the server without asking it for any work.

- `bounded_h11(max_connections, header_timeout_s)`: uvicorn's h11 protocol with two bounds.
  A connection must deliver a request's headers within `header_timeout_s` of opening or of
  finishing its previous response, or it is closed. At most `max_connections` are open: one
  more closes the connection that has waited longest for headers (a slow sender or an idle
  keep-alive one), and is refused itself only when every other connection is busy with a
  request. Without this, slow-header clients (slowloris) hold a file descriptor each until
  accept() fails, `/health` stops answering and asyncio logs the failure ~100 times a second.
- `RequestGuard`: ASGI middleware, the outermost layer. It checks the bearer token first, in
  constant time and before a byte of the body is read; caps the requests being read or scored
  (503); then reads the body with a size cap (413, declared or chunked) and a deadline (408).
  The open paths (`/health`) take no body, so nothing uncounted waits on a client. Every early
  answer closes the connection, so an unread body cannot keep it.
- `LogRateLimit`: a logging filter that passes the first few warnings and errors of each kind
  per window, counts the rest, and says how many it dropped on the next one that passes.

Not covered: a flood of complete, valid requests from token holders (that is load, bounded by
the in-flight cap and shed as 503), and anything below HTTP (SYN floods are the kernel's).

    pytest tests/verifiers/test_attacks_server.py
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


# --- connections -------------------------------------------------------------------------------
class _BoundedH11(H11Protocol):
    """uvicorn's h11 protocol with a connection cap and a deadline on request headers.

    Class attributes are per server: `bounded_h11` makes a subclass for each."""

    max_connections = 1024
    header_timeout_s = 10.0
    # Connections waiting for request headers, oldest first: the first to close when full.
    _waiting: OrderedDict[_BoundedH11, None]
    # Closed by us but not yet reported lost: no longer counted as open.
    _closing: set[_BoundedH11]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._track()
        if len(self.connections) - len(self._closing) > self.max_connections:
            victim = next(iter(self._waiting), self)  # self when every other one is busy
            log.debug("connection limit %d reached: closing one waiting for headers", self.max_connections)
            victim._drop()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._stop_waiting()
        self._closing.discard(self)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._track()

    def _track(self) -> None:
        # h11 says IDLE from a connection's start, and again after each response, until a
        # request's headers are complete; partial headers leave it IDLE.
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            self._stop_waiting()
        elif self._header_timer is None:
            self._waiting[self] = None
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _stop_waiting(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._waiting.pop(self, None)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE:
            log.debug("no request headers within %gs: closing the connection", self.header_timeout_s)
            self._drop()

    def _drop(self) -> None:
        self._stop_waiting()
        self._closing.add(self)
        # abort, not close: close() waits forever to flush to a client that does not read.
        self.transport.abort()


def bounded_h11(max_connections: int, header_timeout_s: float) -> type[H11Protocol]:
    """A protocol class for `uvicorn.Config(http=...)` with these bounds (see the module doc)."""
    if max_connections < 1 or header_timeout_s <= 0:
        raise ValueError("max_connections must be >= 1 and header_timeout_s > 0")
    return type("BoundedH11", (_BoundedH11,), {"max_connections": max_connections,
                                               "header_timeout_s": float(header_timeout_s),
                                               "_waiting": OrderedDict(), "_closing": set()})


def fit_file_limit(max_connections: int, reserve: int) -> int:
    """Raise the soft RLIMIT_NOFILE to fit `max_connections` sockets plus `reserve` other file
    descriptors (workers' pipes, logs); if the hard limit is too low, the connection cap shrinks
    to what fits, so accept() never fails for want of descriptors."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max_connections + reserve
    if soft == resource.RLIM_INFINITY or want <= soft:
        return max_connections
    new = want if hard == resource.RLIM_INFINITY else min(want, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    except (ValueError, OSError) as e:
        log.warning("cannot raise the open-file limit to %d: %s", new, e)
    if want <= soft:
        return max_connections
    fitted = max(8, soft - reserve)
    log.warning("the open-file limit (%d) fits %d connections, not %d: serving at most %d", soft, fitted,
                max_connections, fitted)
    return fitted


# --- requests ----------------------------------------------------------------------------------
def _digest(secret: bytes) -> bytes:
    # Comparing fixed-size digests keeps the comparison's time independent of the length too.
    return hashlib.sha256(secret).digest()


class RequestGuard:
    """ASGI middleware: the token, the requests in flight, and the body's size and deadline.

    token:          required on every path but `open_paths` (`Authorization: Bearer …` or
                    `?token=…`); None: no token.
    max_body_bytes: a larger body is refused (413) before it is read past the limit.
    body_timeout_s: the whole body must arrive within this (408).
    max_in_flight:  requests being read or scored at once, `open_paths` not counted (503).
    """

    def __init__(self, app: Any, *, token: str | None, max_body_bytes: int, body_timeout_s: float,
                 max_in_flight: int, open_paths: frozenset[str] = frozenset({"/health"})):
        self.app, self.max_body_bytes, self.body_timeout_s = app, max_body_bytes, body_timeout_s
        self.max_in_flight, self.open_paths = max_in_flight, open_paths
        self._header_digest = _digest(f"Bearer {token}".encode()) if token is not None else None
        self._query_digest = _digest(token.encode()) if token is not None else None
        self.in_flight = 0

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        counted = scope["path"] not in self.open_paths
        if not counted and _has_body(scope):
            # An open path is not counted in flight, so it must not wait for a body either.
            return await _refuse(send, 413, f"{scope['path']} takes no request body")
        if counted and not self._authorized(scope):
            return await _refuse(send, 401, "missing or wrong bearer token", [(b"www-authenticate", b"Bearer")])
        if counted and self.in_flight >= self.max_in_flight:
            return await _refuse(send, 503, f"{self.in_flight} requests in flight; the limit is {self.max_in_flight}; "
                                            "retry later", [(b"retry-after", b"1")])
        self.in_flight += counted
        try:
            body = await self._read_body(scope, send, receive)
            if body is None:  # refused or the client went away
                return
            replayed = False

            async def replay() -> dict:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
        finally:
            self.in_flight -= counted

    def _authorized(self, scope: dict) -> bool:
        if self._header_digest is None:
            return True
        header = next((v for k, v in scope.get("headers") or [] if k == b"authorization"), b"")
        query = next((v for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1")) if k == "token"), "")
        # Both compared, always: which one matched must not show in the time taken.
        by_header = hmac.compare_digest(_digest(header), self._header_digest)
        by_query = hmac.compare_digest(_digest(query.encode("utf-8", "replace")), self._query_digest)
        return by_header or by_query

    async def _read_body(self, scope: dict, send: Callable, receive: Callable) -> bytes | None:
        declared = next((v for k, v in scope.get("headers") or [] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(send)
            return None
        chunks, size, more = [], 0, True
        deadline = asyncio.get_running_loop().time() + self.body_timeout_s
        while more:
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                await _refuse(send, 408, f"the request body did not arrive within {self.body_timeout_s:g} s")
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(send)
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _too_large(self, send: Callable) -> None:
        await _refuse(send, 413, f"request body is larger than the limit of {self.max_body_bytes} bytes")


def _has_body(scope: dict) -> bool:
    for k, v in scope.get("headers") or []:
        if (k == b"content-length" and v.strip() not in (b"", b"0")) or k == b"transfer-encoding":
            return True
    return False


async def _refuse(send: Callable, status: int, error: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    # `connection: close`: the body may be unread, and a client trickling it must not keep the
    # connection after its answer.
    body = json.dumps({"error": error}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


# --- the log -----------------------------------------------------------------------------------
class LogRateLimit(logging.Filter):
    """Passes the first `burst` warnings and errors of each kind (logger, level, first line of
    the message template) per `window_s`, and at most `total` of all kinds; counts the rest and
    prefixes the next record that passes with how many of its kind were dropped. Records below
    WARNING (the access log) pass untouched. One instance may sit on several handlers."""

    def __init__(self, burst: int = 10, window_s: float = 60.0, total: int = 200, max_kinds: int = 1024,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__()
        self.burst, self.window_s, self.total, self.max_kinds, self.clock = burst, window_s, total, max_kinds, clock
        self._kinds: OrderedDict[tuple, list] = OrderedDict()  # kind -> [window start, passed, dropped]
        self._lock = threading.Lock()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        verdict = getattr(record, "_rate_limited", None)
        if verdict is not None:  # the same record, reaching a second handler
            return verdict
        kind = (record.name, record.levelno, str(record.msg).split("\n", 1)[0][:200])
        with self._lock:
            now = self.clock()
            notes = [self._roll(k, now) for k in (kind, "all")]
            mine, everyone = self._kinds[kind], self._kinds["all"]
            verdict = mine[1] < self.burst and everyone[1] < self.total
            if verdict:
                mine[1] += 1
                everyone[1] += 1
                if mine[1] == self.burst:
                    notes.append(f"(more like this in the next {self.window_s:g} s are counted, not logged)")
            else:
                mine[2] += 1
                everyone[2] += 1
                self.dropped += 1
        notes = [n for n in notes if n]
        if verdict and notes:
            record.msg = f"{' '.join(notes)} {record.msg}"
        record._rate_limited = verdict
        return verdict

    def _roll(self, kind: Any, now: float) -> str | None:
        """Start `kind`'s window if it is new or over; a note of what its last window dropped."""
        state = self._kinds.get(kind)
        note = None
        if state is None or now - state[0] >= self.window_s:
            if state is not None and state[2]:
                what = "log records" if kind == "all" else "similar log records"
                note = f"[{state[2]} {what} dropped in the last {now - state[0]:.0f} s]"
            state = self._kinds[kind] = [now, 0, 0]
        self._kinds.move_to_end(kind)
        while len(self._kinds) > self.max_kinds:
            self._kinds.popitem(last=False)
        return note


def install_log_rate_limit(limit: LogRateLimit | None = None,
                           loggers: tuple[str, ...] = ("", "uvicorn", "uvicorn.error", "uvicorn.access"),
                           ) -> LogRateLimit:
    """Put one `LogRateLimit` on every handler of these loggers (root and uvicorn's, which do not
    propagate); call it after logging is configured."""
    limit = limit or LogRateLimit()
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            if limit not in handler.filters:
                handler.addFilter(limit)
    return limit
