"""`python -m sandboxes doctor [--json] [--level auto|namespaces|rlimits]`: the isolation in effect."""

from __future__ import annotations

import argparse
import json
import os
import sys

from sandboxes.report import format_report, isolation_report
from sandboxes.zygote import SandboxError, Zygote


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sandboxes")
    sub = ap.add_subparsers(dest="cmd", required=True)
    doc = sub.add_parser("doctor", help="report the isolation level in effect and what it covers")
    doc.add_argument("--json", action="store_true")
    doc.add_argument("--level", default=None, choices=["auto", "namespaces", "rlimits"],
                     help="default: SANDBOXES_ISOLATION if set (as the code verifier uses it), else auto")
    args = ap.parse_args(argv)
    try:
        z = Zygote(args.level or os.environ.get("SANDBOXES_ISOLATION", "auto"))
    except SandboxError as e:
        print(f"sandbox cannot start: {e}", file=sys.stderr)
        return 1
    try:
        from sandboxes.process import run
        r = run({"program": "print('ok')"}, zygote=z)
        rep = isolation_report(z)
        rep["self_test"] = "ok" if r.stdout == b"ok\n" else f"failed: {r}"
    finally:
        z.close()
    print(json.dumps(rep, indent=2) if args.json else format_report(rep) + f"\n  self-test: {rep['self_test']}")
    return 0 if rep["self_test"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
