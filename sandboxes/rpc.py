"""The test side of the `assert` kind: the channel to the candidate's process, the proxies
that stand for its objects, and which of its names the tests see.

The tests process (harness.py, role `tests`) never runs candidate code, but everything it
reads comes from the candidate's process, which the candidate owns. So each thing read is
checked here before a test sees it:

names    Only the global names the setup and the tests read and never bind themselves
         (`plan_names`) are asked for and bound; never a builtin (`abs`, `all`, `len`), a
         dunder (`__builtins__`, `__import__`), a name the setup or a test assigns, imports
         or defines (a helper, `expected`, a loop variable), or the name of a module the
         tests use without importing it (`math`, `np`, `pytest`: imported here instead,
         however the tests use it, unless they only call or index it). The candidate
         supplies its functions, classes and constants, nothing the tests mean. A name the
         program defines and the tests only call stays the program's even when it is also
         the name of a library function (`isclose`, `Counter`): the task may be to write it,
         so a test that means the library's must import it (a dataset rule).
replies  Each reply must fit its request (`_FITS`): `len` an int, `bool` a bool, `iter` a
         handle, `setattr`/`setitem` None, `stop` only for `next`. Anything else, and any
         reply that does not parse or decode, is a ProtocolViolation, which fails the test
         even under a bare `except:`. StopIteration
         reaches test code only from `next` on a candidate iterator that ended (its data);
         an exception the candidate raised arrives as a built-in Exception or RemoteError,
         never as StopIteration, which map/filter/generators would swallow. A reply naming
         SystemExit or another BaseException means the candidate broke off: the test fails.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import json
import keyword
import os
import pathlib
import re
import symtable
import sys
import types

from sandboxes import wire

MAX_LINE = 64 << 20
_BUILTIN_NAMES = frozenset(dir(builtins))
_REASONS = ("syntax_error", "memory", "runtime_error")
_TYPE_NAME_JUNK = re.compile(r"[^A-Za-z0-9_.]")


class RemoteDied(BaseException):
    """The candidate's process closed the channel (exited, crashed, was killed) or broke off."""


class ProtocolViolation(BaseException):
    """The candidate's process sent something that is not a well-formed reply to the request."""


class LocalOnly(BaseException):
    """The test passed an object of its own (a lambda, a class) that cannot cross to the candidate."""


class RemoteError(Exception):
    """The candidate raised an exception that is not a built-in Exception type."""


class LoadFailed(Exception):
    """The candidate's program did not load (or its process did not say hello properly)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason, self.detail = reason, detail


# --- which names cross ---------------------------------------------------------------------

# The usual short names of modules (a test that says `np.allclose` without importing numpy
# relied on the program having done `import numpy as np`).
MODULE_ALIASES = {
    "np": "numpy", "pd": "pandas", "plt": "matplotlib.pyplot", "mpl": "matplotlib",
    "sp": "scipy", "nx": "networkx", "sns": "seaborn", "tf": "tensorflow", "jnp": "jax.numpy",
    "sm": "statsmodels.api", "pl": "polars",
}
# Standard modules whose import does something (opens a browser, starts a GUI, prints):
# never imported on a test's behalf; a test that reads one of these names reads the program's.
_NOT_IMPORTED = frozenset({"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo",
                           "__hello__", "__phello__"})


def module_for(name: str) -> str | None:
    """The module a test means by a global `name` that it reads and never binds, if that name
    is a module's (a standard module, a top-level package installed in site-packages, or a
    conventional alias such as `np`); None if the name can only be the program's."""
    if name in MODULE_ALIASES:
        return MODULE_ALIASES[name]
    if name.startswith("_") or name in _NOT_IMPORTED or not name.isidentifier():
        return None
    if name in sys.stdlib_module_names:
        return name
    try:  # only finds the module: a top-level find_spec runs none of its code
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    where = spec and (spec.origin or next(iter(spec.submodule_search_locations or ()), None))
    return name if where and _SITE_DIRS & set(pathlib.PurePath(where).parts) else None


_SITE_DIRS = frozenset({"site-packages", "dist-packages"})


