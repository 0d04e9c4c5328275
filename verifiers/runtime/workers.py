"""The reward service's worker processes: how one starts, the loop it runs, how it answers.

A worker receives `("verifier", key, dill bytes)` (a Python object spec, once per worker) and
`("item", rid, key, completion, reference)`, and answers each item with `(rid, Score, error)`:
the request id echoed, so that the parent can check that a verdict belongs to the item it is
stored for, and a Score of plain finite floats (`valid_score`). Workers are forked from a
forkserver that has already imported sympy and math-verify, without the caller's `__main__`.

    pytest tests/verifiers/test_service.py tests/verifiers/test_attacks_service.py
"""

from __future__ import annotations

import io
import math
import numbers
import os
import signal
from typing import Any

import dill
from multiprocess import forkserver, popen_forkserver, reduction, spawn, util
from multiprocess.context import ForkServerProcess

from verifiers.score import BadReference, Score
from verifiers.spec import parse_spec, register, registered
from verifiers.verifier import Verifier


def _finite_float(x: Any, what: str) -> float:
    if not isinstance(x, numbers.Real):
        raise TypeError(f"verifier returned a {what} of type {type(x).__name__}, not a number")
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(f"verifier returned a non-finite {what} ({f})")
    return f


def valid_score(s: Any) -> Score:
    """`s` as a Score of plain finite floats, or TypeError/ValueError saying what is wrong: a
    verifier's nan or inf (a custom one, an overflowing weighted sum) is an error for its
    item, never a reward and never `Infinity` in a JSON line."""
    if not isinstance(s, Score):
        raise TypeError(f"verifier returned {type(s).__name__}, not Score")
    if s.passed not in (True, False) or not isinstance(s.reason, str) or not isinstance(s.parts, dict):
        raise TypeError(f"verifier returned a malformed Score: {s!r:.200}")
    parts = {str(k): _finite_float(v, f"part {k!r}") for k, v in s.parts.items()}
    return Score(_finite_float(s.value, "reward"), bool(s.passed), s.reason, parts)


def _die_with_parent() -> None:
    # Linux: SIGKILL this worker when the process that forked it exits, so a worker stuck in C
    # arithmetic never outlives the service.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker_main(conn: Any, memory_bytes: int | None, registry: dict) -> None:
    _die_with_parent()
    # Ctrl-C reaches the whole process group; the parent decides, and kills what it must.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_bytes:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    for name, factory in registry.items():
        register(name, factory)
    verifiers: dict[str, Verifier] = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        if msg[0] == "verifier":  # ("verifier", key, dill bytes): a Python object spec
            verifiers[msg[1]] = dill.loads(msg[2])
            continue
        _, rid, key, completion, reference = msg  # rid: the request id the reply must echo
        try:
            v = verifiers.get(key)
            if v is None:
                v = verifiers[key] = parse_spec(key)
            out = (rid, valid_score(v(completion, reference)), None)
        except BadReference as e:
            out = (rid, Score(0.0, False, "bad_reference"), f"bad reference: {e}")
        except MemoryError:
            out = (rid, Score(0.0, False, "crashed"), "verifier ran out of memory")
        except Exception as e:  # noqa: BLE001 - the process boundary: report, never die silently
            out = (rid, Score(0.0, False, "error"), f"{type(e).__name__}: {e}")
        conn.send(out)


class _NoMainPopen(popen_forkserver.Popen):
    """Forkserver launch without re-running the caller's `__main__` in the worker.

    multiprocessing re-imports the main script in every forkserver/spawn child. For a reward
    worker that is wrong twice over: a training script would re-import torch in each worker
    (seconds and gigabytes per replacement), and a script without an `if __name__` guard
    would recurse. Workers need nothing from `__main__`: verifier objects travel by value
    (dill), spec strings are rebuilt from the registry.
    """

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_path", None)
        prep_data.pop("init_main_from_name", None)
        buf = io.BytesIO()
        popen_forkserver.set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            popen_forkserver.set_spawning_popen(None)
        self.sentinel, w = forkserver.connect_to_new_process(self._fds)
        _parent_w = os.dup(w)
        self.finalizer = util.Finalize(self, util.close_fds, (_parent_w, self.sentinel))
        with open(w, "wb", closefd=True) as f:
            f.write(buf.getbuffer())
        self.pid = forkserver.read_signed(self.sentinel)


class _WorkerProcess(ForkServerProcess):
    @staticmethod
    def _Popen(process_obj: Any) -> _NoMainPopen:
        return _NoMainPopen(process_obj)


class Worker:
    """One worker process and the parent's end of its pipe; `item` is what it holds."""

    def __init__(self, ctx: Any, memory_bytes: int | None):
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        process_cls = _WorkerProcess if ctx.get_start_method() == "forkserver" else ctx.Process
        self.proc = process_cls(target=_worker_main, args=(child_conn, memory_bytes, registered()), daemon=True)
        self.proc.start()
        child_conn.close()  # so the parent sees EOF when the worker dies
        self.conn = parent_conn
        self.item: int | None = None  # the batch item it holds; None when idle
        self.rid = 0  # the id of its current request, which the reply must echo
        self.deadline = 0.0
        self.known: set[str] = set()  # object-spec keys already sent to this worker

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()


def how_died(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def is_reply_to(reply: Any, rid: int) -> bool:
    """Whether a worker's reply is the answer to request `rid`."""
    return (isinstance(reply, tuple) and len(reply) == 3 and reply[0] == rid and isinstance(reply[1], Score)
            and (reply[2] is None or isinstance(reply[2], str)))
