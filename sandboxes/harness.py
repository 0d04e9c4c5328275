"""The child side: what runs inside the sandbox after isolation, one role per process.

Roles (payload fds: 0 stdin, 1 stdout, 2 stderr, 3 data from the parent, 4 frames to the
parent, 5 and 6 the RPC pair between the two `assert` processes):

exec     execve() a command (other languages, compilers).
script   run a Python program as `__main__` (the `stdio` kind).
call     load the program, call the entry point on each case, write each result as a frame
         (the `call` kind). Results are plain data; the parent compares them.
server   candidate side of the `assert` kind: load the program, then answer RPC requests
         (call this, get that attribute) with plain values or opaque handles.
tests    test side of the `assert` kind: a separate process that never executes candidate
         code. It runs the setup and the test snippets with the candidate's names bound to
         proxies; every call crosses the pipe and returns plain data, so comparisons and
         asserts run here on values the candidate cannot make lie (see wire.py).

Threat model (`assert`): the candidate owns its whole process, so nothing it runs next to
can be trusted: it can patch sys.exit, os._exit, print, builtins, any harness function, and
read its own memory and /proc. Therefore no verdict comes from the candidate's process. The
verdict for a snippet comes from the `tests` process, which holds the expected values and
the assert logic and receives only data from the candidate; transport failures (death,
garbage, oversize) raise BaseException subclasses that test code's `except Exception`
cannot swallow, and mark the snippet failed even if a bare `except:` did swallow them.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import sys
import traceback
import types

from sandboxes import wire

DATA_FD, FRAMES_FD, RPC_A_FD, RPC_B_FD = 3, 4, 5, 6
MAX_LINE = 64 << 20


def warm_imports() -> None:
    """Modules most programs import, loaded once in the zygote instead of in every child."""
    import bisect  # noqa: E401, F401


def main(job: dict, status_fd: int) -> None:  # pragma: no cover - runs in the sandbox
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
    _write_all(fd, (json.dumps(obj, separators=(",", ":")) + "\n").encode())


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


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
    try:
        fn = getattr(_load(data["program"], "solution"), data["entry_point"])
    except (Exception, SystemExit) as e:
        _frame({"load_error": _error_reason(e), "detail": repr(e)[:300]})
        return 1
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
    for k, v in list(vars(mod).items()):
        if not k.startswith("__"):
            try:
                names[k] = wire.encode(v, to_handle)
            except (wire.WireError, RecursionError):
                names[k] = {"h": to_handle(v), "r": type(v).__name__}
    _frame({"names": names}, RPC_A_FD)
    reader = os.fdopen(RPC_B_FD, "rb")
    while line := reader.readline(MAX_LINE):
        try:
            out = _serve_one(json.loads(line), from_handle, to_handle)
        except (Exception, SystemExit) as e:  # raised by the candidate's code: its answer
            out = {"e": _builtin_exc_name(e), "reason": _error_reason(e), "detail": repr(e)[:300]}
        _flush()
        _frame(out, RPC_A_FD)
    return 0


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

class RemoteDied(BaseException):
    """The candidate's process closed the channel (exited, crashed, was killed)."""


class ProtocolViolation(BaseException):
    """The candidate's process sent something that is not a well-formed reply."""


class LocalOnly(BaseException):
    """The test passed an object of its own (a lambda, a class) that cannot cross to the candidate."""


class RemoteError(Exception):
    """The candidate raised an exception that is not a built-in Exception type."""


class _Rpc:
    def __init__(self) -> None:
        self.reader = os.fdopen(RPC_A_FD, "rb")
        self.broken: str | None = None

    def read(self):
        line = self.reader.readline(MAX_LINE)
        if not line.endswith(b"\n"):
            self.broken = "died" if not line else "oversize"
            raise RemoteDied() if not line else ProtocolViolation("reply too long")
        try:
            return json.loads(line)
        except (ValueError, RecursionError):
            self.broken = "garbage"
            raise ProtocolViolation("reply is not JSON") from None

    def op(self, op: str, h: int, **kw):
        if self.broken:
            raise RemoteDied()
        for key in ("a", "k"):
            if key in kw:
                kw[key] = wire.encode(kw[key], _local_only)
        try:
            _write_all(RPC_B_FD, (json.dumps({"op": op, "h": h, **kw}) + "\n").encode())
        except OSError:
            self.broken = "died"
            raise RemoteDied() from None
        reply = self.read()
        if type(reply) is not dict:
            self.broken = "garbage"
            raise ProtocolViolation("reply is not an object")
        if "v" in reply:
            try:
                return wire.decode(reply["v"], self.proxy)
            except wire.WireError as e:
                self.broken = "garbage"
                raise ProtocolViolation(str(e)) from None
        if reply.get("stop") == 1:
            raise StopIteration
        name = reply.get("e")
        cls = getattr(builtins, name, None) if type(name) is str else None
        detail = str(reply.get("detail", ""))[:300]
        if isinstance(cls, type) and issubclass(cls, Exception) and cls is not StopIteration:
            try:
                exc = cls(detail)
            except TypeError:  # e.g. UnicodeDecodeError wants five arguments
                exc = RemoteError(f"{name}: {detail}")
        else:
            exc = RemoteError(f"{name}: {detail}")
        exc.remote_reason = reply.get("reason") if reply.get("reason") in ("memory", "runtime_error") else "runtime_error"
        raise exc

    def proxy(self, h: int, r: str) -> Proxy:
        p = object.__new__(Proxy)
        object.__setattr__(p, "_rpc", self)
        object.__setattr__(p, "_h", h)
        object.__setattr__(p, "_r", r)
        return p


