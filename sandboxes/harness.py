"""The child side: what runs inside the sandbox after isolation, one role per process.

Roles (payload fds: 0 stdin, 1 stdout, 2 stderr, 3 data from the parent, 4 frames to the
parent, 5 and 6 the RPC pair between the two `assert` processes):

exec     execve() a command (other languages, compilers).
script   run a Python program as `__main__` (the `stdio` kind).
call     load the program, call the entry point on each case, write each result as a frame
         (the `call` kind). Results are plain data; the parent compares them.
server   candidate side of the `assert` kind: wait for the names the tests ask for, load the
         program, send those names, then answer RPC requests (call this, get that
         attribute) with plain values or opaque handles.

The program's clock (judge.py): `script`, `call` and `server` write `{"started": 1, "cpu_s"}`
on fd 4 once our own start-up is over and before the program's first line; `script` and
`server` then close fd 4, so that their program can write no frame at all; `call` writes
`{"loaded": 1}` once the program has loaded, so that a program that never loads fails all
its cases at once.
tests    test side of the `assert` kind: a separate process that never executes candidate
         code. It runs the setup and the test snippets with the candidate's names bound to
         proxies; every call crosses the pipe and returns plain data, so comparisons and
         asserts run here on values the candidate cannot make lie (see wire.py, rpc.py).

Threat model (`assert`): the candidate owns its whole process, so nothing it runs next to
can be trusted: it can patch sys.exit, os._exit, print, builtins, any harness function,
read its own memory and /proc, and write anything on its end of the RPC pipes. Therefore no
verdict comes from the candidate's process, and what it sends is only ever data:
- What it can influence: the values its functions return, the exceptions they raise (as a
  built-in Exception or RemoteError), how its iterators end, its truth values and lengths,
  and how long it takes or whether it dies. That is its answer: a test passes only if
  those values pass it.
- What it cannot: the test's builtins (`abs`, `all`, `len`, `AssertionError`), its modules
  (`math` from the setup, or a module the tests use without importing it, `math`, `np`,
  `pytest`, which is imported here: rpc.plan_names), any name the setup or a test binds (a
  helper, `expected`, a loop variable), `__builtins__`/`__import__` or any dunder: only the
  global names the tests read and never bind cross, decided from the test code before it
  says hello. numpy arrays and scalars cross as data (wire.py), rebuilt here.
  A reply that does not fit its request (`stop` for a call, a string for `len`, a
  StopIteration or SystemExit named as the error) fails the test: StopIteration reaches
  test code only from `next` on a candidate iterator, never where map/filter would swallow it.
- Transport failures (death, garbage, oversize, misfit replies, a BaseException named as
  the error) raise BaseException subclasses that test code's `except Exception` cannot
  swallow, and mark the snippet failed even if a bare `except:` did swallow them; so does a
  reply that does not decode (wire.decode raises only WireError). The tests process is not
  dumpable and dies on SIGINT, and its frames go to the parent on a socket, so a candidate
  sharing its uid (the rlimits level as a non-root user) cannot write its verdict frames
  through /proc or raise KeyboardInterrupt inside a test.
"""

from __future__ import annotations

import builtins
import importlib
import io
import json
import os
import resource
import signal
import sys
import traceback
import types

from sandboxes import isolation, rpc, wire

DATA_FD, FRAMES_FD, RPC_A_FD, RPC_B_FD = 3, 4, 5, 6
_has_frames = False  # was fd 4 handed to this process (process.spawn's `frames`)


def warm_imports() -> None:
    """Modules most programs import, loaded once in the zygote instead of in every child."""
    import bisect  # noqa: E401, F401


def main(job: dict, status_fd: int) -> None:  # pragma: no cover - runs in the sandbox
    global _has_frames
    _has_frames = FRAMES_FD in job.get("slots", ())
    data = json.loads(_read_all(DATA_FD) or b"{}")
    _fresh_stdio()
    if not job.get("light"):
        os.close(status_fd)  # from here on nothing can reach the keeper's status pipe
    role = job["role"]
    if role == "exec":
        argv = job["argv"]
        try:
            os.execve(argv[0], argv, dict(os.environ))
        except OSError as e:
            print(f"exec {argv[0]}: {e}", file=sys.stderr)
            os._exit(127)
    code = {"script": _script, "call": _call, "server": _server, "tests": _tests}[role](data)
    _flush()
    if job.get("light"):  # a trusted helper without a keeper reports for itself
        os.write(status_fd, (json.dumps({"status": code << 8, "cpu_s": 0, "maxrss_kb": 0}) + "\n").encode())
    os._exit(code)


# ------------------------------------------------------------------------------------------

