"""The `verify` command: score JSONL records through the batched reward service.

    verify fixtures/samples/math_completions.jsonl --reward "0.1*format + math" -o scored.jsonl
    verify doctor        # what the sandbox can isolate on this machine

Every input line gets exactly one output line, in order, whatever it holds. A line that is not
UTF-8, not a JSON object (or nested too deep to read), or lacks the completion or the
reference, gets `error` and `reward: null`; so does a record whose reference or `reward_spec`
the reward service rejects (a per-record spec may not loosen `--reward`'s limits, see
`verifiers.spec.check_within`). The run goes on, stderr names the bad lines, and the exit
status is 1. A scored record's `error` field is the service's (null when it scored), never
a value the input carried. An output, `--report` or `--plot` path that is the input file (or
another of them, by any name, even one that does not exist yet) is refused before anything is
written. SIGTERM and Ctrl-C stop the run at once, workers
included (exit status 143 / 130; the output then ends at the last finished batch). A summary
(count, mean reward, pass rate, reasons, throughput) goes to stderr.

This process never reads model text beyond copying and hashing it: answers for maj@k and
--dedupe are extracted, and compared, in the reward service's workers under the deadline.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from collections import Counter
from functools import lru_cache
from typing import IO, Any

from verifiers.apps.cli_io import (
    clobbered,
    decode_line,
    dumps_line,
    error_line,
    loads_line,
    read_batches,
)
from verifiers.score import SpecError
from verifiers.spec import parse_spec

EXIT_OK, EXIT_BAD_RECORDS, EXIT_USAGE = 0, 1, 2
EXIT_SIGINT, EXIT_SIGTERM = 128 + signal.SIGINT, 128 + signal.SIGTERM


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="verify",
        description="Score JSONL records (completion + reference) with a reward spec. "
        "Subcommands: `verify doctor` (sandbox isolation report), `verify serve` (HTTP server).",
    )
    p.add_argument("input", nargs="?", default="-", help="input JSONL file (default: stdin)")
    p.add_argument("-o", "--output", default="-", help="output JSONL file (default: stdout)")
    p.add_argument("--reward", default="math", help='reward spec, e.g. "0.1*format + math" (default: math)')
    p.add_argument("--completion-key", default="completion", help="field holding the model's text")
    p.add_argument("--reference-key", default="reference", help="field holding the gold answer (or tests)")
    p.add_argument("--spec-key", default="reward_spec",
                   help="optional per-record field that overrides --reward for that record; it may choose "
                        "any verifiers but no limit looser than --reward's or --spec-ceiling's")
    p.add_argument("--spec-ceiling", default=None,
                   help='what else a per-record spec may ask for, e.g. "code(timeout_s=20)" (default: only --reward)')
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count)")
    p.add_argument("--timeout", type=float, default=10.0, help="deadline per item in seconds (default: 10)")
    p.add_argument("--max-item-s", type=float, default=None,
                   help="the most one item may take, its tests' worst case included; a reference needing more "
                        "is a bad reference (default: 600, or --timeout if larger)")
    p.add_argument("--batch-size", type=int, default=512, help="records scored per batch (default: 512)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    ev = p.add_argument_group("evaluation over several samples per problem")
    ev.add_argument("--group-key", help="field naming the problem a sample belongs to (enables pass@k, maj@k)")
    ev.add_argument("--k", help="comma-separated k values (default: 1, 2, 4, ... up to the largest group)")
    ev.add_argument("--report", help="write the per-group and overall report here (JSON)")
    ev.add_argument("--plot", help="draw pass@k and maj@k against k into this PNG")
    rs = p.add_argument_group("rejection sampling (the output keeps only selected records)")
    rs.add_argument("--keep", help="'passed' or 'reward>=X' (also >, ==): write only records that satisfy it")
    rs.add_argument("--max-per-group", type=int, help="keep at most this many records per group")
    rs.add_argument("--dedupe", action="store_true", help="keep at most one record per equivalent answer in a group")
    return p


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total_bytes: int | None, enabled: bool):
        self.total, self.enabled, self.start = total_bytes, enabled and sys.stderr.isatty(), time.monotonic()

    def update(self, done_bytes: int, records: int) -> None:
        if not self.enabled:
            return
        rate = records / max(1e-9, time.monotonic() - self.start)
        if self.total:
            frac = min(1.0, done_bytes / self.total)
            bar = "#" * int(30 * frac)
            sys.stderr.write(f"\r[{bar:<30}] {100 * frac:5.1f}%  {records} records  {rate:,.0f}/s")
        else:
            sys.stderr.write(f"\r{records} records  {rate:,.0f}/s")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _check_record(line: str, args: argparse.Namespace) -> tuple[dict | None, Any, str | None]:
    """(record, reference, error): the record and its reference, or why the line is unusable."""
    rec, error = loads_line(line)
    if error is not None:
        return None, None, error
    if not isinstance(rec, dict):
        return None, None, f"expected a JSON object, got {type(rec).__name__}"
    if args.completion_key not in rec:
        return rec, None, f"missing field {args.completion_key!r}"
    if not isinstance(rec[args.completion_key], str):
        return rec, None, f"field {args.completion_key!r} must be a string, got {type(rec[args.completion_key]).__name__}"
    if args.reference_key in rec:
        ref = rec[args.reference_key]
    elif "tests" in rec:  # code records may carry their tests under `tests` (docs/design.md)
        ref = rec["tests"]
    else:
        return rec, None, f"missing field {args.reference_key!r}"
    spec = rec.get(args.spec_key)
    if spec is not None and not isinstance(spec, str):
        return rec, None, f"field {args.spec_key!r} must be a spec string"
    if args.group_key and args.group_key not in rec:
        return rec, None, f"missing field {args.group_key!r}"
    return rec, ref, None


def same_answer(answer: str, other: str) -> Any:
    """Whether two extracted answers are equivalent (`math_equal`, the second standing in for
    the reference), as a Score. A model answer may be no valid reference (unbalanced braces):
    such pairs fall back to normalised text equality."""
    from verifiers.math.normalize import canonical_text
    from verifiers.math.verifier import math_equal
    from verifiers.score import BadReference, Score

    try:
        same = math_equal(answer, other)
    except BadReference:
        same = canonical_text(answer) == canonical_text(other)
    return Score(float(same), same, "ok" if same else "mismatch")


@lru_cache(maxsize=1)
def same_answer_verifier() -> Any:
    from verifiers.verifier import Verifier
    return Verifier.wrap(same_answer, "same_answer")


class Selection:
    """Per-group bookkeeping for evaluation (pass@k, maj@k) and rejection sampling (--keep).

    Groups are keyed type-exactly (`1` and `"1"` are two problems). The answers samples vote
    with come from the reward service's workers (`answers`); this process never extracts one."""

    def __init__(self, args: argparse.Namespace):
        from verifiers.apps.evaluate import KeepRule

        self.args = args
        self.keep = KeepRule.parse(args.keep) if getattr(args, "keep", None) else None
        self.groups: dict[bytes, Any] = {}
        self.kept = 0
        self.service: Any = None   # the run's reward service, while it is open
        self.report: dict | None = None
        self._pairs: dict[tuple[str, str], bool] = {}

    @property
    def active(self) -> bool:
        """Whether a mode needs scored records at all (--group-key, --keep)."""
        return bool(getattr(self.args, "group_key", None)) or self.keep is not None

    def answers(self, completions: list[str], references: list[Any]) -> list[str | None]:
        """What each sample votes with (maj@k) and is deduplicated by (--dedupe): see
        `evaluate.answer_of`. Only grouped runs need them. A string reference's answer is
        extracted in the service's workers under the run's deadline: an answer that runs out of
        time, or cannot be read, casts no vote."""
        from verifiers.apps.evaluate import answer_of

        if not getattr(self.args, "group_key", None):
            return [None] * len(completions)
        out: list[str | None] = [c.strip() if not isinstance(r, str) else None
                                 for c, r in zip(completions, references, strict=True)]
        todo = [i for i, r in enumerate(references) if isinstance(r, str)]
        if todo and self.service is not None:
            got = self.service.apply(answer_of, [completions[i] for i in todo], [references[i] for i in todo])
            for i, (value, _error) in zip(todo, got, strict=True):
                out[i] = value if isinstance(value, str) else None
        elif todo:  # the library's own callers, without a service
            for i in todo:
                out[i] = answer_of(completions[i], references[i])
        return out

    def same(self, a: str, b: str) -> bool:
        """Whether two model answers are one vote (maj@k) or one answer (--dedupe).

        `same_answer` decides, in the reward service's workers under the run's deadline: an
        answer pair that runs out of time counts as two answers, and no model answer can stall
        the report. Without a service (the library's own callers) it runs in this process."""
        if a == b:
            return True
        if (a, b) not in self._pairs:
            self._pairs[(a, b)] = self._decide(a, b)
        return self._pairs[(a, b)]

    def _decide(self, a: str, b: str) -> bool:
        if self.service is None:
            return same_answer(a, b).passed
        outcome = self.service.score_outcomes([a], [b], [same_answer_verifier()])[0]
        return outcome.score.passed  # a timeout or a crash: not the same

    def group(self, rec: dict | None) -> Any:
        from verifiers.apps.evaluate import Group, group_id

        if not self.args.group_key or not isinstance(rec, dict) or self.args.group_key not in rec:
            return None
        value = rec[self.args.group_key]
        key = group_id(value)
        if key not in self.groups:
            self.groups[key] = Group(value)
        return self.groups[key]

    def observe(self, rec: dict, reference: Any, reward: float, passed: bool, answer: str | None) -> bool:
        """Record one scored sample with its answer (see `answers`); return whether the output
        keeps it."""
        g = self.group(rec)
        if g is not None:
            g.add(reference, passed, answer)
        if self.keep is None:
            return True
        if not self.keep(reward, passed):
            return False
        if g is not None:
            if self.args.max_per_group is not None and g.kept >= self.args.max_per_group:
                return False
            if self.args.dedupe and self._duplicate(g, answer, reference):
                return False
            g.kept += 1
            g.kept_answers.append(answer)
            g.kept_exact.add(answer)
        self.kept += 1
        return True

    def _duplicate(self, g: Any, answer: str | None, reference: Any) -> bool:
        # Equal texts (and "no answer") by hashing, so a large group of long code answers costs
        # no pairwise comparisons; equivalent math answers through `same`, in the workers.
        if answer in g.kept_exact:
            return True
        return answer is not None and isinstance(reference, str) and \
            any(self.same(answer, k) for k in g.kept_answers if k is not None)

    def bad(self, rec: dict | None) -> None:
        g = self.group(rec)
        if g is not None:
            g.bad_lines += 1


