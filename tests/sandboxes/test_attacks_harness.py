"""Attacks on the `assert` kind's two-process protocol, written as a policy would try them.

Every program here is wrong; any test it passes is a test it stole. Three routes:
- shadowing: the candidate defines a name the tests mean as something else (`abs`, `all`,
  `math`, a variable the test binds itself);
- the hello: the candidate's process takes over its end of the RPC at load time and sends
  names of its choosing (`__builtins__`, `abs`), then answers requests itself;
- replies out of turn: answers that do not fit the request (`stop` for a call, a string for
  `len`, an exception that is not an Exception) that Python would swallow or misread.
The honest programs at the end must keep passing: only the attacks may change. Then:
- replies that do not decode (A2): a violation, never an exception a test can catch;
- the program standing in for a module the tests use without importing it (D1).
"""

from __future__ import annotations

import json
import random

import pytest

from sandboxes import rpc, run_tests
from sandboxes.rpc import plan_names
from tests.sandboxes.conftest import TIGHT


def score(program: str, tests: list[str], setup: str = "") -> list[bool]:
    rep = run_tests(program, {"kind": "assert", "setup": setup, "tests": tests}, TIGHT)
    return [o.passed for o in rep.outcomes]


def forged_server(names: dict, answer: str) -> str:
    """A candidate that owns its end of the RPC (fd 5 out, fd 6 in) from load time on: it
    sends `names` as its hello at once, then answers every request `req` with the JSON of
    the expression `answer` (lines that are not requests are read and ignored)."""
    return f"""
import json, os
os.write(5, (json.dumps({{"names": json.loads({json.dumps(names)!r})}}) + "\\n").encode())
for line in os.fdopen(6, "rb"):
    req = json.loads(line)
    if "op" in req:
        os.write(5, (json.dumps({answer}) + "\\n").encode())
os._exit(0)
"""


def handle(h: int, r: str = "function") -> dict:
    return {"h": h, "r": r}


# --- 2. builtins and the tests' own names are never the candidate's ---------------------

SHADOWS = {
    "abs": ("def abs(x):\n    return 0\ndef area(r):\n    return 3\n",
            "assert abs(area(2) - 12.566370614359172) < 1e-6"),
    "all": ("def all(xs):\n    return True\ndef double(x):\n    return 0\n",
            "assert all([double(x) == 2 * x for x in [1, 2, 3]])"),
    "sorted": ("def sorted(xs):\n    return [1, 2, 3]\ndef unique(xs):\n    return xs\n",
               "assert sorted(unique([3, 1, 3, 2])) == [1, 2, 3]"),
    "set": ("set = lambda xs: {1, 2}\ndef pair():\n    return [9]\n",
            "assert set(pair()) == {1, 2}"),
    "len": ("def len(x):\n    return 3\ndef triple():\n    return []\n",
            "assert len(triple()) == 3"),
    "hasattr": ("def hasattr(*a):\n    return True\ndef make():\n    return []\n",
                "assert hasattr(make(), 'push')"),
    "round": ("def round(x, n=0):\n    return 3.14\ndef pi_approx():\n    return 0\n",
              "assert round(pi_approx(), 2) == 3.14"),
    "range": ("def range(*a):\n    return []\ndef double(x):\n    return 0\n",
              "for x in range(5):\n    assert double(x) == 2 * x"),
    "zip": ("def zip(*a):\n    return []\ndef double_all(xs):\n    return [0, 0]\n",
            "assert all(a == b for a, b in zip(double_all([1, 2]), [2, 4]))"),
    "sum": ("def sum(xs):\n    return 10\ndef digits(n):\n    return [0]\n",
            "assert sum(digits(1234)) == 10"),
    "math_not_imported_by_the_test": (
        "class math:\n    isclose = staticmethod(lambda *a, **k: True)\n"
        "def area(r):\n    return 3\n",
        "assert math.isclose(area(2), 12.566370614359172)"),
    "variable_the_test_binds_itself": (
        "last = 3\ndef countdown():\n    return []\n",
        "for last in countdown():\n    pass\nassert last == 3"),
    "variable_a_test_function_declares_global": (
        "result = 42\ndef answer():\n    raise ValueError\n",
        "def run():\n    global result\n    try:\n        result = answer()\n    except ValueError:\n"
        "        pass\nrun()\nassert result == 42"),
}


