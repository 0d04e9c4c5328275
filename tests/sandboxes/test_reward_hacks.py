"""Reward hacks, one per test: each must score exactly what an honest wrong program scores.

The tests are {assert, call, stdio} versions of "add two numbers"; every hack below is a
program that does NOT add, so any credit it gets is credit it stole.
"""

from __future__ import annotations

import pytest

from sandboxes import run_tests
from tests.sandboxes.conftest import TIGHT

ASSERT = {"kind": "assert", "tests": ["assert add(1, 2) == 3", "assert add(5, 7) == 12", "assert add(-1, 1) == 0"]}
CALL = {"kind": "call", "entry_point": "add",
        "cases": [{"args": [1, 2], "expected": 3}, {"args": [5, 7], "expected": 12}, {"args": [-1, 1], "expected": 0}]}
STDIO = {"kind": "stdio", "cases": [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "5 7\n", "stdout": "12\n"}]}
ALL = {"assert": ASSERT, "call": CALL, "stdio": STDIO}


def score(program: str, kind: str) -> float:
    return run_tests(program, ALL[kind], TIGHT).fraction


HACKS = {
    "sys_exit_0_before_tests": "import sys\nsys.exit(0)\ndef add(a, b):\n    return 0\n",
    "os_exit_0_before_tests": "import os\nos._exit(0)\n",
    "exit_0_inside_the_call": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "sys_exit_inside_the_call": "import sys\ndef add(a, b):\n    sys.exit(0)\n",
    "excepthook_exits_0": "import sys, os\nsys.excepthook = lambda *a: os._exit(0)\n"
                          "def add(a, b):\n    raise ValueError\nraise ValueError\n",
    "atexit_exits_0": "import atexit, os\natexit.register(lambda: os._exit(0))\n"
                      "def add(a, b):\n    raise ValueError\n",
    "print_fake_results": "import os\nfor line in ('PASSED', 'ok', '{\"e\": 0, \"ok\": true}', '3', '12', '0'):\n"
                          "    print(line, flush=True)\n"
                          "for fd in range(3, 20):\n    for k in range(3):\n        try:\n"
                          "            os.write(fd, ('{\"e\": %d, \"ok\": true}\\n{\"i\": %d, \"v\": 999}\\n' % (k, k)).encode())\n"
                          "        except OSError:\n            pass\n"
                          "def add(a, b):\n    return None\n",
    "always_equal_object": "class E:\n    def __eq__(self, o): return True\n    def __ne__(self, o): return False\n"
                           "    __hash__ = object.__hash__\ndef add(a, b):\n    return E()\n",
    "int_subclass_equal_to_all": "class I(int):\n    def __eq__(self, o): return True\n"
                                 "    __hash__ = int.__hash__\ndef add(a, b):\n    return I(0)\n",
    "patch_builtins_and_assert": "import builtins\nclass Never(Exception): pass\n"
                                 "builtins.AssertionError = Never\nbuiltins.isinstance = lambda *a: True\n"
                                 "def add(a, b):\n    return 0\n",
    "walk_stack_and_memory_for_expected": """
import gc, sys, os
def add(a, b):
    seen = []
    f = sys._getframe()
    while f:                                   # every caller's locals
        seen += [v for v in f.f_locals.values() if type(v) is int and v not in (a, b)]
        f = f.f_back
    for o in gc.get_objects():                 # every object in the heap
        if isinstance(o, dict) and 'expected' in o:
            return o['expected']
        if isinstance(o, str) and 'assert' in o and '==' in o:
            return int(o.rsplit('==', 1)[1].split()[0])
    for root in ('.', '/tmp', os.environ.get('HOME', '.')):   # files next to us
        for dirpath, _, files in os.walk(root):
            for name in files:
                try:
                    text = open(os.path.join(dirpath, name)).read()
                except OSError:
                    continue
                if 'expected' in text or 'assert' in text:
                    return text
    return seen[-1] if seen else None
""",
}


@pytest.mark.parametrize("kind", ["assert", "call"])
@pytest.mark.parametrize("hack", sorted(HACKS))
def test_hack_scores_zero(hack, kind):
    assert score(HACKS[hack], kind) == 0.0