def run(args: argparse.Namespace, stdin: IO[bytes], stdout: IO[bytes]) -> int:
    from verifiers.runtime.local import UNSCORED_REASONS, RewardService

    inp = stdin if args.input == "-" else open(args.input, "rb")  # noqa: SIM115
    out = stdout if args.output == "-" else open(args.output, "wb")  # noqa: SIM115
    total_bytes = os.path.getsize(args.input) if args.input != "-" else None
    progress = _Progress(total_bytes, not args.quiet)
    selection = Selection(args)
    rewards: list[float] = []
    passed = 0
    reasons: Counter[str] = Counter()
    bad: list[tuple[int, str]] = []
    n_records, done_bytes, start = 0, 0, time.monotonic()
    try:
        with RewardService(args.reward, workers=args.workers, timeout_s=args.timeout,
                           spec_ceiling=args.spec_ceiling, max_item_s=args.max_item_s) as service:
            selection.service = service
            for batch in read_batches(inp, args.batch_size):
                texts = [decode_line(raw) for _, raw in batch]
                checked = [_check_record(text, args) if err is None else (None, None, err) for text, err in texts]
                good = [i for i, (_, _, err) in enumerate(checked) if err is None]
                outcomes = service.score_outcomes(
                    [checked[i][0][args.completion_key] for i in good],
                    [checked[i][1] for i in good],
                    [checked[i][0].get(args.spec_key) for i in good],
                ) if good else []
                scored = dict(zip(good, outcomes, strict=True))
                usable = [i for i in good if scored[i].score.reason not in ("bad_reference", "error")]
                answers = dict(zip(usable, selection.answers(
                    [checked[i][0][args.completion_key] for i in usable], [checked[i][1] for i in usable]),
                    strict=True)) if selection.active and usable else {}
                for i, ((lineno, raw), (text, _), (rec, ref, err)) in enumerate(zip(batch, texts, checked, strict=True)):
                    done_bytes += len(raw)
                    line = None
                    if err is None and scored[i].score.reason in ("bad_reference", "error"):
                        err = scored[i].error or scored[i].score.reason
                    if err is None:
                        s = scored[i].score
                        # `error` is ours: why an item went unscored, else null; never the input's.
                        row = {**rec, **s.to_dict(),
                               "error": scored[i].error if s.reason in UNSCORED_REASONS else None}
                        line = dumps_line(row)
                        if line is None:
                            err = "the scored record cannot be written as JSON (nested too deeply)"
                    if err is not None:
                        bad.append((lineno, err))
                        selection.bad(rec)
                        if selection.keep is None:
                            out.write(error_line(rec, text, err))
                        continue
                    rewards.append(s.value)
                    passed += s.passed
                    reasons[s.reason] += 1
                    if not selection.active or selection.observe(rec, ref, s.value, s.passed, answers.get(i)):
                        out.write(line)  # type: ignore[arg-type]
                n_records += len(batch)
                out.flush()
                progress.update(done_bytes, n_records)
            if selection.groups:  # maj@k votes go through the service, so the report is built here
                selection.report = _build_report(args, selection)
            selection.service = None
    finally:
        progress.close()
        if inp is not stdin:
            inp.close()
        if out is not stdout:
            out.close()
    elapsed = time.monotonic() - start
    if not args.quiet:
        _summary(n_records, rewards, passed, reasons, bad, elapsed, args.reward)
    elif bad:
        _report_bad(bad)
    if selection.groups or selection.keep:
        _evaluation(args, selection)
    return EXIT_BAD_RECORDS if bad else EXIT_OK


