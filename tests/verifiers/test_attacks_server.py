"""`verify serve` attacked as a client would: items that break a shared micro-batch, slow
headers and bodies, a log flood, endless distinct specs, a wrong token with a body that never
ends, oversized items. Every server listens on 127.0.0.1 only; sockets and processes are
bounded in number and closed; files go to pytest's tmp dirs."""

import asyncio
import functools
import http.client
import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from contextlib import closing

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

from tests.verifiers.fake_verifiers import JUDGE  # noqa: E402
from tests.verifiers.test_server import free_port, items, running_on_port, wait_until_serving  # noqa: E402
from verifiers import Score  # noqa: E402
from verifiers.apps.server import RequestLimits, create_app  # noqa: E402
from verifiers.runtime.local import Outcome, RewardService  # noqa: E402
from verifiers.score import BadReference, ServiceError, SpecError  # noqa: E402

post = functools.partial(httpx.post, timeout=60)
get = functools.partial(httpx.get, timeout=60)
HANG_S = 30  # bounds a hang only; never a performance threshold


def serving(app, limits):
    """`create_app`'s app on 127.0.0.1 behind uvicorn with the server's connection limits."""
    from verifiers.apps.server import uvicorn_config

    return running_on_port(app, lambda a, **options: uvicorn_config(a, limits, **options))


def raw(port, data: bytes) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=HANG_S)
    s.sendall(data)
    return s


def read_all(s: socket.socket) -> bytes:
    """Everything until the server closes (a hang ends at HANG_S with socket.timeout)."""
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def closed_by_server(s: socket.socket) -> bool:
    try:
        return read_all(s) == b""
    except ConnectionResetError:  # closed with our bytes unread
        return True


def deep(n: int):
    x = "1"
    for _ in range(n):
        x = [x]
    return x


DEEP_SPEC = "(" * 300 + "format" + ")" * 300  # 606 characters; recursion overflows parsing it


@pytest.fixture(scope="module")
def service():
    with RewardService(JUDGE, workers=2, timeout_s=1.0) as s:
        s.score(["w1", "w2"], ["", ""])
        yield s


# --- 8: one bad item costs itself, never the micro-batch it shares ---------------------------
def test_a_raising_item_in_a_shared_batch_costs_only_itself(service):
    # Straight at the batcher, so the three requests surely share one service call; the real
    # service raises on a reference nested 600 deep and on a spec nested 300 deep.
    from verifiers.apps.microbatch import MicroBatcher

    async def go():
        batcher = MicroBatcher(service, window_s=0.2)
        batcher.start()
        try:
            return await asyncio.gather(
                batcher.score(["a", "x"], ["a", deep(600)], [None, None]),
                batcher.score(["b", "c"], ["b", "zz"], [None, None]),
                batcher.score(["q", "q"], ["q", "q"], [None, DEEP_SPEC]), return_exceptions=True)
        finally:
            await batcher.stop()

    a, b, c = asyncio.run(go())
    assert not isinstance(a, BaseException) and not isinstance(b, BaseException), (a, b)
    assert [o.score.passed for o in a] == [True, False] and a[0].error is None
    assert a[1].score.reason in ("error", "bad_reference") and a[1].error
    assert [(o.score.passed, o.score.reason, o.error) for o in b] == [(True, "ok", None), (False, "mismatch", None)]
    assert c[0].score.passed and c[1].score.reason == "error" and c[1].error


def test_every_kind_of_failure_is_isolated_to_its_item():
    from verifiers.apps.microbatch import MicroBatcher

    class Fragile:
        """Raises on cue for any item in the call, like a service that breaks mid-batch."""

        def score_outcomes(self, completions, references, specs=None):
            for c in completions:
                if c == "recurse":
                    raise RecursionError("maximum recursion depth exceeded")
                if c == "badref":
                    raise BadReference("tests object is not JSON")
                if c == "badspec":
                    raise SpecError("unexpected end")
                if c == "memory":
                    raise MemoryError()
                if c == "short":
                    return []  # a result list that does not fit must not shift verdicts
                if c == "junk":
                    return ["not an outcome"] * len(completions)
            return [Outcome(Score(float(c == r), c == r)) for c, r in zip(completions, references, strict=True)]

    bad = ["recurse", "badref", "badspec", "memory", "short", "junk"]

    async def go():
        batcher = MicroBatcher(Fragile(), window_s=0.2)
        batcher.start()
        try:
            jobs = [batcher.score([f"g{k}", b, f"h{k}"], [f"g{k}", "r", "no"], [None] * 3) for k, b in enumerate(bad)]
            jobs.append(batcher.score(["ok1", "ok2"], ["ok1", "x"], [None, None]))
            return await asyncio.gather(*jobs, return_exceptions=True)
        finally:
            await batcher.stop()

    *mixed, clean = asyncio.run(go())
    assert [(o.score.passed, o.error) for o in clean] == [(True, None), (False, None)]
    for b, out in zip(bad, mixed, strict=True):
        assert not isinstance(out, BaseException), (b, out)
        assert out[0].score.passed and out[0].error is None, b
        assert not out[2].score.passed and out[2].score.reason != "error", b
        assert out[1].error and out[1].score.reason == ("bad_reference" if b == "badref" else "error"), b


