"""Each LAME and layer-wise setting is declared once, in its config: `train.py`'s options take their
name, default and help from the config's declaration instead of restating them."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from labelwise.kinds.base import CONFIG_OPTION_SOURCES, config_field_docs
from labelwise.modeling import LameConfig, LayerwiseConfig
from labelwise.training.arguments import LabelwiseArguments

CONFIGS = {"LameConfig": LameConfig, "LayerwiseConfig": LayerwiseConfig}
# Options that share a config field's name but are something else: the file a setting is read from.
NOT_SETTINGS = {"label_descriptions": "a file of descriptions (your own data), read into LameConfig.label_descriptions"}


def test_no_train_option_restates_a_config_field():
    for option in dataclasses.fields(LabelwiseArguments):
        owners = [name for name, config in CONFIGS.items() if option.name in config.own_fields()]
        if not owners or option.name in NOT_SETTINGS:
            continue
        source = CONFIG_OPTION_SOURCES.get(option.name)
        assert source is not None and source[0].__name__ in owners, (
            f"--{option.name} restates {' and '.join(owners)}.{option.name}; derive it with "
            "labelwise.kinds.base.config_options instead of declaring it again."
        )
        config, declared = source
        assert declared == inspect.signature(config.__init__).parameters[option.name].default, option.name
        # The option's default is the config's, or None standing for it ("auto", untyped on the command line).
        assert option.default in (declared, None), option.name
        assert option.metadata["help"].startswith(config_field_docs(config)[option.name]), option.name


@pytest.mark.parametrize("config", list(CONFIGS.values()))
def test_every_config_field_is_documented_in_its_group(config):
    """Every field has its docstring entry (the options' help comes from there)."""
    documented = config_field_docs(config)
    missing = sorted(config.own_fields() - set(documented) - {"label2id", "id2label"})
    assert not missing, f"{config.__name__} fields without a docstring entry: {missing}"


def test_auto_values_are_stored_resolved_and_old_auto_configs_still_load():
    small = dict(hidden_size=16, num_attention_heads=2, label_attention_heads=2)
    config = LameConfig(label_descriptions=["a", "b"], problem_type="multi_label_classification", **small)
    assert (config.label_sampling, config.first_stage, config.description_pooling, config.similarity_term) == (
        "none", "none", "cls", False
    )
    agnostic = LameConfig.from_dict(
        {"label_descriptions": ["a"], "label_scoring": "label_agnostic", "description_pooling": "auto",
         "similarity_term": "auto", "first_stage": "auto", "label_sampling": "auto", **small}
    )
    assert (agnostic.description_pooling, agnostic.similarity_term, agnostic.first_stage) == ("mean", True, "none")
    large = LameConfig(label_descriptions=[f"d{i}" for i in range(300)], problem_type="multi_label_classification", **small)
    assert (large.label_sampling, large.first_stage) == ("sampled", "bilinear")
    assert large.to_dict()["first_stage"] == "bilinear"