def _evaluation(args: argparse.Namespace, selection: Selection) -> None:
    from verifiers.apps.evaluate import format_table, plot_report

    groups = selection.groups
    if selection.keep is not None:
        none = [str(g.key) for g in groups.values() if g.kept == 0]
        msg = f"verify: kept {selection.kept} records (--keep {args.keep})"
        if groups:
            msg += f" from {len(groups)} groups; {len(none)} groups kept none" + (f": {', '.join(none[:10])}" if none else "")
        print(msg, file=sys.stderr)
    if not groups:
        return
    report = selection.report or _build_report(args, selection)
    if not args.quiet:
        print(format_table(report), file=sys.stderr)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
    if args.plot:
        plot_report(report, args.plot)


def _build_report(args: argparse.Namespace, selection: Selection) -> dict:
    from verifiers.apps.evaluate import build_report, default_ks

    groups = selection.groups
    ks = [int(k) for k in args.k.split(",")] if args.k else default_ks(max(len(g.passed) for g in groups.values()))
    return build_report(groups, ks, selection.same, keeping=selection.keep is not None)


def _report_bad(bad: list[tuple[int, str]]) -> None:
    for lineno, err in bad[:20]:
        print(f"verify: line {lineno}: {err}", file=sys.stderr)
    if len(bad) > 20:
        print(f"verify: ... and {len(bad) - 20} more bad lines", file=sys.stderr)


