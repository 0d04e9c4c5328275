"""The reward server over a real socket: ids, batching, hangs and crashes, limits, malformed
bodies, the token, OpenRLHF's protocol, the bind refusal and graceful shutdown."""

import asyncio
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import contextmanager

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

from tests.verifiers.fake_verifiers import JUDGE  # noqa: E402
from verifiers import Score  # noqa: E402
from verifiers.apps.server import RequestLimits, create_app, main  # noqa: E402
from verifiers.runtime.local import RewardService  # noqa: E402

post = functools.partial(httpx.post, timeout=30)
get = functools.partial(httpx.get, timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(base: str, proc, output) -> None:
    """Poll `verify serve`'s /health until it answers; fail with `output()` (its log) if the
    process dies, or after 90 s (a hang guard, not a speed threshold)."""
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, output()[-2000:]
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "verify serve did not start"
        time.sleep(0.2)


@contextmanager
def running_on_port(app, config=uvicorn.Config):
    """A real uvicorn server on 127.0.0.1 in a thread (no signal handlers off the main thread);
    yields its port. `config(app, **options)` builds its uvicorn configuration."""
    port = free_port()
    server = uvicorn.Server(config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def running(app):
    """`running_on_port`, yielding the server's base URL."""
    with running_on_port(app) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def service():
    with RewardService(JUDGE, workers=2, timeout_s=1.0) as s:
        s.score(["w1", "w2"], ["", ""])  # start both workers before the first request
        yield s


@pytest.fixture(scope="module")
def url(service):
    app = create_app(service, limits=RequestLimits(max_body_bytes=64_000, max_items=100, batch_window_s=0.005))
    with running(app) as base:
        yield base


def items(pairs, start=0):
    return [{"id": f"i{start + k}", "completion": c, "reference": r} for k, (c, r) in enumerate(pairs)]


def test_results_carry_their_ids_in_order(url):
    r = post(f"{url}/score", json={"items": items([("a", "a"), ("b", "x"), ("c", "c")])})
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["id"] for x in res] == ["i0", "i1", "i2"]
    assert [x["passed"] for x in res] == [True, False, True]
    assert res[0] == {"id": "i0", "reward": 1.0, "passed": True, "reason": "ok", "scored": True,
                      "parts": {"judge": 1.0}, "error": None}


def test_integer_ids_and_per_item_specs(url):
    body = {"items": [{"id": 7, "completion": "<think>a</think><answer>b</answer>", "reference": "zz", "spec": "format"},
                      {"id": 8, "completion": "q", "reference": "q"},
                      {"id": 9, "completion": "q", "reference": "q", "spec": "nonsense +"}]}
    res = post(f"{url}/score", json=body).json()["results"]
    assert [x["id"] for x in res] == [7, 8, 9]
    assert res[0]["passed"] and res[1]["passed"]
    assert res[2]["scored"] is False and "bad reward spec" in res[2]["error"]


def test_concurrent_requests_are_batched_and_each_gets_its_own_items(url):
    async def go():
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            before = (await client.get("/health")).json()["served"]

            async def one(k):
                pairs = [(f"{k}-{j}", f"{k}-{j}" if j % 2 else "no") for j in range(16)]
                r = await client.post("/score", json={"items": items(pairs, start=100 * k)})
                return k, r

            out = await asyncio.gather(*(one(k) for k in range(24)))
            after = (await client.get("/health")).json()["served"]
            return out, before, after

    out, before, after = asyncio.run(go())
    for k, r in out:
        res = r.json()["results"]
        assert [x["id"] for x in res] == [f"i{100 * k + j}" for j in range(16)]
        assert [x["passed"] for x in res] == [bool(j % 2) for j in range(16)]
    assert after["requests"] - before["requests"] == 24
    assert after["batches"] - before["batches"] < 24  # gathered into fewer worker-pool calls


def test_hanging_and_crashing_items_cost_only_themselves(url):
    r = post(f"{url}/score", json={"items": items([("hang", "a"), ("exit", "a"), ("ok", "ok")])})
    res = r.json()["results"]
    assert [x["reason"] for x in res] == ["timeout", "crashed", "ok"]
    assert [x["scored"] for x in res] == [False, False, True]
    assert "deadline" in res[0]["error"] and "exit code 3" in res[1]["error"]
    assert get(f"{url}/health").json()["status"] == "ok"
    assert post(f"{url}/score", json={"items": items([("z", "z")])}).json()["results"][0]["passed"]


@pytest.mark.parametrize("body, status, says", [
    (b"{not json", 422, "not valid JSON"),
    (b'{"items": [{"id": 1, "reference": "a"}]}', 422, "items.0.completion: Field required"),
    (b'{"items": [{"id": 1, "completion": 5, "reference": "a"}]}', 422, "items.0.completion"),
    (b'{"items": [{"id": 1, "completion": "a", "reference": "a", "extra": 1}]}', 422, "items.0.extra"),
    (b'{"items": [{"id": 1, "completion": "a", "reference": "a"}, {"id": 1, "completion": "b", "reference": "b"}]}',
     422, "id 1 appears more than once"),
    (b'{"itemz": []}', 422, "items: Field required"),
    (b"[1, 2]", 422, "body"),
])
def test_malformed_bodies_get_a_4xx_that_says_what_is_wrong(url, body, status, says):
    r = post(f"{url}/score", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert says in r.json()["error"]


def test_size_and_batch_limits(url):
    r = post(f"{url}/score", json={"items": items([("a", "a")] * 101)})
    assert r.status_code == 413 and "limit is 100" in r.json()["error"]
    r = post(f"{url}/score", json={"items": items([("x" * 70_000, "a")])})
    assert r.status_code == 413 and "64000 bytes" in r.json()["error"]

    def chunked():  # no content-length: the streamed body is counted
        for _ in range(100):
            yield b" " * 1000

    r = post(f"{url}/score", content=chunked(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_openapi_schema_and_health(url):
    schema = get(f"{url}/openapi.json").json()
    assert {"/score", "/get_reward", "/health"} <= set(schema["paths"])
    assert "ScoreItem" in schema["components"]["schemas"]
    health = get(f"{url}/health").json()
    assert health["status"] == "ok" and health["spec"] == "judge"


def test_openrlhf_remote_rm_protocol(url):
    # The body OpenRLHF's remote_rm_fn_ray POSTs: query = prompt + response with special tokens.
    prompts = ["<|user|>2+2?<|assistant|>", "<|user|>3+3?<|assistant|>", "<|user|>1+1?<|assistant|>"]
    responses = ["4<|eos|>", "5<|im_end|>", "hang"]
    body = {"query": [f"<s>{p}{r}" for p, r in zip(prompts, responses, strict=True)], "prompts": prompts,
            "labels": ["4", "6", "2"], "datasources": ["x"] * 3}
    r = post(f"{url}/get_reward", json=body, timeout=30)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["rewards"] == [1.0, 0.0, 0.0] and out["scores"] == [1.0, 0.0, 0.0]
    assert out["extra_logs"] == {"judge": [1.0, 0.0, 0.0], "unscored": [0.0, 0.0, 1.0]}


@pytest.mark.parametrize("body, says", [
    ({"query": ["a"], "prompts": [""]}, "labels: required"),
    ({"query": ["a", "b"], "labels": ["a"]}, "labels: 1 entries for 2 queries"),
    ({"prompts": ["a"], "labels": ["a"]}, "query: Field required"),
])
def test_openrlhf_malformed(url, body, says):
    r = post(f"{url}/get_reward", json=body)
    assert r.status_code == 422 and says in r.json()["error"]


def test_bearer_token_guards_everything_but_health(service):
    app = create_app(service, token="s3cret")
    with running(app) as base:
        body = {"items": items([("a", "a")])}
        assert post(f"{base}/score", json=body).status_code == 401
        assert post(f"{base}/score", json=body, headers={"authorization": "Bearer nope"}).status_code == 401
        ok = post(f"{base}/score", json=body, headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and ok.json()["results"][0]["passed"]
        # OpenRLHF's client sets no headers: the token can ride in the URL it is given.
        body = {"query": ["a"], "prompts": [""], "labels": ["a"]}
        assert post(f"{base}/get_reward?token=nope", json=body).status_code == 401
        assert post(f"{base}/get_reward?token=s3cret", json=body).json()["rewards"] == [1.0]
        assert get(f"{base}/health").status_code == 200


def test_refuses_a_public_address_without_a_token(capsys, monkeypatch):
    monkeypatch.delenv("VERIFY_SERVE_TOKEN", raising=False)
    assert main(["--host", "0.0.0.0", "--reward", "format"]) == 2
    assert "refusing to bind to 0.0.0.0 without a bearer token" in capsys.readouterr().err


def test_bad_reward_spec_is_a_usage_error(capsys):
    assert main(["--reward", "fromat"]) == 2
    assert "unknown verifier 'fromat'" in capsys.readouterr().err


def test_verify_serve_finishes_in_flight_requests_on_sigterm(tmp_path):
    # A real `verify serve` process with a slow custom verifier, stopped mid-request.
    (tmp_path / "slowplugin.py").write_text(textwrap.dedent("""
        import time
        from verifiers import Score, Verifier, register

        class Slow(Verifier):
            name = "slow"
            def score(self, completion, reference):
                time.sleep(1.5)
                return Score(1.0, True)

        register("slow", Slow)
    """))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "verifiers.apps.cli", "serve", "--import", "slowplugin", "--reward",
                             "slow", "--port", str(port), "--workers", "2", "--log-level", "info"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                if get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        result = {}

        def request():
            result["r"] = post(f"{base}/score", json={"items": items([("a", "a"), ("b", "b")])}, timeout=60)

        t = threading.Thread(target=request)
        t.start()
        time.sleep(0.7)  # the request is in flight, its items sleeping in the workers
        proc.send_signal(signal.SIGTERM)
        t.join(60)
        assert result["r"].status_code == 200
        assert [x["passed"] for x in result["r"].json()["results"]] == [True, True]
        # uvicorn re-raises the signal once it has shut down, so the exit status says SIGTERM.
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "reward server stopped after 1 requests, 2 items" in proc.stdout.read().decode()
        with pytest.raises(httpx.TransportError):
            get(f"{base}/health", timeout=1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_response_json_round_trips():
    # The models serialise without surprises (no NaN, ids kept as given).
    from verifiers.apps.server import _result
    from verifiers.runtime.local import Outcome

    res = _result("x", Outcome(Score(float("nan"), False, "ok", {"a": float("inf"), "b": 1.0})))
    assert json.loads(res.model_dump_json()) == {"id": "x", "reward": None, "passed": False, "reason": "ok",
                                                 "scored": False, "parts": {"b": 1.0},
                                                 "error": "verifier returned a non-finite reward"}


def test_microbatcher_caps_batches_and_a_failing_item_or_service_fails_only_its_own():
    # A call that raises is retried request by request, then item by item: a broken item costs
    # itself; only the service saying it is broken (ServiceError) fails a request.
    from verifiers.apps.microbatch import MicroBatcher
    from verifiers.runtime.local import Outcome
    from verifiers.score import ServiceError

    class FakeService:
        def __init__(self):
            self.calls = []

        def score_outcomes(self, completions, references, specs=None):
            self.calls.append(len(completions))
            if "boom" in completions:
                raise RuntimeError("verifier broke")
            if "down" in completions:
                raise ServiceError("service is down")
            return [Outcome(Score(float(c == r), c == r)) for c, r in zip(completions, references, strict=True)]

    async def go():
        fake = FakeService()
        batcher = MicroBatcher(fake, window_s=0.05, max_items=5)
        batcher.start()
        outs = await asyncio.gather(*(batcher.score([str(k), "x"], [str(k), "y"], [None, None]) for k in range(6)))
        first_calls = list(fake.calls)
        boom = await batcher.score(["boom", "q"], ["b", "q"], [None, None])
        down = await asyncio.gather(batcher.score(["down"], ["d"], [None]), return_exceptions=True)
        after = await batcher.score(["z"], ["z"], [None])
        await batcher.stop()
        return first_calls, outs, boom, down, after

    first_calls, outs, boom, down, after = asyncio.run(go())
    assert [[o.score.passed for o in out] for out in outs] == [[True, False]] * 6
    assert max(first_calls) <= 5 and sum(first_calls) == 12 and len(first_calls) >= 3
    assert boom[0].score.reason == "error" and "RuntimeError: verifier broke" in boom[0].error
    assert boom[1].score.passed and boom[1].error is None
    assert isinstance(down[0], ServiceError) and after[0].score.passed