def _local_only(obj) -> int:
    if isinstance(obj, Proxy):
        return obj._h
    raise LocalOnly(f"a {type(obj).__name__} cannot be passed to the candidate")


class Proxy:
    """A candidate object seen from the test side. Equality, hashing and ordering are
    identity-based and local: nothing the candidate defines decides a comparison here."""

    __slots__ = ("_rpc", "_h", "_r")

    def __call__(self, *args, **kwargs):
        return self._rpc.op("call", self._h, a=args, k=kwargs)

    def __getattr__(self, name: str):
        return self._rpc.op("getattr", self._h, n=name)

    def __setattr__(self, name: str, value) -> None:
        self._rpc.op("setattr", self._h, n=name, a=value)

    def __getitem__(self, key):
        return self._rpc.op("getitem", self._h, a=key)

    def __setitem__(self, key, value) -> None:
        self._rpc.op("setitem", self._h, a=(key, value))

    def __len__(self) -> int:
        n = self._rpc.op("len", self._h)
        if type(n) is not int:
            raise TypeError("len() of a candidate object is not an int")
        return n

    def __bool__(self) -> bool:
        return self._rpc.op("bool", self._h) is True

    def __iter__(self):
        return self._rpc.op("iter", self._h)

    def __next__(self):
        return self._rpc.op("next", self._h)

    def __repr__(self) -> str:
        return f"<candidate {self._r}>"


def _tests(data: dict) -> int:
    rpc = _Rpc()
    try:
        hello = rpc.read()
    except (RemoteDied, ProtocolViolation):
        _frame({"load_error": "runtime_error", "detail": "candidate died while loading"})
        return 1
    if type(hello) is not dict or "names" not in hello:
        reason = hello.get("load_error") if type(hello) is dict else None
        reason = reason if reason in ("syntax_error", "memory", "runtime_error") else "runtime_error"
        _frame({"load_error": reason, "detail": str(hello.get("detail", ""))[:300] if type(hello) is dict else ""})
        return 1
    ns: dict = {"__name__": "__test__", "__builtins__": builtins}
    try:
        for name, enc in dict(hello["names"]).items():
            ns[str(name)] = wire.decode(enc, rpc.proxy)
    except (wire.WireError, TypeError, ValueError):
        _frame({"load_error": "runtime_error", "detail": "malformed names"})
        return 1
    try:
        exec(compile(data.get("setup") or "", "<setup>", "exec"), ns)
    except (RemoteDied, ProtocolViolation, LocalOnly, Exception) as e:
        _frame({"setup_error": _fail_reason(e, rpc), "detail": repr(e)[:300]})
        return 1
    for k in range(data.get("start", 0), len(data["tests"])):
        _frame({"s": k})
        try:
            exec(compile(data["tests"][k], f"<test {k}>", "exec"), ns)
            ok, reason, detail = rpc.broken is None, "ok", ""
            if not ok:  # a bare `except:` in the test swallowed the transport failure
                reason = "runtime_error"
        except AssertionError as e:
            ok, reason, detail = False, "wrong_answer", repr(e)[:300]
        except (RemoteDied, ProtocolViolation, LocalOnly, Exception) as e:
            ok, reason, detail = False, _fail_reason(e, rpc), repr(e)[:300]
        _frame({"e": k, "ok": ok and rpc.broken is None, "reason": reason, "detail": detail,
                "dead": rpc.broken is not None})
        if rpc.broken is not None:
            return 1
    return 0


def _fail_reason(e: BaseException, rpc: _Rpc) -> str:
    if isinstance(e, LocalOnly):
        return "unsupported"
    if isinstance(e, RemoteDied | ProtocolViolation) or rpc.broken:
        return "runtime_error"  # the parent refines it from how the candidate ended
    return getattr(e, "remote_reason", "runtime_error")