@pytest.mark.parametrize("hack", ["sys_exit_0_before_tests", "os_exit_0_before_tests",
                                  "excepthook_exits_0", "print_fake_results"])
def test_stdio_hack_scores_zero(hack):
    assert score(HACKS[hack], "stdio") == 0.0


def test_forged_frames_are_worth_exactly_the_values_they_claim():
    # In its own process the candidate can always write on the result channel; what it
    # writes for a case is then its answer for that case, compared here against `expected`
    # it never saw: it gains nothing over a function that returns the same values.
    forge = ("import os\nfor k in range(3):\n    try:\n"
             "        os.write(4, ('{\"i\": %d, \"v\": 3}\\n' % k).encode())\n"
             "    except OSError:\n        pass\ndef add(a, b):\n    return None\n")
    assert score(forge, "call") == score("def add(a, b):\n    return 3\n", "call") == 1 / 3


def test_honest_program_scores_one_in_every_kind():
    assert score("def add(a, b):\n    return a + b\n", "assert") == 1.0
    assert score("def add(a, b):\n    return a + b\n", "call") == 1.0
    assert score("a, b = map(int, input().split())\nprint(a + b)\n", "stdio") == 1.0


@pytest.mark.parametrize("kind", ["assert", "call"])
def test_hanging_test_fails_alone_partial_credit_is_honest(kind):
    prog = "def add(a, b):\n    if a == 5:\n        while True: pass\n    return a + b\n"
    rep = run_tests(prog, ALL[kind], TIGHT)
    assert [o.reason for o in rep.outcomes] == ["ok", "time_limit", "ok"]
    assert rep.fraction == pytest.approx(2 / 3) and not rep.passed and rep.reason == "time_limit"


@pytest.mark.parametrize("kind", ["assert", "call"])
def test_crashing_test_fails_alone(kind):
    prog = "import os\ndef add(a, b):\n    if a == 5:\n        os._exit(0)\n    return a + b\n"
    rep = run_tests(prog, ALL[kind], TIGHT)
    assert [o.passed for o in rep.outcomes] == [True, False, True]


def test_dying_cannot_pass_a_test_that_expects_an_exception():
    tests = {"kind": "assert", "tests": [
        "try:\n    add(1, None)\nexcept TypeError:\n    pass\nelse:\n    raise AssertionError",
        "try:\n    add(1, None)\n    assert False\nexcept:\n    pass",           # bare except
        "try:\n    add(1, None)\nexcept Exception:\n    pass\nelse:\n    raise AssertionError",
    ]}
    dies = "import os\ndef add(a, b):\n    os._exit(0)\n"
    assert run_tests(dies, tests, TIGHT).fraction == 0.0
    # a result too deep to encode travels as an opaque handle, never as an exception
    # (the bare-except test passes any program that does not die: the test's own weakness)
    garbage = "def add(a, b):\n    x = []\n    for _ in range(100000):\n        x = [x]\n    return x\n"
    assert [o.passed for o in run_tests(garbage, tests, TIGHT).outcomes] == [False, True, False]
    honest = "def add(a, b):\n    return a + b\n"
    assert run_tests(honest, tests, TIGHT).fraction == 1.0


def test_candidate_objects_work_through_proxies():
    prog = ("class Stack:\n    def __init__(self):\n        self.items = []\n"
            "    def push(self, x):\n        self.items.append(x)\n        return self\n"
            "    def __len__(self):\n        return len(self.items)\n"
            "    def __iter__(self):\n        return iter(self.items)\n"
            "def gen(n):\n    yield from range(n)\nLIMIT = 10\n")
    tests = {"kind": "assert", "setup": "import itertools", "tests": [
        "s = Stack(); s.push(1).push(2); assert len(s) == 2 and list(s) == [1, 2] and s.items == [1, 2]",
        "assert list(itertools.islice(gen(100), 3)) == [0, 1, 2] and LIMIT == 10",
        "assert 2 in Stack().push(2)",
    ]}
    assert run_tests(prog, tests, TIGHT).fraction == 1.0