@pytest.fixture(scope="module")
def url(service):
    # A long window, so concurrent requests are gathered into one batch.
    with serving(create_app(service, limits=RequestLimits(batch_window_s=1.0)), RequestLimits()) as port:
        yield f"http://127.0.0.1:{port}"


BAD_ITEMS = {
    "deep_reference": {"completion": "a", "reference": deep(600)},
    "deep_spec": {"completion": "a", "reference": "a", "spec": DEEP_SPEC},
    "unknown_spec": {"completion": "a", "reference": "a", "spec": "nonsense +"},
    "crashing_worker": {"completion": "exit", "reference": "a"},
    "odd_reference": {"completion": "a", "reference": {"tests": [None, {"x": [1e308, True]}]}},
    "huge_completion": {"completion": "y" * 900_000, "reference": "a"},
}


@pytest.mark.parametrize("bad", BAD_ITEMS)
def test_another_clients_bad_item_does_not_touch_my_results(url, bad):
    mine = items([("p", "p"), ("q", "r"), ("s", "s")])

    async def go():
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            before = (await client.get("/health")).json()["served"]["batches"]
            theirs = {"items": [{"id": "good", "completion": "a", "reference": "a"}, {"id": "bad", **BAD_ITEMS[bad]}]}
            r_theirs, r_mine = await asyncio.gather(client.post("/score", json=theirs),
                                                    client.post("/score", json={"items": mine}))
            after = (await client.get("/health")).json()["served"]["batches"]
            return r_theirs, r_mine, after - before

    r_theirs, r_mine, batches = asyncio.run(go())
    assert batches == 1, "the two requests were meant to share one batch"
    assert r_mine.status_code == 200, r_mine.text
    assert [(x["passed"], x["scored"], x["error"]) for x in r_mine.json()["results"]] == [
        (True, True, None), (False, True, None), (True, True, None)]
    assert r_theirs.status_code == 200, r_theirs.text
    good, worse = r_theirs.json()["results"]
    assert good["passed"] and good["error"] is None
    assert not worse["passed"]
    if bad not in ("odd_reference", "huge_completion"):  # those two are merely wrong answers
        assert not worse["scored"] and worse["error"], worse


@pytest.mark.parametrize("body, status, says", [
    ({"items": [{"id": "\ud800", "completion": "a", "reference": "a"}]}, 422, "lone surrogate"),
    ({"items": [{"id": 1, "completion": ["a"], "reference": "a"}]}, 422, "items.0.completion"),
    ({"items": [{"id": 1, "completion": "a", "reference": "a", "spec": 5}]}, 422, "items.0.spec"),
    ({"items": {"id": 1}}, 422, "items"),
])
def test_a_request_of_the_wrong_shape_costs_only_that_request(url, body, status, says):
    async def go():
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            content = json.dumps(body).encode()
            return await asyncio.gather(
                client.post("/score", content=content, headers={"content-type": "application/json"}),
                client.post("/score", json={"items": items([("p", "p")])}))

    bad, mine = asyncio.run(go())
    assert bad.status_code == status and says in bad.json()["error"], bad.text
    assert mine.status_code == 200 and mine.json()["results"][0]["passed"]


@pytest.mark.parametrize("body, status, says", [
    ({"items": [1] * 1_000_000}, 413, "items: 1000000 items in one request; the limit is 4096"),
    ({"items": [{"id": k, "completion": 5, "reference": "a"} for k in range(4096)]}, 422, "items.0.completion"),
    ({"items": [{"id": 1, "completion": "a", "reference": "a", **{f"x{k}": 0 for k in range(100_000)}}]}, 422,
     "items.0.x0: Extra inputs are not permitted"),
    ({"items": [], **{f"x{k}": 0 for k in range(100_000)}}, 422, "x0: Extra inputs are not permitted"),
    ({"query": [5] * 1_000_000, "labels": []}, 413, "query: 1000000 items"),
])
def test_a_body_of_countless_wrong_parts_costs_one_short_error(url, body, status, says):
    # pydantic reports every bad element: a million of them took seconds and gigabytes, and a
    # 70 MB reply. Now the counts and unknown fields are checked first, and replies stay short.
    path = "/get_reward" if "query" in body else "/score"
    r = post(f"{url}{path}", content=json.dumps(body).encode(), headers={"content-type": "application/json"})
    assert r.status_code == status and says in r.json()["error"], r.text[:500]
    assert len(r.content) < 20_000


