"""Config loading: YAML, overrides, validation messages."""

import pytest

from grpo.config import ConfigError, GRPOConfig, SFTConfig, describe, load_config


def _write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_yaml_then_overrides(tmp_path):
    p = _write(tmp_path, "model: m\ndata: d.jsonl\ngroup_size: 4\nlr: 1e-5\n")
    cfg = load_config(GRPOConfig, p, ["group_size=6", "dynamic_sampling=true", "ref_model=null"])
    assert cfg.group_size == 6 and cfg.dynamic_sampling is True and cfg.lr == 1e-5 and cfg.ref_model is None


def test_unknown_key_names_the_closest_known_one(tmp_path):
    p = _write(tmp_path, "model: m\ndata: d.jsonl\ngroup_sise: 4\n")
    with pytest.raises(ConfigError, match=r"unknown key 'group_sise' \(did you mean 'group_size'\?\)"):
        load_config(GRPOConfig, p)


def test_bad_values_say_which_key():
    with pytest.raises(ConfigError, match="loss_aggregation"):
        load_config(GRPOConfig, model="m", data="d", loss_aggregation="mean")
    with pytest.raises(ConfigError, match="group_size"):
        load_config(GRPOConfig, model="m", data="d", group_size=1)
    with pytest.raises(ConfigError, match="clip_low"):
        load_config(GRPOConfig, model="m", data="d", clip_low=1.5)
    with pytest.raises(ConfigError, match="model"):
        load_config(GRPOConfig, data="d")


def test_malformed_override_and_file():
    with pytest.raises(ConfigError, match="key=value"):
        load_config(GRPOConfig, None, ["lr"])


def test_grpo_only_fields_are_unknown_to_sft():
    with pytest.raises(ConfigError, match="unknown key 'group_size'"):
        load_config(SFTConfig, model="m", data="d", group_size=4)


def test_every_field_is_documented():
    for cls in (GRPOConfig, SFTConfig):
        assert all(f.description for f in cls.model_fields.values())
        assert "group_size" in describe(GRPOConfig)