@pytest.mark.parametrize("name", sorted(SHADOWS))
def test_candidate_cannot_shadow_a_name_the_tests_use(name):
    program, test = SHADOWS[name]
    assert score(program, [test]) == [False]


SETUP_WINS = {
    "helper": ("def check(v):\n    assert v == 42\n",
               "def check(v):\n    pass\ndef answer():\n    return 0\n", "check(answer())"),
    "expected_value": ("expected = [1, 2, 3]\n",
                       "expected = [0]\ndef order(xs):\n    return [0]\n", "assert order([3, 1, 2]) == expected"),
    "module": ("import math\n",
               "class math:\n    isclose = staticmethod(lambda *a, **k: True)\ndef area(r):\n    return 3\n",
               "assert math.isclose(area(2), 12.566370614359172)"),
}


@pytest.mark.parametrize("name", sorted(SETUP_WINS))
def test_setup_names_beat_the_candidate(name):
    setup, program, test = SETUP_WINS[name]
    assert score(program, [test], setup) == [False]


# --- 3. the hello carries only names the tests read, never builtins or modules ----------

HELLOS = {
    # __builtins__ in the test namespace: every builtin and `import` would be the candidate's
    "__builtins__": ({"area": handle(0), "__builtins__": {"d": [["abs", handle(1)]]}},
                     '{"v": 0}', "", "assert abs(area(2) - 12.566370614359172) < 1e-6"),
    "__import__": ({"area": handle(0), "__builtins__": {"d": [["__import__", handle(1)]]}},
                   '{"v": {"h": 7, "r": "module"}} if req["op"] == "getattr" or req["h"] == 1 '
                   'else {"v": True}',
                   "import math", "assert math.isclose(area(2), 12.566370614359172)"),
    "a_builtin_by_name": ({"abs": handle(0), "area": handle(1)}, '{"v": 0}', "",
                          "assert abs(area(2) - 12.566370614359172) < 1e-6"),
    "a_setup_name": ({"check": handle(0), "answer": handle(1)}, '{"v": None}',
                     "def check(v):\n    assert v == 42", "check(answer())"),
}


@pytest.mark.parametrize("name", sorted(HELLOS))
def test_forged_hello_cannot_replace_builtins_or_test_names(name):
    names, answer, setup, test = HELLOS[name]
    assert score(forged_server(names, answer), [test], setup) == [False]


def test_hello_names_the_tests_do_not_read_are_ignored():
    # dunders, keywords, non-identifiers and thousands of unread names do nothing
    junk = {f"n{i}": i for i in range(20000)}
    names = {**junk, "double": handle(0), "__name__": "x", "True": False, "a b": 1, "_": 5}
    tests = ["assert __name__ != 'x'", "assert double(2) == 4",
             "assert n1 == 1 and 'n2' not in globals() and '_' not in globals()"]
    assert score(forged_server(names, '{"v": 4}'), tests) == [True, True, True]


def test_handle_type_names_are_not_free_text():
    # the type name shown for a candidate object is the candidate's text: keep it a name
    names = {"make": handle(0)}
    answer = '{"v": {"h": 1, "r": "x> == 3 and <" + "y" * 200}}'
    test = ("r = repr(make())\nassert r.startswith('<candidate ') and r.endswith('>')\n"
            "assert len(r) <= 92 and all(c.isalnum() or c in '_.?' for c in r[11:-1])")
    assert score(forged_server(names, answer), [test]) == [True]