# --- 10: exhaustion ----------------------------------------------------------------------------
def test_slow_header_flood_leaves_health_answering_fds_bounded_and_the_log_small(tmp_path):
    # A real `verify serve` with a 256-file limit and its default limits, and 300 connections
    # that send half a request and wait. Before, accept() ran out of descriptors: /health went
    # silent and asyncio logged the failure at ~10 MB/s.
    fd_limit, n_slow = 256, 300
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    # The limit is set in the child before it execs the server (no preexec_fn: this process has threads).
    launch = (f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({fd_limit}, {fd_limit})); "
              "os.execv(sys.executable, [sys.executable, '-m', 'verifiers.apps.cli', *sys.argv[1:]])")
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-c", launch, "serve", "--reward", "format", "--workers", "1",
                                 "--port", str(port), "--log-level", "warning"],
                                env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    slow: list[socket.socket] = []
    try:
        wait_until_serving(base, proc, log_path.read_text)
        for _ in range(n_slow):
            s = socket.create_connection(("127.0.0.1", port), timeout=HANG_S)
            s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
            slow.append(s)
        time.sleep(2)  # long enough for a flood to show in the log
        assert log_path.stat().st_size < 200_000, log_path.read_bytes()[-3000:]
        health = httpx.get(f"{base}/health", timeout=HANG_S)
        assert health.status_code == 200
        sockets = sum(os.readlink(f"/proc/{proc.pid}/fd/{fd}").startswith("socket:")
                      for fd in os.listdir(f"/proc/{proc.pid}/fd"))
        assert sockets < fd_limit - 64, f"{sockets} sockets open in a process allowed {fd_limit} files"
        r = httpx.post(f"{base}/score", json={"items": items([("<think>a</think><answer>b</answer>", "b")])},
                       timeout=HANG_S)
        assert r.status_code == 200 and r.json()["results"][0]["passed"]
        assert log_path.stat().st_size < 200_000
    finally:
        for s in slow:
            s.close()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_connections_that_never_finish_their_headers_are_closed(service):
    limits = RequestLimits(header_timeout_s=0.5)
    with serving(create_app(service), limits) as port:
        silent = raw(port, b"")
        partial = raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        with closing(silent), closing(partial):
            assert closed_by_server(silent) and closed_by_server(partial)  # not left open
        # a keep-alive connection can serve several requests, each with a fresh deadline
        with closing(raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")) as s:
            first = http.client.HTTPResponse(s)
            first.begin()
            assert first.status == 200 and json.loads(first.read())["status"] == "ok"
            time.sleep(0.3)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_all(s).startswith(b"HTTP/1.1 200")


def test_over_the_connection_cap_the_longest_waiting_connection_goes(service):
    limits = RequestLimits(max_connections=8, header_timeout_s=60)
    with serving(create_app(service), limits) as port:
        slow = [raw(port, b"GET /health HTTP/1.1\r\nHost: x\r\n") for _ in range(20)]
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=HANG_S)
            assert r.status_code == 200
            # the oldest slow connections were closed to make room
            assert closed_by_server(slow[0])
        finally:
            for s in slow:
                s.close()


def test_a_log_flood_is_cut_to_a_few_records_and_a_count():
    from verifiers.apps.http_guards import LogRateLimit

    now = [0.0]
    limit = LogRateLimit(burst=5, window_s=60, total=50, clock=lambda: now[0])
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(limit)
    logger = logging.getLogger("test_attacks_server.flood")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        for k in range(20_000):
            logger.error("socket.accept() out of system resource\nsocket: fd=%d", k % 7)
        for k in range(500):  # a new first line each time: caught by the total
            logger.warning(f"bad request {k}")
        logger.info("access: GET /health 200")  # below WARNING: never limited
        assert len(stream.getvalue()) < 10_000
        assert stream.getvalue().count("out of system resource") == 5
        assert "access: GET /health" in stream.getvalue()
        now[0] = 61.0
        logger.error("socket.accept() out of system resource\nsocket: fd=%d", 3)
        last = stream.getvalue().splitlines()[-2]
        assert "log records dropped in the last 61 s]" in last  # the total's count
        assert "[19995 similar log records dropped in the last 61 s]" in last
    finally:
        logger.removeHandler(handler)


