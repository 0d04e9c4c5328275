"""Load test of `verify serve` on loopback: many concurrent clients sending GRPO-sized batches.

Starts `verify serve` as a subprocess on 127.0.0.1 (a free port; nothing else is contacted),
runs `--clients` concurrent clients for `--duration-s` seconds or `--max-requests` requests,
whichever comes first, then stops the server with SIGTERM. Each request is one GRPO step's
worth of items for a client: P prompts x G completions, with fresh references per request (so
the server's verdict cache cannot answer for it), answers repeating within a group as a
policy's do, right ones in several notations and wrong ones.

Every item id is unique across the run. A response counts as correct only if it returns
exactly its request's ids in order and every item's `passed` equals the answer the generator
knows to be right or wrong; anything else is counted as lost or mismatched, and the exit
status is 1. Reported: requests/s, items/s, request latency p50/p99, batches formed.

    python benchmarks/server_load.py                       # ~30 s
    python benchmarks/server_load.py --quick               # smoke run, ~10 s
    python benchmarks/server_load.py --markdown benchmarks/server_results.md
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _batch(rng: random.Random, tag: str, prompts: int, group: int) -> tuple[list[dict], list[bool]]:
    """P x G items for one request and, for each, whether its answer is right."""
    items, truth = [], []
    for p in range(prompts):
        a, b = rng.randint(1, 400), rng.randint(2, 60)
        ref = f"\\frac{{{a}}}{{{b}}}" if a % b else str(a // b)
        right = [ref, f"{a}/{b}", f"\\dfrac{{{2 * a}}}{{{2 * b}}}"]
        wrong = [f"\\frac{{{a + 1}}}{{{b}}}", f"{b}/{a + b}", str(a * b + 1)]  # never equal to a/b
        for g in range(group):
            ok = rng.random() < 0.5
            answer = rng.choice(right if ok else wrong)
            text = f"<think>We compute {a} divided by {b}.</think><answer>{answer}</answer>"
            items.append({"id": f"{tag}-{p}-{g}", "completion": text, "reference": ref})
            truth.append(ok)
    return items, truth


async def _client(k: int, client: httpx.AsyncClient, args: argparse.Namespace, stop_at: float,
                  budget: list[int], out: dict) -> None:
    rng = random.Random(args.seed * 1000 + k)
    r = 0
    while time.monotonic() < stop_at and budget[0] > 0:
        budget[0] -= 1
        items, truth = _batch(rng, f"c{k}r{r}", args.prompts, args.group)
        r += 1
        t0 = time.perf_counter()
        try:
            resp = await client.post("/score", json={"items": items})
        except httpx.HTTPError as e:
            out["failed_requests"] += 1
            out["lost"] += len(items)
            out["errors"].append(f"{type(e).__name__}: {e}")
            continue
        out["latency_s"].append(time.perf_counter() - t0)
        if resp.status_code != 200:
            out["failed_requests"] += 1
            out["lost"] += len(items)
            out["errors"].append(f"HTTP {resp.status_code}: {resp.text[:200]}")
            continue
        results = resp.json()["results"]
        out["requests"] += 1
        out["items"] += len(items)
        if [x["id"] for x in results] != [it["id"] for it in items]:
            got = {x["id"] for x in results}
            out["lost"] += sum(it["id"] not in got for it in items)
            out["mismatched"] += len(got - {it["id"] for it in items})
            continue
        for x, it, ok in zip(results, items, truth, strict=True):
            if not x["scored"]:
                out["unscored"] += 1
            elif x["passed"] != ok:
                out["mismatched"] += 1
                out["errors"].append(f"item {it['id']}: expected passed={ok}, got {x}")


async def _load(base: str, args: argparse.Namespace) -> dict:
    out = {"requests": 0, "items": 0, "failed_requests": 0, "lost": 0, "mismatched": 0, "unscored": 0,
           "latency_s": [], "errors": []}
    limits = httpx.Limits(max_connections=args.clients, max_keepalive_connections=args.clients)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        before = (await client.get("/health")).json()["served"]
        start = time.monotonic()
        budget = [args.max_requests]
        await asyncio.gather(*(_client(k, client, args, start + args.duration_s, budget, out)
                               for k in range(args.clients)))
        out["elapsed_s"] = time.monotonic() - start
        after = (await client.get("/health")).json()["served"]
    out["batches"] = after["batches"] - before["batches"]
    return out


def _start_server(args: argparse.Namespace, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "verifiers.apps.server", "--host", "127.0.0.1", "--port", str(port),
           "--reward", args.reward, "--timeout", str(args.timeout_s), "--log-level", "warning"]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_ready(proc: subprocess.Popen, base: str, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not become ready")


def _report(args: argparse.Namespace, out: dict) -> str:
    lat = sorted(out["latency_s"])
    p50 = statistics.median(lat) if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")
    el = out["elapsed_s"]
    lines = [
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        f"server: verify serve --reward {args.reward!r} --workers {args.workers or os.cpu_count()} "
        f"--timeout {args.timeout_s:g} (127.0.0.1)",
        f"load: {args.clients} clients, {args.prompts}x{args.group} = {args.prompts * args.group} items/request, "
        f"{el:.1f}s (limit {args.duration_s:g}s / {args.max_requests} requests)",
        f"requests: {out['requests']} ok, {out['failed_requests']} failed; {out['requests'] / el:.1f} requests/s",
        f"items: {out['items']} scored, {out['items'] / el:.0f} items/s; batches formed: {out['batches']} "
        f"({out['items'] / max(1, out['batches']):.0f} items/batch)",
        f"latency per request: p50 {1000 * p50:.0f} ms, p99 {1000 * p99:.0f} ms",
        f"lost items: {out['lost']}, mismatched items: {out['mismatched']}, unscored (timeouts): {out['unscored']}",
    ]
    if out["errors"]:
        lines.append("first errors: " + "; ".join(out["errors"][:3]))
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reward", default="0.1*format + math")
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--prompts", type=int, default=8, help="P prompts per request")
    p.add_argument("--group", type=int, default=8, help="G completions per prompt")
    p.add_argument("--duration-s", type=float, default=30.0)
    p.add_argument("--max-requests", type=int, default=5000)
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--timeout-s", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="8 clients for 8 s")
    p.add_argument("--markdown", default=None, help="also write the report to this file")
    args = p.parse_args()
    if args.quick:
        args.clients, args.duration_s = 8, 8.0
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start_server(args, port)
    try:
        _wait_ready(proc, base)
        out = asyncio.run(_load(base, args))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    report = _report(args, out)
    print(report)
    if args.markdown:
        cmd = "python benchmarks/server_load.py " + " ".join(sys.argv[1:])
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(f"# Reward server load test\n\n`{cmd.strip()}`\n\n```\n{report}\n```\n")
    return 1 if out["lost"] or out["mismatched"] or out["failed_requests"] else 0


if __name__ == "__main__":
    sys.exit(main())