def test_the_names_that_cross_are_decided_from_the_test_code_alone():
    setup = "import itertools\nfrom math import isclose\nexpected = 3\ndef check(v):\n    global seen\n    seen = v"
    tests = ["assert abs(add(1, 2) - expected) < 1e-9 and isclose(area(1), math.pi)",
             "for last in gen():\n    pass\nassert last == 2 and bisect(xs, 1) == string.digits",
             "assert obj.items == _private and __name__ and __builtins__"]
    wanted, modules = plan_names([setup, *tests])
    assert {"add", "area", "gen", "bisect", "xs", "obj", "_private"} <= set(wanted)
    assert not {"abs", "isclose", "expected", "check", "seen", "last", "itertools", "math", "string",
                "__name__", "__builtins__"} & set(wanted)
    assert modules == ["math", "string"]


# --- 4. a reply must fit its request ----------------------------------------------------

SWALLOWED = [
    "assert all(map(lambda x: double(x) == 2 * x, [1, 2, 3]))",
    "assert not list(filter(lambda x: double(x) != 2 * x, [1, 2, 3]))",
    "assert not any(map(lambda x: double(x) != 2 * x, [1, 2, 3]))",
    "assert sum(1 for _ in filter(lambda x: double(x) != 2 * x, [1, 2, 3])) == 0",
]


@pytest.mark.parametrize("test", SWALLOWED)
def test_stop_in_reply_to_a_call_is_a_violation(test):
    assert score(forged_server({"double": handle(0)}, '{"stop": 1}'), [test]) == [False]


@pytest.mark.parametrize("op_test", [
    "assert all(map(lambda i: table[i] == i * i, [1, 2, 3]))",       # getitem
    "assert all(map(lambda i: table.size == 3, [1, 2, 3]))",         # getattr
    "assert all(map(lambda i: len(table) == 3, [1, 2, 3]))",         # len
    "assert all(map(lambda i: bool(table), [1, 2, 3]))",             # bool
    "assert all(map(lambda i: iter(table) is None, [1, 2, 3]))",     # iter
])
def test_stop_in_reply_to_anything_but_next_is_a_violation(op_test):
    assert score(forged_server({"table": handle(0, "Table")}, '{"stop": 1}'), [op_test]) == [False]


# Each reply below does not fit its request; each test would pass if the reply were read as
# data or as a catchable exception. The bare `except:` must not save it either.
MISFITS = {
    "len_not_an_int": ('{"v": "3"}', "try:\n    n = len(box)\nexcept:\n    n = 3\nassert n == 3"),
    "len_negative": ('{"v": -1}', "try:\n    n = len(box)\nexcept:\n    n = 3\nassert n == 3"),
    "iter_a_list": ('{"v": [1, 2, 3]}',
                    "try:\n    xs = list(box)\nexcept:\n    xs = [1, 2, 3]\nassert xs == [1, 2, 3]"),
    "bool_an_int": ('{"v": 1}', "try:\n    b = bool(box)\nexcept:\n    b = True\nassert b"),
    "setattr_a_value": ('{"v": 5}', "box.size = 1"),
    "setitem_a_value": ('{"v": 5}', "box[0] = 1"),
    "extra_keys": ('{"v": 2, "stop": 1}', "assert double(1) == 2"),
    "error_name_not_a_string": ('{"e": 1}',
                                "try:\n    double(None)\nexcept Exception:\n    pass\nelse:\n"
                                "    raise AssertionError"),
}


@pytest.mark.parametrize("name", sorted(MISFITS))
def test_a_reply_that_does_not_fit_its_request_fails_the_test(name):
    answer, test = MISFITS[name]
    names = {"box": handle(0, "Box"), "double": handle(1)}
    assert score(forged_server(names, answer), [test]) == [False]


