"""The reward service's worker processes: how one starts, the loop it runs, how it answers.

A worker receives:

  ("verifier", key, dill bytes)                 a Python object (a spec, or a function `apply`
                                                runs), once per worker while it keeps it
  ("item", rid, key, completion, reference)     score with the verifier named by `key`
  ("apply", rid, key, completion, reference)    call the object named by `key`; its value back

and answers an item with `(rid, Score, error)`, an apply with `("value", rid, value, error)`:
the request id echoed, so that the parent can check that an answer belongs to the request it
is stored for, and a Score of plain finite floats within the verifier's `value_bound`
(`valid_score`). Before scoring, a worker whose verifier keys its verdicts on part of the
completion (`Verifier.cache_key`, e.g. math's extracted answer) sends `("key", rid, digest)`
and waits for `("go", rid)` (score it) or `("skip", rid)` (the parent already has, or is
getting, the verdict for an equal key). The key is computed here, under the item's deadline,
never in the parent. Spec strings are parsed on first use and kept in an LRU; objects are kept
in an LRU of the same size that the parent mirrors (`Worker.known`), so the parent always knows
which ones a worker holds. Workers are forked from a forkserver that has already imported
sympy and math-verify, without the caller's `__main__`.

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

from verifiers.keys import LRU, try_digest
from verifiers.score import BadReference, Score
from verifiers.spec import parse_spec, register, registered
from verifiers.verifier import Verifier, within_bound

# Parsed spec strings, and objects, a worker keeps (each an LRU): one entry per distinct spec
# would otherwise grow without end when specs come from data.
SPEC_CACHE_SIZE = 1024
OBJECT_KEY_PREFIX = "object:"


def _finite_float(x: Any, what: str) -> float:
    if not isinstance(x, numbers.Real):
        raise TypeError(f"verifier returned a {what} of type {type(x).__name__}, not a number")
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(f"verifier returned a non-finite {what} ({f})")
    return f


def valid_score(s: Any, bound: float | None = None) -> Score:
    """`s` as a Score of plain finite floats, or TypeError/ValueError saying what is wrong: a
    verifier's nan or inf (a custom one, an overflowing weighted sum) is an error for its
    item, never a reward and never `Infinity` in a JSON line; so is a reward beyond `bound`
    (the verifier's `value_bound`: a custom verifier that returns 1e300)."""
    if not isinstance(s, Score):
        raise TypeError(f"verifier returned {type(s).__name__}, not Score")
    if s.passed not in (True, False) or not isinstance(s.reason, str) or not isinstance(s.parts, dict):
        raise TypeError(f"verifier returned a malformed Score: {s!r:.200}")
    parts = {str(k): _finite_float(v, f"part {k!r}") for k, v in s.parts.items()}
    value = _finite_float(s.value, "reward")
    if bound is not None and not within_bound(value, bound):
        raise ValueError(f"verifier returned a reward of {value:g}, beyond its bound of {bound:g} "
                         "(value_bound; a custom verifier that scores more must say so)")
    return Score(value, bool(s.passed), s.reason, parts)


def _die_with_parent() -> None:
    # Linux: SIGKILL this worker when the process that forked it exits, so a worker stuck in C
    # arithmetic never outlives the service.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class VerifierTable:
    """A worker's verifiers by key: spec strings parsed on first use, objects as the parent sent
    them; each an LRU of `size` (see the module docstring)."""

    def __init__(self, size: int = SPEC_CACHE_SIZE):
        self.parsed: LRU[str, Verifier] = LRU(size)
        self.objects: LRU[str, Any] = LRU(size)

    def add(self, key: str, obj: Any) -> None:
        self.objects.put(key, obj)

    def get(self, key: str) -> Any:
        if key.startswith(OBJECT_KEY_PREFIX):
            obj = self.objects.get(key)
            if obj is None:  # the parent mirrors this LRU, so this is a bug, reported per item
                raise LookupError(f"verifier object {key} was never sent to this worker")
            return obj
        v = self.parsed.get(key)
        if v is None:
            v = parse_spec(key)
            self.parsed.put(key, v)
        return v


def _holds(key: Any, text: str) -> bool:
    """Whether a cache key is, or contains, the completion itself (a key no other text shares)."""
    stack = [key]
    while stack:
        k = stack.pop()
        if k is text:
            return True
        if isinstance(k, tuple | list):
            stack.extend(k)
    return False


def answer_key(v: Verifier, completion: str) -> bytes | None:
    """The digest of `v.cache_key(completion)`, or None when it is worth no handshake: the
    key is the whole text (the parent already deduplicates equal texts), or it fails."""
    try:
        key = v.cache_key(completion)
    except Exception:  # noqa: BLE001 - a buggy key costs speed, never correctness
        return None
    return None if _holds(key, completion) else try_digest(key)


def _verdict(v: Verifier, rid: int, completion: str, reference: Any) -> tuple:
    try:
        return rid, valid_score(v(completion, reference), v.value_bound()), None
    except BadReference as e:
        return rid, Score(0.0, False, "bad_reference"), f"bad reference: {e}"
    except MemoryError:
        return rid, Score(0.0, False, "crashed"), "verifier ran out of memory"
    except Exception as e:  # noqa: BLE001 - the process boundary: report, never die silently
        return rid, Score(0.0, False, "error"), f"{type(e).__name__}: {e}"


def _apply(fn: Any, rid: int, completion: str, reference: Any) -> tuple:
    try:
        return "value", rid, fn(completion, reference), None
    except Exception as e:  # noqa: BLE001 - the caller gets the error instead of a value
        return "value", rid, None, f"{type(e).__name__}: {e}"


def _worker_main(conn: Any, memory_bytes: int | None, registry: dict, table_size: int = SPEC_CACHE_SIZE) -> None:
    _die_with_parent()
    # Ctrl-C reaches the whole process group; the parent decides, and kills what it must.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_bytes:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    for name, factory in registry.items():
        register(name, factory)
    table = VerifierTable(table_size)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        if msg[0] == "verifier":  # ("verifier", key, dill bytes): a Python object
            table.add(msg[1], dill.loads(msg[2]))
            continue
        kind, rid, key, completion, reference = msg  # rid: the request id the reply must echo
        try:
            v = table.get(key)
        except Exception as e:  # noqa: BLE001 - a spec that does not parse here: this item's error
            fail = f"bad reward spec: {type(e).__name__}: {e}"
            conn.send(("value", rid, None, fail) if kind == "apply" else (rid, Score(0.0, False, "error"), fail))
            continue
        if kind == "apply":
            conn.send(_apply(v, rid, completion, reference))
            continue
        digest = answer_key(v, completion)
        if digest is not None:
            conn.send(("key", rid, digest))
            try:
                answer = conn.recv()
            except (EOFError, OSError):
                return
            if answer == ("skip", rid):
                continue
            if answer != ("go", rid):
                return  # out of protocol: exit, and the parent replaces this worker
        conn.send(_verdict(v, rid, completion, reference))


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

    def __init__(self, ctx: Any, memory_bytes: int | None, table_size: int = SPEC_CACHE_SIZE):
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        process_cls = _WorkerProcess if ctx.get_start_method() == "forkserver" else ctx.Process
        self.proc = process_cls(target=_worker_main, args=(child_conn, memory_bytes, registered(), table_size),
                                daemon=True)
        self.proc.start()
        child_conn.close()  # so the parent sees EOF when the worker dies
        self.conn = parent_conn
        self.item: int | None = None  # the batch item it holds; None when idle
        self.rid = 0  # the id of its current request, which the reply must echo
        self.deadline = 0.0
        self.keyed = False  # whether it has sent this item's key and been told to go on
        # The object keys this worker holds: the same LRU as its VerifierTable.objects,
        # touched on the same events (a blob sent, an item sent), so it evicts the same keys.
        self.known: LRU[str, bool] = LRU(table_size)

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
    """Whether a worker's reply is the verdict on item request `rid`."""
    return (isinstance(reply, tuple) and len(reply) == 3 and type(reply[0]) is int and reply[0] == rid
            and isinstance(reply[1], Score) and (reply[2] is None or isinstance(reply[2], str)))


def is_key_of(reply: Any, rid: int) -> bool:
    """Whether a worker's message is the cache-key digest of item request `rid`."""
    return (isinstance(reply, tuple) and len(reply) == 3 and reply[0] == "key" and reply[1] == rid
            and isinstance(reply[2], bytes))


def is_value_of(reply: Any, rid: int) -> bool:
    """Whether a worker's reply is the value of apply request `rid`."""
    return (isinstance(reply, tuple) and len(reply) == 4 and reply[0] == "value" and reply[1] == rid
            and (reply[3] is None or isinstance(reply[3], str)))
