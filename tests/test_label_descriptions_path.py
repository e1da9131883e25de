"""A LAME run's label descriptions go from the corpus to the config in one shape (a list in label-id
order), tokenized once with the run's own tokenizer: building the model loads no second tokenizer."""

from __future__ import annotations

import pytest
from helpers import quick_train_argv, tiny_bert_checkpoint
from transformers import AutoTokenizer

from labelwise.data_scripts import load_corpus, load_label_space
from labelwise.training.arguments import parse_arguments
from labelwise.training.tasks import prepare_task


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert"))


def test_descriptions_reach_the_config_as_a_list_tokenized_by_the_runs_tokenizer(checkpoint, tmp_path, monkeypatch):
    loads = []
    original = AutoTokenizer.from_pretrained.__func__

    def counting(cls, *args, **kwargs):
        loads.append(args[0] if args else kwargs)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(AutoTokenizer, "from_pretrained", classmethod(counting))
    args, training_args = parse_arguments(quick_train_argv(checkpoint, tmp_path, "--max_description_length", "6"))
    space = load_label_space("demo")
    task = prepare_task(args, space, load_corpus("demo"), str(checkpoint), seed=training_args.seed)

    assert loads == [str(checkpoint)]  # the run's tokenizer only
    config = task.model.config
    assert config.labels == list(space.names)
    assert config.label_descriptions == list(space.descriptions)
    # What loading the model would have computed with the checkpoint's tokenizer, truncated as configured.
    assert config.label_description_token_ids == config.tokenize_descriptions(space.descriptions, task.tokenizer)
    assert max(map(len, config.label_description_token_ids)) == 6
    assert task.label_descriptions == dict(zip(space.names, space.descriptions))  # the summary's {label: text}