def plan_names(sources: list[str]) -> tuple[list[str], list[str]]:
    """For the setup and test snippets: (names to take from the candidate, names of modules to
    import in the tests process under that name, see `module_for`). Both are found
    statically, before any candidate data arrives, so nothing the candidate sends can widen
    them.

    A name of a module (`math`, `np`, `pytest`) that the tests read and never bind is that
    module, imported here, however the tests use it (`math.isclose(...)`, `m = math`,
    `getattr(np, "allclose")`): the tests relied on the program importing it, and what the
    program calls `math` (a class whose isclose is always True) must not answer for it. The
    one exception is a name the tests only call or index (`bisect(xs, 3)`, `copy(x)`,
    `array[0]`), which no module can be: that is the program's function or object.
    """
    read: set[str] = set()
    bound: set[str] = set()
    loads: dict[str, set[str]] = {}
    for src in sources:
        tree = ast.parse(src)
        read |= _names_read(compile(tree, "<test>", "exec"))
        bound |= _names_bound(symtable.symtable(src, "<test>", "exec"), top=True)
        for name, how in _name_uses(tree).items():
            loads.setdefault(name, set()).update(how)
    free = read - bound
    modules = {n for n, how in loads.items()
               if n in free and how != {"call"} and module_for(n) is not None}
    wanted = {n for n in free - modules - _BUILTIN_NAMES
              if not n.startswith("__") and n.isidentifier() and not keyword.iskeyword(n)}
    return sorted(wanted), sorted(modules)


def submodules(sources: list[str], modules: list[str]) -> list[str]:
    """Dotted paths the tests reach under those modules (`scipy.stats.norm.cdf`, `xml.etree`,
    `np.testing`): the program would have imported the submodules it needed, which a plain
    `import scipy` does not load. The tests process tries each prefix (three levels at most);
    those that are not modules fail to import, harmlessly."""
    paths: set[str] = set()
    for src in sources:
        for node in ast.walk(ast.parse(src)):
            chain: list[str] = []
            while isinstance(node, ast.Attribute):
                chain.append(node.attr)
                node = node.value
            if chain and isinstance(node, ast.Name) and node.id in modules:
                root, parts = module_for(node.id), chain[::-1][:3]
                paths |= {".".join([root, *parts[:i]]) for i in range(1, len(parts) + 1)}
    return sorted(paths)


def _names_read(code: types.CodeType) -> set[str]:
    # co_names holds every global a code object loads (and attribute names: harmless extras)
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_read(const)
    return names


def _names_bound(table: symtable.SymbolTable, top: bool) -> set[str]:
    # A name the tests bind anywhere (even on a branch that may not run) is theirs: falling
    # back to the candidate's global of that name when the branch is skipped would let it
    # choose the value (`for last in f(): pass` with f() empty and `last = 3` in the program).
    names = {s.get_name() for s in table.get_symbols()
             if (s.is_assigned() or s.is_imported()) and (top or s.is_declared_global())}
    for child in table.get_children():
        names |= _names_bound(child, top=False)
    return names


def _name_uses(tree: ast.AST) -> dict[str, set[str]]:
    """For each name loaded: {"call"} if every load calls or indexes it (`f(x)`, `f[0]`),
    else it also holds "other" (an attribute base, an argument, an assignment's value...)."""
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    called |= {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Subscript)}
    uses: dict[str, set[str]] = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            uses.setdefault(n.id, set()).add("call" if id(n) in called else "other")
    return uses


# --- the channel --------------------------------------------------------------------------

def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fits_len(v) -> bool:
    return type(v) is int and 0 <= v <= sys.maxsize


# What a `v` reply may hold, per request; ops not listed may return any value.
_FITS = {
    "len": _fits_len,
    "bool": lambda v: type(v) is bool,
    "iter": lambda v: type(v) is Proxy,  # iter() always returns an iterator: never plain data
    "setattr": lambda v: v is None,
    "setitem": lambda v: v is None,
}


