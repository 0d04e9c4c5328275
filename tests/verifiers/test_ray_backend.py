"""The Ray backend on a local Ray instance started here: same results and order as the local
service, per-item deadlines and crashes inside actors, a dead actor, a stuck actor."""

import pytest

ray = pytest.importorskip("ray")

from tests.verifiers.fake_verifiers import JUDGE, StuckOnArrival  # noqa: E402
from verifiers.runtime.ray import RayRewardService  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    # Logical CPUs: room for two one-worker actors and their replacements on a small machine.
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def service(local_ray):
    with RayRewardService(JUDGE, actors=2, workers_per_actor=1, timeout_s=1.0, actor_slack_s=20.0) as s:
        yield s


def test_order_results_and_spread_over_actors(service):
    comps = [str(i % 7) for i in range(40)]
    refs = [str(i % 5) for i in range(40)]
    out = service.score(comps, refs)
    assert [s.passed for s in out] == [c == r for c, r in zip(comps, refs, strict=True)]
    assert sum(st["items"] for st in service.actor_stats()) >= 1
    assert len(service.placement) == 2


def test_per_item_specs_strings_and_objects(service):
    out = service.score_outcomes(["<think>a</think><answer>b</answer>", "x", "x", "y"], ["zz", "x", "x", "y"],
                                 ["format", None, JUDGE, "nonsense +"])
    assert [o.score.passed for o in out[:3]] == [True, True, True]
    assert out[3].score.reason == "error" and "bad reward spec" in out[3].error


def test_hanging_and_crashing_items_inside_an_actor(service):
    before = dict(service.stats)
    out = service.score_outcomes(["hang", "a", "exit", "b"], ["a", "a", "a", "b"])
    assert [o.score.reason for o in out] == ["timeout", "ok", "crashed", "ok"]
    assert "deadline" in out[0].error and "exit code 3" in out[2].error
    assert service.stats["actors_replaced"] == before["actors_replaced"]  # the actors themselves lived


def test_a_dead_actor_is_replaced_and_its_chunk_retried(service):
    ray.kill(service._actors[0])
    before = service.stats["actors_replaced"]
    comps = [f"c{i}" for i in range(8)]
    out = service.score(comps, comps)
    assert all(s.passed for s in out)
    assert service.stats["actors_replaced"] == before + 1 and service.stats["actor_deaths"] >= 1


def test_a_stuck_actor_is_killed_at_the_backstop_deadline(service, monkeypatch):
    monkeypatch.setattr(service, "actor_slack_s", 3.0)
    before = dict(service.stats)
    out = service.score_outcomes(["a"], ["a"], [StuckOnArrival()])
    assert out[0].score.reason == "timeout" and "actor killed" in out[0].error
    assert service.stats["actor_timeouts"] == before["actor_timeouts"] + 1
    assert all(s.passed for s in service.score(["z", "y"], ["z", "y"]))  # replacements serve the next batch


def test_docs_example_runs_on_the_running_ray(service):
    from tests.verifiers.docs_examples import blocks, run

    (code,) = blocks("Scale out on Ray")
    ns = run(code)
    assert [s.passed for s in ns["scores"]] == [True, False] * 4
    assert ray.is_initialized()  # joined the running Ray; did not shut it down


def test_the_http_server_serves_from_ray(service):
    pytest.importorskip("fastapi")
    from tests.verifiers.test_server import items, post, running
    from verifiers.apps.server import create_app

    with running(create_app(service)) as base:
        res = post(f"{base}/score", json={"items": items([("a", "a"), ("b", "c"), ("hang", "x")])}).json()["results"]
    assert [r["reason"] for r in res] == ["ok", "mismatch", "timeout"]