EXPECTS_AN_EXCEPTION = [
    "try:\n    double(None)\nexcept Exception:\n    pass\nelse:\n    raise AssertionError",
    "try:\n    double(None)\nexcept:\n    pass\nelse:\n    raise AssertionError",
]


@pytest.mark.parametrize("name", ["SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException",
                                  "BaseExceptionGroup"])
@pytest.mark.parametrize("test", EXPECTS_AN_EXCEPTION)
def test_a_reply_naming_a_base_exception_is_not_an_error_to_catch(name, test):
    answer = json.dumps({"e": name, "detail": "bye"})
    assert score(forged_server({"double": handle(0)}, f"json.loads({answer!r})"), [test]) == [False]


@pytest.mark.parametrize("body", ["raise SystemExit(0)", "import sys\n    sys.exit(0)",
                                  "raise SystemExit('ok')"])
def test_exiting_inside_a_call_does_not_pass_a_test_that_expects_an_error(body):
    program = f"def double(x):\n    {body}\n"
    assert score(program, EXPECTS_AN_EXCEPTION + ["assert double(2) == 4"]) == [False, False, False]


@pytest.mark.parametrize("name", ["StopIteration", "StopAsyncIteration"])
def test_a_reply_naming_stop_iteration_is_not_raised_as_such(name):
    answer = json.dumps({"e": name, "detail": ""})
    forged = forged_server({"double": handle(0)}, f"json.loads({answer!r})")
    assert score(forged, SWALLOWED) == [False] * len(SWALLOWED)


def test_candidate_raising_stop_iteration_in_a_call_does_not_end_the_tests_loop():
    program = "def double(x):\n    raise StopIteration\n"
    assert score(program, SWALLOWED) == [False] * len(SWALLOWED)


# --- the tests process itself -----------------------------------------------------------

def test_tests_process_is_not_dumpable_and_not_interruptible():
    # The candidate's process may share the tests process's uid (rlimits level, non-root):
    # it must not be able to open /proc/<tests>/fd/4 and write verdict frames, or attach to
    # it, or raise KeyboardInterrupt inside a test with SIGINT.
    tests = ["import ctypes\nassert ctypes.CDLL(None).prctl(3, 0, 0, 0, 0) == 0",  # PR_GET_DUMPABLE
             "import signal\nassert signal.getsignal(signal.SIGINT) == signal.SIG_DFL"]
    assert score("x = 1\n", tests) == [True, True]


# --- honest programs still pass ---------------------------------------------------------

def test_honest_programs_keep_working():
    program = ("import math\n"
               "def abs(x):\n    return x if x > 0 else -x\n"            # its own abs, used inside
               "def area(r):\n    return math.pi * r * r\n"
               "def bisect(xs, x):\n    return sorted(xs).index(x)\n"   # named like a module
               "def evens(n):\n    yield from range(0, n, 2)\n"
               "class Box:\n    def __init__(self):\n        self.items = []\n"
               "    def __len__(self):\n        return len(self.items)\n"
               "    def __bool__(self):\n        return bool(self.items)\n"
               "def double(x):\n    if x is None:\n        raise TypeError('no')\n    return 2 * x\n"
               "LIMIT = 10\n_private = 7\n")
    setup = "import itertools\ndef check(v, want):\n    assert v == want\n"
    tests = [
        "assert abs(area(2) - 12.566370614359172) < 1e-6",
        "assert math.isclose(area(1), math.pi)",                         # math not imported here
        "assert bisect([3, 1, 2], 2) == 1",
        "assert all(x % 2 == 0 for x in evens(7)) and list(evens(5)) == [0, 2, 4]",
        "assert list(itertools.islice(evens(100), 2)) == [0, 2]",
        "b = Box()\nassert not b and len(b) == 0\nb.items = [1]\nassert b and len(b) == 1",
        "assert all(map(lambda x: double(x) == 2 * x, [1, 2, 3]))",
        "try:\n    double(None)\nexcept TypeError:\n    pass\nelse:\n    raise AssertionError",
        "check(LIMIT, 10)\ncheck(_private, 7)",
        "last = None\nfor last in evens(3):\n    pass\nassert last == 2",
    ]
    assert score(program, tests, setup) == [True] * len(tests)