class Channel:
    """The tests process's end of the RPC pipes to the candidate's process."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.reader = os.fdopen(read_fd, "rb")
        self.write_fd = write_fd
        self.broken: str | None = None  # set once the candidate ended or broke the protocol

    def _violation(self, why: str) -> ProtocolViolation:
        self.broken = "garbage"
        return ProtocolViolation(why)

    def read(self):
        # Nothing read from the candidate may surface as an ordinary exception (a test's
        # `except Exception` would catch it): every failure here is a ProtocolViolation.
        try:
            line = self.reader.readline(MAX_LINE)
        except MemoryError:
            raise self._violation("reply too large") from None
        if not line.endswith(b"\n"):
            if not line:
                self.broken = "died"
                raise RemoteDied()
            raise self._violation("reply too long")
        try:
            return json.loads(line)
        except (ValueError, RecursionError, MemoryError):
            raise self._violation("reply is not JSON") from None

    def names(self, wanted: list[str]) -> dict:
        """Ask the candidate for `wanted`; returns the ones it defines, as values or proxies.
        Raises LoadFailed if its program did not load or its hello is malformed."""
        try:
            write_all(self.write_fd, (json.dumps({"want": wanted}) + "\n").encode())
        except OSError:
            pass  # it exited while loading: its hello (a load_error) says why
        try:
            hello = self.read()
        except (RemoteDied, ProtocolViolation):
            raise LoadFailed("runtime_error", "candidate died while loading") from None
        if type(hello) is dict and "load_error" in hello:
            reason = hello["load_error"] if hello["load_error"] in _REASONS else "runtime_error"
            raise LoadFailed(reason, str(hello.get("detail", ""))[:300])
        got = hello.get("names") if type(hello) is dict and len(hello) == 1 else None
        if type(got) is not dict:
            raise LoadFailed("runtime_error", "malformed names")
        try:  # only the names asked for are even decoded: the rest of a hello is ignored
            return {n: wire.decode(got[n], self.proxy) for n in wanted if n in got}
        except wire.WireError:
            raise LoadFailed("runtime_error", "malformed names") from None

    def op(self, op: str, h: int, **kw):
        if self.broken:
            raise RemoteDied()
        for key in ("a", "k"):
            if key in kw:
                kw[key] = wire.encode(kw[key], _local_only)
        try:
            write_all(self.write_fd, (json.dumps({"op": op, "h": h, **kw}) + "\n").encode())
        except OSError:
            self.broken = "died"
            raise RemoteDied() from None
        reply = self.read()
        if type(reply) is not dict:
            raise self._violation("reply is not an object")
        keys = reply.keys()
        if keys == {"v"}:
            try:
                value = wire.decode(reply["v"], self.proxy)  # raises WireError and nothing else
            except wire.WireError as e:
                raise self._violation(str(e)) from None
            if not _FITS.get(op, _anything)(value):
                raise self._violation(f"the reply to {op} does not fit it")
            return value
        if op == "next" and keys == {"stop"} and type(reply["stop"]) is int and reply["stop"] == 1:
            raise StopIteration  # the candidate's iterator ended: its own data
        if ("e" in reply and keys <= {"e", "reason", "detail"} and type(reply["e"]) is str
                and type(reply.get("detail", "")) is str):
            raise self._raised(reply)
        raise self._violation(f"the reply to {op} does not fit it")

    def _raised(self, reply: dict) -> BaseException:
        name, detail = reply["e"], reply.get("detail", "")[:300]
        cls = getattr(builtins, name, None) if name.isidentifier() else None
        if not isinstance(cls, type) or not issubclass(cls, BaseException):
            exc: BaseException = RemoteError(f"{name[:80]}: {detail}")
        elif not issubclass(cls, Exception):
            # SystemExit, KeyboardInterrupt, GeneratorExit: in one process these would end the
            # program, not be an error a test can catch; the test fails as if it had died.
            self.broken = "exit"
            return RemoteDied(f"{name}: {detail}")
        elif issubclass(cls, StopIteration | StopAsyncIteration):
            exc = RemoteError(f"{name}: {detail}")  # never ends a loop from outside `next`
        else:
            try:
                exc = cls(detail)
            except Exception:  # e.g. UnicodeDecodeError wants five arguments
                exc = RemoteError(f"{name}: {detail}")
        reason = reply.get("reason")
        exc.remote_reason = reason if reason in ("memory", "runtime_error") else "runtime_error"
        return exc

    def proxy(self, h: int, r: str) -> Proxy:
        p = object.__new__(Proxy)
        object.__setattr__(p, "_rpc", self)
        object.__setattr__(p, "_h", h)
        object.__setattr__(p, "_r", _TYPE_NAME_JUNK.sub("?", r)[:80])
        return p


def _anything(_value) -> bool:
    return True


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
        return self._rpc.op("len", self._h)

    def __bool__(self) -> bool:
        return self._rpc.op("bool", self._h)

    def __iter__(self):
        return self._rpc.op("iter", self._h)

    def __next__(self):
        return self._rpc.op("next", self._h)

    def __repr__(self) -> str:
        return f"<candidate {self._r}>"
