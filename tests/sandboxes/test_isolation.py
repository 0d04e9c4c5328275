"""Hostile programs, one property each: each ends within its deadline, with the right
result, and leaves nothing running. See conftest.py for why each is harmless uncontained."""

from __future__ import annotations

import os
import socket
import time

import pytest

from sandboxes import Zygote, run, run_tests
from tests.sandboxes.conftest import TIGHT, assert_no_strays


def go(program: str, **kw):
    t0 = time.monotonic()
    r = run({"program": program}, TIGHT, **kw)
    assert time.monotonic() - t0 < TIGHT.timeout_s + 3.0, "the run outlived its deadline"
    return r


def needs_namespaces(report):
    if report["level"] != "namespaces":
        pytest.skip("property only covered by the `namespaces` level")


def test_fork_bomb_hits_the_process_limit(report, uids):
    if not (report["level"] == "namespaces" or report["per_run_uid"]):
        pytest.skip("RLIMIT_NPROC does not bind here (non-root user at the rlimits level)")
    # exponential, but bounded: 10 doublings at most even if nothing stopped it
    r = go("import os, time\nfailed = 0\nfor _ in range(10):\n    try:\n        os.fork()\n"
           "    except OSError:\n        failed += 1\nprint('failed', failed, flush=True)\ntime.sleep(30)\n")
    assert r.timed_out
    lines = r.stdout.decode().split()
    assert len(lines) // 2 <= TIGHT.max_processes, "more processes ran than the limit allows"
    assert any(int(n) > 0 for n in lines[1::2]), "fork never failed: the process limit did not bind"
    assert_no_strays(uids=uids)


def test_memory_bomb_is_a_memory_failure():
    r = go("x = []\nfor _ in range(64):\n    x.append(bytearray(64 << 20))\n")
    assert r.reason == "memory" and r.maxrss_kb * 1024 < TIGHT.memory_bytes


def test_infinite_loop_is_killed_at_the_deadline(uids):
    r = go("while True:\n    pass\n")
    assert r.timed_out and r.reason == "time_limit"
    assert r.duration_s < TIGHT.timeout_s + 2.0
    assert_no_strays(uids=uids)


def test_sleep_is_killed_at_the_deadline():
    r = go("import time\ntime.sleep(600)\n")
    assert r.timed_out and r.duration_s < TIGHT.timeout_s + 2.0


def test_disk_fill_stops_at_the_file_limit_and_leaves_nothing(report):
    r = go("import os\nn = 0\ntry:\n    with open('big', 'wb') as f:\n        for _ in range(200):\n"
           "            f.write(b'x' * (1 << 20)); f.flush(); n += 1\nexcept OSError as e:\n"
           "    print('stopped', n, e.errno)\nprint(os.getcwd())\n")
    out = r.stdout.decode().split()
    assert out[0] == "stopped" and int(out[1]) <= TIGHT.file_bytes >> 20
    assert not os.path.exists(os.path.join(out[-1], "big")), "the work directory was not removed"


def test_huge_output_is_capped_and_stopped():
    r = go("import sys\nfor _ in range(1 << 20):\n    sys.stdout.write('y' * 1024)\n")
    assert r.output_limited and r.reason == "output_limit"
    assert len(r.stdout) <= TIGHT.output_bytes and r.duration_s < TIGHT.timeout_s


def test_thread_bomb_hits_the_process_limit(report):
    if not (report["level"] == "namespaces" or report["per_run_uid"]):
        pytest.skip("RLIMIT_NPROC does not bind here")
    r = go("import threading, time\nn = 0\ntry:\n    for _ in range(1000):\n"
           "        threading.Thread(target=time.sleep, args=(30,), daemon=True).start(); n += 1\n"
           "except RuntimeError:\n    pass\nprint(n)\n")
    assert 0 < int(r.stdout) < TIGHT.max_processes


def test_subprocesses_and_daemons_do_not_survive(marker, uids):
    prog = f"""
import os, subprocess, time
subprocess.Popen(['/bin/sh', '-c', 'sleep 30; : {marker}'])
if os.fork() == 0:                  # a classic daemon: fork, setsid, fork, exec
    os.setsid()
    if os.fork() == 0:
        os.execv('/bin/sh', ['/bin/sh', '-c', 'sleep 30; : {marker}'])
    os._exit(0)
time.sleep(0.3)
print('spawned')
"""
    r = go(prog)
    assert r.stdout == b"spawned\n" and r.exit_code == 0
    assert_no_strays(marker, uids)


