"""The `grpo` command: train, sft, demo, plot.

    grpo train CONFIG.yaml [key=value ...]      GRPO (torchrun --nproc_per_node N -m grpo.cli train ... for DDP)
    grpo sft CONFIG.yaml [key=value ...]        supervised cold start, same config style
    grpo demo [--out DIR] [sft.key=value ...] [grpo.key=value ...]
    grpo plot RUN_DIR [--out PNG]
    grpo train --help-config                    every config field, its default and meaning
"""

from __future__ import annotations

import argparse
import logging
import sys

from grpo.config import ConfigError, GRPOConfig, SFTConfig, describe, load_config


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grpo", description="A compact GRPO trainer fed by the reward service.")
    sub = p.add_subparsers(dest="command", required=True)
    for name, cls in (("train", GRPOConfig), ("sft", SFTConfig)):
        s = sub.add_parser(name, help=f"{cls.__doc__.splitlines()[0]}")
        s.add_argument("config", nargs="?", help="YAML config file")
        s.add_argument("overrides", nargs="*", help="key=value, parsed as YAML (lr=3e-6 mu=2)")
        s.add_argument("--help-config", action="store_true", help="list every config field and exit")
    d = sub.add_parser("demo", help="tiny model: SFT cold start, then GRPO on arithmetic, on the CPU")
    d.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    d.add_argument("--eval-every", type=int, default=10, help="greedy held-out accuracy every N GRPO steps")
    d.add_argument("overrides", nargs="*", help="sft.key=value or grpo.key=value (grpo.steps=30)")
    pl = sub.add_parser("plot", help="draw a run's metrics.jsonl into a PNG")
    pl.add_argument("run_dir")
    pl.add_argument("--out", help="PNG path (default RUN_DIR/curves.png)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        if args.command in ("train", "sft"):
            cls = GRPOConfig if args.command == "train" else SFTConfig
            if args.help_config:
                print(describe(cls))
                return 0
            if not args.config:
                print(f"grpo {args.command}: a config file is required (see --help-config)", file=sys.stderr)
                return 2
            cfg = load_config(cls, args.config, args.overrides)
            if args.command == "train":
                from grpo.train import train
                train(cfg)
            else:
                from grpo.sft import sft
                sft(cfg)
            from grpo.distributed import shutdown
            shutdown()
        elif args.command == "demo":
            bad = [o for o in args.overrides if not o.startswith(("sft.", "grpo."))]
            if bad:
                print(f"grpo demo: overrides must start with sft. or grpo.: {bad}", file=sys.stderr)
                return 2
            from grpo.demo import demo
            demo(args.out, [o[4:] for o in args.overrides if o.startswith("sft.")],
                 [o[5:] for o in args.overrides if o.startswith("grpo.")], eval_every=args.eval_every)
        else:
            from grpo.plot import plot
            print(plot(args.run_dir, args.out))
    except ConfigError as e:
        print(f"grpo {args.command}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