def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _fresh_stdio() -> None:
    def wrap(fd: int, mode: str, **kw) -> io.TextIOWrapper:
        raw = io.FileIO(fd, mode, closefd=False)
        buf = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        return io.TextIOWrapper(buf, encoding="utf-8", **kw)
    sys.stdin = sys.__stdin__ = wrap(0, "r", errors="replace")
    sys.stdout = sys.__stdout__ = wrap(1, "w", errors="backslashreplace")
    sys.stderr = sys.__stderr__ = wrap(2, "w", errors="backslashreplace", line_buffering=True)
    sys.argv = ["solution.py"]


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _frame(obj: dict, fd: int = FRAMES_FD) -> None:
    rpc.write_all(fd, (json.dumps(obj, separators=(",", ":")) + "\n").encode())


def _started(keep_frames: bool) -> None:
    """Tell the parent our start-up is over: the program's own time starts now (its deadline
    counts from here, and its CPU time from `cpu_s`). Written before any of the program's
    code runs, so it is ours; a role whose program must not write frames closes fd 4 here."""
    if not _has_frames:  # a plain run (process.run): nobody is timing it this way
        return
    ru = resource.getrusage(resource.RUSAGE_SELF)
    _frame({"started": 1, "cpu_s": ru.ru_utime + ru.ru_stime})
    if not keep_frames:
        os.close(FRAMES_FD)


