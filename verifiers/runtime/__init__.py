"""Runtime: scoring batches under deadlines, away from the caller's process.

    local.py    RewardService: a pool of worker processes on this machine, a cache, deadlines
    workers.py  one worker process, its start-up and the checks on what it replies
    ray.py      RayRewardService: the same API over Ray actors (the `ray` extra)
"""
