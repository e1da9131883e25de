"""Run transformers' own common model tests (`ModelTesterMixin`, `ConfigTester`) against both custom models,
set up as a transformers maintainer sets up a model's test file.

The installed transformers wheel does not ship its tests; its source distribution ships the common
ones. Get them for the installed version and point this script at their folder::

    pip download "transformers==$(python -c 'import transformers; print(transformers.__version__)')" \
        --no-binary :all: --no-deps -d /tmp/tf && tar xzf /tmp/tf/transformers-*.tar.gz -C /tmp/tf
    OMP_NUM_THREADS=1 python tests/run_transformers_common_tests.py /tmp/tf/transformers-*/tests [pytest args]

Not part of the normal suite (it needs that download); `tests/test_model_contract.py` is ours and is.
The source distribution lacks three modules that `test_modeling_common.py` imports; they are
replaced by stand-ins written here (see `STAND_INS`). Each failure the run reports is read against
docs/MODEL_CONTRACT.md, which says which are artefacts of the mixin's inputs and why.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

STAND_INS = {
    # The export tests live in tests/exporters/, not shipped. An empty mixin: torch.export in eval and
    # train mode is checked by tests/test_model_contract.py for every variant instead.
    "exporters/test_export.py": "class ExportTesterMixin:\n    pass\n",
    # Neither model generates text; the mixin only checks that non-generative testers do not inherit it.
    "generation/test_utils.py": "class GenerationTesterMixin:\n    pass\n",
    # `ConfigTester.check_config_arguments_init` sets every common config argument to a non-default
    # value and checks it is kept. These are the arguments of transformers 5's `PreTrainedConfig.__init__`.
    "utils/test_configuration_utils.py": (
        "config_common_kwargs = {\n"
        "    'return_dict': False,\n"
        "    'output_hidden_states': True,\n"
        "    'output_attentions': True,\n"
        "    'dtype': 'float16',\n"
        "    'chunk_size_feed_forward': 5,\n"
        "    'architectures': ['BertModel'],\n"
        "    'id2label': {0: 'label'},\n"
        "    'label2id': {'label': '0'},\n"
        "    'problem_type': 'regression',\n"
        "}\n"
    ),
}

TEST_MODULE = '''
"""Our two models under transformers' ModelTesterMixin: written as a model's tests/models/<name>/test_modeling_<name>.py."""

import sys
import unittest

import torch
from transformers import BertConfig

sys.path.insert(0, {labelwise_tests!r})
from helpers import SPECIAL_TOKENS, WORDS  # noqa: E402

from labelwise.modeling import (  # noqa: E402
    LameConfig, LameForSequenceClassification, LayerwiseBertForHierarchicalClassification, LayerwiseConfig,
)

from .test_configuration_common import ConfigTester  # noqa: E402
from .test_modeling_common import ModelTesterMixin, ids_tensor, random_attention_mask  # noqa: E402

VOCAB = len(SPECIAL_TOKENS) + len(WORDS)
DESCRIPTIONS = ["cancer cell growth", "immune reaction", "blood vessel", "drug dose"]


class LabelwiseModelTester:
    """BertModelTester's shapes: batch 13, length 7, hidden 32, 2 layers, 4 heads."""

    def __init__(self, parent, family):
        self.parent, self.family = parent, family
        self.batch_size, self.seq_length, self.is_training = 13, 7, True
        self.vocab_size, self.hidden_size, self.num_attention_heads = VOCAB, 32, 4
        self.num_hidden_layers = 2
        self.num_labels = 4 if family == "lame" else 5

    def bert_fields(self):
        return dict(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size, num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads, intermediate_size=37, max_position_embeddings=64,
            type_vocab_size=2, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
        )

    def get_config(self):
        if self.family == "lame":
            # Descriptions as token ids, so that no tokenizer is needed to build the model from the config.
            token_ids = [[2] + [5 + i + j for j in range(3)] + [3] for i in range(self.num_labels)]
            return LameConfig(
                label_descriptions=DESCRIPTIONS, label_description_token_ids=token_ids, label_attention_heads=4,
                problem_type="multi_label_classification", **self.bert_fields(),
            )
        return LayerwiseConfig(
            label_levels=[1, 1, 2, 2, 2], label_parents=[[], [], [0], [1], [1]], guidance="last_six",
            id2label={{i: f"label{{i}}" for i in range(5)}}, **self.bert_fields(),
        )

    def prepare_config_and_inputs_for_common(self):
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        attention_mask = random_attention_mask([self.batch_size, self.seq_length])
        token_type_ids = ids_tensor([self.batch_size, self.seq_length], 2)
        return self.get_config(), dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)


class CommonTests(ModelTesterMixin):
    family = None
    config_class = None
    test_resize_embeddings = True

    def setUp(self):
        self.model_tester = LabelwiseModelTester(self, self.family)
        # hidden_size=37 as in BERT's own test; LAME's label attention heads must divide it.
        extra = dict(label_attention_heads=1) if self.family == "lame" else dict()
        self.config_tester = ConfigTester(self, config_class=self.config_class, hidden_size=37, **extra)

    def _prepare_for_class(self, inputs_dict, model_class, return_labels=False):
        inputs = super()._prepare_for_class(inputs_dict, model_class, return_labels=return_labels)
        if return_labels:
            # Multi-label (multi-hot float) targets: what both models train on. Seeded: several tests
            # prepare the inputs twice and compare the two losses.
            batch, generator = self.model_tester.batch_size, torch.Generator().manual_seed(0)
            inputs["labels"] = (torch.rand(batch, self.model_tester.num_labels, generator=generator) > 0.5).float()
        return inputs

    def test_config(self):
        self.config_tester.run_common_tests()

    def test_config_with_a_classification_problem_type(self):
        # test_config sets problem_type="regression", which neither model has (LAME refuses it, the
        # layer-wise model is multi-label by construction): the same checks with the other values kept.
        from . import test_configuration_common as common

        kept = common.config_common_kwargs
        common.config_common_kwargs = {{**kept, "problem_type": "multi_label_classification"}}
        try:
            self.config_tester.run_common_tests()
        finally:
            common.config_common_kwargs = kept


class LameModelTest(CommonTests, unittest.TestCase):
    family, config_class = "lame", LameConfig
    all_model_classes = (LameForSequenceClassification,)


class LayerwiseModelTest(CommonTests, unittest.TestCase):
    family, config_class = "layerwise", LayerwiseConfig
    all_model_classes = (LayerwiseBertForHierarchicalClassification,)
'''


def main() -> int:
    if len(sys.argv) < 2 or not (Path(sys.argv[1]) / "test_modeling_common.py").is_file():
        print(__doc__)
        print("error: give the `tests` folder of transformers' source distribution (it holds test_modeling_common.py).")
        return 2
    source = Path(sys.argv[1])
    work = Path(tempfile.mkdtemp(prefix="transformers-common-"))
    package = work / "tftests"
    shutil.copytree(source, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "__init__.py").touch()
    for name, text in STAND_INS.items():
        target = package / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (target.parent / "__init__.py").touch()
        target.write_text(text, encoding="utf-8")
    labelwise_tests = str(Path(__file__).resolve().parent)
    (package / "test_labelwise_models.py").write_text(TEST_MODULE.format(labelwise_tests=labelwise_tests), encoding="utf-8")
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfE", "--rootdir", str(work),
               str(package / "test_labelwise_models.py"), *sys.argv[2:]]
    return subprocess.call(command, cwd=work)


if __name__ == "__main__":
    sys.exit(main())