def test_killing_the_parent_harms_nobody(report):
    if not (report["level"] == "namespaces" or report["per_run_uid"]):
        pytest.skip("a non-root program at the rlimits level shares the user's uid")
    r = go("import os, signal\nfor pid in (os.getppid(), 1, -1):\n    try:\n"
           "        os.kill(pid, signal.SIGKILL)\n    except OSError as e:\n        print(pid, e.errno)\n")
    assert r.reason in ("ok", "runtime_error")
    # the zygote and we are alive, and the next program runs normally
    assert run({"program": "print(42)"}, TIGHT).stdout == b"42\n"


def test_no_network(report):
    needs_namespaces(report)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(0.5)
    port = srv.getsockname()[1]
    try:
        r = go(f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
               "    print('connected')\nexcept OSError as e:\n    print('blocked', e.errno)\n"
               "try:\n    socket.create_connection(('10.255.255.1', 9), timeout=1)\n    print('routed')\n"
               "except OSError as e:\n    print('blocked', e.errno)\n")
        with pytest.raises(TimeoutError):
            srv.accept()
    finally:
        srv.close()
    assert r.stdout.decode().split()[::2] == ["blocked", "blocked"]


def test_cannot_write_outside_the_work_directory(report, marker):
    needs_namespaces(report)
    targets = [f"/tmp/{marker}", os.path.join(os.path.dirname(__file__), marker), f"/var/tmp/{marker}"]
    try:
        r = go(f"for p in {targets!r}:\n    try:\n        open(p, 'w').write('x')\n        print('wrote')\n"
               "    except OSError as e:\n        print('denied', e.errno)\n")
        assert r.stdout.decode().split()[::2] == ["denied"] * 3
        assert not any(os.path.exists(t) for t in targets)
    finally:
        for t in targets:
            if os.path.exists(t):
                os.remove(t)


def test_parent_environment_is_invisible(monkeypatch):
    secret = "s3cr3t-" + os.urandom(6).hex()
    monkeypatch.setenv("SANDBOX_TEST_SECRET", secret)
    z = Zygote()  # started after the secret is in our environment
    try:
        r = run({"program": "import os, glob\nprint(dict(os.environ))\nfor p in glob.glob('/proc/*/environ'):\n"
                            "    try:\n        print(open(p, 'rb').read())\n    except OSError:\n        pass\n"},
                TIGHT, zygote=z)
    finally:
        z.close()
    assert r.exit_code == 0 and secret.encode() not in r.stdout


def test_segfault_fails_one_test_and_the_rest_still_run():
    prog = "import ctypes\ndef f(x):\n    if x == 0:\n        ctypes.string_at(0)\n    return x\n"
    rep = run_tests(prog, {"kind": "assert", "tests": ["assert f(0) == 0", "assert f(1) == 1", "assert f(2) == 2"]}, TIGHT)
    assert [o.reason for o in rep.outcomes] == ["runtime_error", "ok", "ok"]


def test_sigkilled_host_takes_every_sandboxed_process_with_it(marker):
    import signal
    import subprocess
    import sys
    host = (
        f"import sys\nsys.path.insert(0, {os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))!r})\nfrom sandboxes import Limits, run_tests\n"
        f"prog = \"import subprocess, time\\nsubprocess.Popen(['/bin/sh', '-c', 'sleep 60; : {marker}'])\\n"
        "time.sleep(60)\\n\"\n"
        "run_tests(prog, {'kind': 'stdio', 'cases': [{'stdout': 'x'}]}, Limits(timeout_s=30))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", host])
    deadline = time.monotonic() + 20
    from tests.sandboxes.conftest import strays
    while not strays(marker) and time.monotonic() < deadline:  # wait until the program runs
        time.sleep(0.05)
    assert strays(marker), "the sandboxed program never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert_no_strays(marker)
    assert_no_strays(f"serve() {proc.pid} ")  # the host's zygote (argv names the host pid) is gone


def test_doctor_reports_the_level_the_environment_forces(monkeypatch, capsys):
    import json

    from sandboxes.__main__ import main
    monkeypatch.setenv("SANDBOXES_ISOLATION", "rlimits")
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["level"] == "rlimits" and report["self_test"] == "ok"