# --- A2. a reply that does not decode is a violation, never an exception to catch ----------

UNDECODABLE = {
    "complex_past_float_range": {"c": [{"i": "f" * 300}, 0]},
    "complex_of_a_big_int": {"c": [10 ** 400, 0]},
    "nested_past_max_depth": json.loads("[" * 250 + "]" * 250),
    "deep_type_name": {"h": 0, "r": json.loads("[" * 600 + "]" * 600)},
    "unhashable_set_member": {"s": [[1]]},
    "numpy_object_dtype": {"nd": ["O", [1], [1]]},
    "numpy_bad_shape": {"nd": ["<i8", [3], [1, 2]]},
    "numpy_int_past_dtype": {"ns": ["<i8", {"i": "f" * 40}]},
}


@pytest.mark.parametrize("name", sorted(UNDECODABLE))
@pytest.mark.parametrize("test", EXPECTS_AN_EXCEPTION)
def test_an_undecodable_reply_is_not_an_exception_a_test_can_catch(name, test):
    answer = json.dumps({"v": UNDECODABLE[name]})
    assert score(forged_server({"double": handle(0)}, f"json.loads({answer!r})"), [test]) == [False]


def test_fuzzed_replies_never_pass_a_test_and_never_escape():
    # Each test k calls f(k); the forged server answers with hostile reply k (a hostile value,
    # or a hostile line). Every test expects a sentinel no reply holds, or an exception.
    from tests.sandboxes.test_attacks_judging import SENTINEL, hostile_value
    rng = random.Random(20)
    replies = [json.dumps({"v": hostile_value(rng)}) for _ in range(30)]
    replies += ['{"stop": 1}', '{"v": 1, "e": "ValueError"}', '[1]', '"v"', 'NaN', '{"e": "GeneratorExit"}',
                '{"e": "ValueError", "detail": [1]}', "{" * 5000, '{"v": ' + "9" * 5000 + "}"]
    program = f"""
import json, os
REPLIES = json.loads({json.dumps(replies)!r})
os.write(5, (json.dumps({{"names": {{"f": {{"h": 0, "r": "function"}}}}}}) + "\\n").encode())
for line in os.fdopen(6, "rb"):
    req = json.loads(line)
    if "op" in req:  # not the question for names, which the harness may not have read
        k = req["a"]["t"][0] if req["op"] == "call" else 0
        os.write(5, (REPLIES[k if type(k) is int and 0 <= k < len(REPLIES) else 0] + "\\n").encode())
os._exit(0)
"""
    tests = [f"try:\n    r = f({k})\nexcept Exception:\n    r = {SENTINEL!r}\nassert r == {SENTINEL!r}"
             for k in range(len(replies))]
    assert score(program, tests) == [False] * len(tests)


def test_the_channel_turns_every_undecodable_reply_into_a_violation():
    # In-process: the tests side's channel reading hostile replies directly.
    import os

    from sandboxes import rpc
    from tests.sandboxes.test_attacks_judging import hostile_value
    rng = random.Random(21)
    for _ in range(400):
        reply = rng.choice([{"v": hostile_value(rng)}, hostile_value(rng)])
        to_us, to_them = os.pipe(), os.pipe()
        os.write(to_us[1], json.dumps(reply).encode() + b"\n")
        os.close(to_us[1])
        channel = rpc.Channel(to_us[0], to_them[1])
        try:
            channel.op("call", 0, a=(), k={})
        except (rpc.ProtocolViolation, rpc.RemoteDied):
            pass
        except Exception as e:  # only a well-formed error reply may raise an ordinary exception
            assert type(reply) is dict and "e" in reply, (reply, e)
        finally:
            channel.reader.close()
            os.close(to_them[0])
            os.close(to_them[1])