def test_the_spec_cache_stays_bounded(service):
    limits = RequestLimits(spec_cache_size=16)
    with serving(create_app(service, limits=limits), limits) as port:
        base = f"http://127.0.0.1:{port}"
        for r in range(4):  # 400 distinct spec strings, all meaning "format"
            body = {"items": [{"id": k, "completion": "<think>a</think><answer>b</answer>", "reference": "b",
                               "spec": f"{1 + (100 * r + k) / 1000:g}*format"} for k in range(100)]}
            res = post(f"{base}/score", json=body)
            assert res.status_code == 200 and all(x["scored"] for x in res.json()["results"]), res.text
        cache = get(f"{base}/health").json()["spec_cache"]
        assert cache == {"size": 16, "limit": 16}


@pytest.fixture(scope="module")
def guarded(service):
    limits = RequestLimits(max_body_bytes=100_000, body_timeout_s=1.0, max_in_flight=2, max_completion_chars=1000)
    with serving(create_app(service, limits=limits, token="s3cret"), limits) as port:
        yield port


@pytest.mark.parametrize("head", [
    b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\nContent-Length: 90000\r\n\r\n{\"items\": [",
    b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 90000\r\n\r\n{\"items\": [",
    b"POST /get_reward?token=wrong HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"que\r\n",
    # over the size limit: still a 401, the size of a stranger's body is none of our business
    b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cre\r\nContent-Length: 999999999\r\n\r\n",
])
def test_a_wrong_token_is_refused_before_the_body_is_read(guarded, head):
    with closing(raw(guarded, head)) as s:  # the body never comes
        reply = read_all(s)
    assert reply.startswith(b"HTTP/1.1 401"), reply[:200]
    assert b"missing or wrong bearer token" in reply


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/nonexistent"])
def test_every_path_but_health_needs_the_token(guarded, path):
    base = f"http://127.0.0.1:{guarded}"
    assert get(f"{base}{path}").status_code == 401
    with_token = get(f"{base}{path}", headers={"authorization": "Bearer s3cret"})
    assert with_token.status_code == (200 if path == "/openapi.json" else 404)
    assert get(f"{base}/health").status_code == 200


def test_health_takes_no_body_so_a_slow_one_cannot_hold_it(guarded):
    with closing(raw(guarded, b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")) as s:
        reply = read_all(s)
    assert reply.startswith(b"HTTP/1.1 413") and b"takes no request body" in reply


def test_a_body_that_never_ends_gets_408_and_the_connection_closes(guarded):
    head = (b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nContent-Length: 5000\r\n\r\n"
            b"{\"items\": [")
    with closing(raw(guarded, head)) as s:
        reply = read_all(s)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]


def test_requests_in_flight_are_capped_and_health_still_answers(guarded):
    base = f"http://127.0.0.1:{guarded}"
    head = b"POST /score HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nContent-Length: 5000\r\n\r\n{"
    stalled = [raw(guarded, head) for _ in range(2)]
    try:
        time.sleep(0.2)  # both are being read
        r = post(f"{base}/score", json={"items": items([("a", "a")])}, headers={"authorization": "Bearer s3cret"})
        assert r.status_code == 503 and "limit is 2" in r.json()["error"]
        assert get(f"{base}/health").status_code == 200
    finally:
        for s in stalled:
            s.close()
    deadline = time.monotonic() + HANG_S
    while True:  # the stalled ones end (408 or the close) and the slots come back
        r = post(f"{base}/score", json={"items": items([("a", "a")])}, headers={"authorization": "Bearer s3cret"})
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert r.status_code == 200 and r.json()["results"][0]["passed"]


@pytest.mark.parametrize("path, body, says", [
    ("/score", {"items": [{"id": 1, "completion": "x" * 1001, "reference": "a"}]}, "items.0.completion: 1001"),
    ("/score", {"items": [{"id": 1, "completion": "a", "reference": "a", "spec": "format " * 200}]}, "items.0.spec"),
    ("/score", {"items": [{"id": "i" * 300, "completion": "a", "reference": "a"}]}, "items.0.id: 300"),
    ("/get_reward", {"query": ["a", "q" * 2000], "labels": ["a", "b"]}, "query.1: 2000 characters"),
])
def test_oversized_items_get_413_saying_which_and_the_limit(guarded, path, body, says):
    r = post(f"http://127.0.0.1:{guarded}{path}", json=body, headers={"authorization": "Bearer s3cret"})
    assert r.status_code == 413 and says in r.json()["error"] and "the limit is" in r.json()["error"], r.text


def test_a_service_that_is_down_fails_only_the_requests_it_was_called_for():
    from verifiers.apps.microbatch import MicroBatcher

    class Closed:
        def score_outcomes(self, completions, references, specs=None):
            raise ServiceError("the reward service is closed")

    async def go():
        batcher = MicroBatcher(Closed(), window_s=0.05)
        batcher.start()
        try:
            return await asyncio.gather(batcher.score(["a"], ["a"], [None]), return_exceptions=True)
        finally:
            await batcher.stop()

    (out,) = asyncio.run(go())
    assert isinstance(out, ServiceError)
