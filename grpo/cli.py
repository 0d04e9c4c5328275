"""The `grpo` command: train, sft, demo, plot.

    grpo train CONFIG.yaml [key=value ...]      GRPO (torchrun --nproc_per_node N -m grpo.cli train ... for DDP)
    grpo sft CONFIG.yaml [key=value ...]        supervised cold start, same config style
    grpo sample MODEL DATA.jsonl [-n 8] [-o OUT.jsonl] [--greedy]   completions for rejection sampling / eval
    grpo demo [--out DIR] [--setup-only] [sft.key=value ...] [grpo.key=value ...]
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
    sa = sub.add_parser("sample", help="write n completions per prompt of a JSONL file (rejection sampling, eval)")
    sa.add_argument("model", help="model directory or hub id (a checkpoint's model/ directory)")
    sa.add_argument("data", help="JSONL with a prompt field; every other field is copied to the output")
    sa.add_argument("-n", type=int, help="completions per prompt (default 8; 1 with --greedy)")
    sa.add_argument("-o", "--output", help="output JSONL (default stdout)")
    sa.add_argument("--greedy", action="store_true", help="greedy decoding (n must be 1)")
    sa.add_argument("--tokenizer", help="tokenizer directory (default: the model's)")
    sa.add_argument("--prompt-key", default="prompt")
    sa.add_argument("--max-new-tokens", type=int, default=256)
    sa.add_argument("--temperature", type=float, default=1.0)
    sa.add_argument("--top-p", type=float, default=1.0)
    sa.add_argument("--batch-size", type=int, default=64, help="completions per generate call")
    sa.add_argument("--limit", type=int, help="only the first N prompts")
    sa.add_argument("--seed", type=int, default=0)
    sa.add_argument("--device", default="auto")
    sa.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0: torch's default")
    sa.add_argument("--system-prompt")
    sa.add_argument("--no-chat-template", action="store_true")
    d = sub.add_parser("demo", help="tiny model: SFT cold start, then GRPO on arithmetic, on the CPU")
    d.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    d.add_argument("--eval-every", type=int, default=10, help="greedy held-out accuracy every N GRPO steps")
    d.add_argument("--setup-only", action="store_true",
                   help="only write the data (data/sft|grpo|test.jsonl) and the untrained model (init/)")
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
            from grpo.demo import demo, prepare
            if args.setup_only:
                print(prepare(args.out))
                return 0
            demo(args.out, [o[4:] for o in args.overrides if o.startswith("sft.")],
                 [o[5:] for o in args.overrides if o.startswith("grpo.")], eval_every=args.eval_every)
        elif args.command == "sample":
            from grpo.sample import sample_to_file
            try:
                n = sample_to_file(args.output, model=args.model, data=args.data, n=args.n or (1 if args.greedy else 8), greedy=args.greedy,
                                   tokenizer=args.tokenizer, prompt_key=args.prompt_key,
                                   max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                                   top_p=args.top_p, batch_size=args.batch_size, limit=args.limit, seed=args.seed,
                                   device=args.device, threads=args.threads, system_prompt=args.system_prompt,
                                   chat_template=not args.no_chat_template)
            except (ValueError, OSError) as e:
                print(f"grpo sample: {e}", file=sys.stderr)
                return 2
            print(f"grpo sample: {n} completions written to {args.output or 'stdout'}", file=sys.stderr)
        else:
            from grpo.plot import plot
            print(plot(args.run_dir, args.out))
    except ConfigError as e:
        print(f"grpo {args.command}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