def _load(source: str, name: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__file__ = os.path.join(os.getcwd(), "solution.py")
    sys.modules[name] = mod
    if name == "__main__":
        sys.modules["__main__"] = mod
    exec(compile(source, mod.__file__, "exec"), mod.__dict__)
    return mod


def _error_reason(e: BaseException) -> str:
    if isinstance(e, SyntaxError):
        return "syntax_error"
    if isinstance(e, MemoryError):
        return "memory"
    return "runtime_error"


def _builtin_exc_name(e: BaseException) -> str:
    for cls in type(e).__mro__:
        if getattr(builtins, cls.__name__, None) is cls:
            return cls.__name__
    return "Exception"


# --- script: the stdio kind ---------------------------------------------------------------

def _script(data: dict) -> int:
    _started(keep_frames=False)
    try:
        _load(data["program"], "__main__")
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        print(e.code, file=sys.stderr)
        return 1
    except Exception:  # the program's own error: report it like the interpreter would
        traceback.print_exc()
        return 1
    return 0


# --- call: the call kind ------------------------------------------------------------------

def _call(data: dict) -> int:
    _started(keep_frames=True)
    try:
        fn = getattr(_load(data["program"], "solution"), data["entry_point"])
    except (Exception, SystemExit) as e:
        _frame({"load_error": _error_reason(e), "detail": repr(e)[:300]})
        return 1
    # The program has loaded: a time limit from here on is a case's, not the load's. (Its
    # code could have written this line itself while loading: that only makes the parent
    # restart it per case, as it would for a case that hangs.)
    _frame({"loaded": 1})
    cases = data["cases"]
    for k in range(data.get("start", 0), len(cases)):
        case = cases[k]
        try:
            value = fn(*case.get("args", []), **case.get("kwargs", {}))
            out = {"i": k, "v": wire.encode(value)}
        except (Exception, SystemExit) as e:
            out = {"i": k, "e": _builtin_exc_name(e), "reason": _error_reason(e),
                   "detail": repr(e)[:300]}
        _flush()
        _frame(out)
    return 0


# --- server: candidate side of the assert kind --------------------------------------------

def _server(data: dict) -> int:
    # The tests process asks for the names its tests read (rpc.plan_names) and binds only
    # those: sending only them keeps a large global table the tests never touch off the wire.
    # It asks once its own start-up (imports included) is over, so waiting for the question
    # before saying `started` keeps that start-up off the program's clock.
    reader = os.fdopen(RPC_B_FD, "rb")
    want = _wanted(reader.readline(rpc.MAX_LINE))
    _started(keep_frames=False)
    try:
        mod = _load(data["program"], "solution")
    except (Exception, SystemExit) as e:
        _frame({"load_error": _error_reason(e), "detail": repr(e)[:300]}, RPC_A_FD)
        return 1
    handles: list = []

    def to_handle(obj) -> int:
        handles.append(obj)
        return len(handles) - 1

    def from_handle(h: int, _r: str):
        if not 0 <= h < len(handles):
            raise wire.WireError("bad handle")
        return handles[h]

    names = {}
    for k in want:
        if k in vars(mod):
            v = vars(mod)[k]
            try:
                names[k] = wire.encode(v, to_handle)
            except (wire.WireError, RecursionError):
                names[k] = {"h": to_handle(v), "r": type(v).__name__[:80]}
    _frame({"names": names}, RPC_A_FD)
    while line := reader.readline(rpc.MAX_LINE):
        try:
            out = _serve_one(json.loads(line), from_handle, to_handle)
        except (Exception, SystemExit) as e:  # raised by the candidate's code: its answer
            out = {"e": _builtin_exc_name(e), "reason": _error_reason(e), "detail": repr(e)[:300]}
        _flush()
        _frame(out, RPC_A_FD)
    return 0


def _wanted(line: bytes) -> list[str]:
    try:
        want = json.loads(line).get("want")
    except (ValueError, AttributeError):
        return []
    return [k for k in want if type(k) is str] if type(want) is list else []


_NONE = object()


def _serve_one(req: dict, from_handle, to_handle) -> dict:
    target = from_handle(req["h"], "") if "h" in req else None
    op, result = req["op"], _NONE
    if op == "call":
        result = target(*wire.decode(req["a"], from_handle), **wire.decode(req["k"], from_handle))
    elif op == "getattr":
        result = getattr(target, req["n"])
    elif op == "setattr":
        setattr(target, req["n"], wire.decode(req["a"], from_handle))
    elif op == "getitem":
        result = target[wire.decode(req["a"], from_handle)]
    elif op == "setitem":
        key, value = wire.decode(req["a"], from_handle)
        target[key] = value
    elif op == "len":
        result = len(target)
    elif op == "bool":
        result = bool(target)
    elif op == "iter":
        result = iter(target)
    elif op == "next":
        try:
            result = next(target)
        except StopIteration:
            return {"stop": 1}
    else:
        return {"e": "RuntimeError", "detail": f"unknown op {op!r}"}
    if result is _NONE:
        return {"v": None}
    # A value that cannot travel (too deep, say) goes as a handle, never as an exception: a
    # test that expects an exception must not pass because a result failed to encode.
    try:
        return {"v": wire.encode(result, to_handle)}
    except (wire.WireError, RecursionError):
        return {"v": {"h": to_handle(result), "r": type(result).__name__[:80]}}


# --- tests: test side of the assert kind (never runs candidate code) ----------------------

def _tests(data: dict) -> int:
    # The candidate's process may share our uid (the rlimits level as a non-root user): it
    # must not open /proc/<us>/fd/4 to write verdict frames, attach to us, or raise
    # KeyboardInterrupt inside a test's bare `except:` with SIGINT.
    isolation.prctl(isolation.PR_SET_DUMPABLE, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    setup, snippets = data.get("setup") or "", data["tests"]
    wanted, modules = rpc.plan_names([setup, *snippets])
    ns: dict = {"__name__": "__test__", "__builtins__": builtins}
    for name in modules:  # before asking for names: this is our start-up, not the program's time
        try:
            ns[name] = importlib.import_module(rpc.module_for(name))
        except Exception:  # one that cannot load here stays unbound: a NameError. The program
            pass  # runs on the same interpreter, so what it calls by that name is no module.
    for path in rpc.submodules([setup, *snippets], [m for m in modules if m in ns]):
        try:
            importlib.import_module(path)
        except Exception:  # not a module (`math.isclose`), or one that cannot load here
            pass
    _frame({"ready": 1})  # our start-up is over: the parent may now time the program's
    channel = rpc.Channel(RPC_A_FD, RPC_B_FD)
    try:
        ns.update(channel.names(wanted))
    except rpc.LoadFailed as e:
        _frame({"load_error": e.reason, "detail": e.detail})
        return 1
    try:
        exec(compile(setup, "<setup>", "exec"), ns)
    except (rpc.RemoteDied, rpc.ProtocolViolation, rpc.LocalOnly, Exception) as e:
        _frame({"setup_error": _fail_reason(e, channel), "detail": repr(e)[:300]})
        return 1
    for k in range(data.get("start", 0), len(snippets)):
        _frame({"s": k})
        try:
            exec(compile(snippets[k], f"<test {k}>", "exec"), ns)
            ok, reason, detail = channel.broken is None, "ok", ""
            if not ok:  # a bare `except:` in the test swallowed the transport failure
                reason = "runtime_error"
        except AssertionError as e:
            ok, reason, detail = False, "wrong_answer", repr(e)[:300]
        except (rpc.RemoteDied, rpc.ProtocolViolation, rpc.LocalOnly, Exception) as e:
            ok, reason, detail = False, _fail_reason(e, channel), repr(e)[:300]
        _frame({"e": k, "ok": ok and channel.broken is None, "reason": reason, "detail": detail,
                "dead": channel.broken is not None})
        if channel.broken is not None:
            return 1
    return 0


def _fail_reason(e: BaseException, channel: rpc.Channel) -> str:
    if isinstance(e, rpc.LocalOnly):
        return "unsupported"
    if isinstance(e, rpc.RemoteDied | rpc.ProtocolViolation) or channel.broken:
        return "runtime_error"  # the parent refines it from how the candidate ended
    return getattr(e, "remote_reason", "runtime_error")