# --- D1. a module the tests use without importing it is the real module ------------------
# The tests relied on the program's namespace (MBPP, DS-1000 style): what the program calls
# `np`, `math` or `pytest` must not answer for the module. A name the program defines and the
# tests only call (`bisect(xs, 3)`) stays the program's.

MODULE_FAKES = {
    "numpy_alias": ("class np:\n    allclose = staticmethod(lambda *a, **k: True)\ndef solve(x):\n    return -12345\n",
                    "assert np.allclose(solve([1, 2]), [2, 4])"),
    "pytest": ("class pytest:\n    approx = staticmethod(lambda x, **k: 7)\ndef area(r):\n    return 7\n",
               "assert area(2) == pytest.approx(12.566, rel=1e-3)"),
    "math_mixed_use": ("class math:\n    isclose = staticmethod(lambda *a, **k: True)\ndef area(r):\n    return 0\n",
                       "m = math\nassert math.isclose(area(1), 3.14159)"),
    "math_only_through_an_alias": ("class math:\n    isclose = staticmethod(lambda *a, **k: True)\n"
                                   "def area(r):\n    return 0\n", "m = math\nassert m.isclose(area(1), 3.14159)"),
    "getattr": ("class np:\n    allclose = staticmethod(lambda *a, **k: True)\ndef solve(x):\n    return 0\n",
                "assert getattr(np, 'allclose')(solve([1, 2]), [2, 4])"),
    "in_a_list": ("class math:\n    isclose = staticmethod(lambda *a, **k: True)\ndef area(r):\n    return 0\n",
                  "assert [math][0].isclose(area(1), 3.14159)"),
    "a_module_object": ("import types\nnp = types.ModuleType('numpy')\nnp.allclose = lambda *a, **k: True\n"
                        "def solve(x):\n    return 0\n", "assert np.allclose(solve([1, 2]), [2, 4])"),
    "real_module_patched": ("import numpy as np\nnp.allclose = lambda *a, **k: True\ndef solve(x):\n    return 0\n",
                            "assert np.allclose(solve([1, 2]), [2, 4])"),
    "statistics": ("class statistics:\n    mean = staticmethod(lambda xs: 2)\ndef scores():\n    return [0]\n",
                   "assert statistics.mean(scores()) == 2"),
    "fractions": ("class fractions:\n    Fraction = staticmethod(lambda *a: 0.5)\ndef half():\n    return 0.4\n",
                  "assert half() == fractions.Fraction(1, 2)"),
    "operator": ("class operator:\n    eq = staticmethod(lambda a, b: True)\ndef double(x):\n    return 0\n",
                 "assert operator.eq(double(2), 4)"),
    "collections": ("class collections:\n    Counter = staticmethod(lambda xs: 1)\ndef letters(s):\n    return 'zzz'\n",
                    "assert collections.Counter(letters('abc')) == collections.Counter('abc')"),
    "decorated_helper": ("class functools:\n    def lru_cache(*a, **k):\n        return lambda f: (lambda *x: True)\n"
                         "def double(x):\n    return 0\n",
                         "@functools.lru_cache(maxsize=None)\ndef ok(x):\n    return double(x) == 2 * x\nassert ok(2)"),
}


@pytest.mark.parametrize("name", sorted(MODULE_FAKES))
def test_the_program_cannot_stand_in_for_a_module_the_tests_use(name):
    program, test = MODULE_FAKES[name]
    assert score(program, [test]) == [False]