def _summary(n: int, rewards: list[float], passed: int, reasons: Counter[str], bad: list[tuple[int, str]],
             elapsed: float, spec: str) -> None:
    scored = len(rewards)
    mean = sum(rewards) / scored if scored else float("nan")
    lines = [
        f"verify: {n} records, {scored} scored, {len(bad)} bad  (reward: {spec})",
        f"  mean reward {mean:.4f}   pass rate {passed / scored if scored else float('nan'):.4f}",
        "  reasons: " + (", ".join(f"{r} {c}" for r, c in reasons.most_common()) or "none"),
        f"  {elapsed:.2f}s, {n / max(elapsed, 1e-9):,.1f} records/s",
    ]
    if "code" in spec:
        try:
            from sandboxes import isolation_report

            lines.append(f"  sandbox isolation: {isolation_report().get('level', '?')}")
        except (ImportError, AttributeError):
            pass
    print("\n".join(lines), file=sys.stderr)
    if bad:
        _report_bad(bad)


def doctor() -> int:
    """Print what this machine's sandbox can isolate (the levels are described in README)."""
    try:
        from sandboxes import isolation_report
    except ImportError as e:
        print(f"verify doctor: sandboxes unavailable: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(json.dumps(isolation_report(), indent=2, default=str))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["doctor"]:
        return doctor()
    if argv[:1] == ["serve"]:
        try:
            from verifiers.apps.server import main as serve_main
        except ImportError as e:
            print(f"verify serve needs the server extra: pip install -e '.[serve]' ({e})", file=sys.stderr)
            return EXIT_USAGE
        return serve_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.batch_size < 1 or (args.workers is not None and args.workers < 1) or not 0 < args.timeout < math.inf \
            or (args.max_item_s is not None and not args.timeout <= args.max_item_s < math.inf):
        print("verify: --batch-size and --workers must be >= 1, --timeout a finite number > 0 and --max-item-s "
              "a finite number at least --timeout", file=sys.stderr)
        return EXIT_USAGE
    for flag, spec in (("--reward", args.reward), ("--spec-ceiling", args.spec_ceiling)):
        try:
            if spec is not None:
                parse_spec(spec)
        except SpecError as e:
            print(f"verify: bad {flag}: {e}", file=sys.stderr)
            return EXIT_USAGE
    if (args.max_per_group is not None or args.dedupe) and not args.group_key:
        print("verify: --max-per-group and --dedupe need --group-key", file=sys.stderr)
        return EXIT_USAGE
    if args.max_per_group is not None and args.max_per_group < 1:
        print("verify: --max-per-group must be >= 1", file=sys.stderr)
        return EXIT_USAGE
    if args.k is not None:
        try:
            ks = [int(k) for k in args.k.split(",")]
        except ValueError:
            ks = []
        if not ks or min(ks) < 1:
            print(f"verify: --k must be comma-separated positive integers, got {args.k!r}", file=sys.stderr)
            return EXIT_USAGE
    if args.keep is not None:
        from verifiers.apps.evaluate import KeepRule

        try:
            KeepRule.parse(args.keep)
        except ValueError as e:
            print(f"verify: {e}", file=sys.stderr)
            return EXIT_USAGE
    if args.input != "-" and not os.path.isfile(args.input):
        print(f"verify: no such input file: {args.input}", file=sys.stderr)
        return EXIT_USAGE
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    problem = clobbered(args, stdin, stdout)
    if problem:
        print(f"verify: {problem}", file=sys.stderr)
        return EXIT_USAGE
    # SIGTERM unwinds like Ctrl-C: the service kills its workers (and their sandboxes) on the
    # way out, instead of the process dying and leaving them running their items.
    handling = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if handling else None
    try:
        return run(args, stdin, stdout)
    except KeyboardInterrupt as e:
        by = "SIGTERM" if e.args == ("SIGTERM",) else "SIGINT"
        print(f"verify: stopped by {by}; the output ends at the last finished batch", file=sys.stderr)
        return EXIT_SIGTERM if by == "SIGTERM" else EXIT_SIGINT
    except BrokenPipeError:  # `verify ... | head`
        return EXIT_OK
    except OSError as e:  # an output or report path that cannot be written
        print(f"verify: {e}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if handling:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


if __name__ == "__main__":
    sys.exit(main())
