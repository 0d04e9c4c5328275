"""Integrations: the reward service behind each trainer's reward-function signature.

    trl.py       trl_reward / AsyncTRLReward for TRL's GRPOTrainer
    verl.py      compute_score / VerlReward for verl's custom reward function
    openrlhf.py  the request and response of OpenRLHF's remote reward model protocol
"""
