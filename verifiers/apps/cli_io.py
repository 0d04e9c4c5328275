"""The `verify` command's JSONL: lines in as bytes, lines out that are always valid JSON.

Every input line, whatever it holds, yields exactly one reading: a JSON value, or why it is
none (not UTF-8, not JSON, NaN/Infinity, nested too deep). Every output line is valid UTF-8
JSON: a row that cannot be written (nested too deep) is replaced by an error row carrying the
line's text, and a lone surrogate read from a `\\ud800` escape stays escaped. `clobbered` says
when a run would overwrite its own input or write two of its files to one path.

    pytest tests/verifiers/test_attacks_cli.py
"""

from __future__ import annotations

import argparse
import json
import os
import stat
from collections.abc import Iterator
from typing import IO, Any


def read_batches(stream: IO[bytes], size: int) -> Iterator[list[tuple[int, bytes]]]:
    # Bytes, decoded line by line: an invalid UTF-8 line is that line's error, not the run's.
    batch: list[tuple[int, bytes]] = []
    for lineno, line in enumerate(stream, start=1):
        batch.append((lineno, line))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def decode_line(raw: bytes) -> tuple[str, str | None]:
    """(text, error): the line as text, or its best reading and why it is not UTF-8."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as e:
        return raw.decode("utf-8", "replace"), f"not valid UTF-8: byte 0x{raw[e.start]:02x} at column {e.start + 1}"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads_line(text: str) -> tuple[Any, str | None]:
    """(value, error): the line's JSON value, or None and why it has none."""
    try:
        return json.loads(text, parse_constant=_no_constant), None  # NaN would not write back
    except json.JSONDecodeError as e:
        return None, f"not valid JSON: {e.msg} at column {e.colno}"
    except RecursionError:
        return None, "not valid JSON here: nested too deeply"
    except ValueError as e:
        return None, f"not valid JSON: {e}"


def error_record(rec: dict | None, raw: str, error: str) -> dict:
    out = dict(rec) if isinstance(rec, dict) else {"line": raw.rstrip("\n")[:1000]}
    out.update(reward=None, passed=None, reason="bad_input", parts={}, error=error)
    return out


def dumps_line(row: dict) -> bytes | None:
    """One output line as UTF-8, or None when the row cannot be JSON (nested too deep)."""
    try:
        text = json.dumps(row, ensure_ascii=False, allow_nan=False)
    except (RecursionError, TypeError, ValueError):
        return None
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:  # a lone surrogate, read from a "\ud800" escape: keep it escaped
        return json.dumps(row, allow_nan=False).encode("ascii") + b"\n"


def error_line(rec: dict | None, raw: str, error: str) -> bytes:
    # A record that cannot be written back is replaced by its line's text, which always can.
    return dumps_line(error_record(rec, raw, error)) or dumps_line(error_record(None, raw, error))  # type: ignore[return-value]


def _regular_file(path: str | None, stream: Any) -> os.stat_result | None:
    try:
        st = os.fstat(stream.fileno()) if path == "-" else os.stat(path) if path else None
    except (OSError, ValueError, AttributeError):  # no such file yet, or a stream with no fd
        return None
    return st if st is not None and stat.S_ISREG(st.st_mode) else None


def _real_path(path: str | None) -> str | None:
    # Where a path leads, whether or not the file exists yet: symlinks in it resolved, `.`
    # and `..` folded, relative to the working directory. "-" (a standard stream) has none.
    return os.path.realpath(path) if path and path != "-" else None


def clobbered(args: argparse.Namespace, stdin: Any, stdout: Any) -> str | None:
    """Why this run would overwrite one of its own files (the input, by any name: a symlink,
    a hard link, a shell redirection), or write two of its files to one path (`-o x --report
    x`, even when x does not exist yet), or None. Checked before anything is opened to write."""
    paths = [("input", args.input, stdin), ("output", args.output, stdout), ("--report", args.report, None),
             ("--plot", args.plot, None)]
    files = [(f"{what} {path}", _regular_file(path, stream), _real_path(path)) for what, path, stream in paths]
    for i, (name, st, real) in enumerate(files):
        for other, st2, real2 in files[i + 1:]:
            if (st is not None and st2 is not None and os.path.samestat(st, st2)) or (real and real == real2):
                return f"the {other} is the same file as the {name}; refusing to overwrite it"
    return None