def test_modules_are_decided_from_the_test_code():
    wanted, modules = plan_names([
        "assert np.allclose(solve(x), y) and isclose(area(1), 3.14)",
        "m = math\nassert bisect(xs, 3) == copy(xs)[0] and getattr(pytest, 'approx')",
        "assert sorted(numbers) == array[0:2] and statistics.mean(xs) == 2 and this.x == antigravity",
    ])
    # `numbers` is passed as a value: a module (a program global named like a module is not
    # visible to the tests unless they only call or index it; documented).
    assert modules == ["math", "np", "numbers", "pytest", "statistics"]
    # called or indexed only (no module can be), or not a module's name: the program's
    assert {"solve", "isclose", "area", "bisect", "copy", "xs", "array", "this", "antigravity"} <= set(wanted)
    assert not {"np", "math", "pytest", "statistics", "numbers"} & set(wanted)


def test_a_name_the_program_defines_and_the_tests_call_stays_the_programs():
    # The task may be to write `isclose`, `bisect`, `copy` or `Counter`: a name the tests only
    # call is the program's. (So a test that means math.isclose must import it: a dataset rule.)
    program = ("def isclose(a, b, rel_tol=1e-9):\n    return abs(a - b) <= rel_tol * max(abs(a), abs(b))\n"
               "def bisect(xs, x):\n    return sorted(xs).index(x)\n"
               "def copy(xs):\n    return list(xs)\n"
               "class Counter:\n    def __init__(self, s):\n        self.n = len(s)\n"
               "    def total(self):\n        return self.n\n")
    tests = ["assert isclose(1.0, 1.0 + 1e-12) and not isclose(1.0, 1.1)", "assert bisect([3, 1, 2], 2) == 1",
             "assert copy([1, 2]) == [1, 2]", "assert Counter('abc').total() == 3"]
    assert score(program, tests) == [True] * 4


def test_numpy_values_cross_as_real_arrays():
    # With the tests' own numpy, the program's arrays and numpy scalars must reach it as data,
    # and the tests' arrays reach the program: honest numpy programs keep passing (they
    # passed before only through the program's own `np`).
    program = ("import numpy as np\ndef solve(x):\n    return np.asarray(x) * 2\n"
               "def total(x):\n    return np.sum(x)\ndef names():\n    return np.array(['a', 'bc'])\n"
               "def is_array(x):\n    return isinstance(x, np.ndarray) and x.dtype == np.float32\n")
    tests = ["assert np.allclose(solve([1, 2]), [2, 4])",
             "assert (solve([1, 2]) == np.array([2, 4])).all() and solve([[1]]).shape == (1, 1)",
             "assert total([1, 2]) == 3 and isinstance(total([1.5]), np.floating)",
             "assert list(solve([1, 2])) == [2, 4] and solve([1, 2]).tolist() == [2, 4]",
             "assert np.array_equal(solve(np.array([1, 2])), [2, 4])",
             "assert is_array(np.zeros(3, dtype=np.float32))",
             "assert list(names()) == ['a', 'bc']",
             "assert not np.allclose(solve([1, 2]), [2, 5])"]
    assert score(program, tests) == [True] * len(tests)


def test_submodules_the_tests_reach_are_imported_too():
    # The program would have imported `xml.etree.ElementTree` or `numpy.testing`; a plain
    # `import xml` on the tests' side does not load them.
    program = "import xml.etree.ElementTree\ndef tag(s):\n    return xml.etree.ElementTree.fromstring(s).tag\n"
    tests = ["assert xml.etree.ElementTree.fromstring('<b/>').tag == 'b' == tag('<b/>')",
             "np.testing.assert_allclose(np.ones(2), [1, 1])",
             "assert os.path.join('a', 'b') == 'a/b' and math.isclose(1, 1)"]
    assert score(program, tests) == [True] * 3
    assert rpc.submodules(tests, ["math", "np", "os", "xml"]) == [
        "math.isclose", "numpy.ones", "numpy.testing", "numpy.testing.assert_allclose", "os.path",
        "os.path.join", "xml.etree", "xml.etree.ElementTree", "xml.etree.ElementTree.fromstring"]
