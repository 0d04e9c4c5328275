"""Verifiers that misbehave on cue, for the adapter, server and Ray tests.

Kept in a module that imports nothing heavy: a worker unpickles a verifier by importing the
module that defines it, and a test module importing FastAPI or Ray would spend the first
item's deadline on imports.
"""

import os
import time

from verifiers.score import Score
from verifiers.verifier import Verifier


def _judge(completion, reference):
    # The completion picks the behaviour: hang, crash, be slow; otherwise compare with the reference.
    if completion == "hang":
        time.sleep(60)
    if completion == "exit":
        os._exit(3)
    if completion.startswith("slow"):
        time.sleep(0.3)
    ok = completion == reference or completion.strip().endswith(f" {reference}")
    return Score(float(ok), ok, "ok" if ok else "mismatch", {"judge": float(ok)})


JUDGE = Verifier.wrap(_judge, "judge")


def _block_forever():
    time.sleep(3600)


class StuckOnArrival(Verifier):
    """Fine where it is built; whoever unpickles it blocks forever (a stand-in for an actor
    that froze outside any item's deadline, which only the driver's backstop can catch)."""

    name = "stuck"

    def score(self, completion, reference):
        return Score(1.0, True)

    def __reduce__(self):
        return (_block_forever, ())
