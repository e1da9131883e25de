"""LAME and the layer-wise model on encoders other than BERT: RoBERTa, DeBERTa-v2, ELECTRA, XLM-R, ModernBERT.

Every encoder is a tiny random one built here (nothing is downloaded), saved as a masked-language
model the way Hub checkpoints are (weights under `roberta.`, `deberta.`, `electra.`, ModernBERT's
`model.`), with the test's WordPiece tokenizer: the tokenizer's kind does not matter to the seam,
only the encoder's class, weight names, positions and inputs do.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from torch.nn import functional as F
from helpers import SPECIAL_TOKENS, WORDS, run_python_without_labelwise, tiny_tokenizer
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoTokenizer, pipeline

from labelwise.kinds.saving import save_model_folder
from labelwise.modeling import LameForSequenceClassification, LayerwiseBertForHierarchicalClassification
from labelwise.modeling.encoders import encoder_max_length

VOCAB = len(SPECIAL_TOKENS) + len(WORDS)
COMMON = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, pad_token_id=0)
FAMILIES = {
    "bert": dict(max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
    "roberta": dict(max_position_embeddings=66, type_vocab_size=1, bos_token_id=2, eos_token_id=3,
                    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
    "deberta-v2": dict(max_position_embeddings=64, relative_attention=True, position_buckets=16, pos_att_type=["p2c", "c2p"],
                       hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
    "electra": dict(max_position_embeddings=64, embedding_size=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
    "xlm-roberta": dict(max_position_embeddings=66, type_vocab_size=1, bos_token_id=2, eos_token_id=3,
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
    "modernbert": dict(max_position_embeddings=128, cls_token_id=2, sep_token_id=3, bos_token_id=2, eos_token_id=3,
                       global_attn_every_n_layers=2, local_attention=16),
}
ENCODER_CLASSES = {
    "bert": "BertModel", "roberta": "RobertaModel", "deberta-v2": "DebertaV2Model", "electra": "ElectraModel",
    "xlm-roberta": "XLMRobertaModel", "modernbert": "ModernBertModel",
}
DESCRIPTIONS = {"rash": "skin rash reaction", "liver": "liver disease", "growth": "cell growth signals"}
TEXTS = ["the patient had a severe rash after the drug dose", "cancer cells showed growth and invasion"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """{family: folder of a tiny masked-LM checkpoint of that family, with a tokenizer}."""
    root = tmp_path_factory.mktemp("encoders")
    folders = {}
    for family, fields in FAMILIES.items():
        torch.manual_seed(0)
        config = AutoConfig.for_model(family, **COMMON, **fields)
        folder = root / family
        AutoModelForMaskedLM.from_config(config).save_pretrained(str(folder))
        tiny_tokenizer(folder)
        folders[family] = str(folder)
    return folders


def encoder_inputs(folder: str) -> dict:
    return dict(AutoTokenizer.from_pretrained(folder)(TEXTS, padding=True, return_tensors="pt"))


def lame(folder: str, **fields) -> LameForSequenceClassification:
    return LameForSequenceClassification.from_pretrained(
        folder, label_descriptions=DESCRIPTIONS, label_attention_heads=2, problem_type="multi_label_classification", **fields
    )


def layerwise(folder: str) -> LayerwiseBertForHierarchicalClassification:
    return LayerwiseBertForHierarchicalClassification.from_pretrained(
        folder, label_levels=[1, 2, 2], label_parents=[[], [0], [0]], guidance="last_six", layer_pooling="mean",
    )


def same_encoder_outputs(model, folder: str) -> None:
    """The warm-started encoder computes what the checkpoint's own class computes."""
    reference = AutoModel.from_pretrained(folder).eval()
    model.eval()
    inputs = encoder_inputs(folder)
    if "token_type_ids" not in reference.forward.__code__.co_varnames:
        inputs.pop("token_type_ids", None)
    with torch.no_grad():
        want = reference(**inputs).last_hidden_state
        got = model.backbone(**inputs).last_hidden_state
    assert type(model.backbone).__name__ == type(reference).__name__
    assert torch.equal(got, want)


def train_step(model, labels: torch.Tensor, folder: str) -> None:
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    out = model(**encoder_inputs(folder), labels=labels)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    optimizer.step()
    moved = {name.split(".")[0] for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert "backbone" in moved and len(moved) > 1, moved  # encoder and head both learn
    model.eval()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_lame_warm_starts_trains_and_explains_on_each_family(checkpoints, family, tmp_path, caplog):
    folder = checkpoints[family]
    with caplog.at_level(logging.WARNING, logger="transformers_modules"):
        model = lame(folder)
    assert model.config.encoder.model_type == family
    assert not [r for r in caplog.records if "start random" in r.getMessage()]
    same_encoder_outputs(model, folder)
    train_step(model, torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]), folder)

    tokenizer = AutoTokenizer.from_pretrained(folder)
    pipe = pipeline("label-attention-classification", model=model, tokenizer=tokenizer)
    result = pipe(TEXTS[0], threshold=0.0, top_k_evidence=2)
    evidence = [word for label in result["labels"] for word in label["evidence"]]
    assert evidence and all(TEXTS[0][word["start"] : word["end"]] == word["word"] for word in evidence)

    save_model_folder(tmp_path, model, tokenizer, "label-attention-classification")
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["encoder"]["model_type"] == family and "hidden_size" not in saved
    reloaded = LameForSequenceClassification.from_pretrained(str(tmp_path)).eval()
    inputs = encoder_inputs(folder)
    with torch.no_grad():
        assert torch.equal(reloaded(**inputs).logits, model(**inputs).logits)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_layerwise_warm_starts_and_trains_on_each_family(checkpoints, family, tmp_path):
    folder = checkpoints[family]
    model = layerwise(folder)
    assert model.config.encoder.model_type == family
    assert model.config.num_hidden_layers == 2
    same_encoder_outputs(model, folder)
    train_step(model, torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 1.0]]), folder)
    model.save_pretrained(str(tmp_path))
    reloaded = LayerwiseBertForHierarchicalClassification.from_pretrained(str(tmp_path)).eval()
    inputs = encoder_inputs(folder)
    with torch.no_grad():
        # ELECTRA differs in the last float bit after a reload here; every other family is bit-identical.
        torch.testing.assert_close(reloaded(**inputs).logits, model(**inputs).logits, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_saved_models_of_every_family_load_without_labelwise(checkpoints, tmp_path):
    """The remote code alone (a Hub user's machine) loads LAME and layer-wise folders of every family."""
    expected = {}
    for family, folder in checkpoints.items():
        inputs = encoder_inputs(folder)
        for name, model in (("lame", lame(folder)), ("layerwise", layerwise(folder))):
            target = tmp_path / f"{name}-{family}"
            task = "label-attention-classification" if name == "lame" else "hierarchical-classification"
            save_model_folder(target, model.eval(), AutoTokenizer.from_pretrained(folder), task)
            with torch.no_grad():
                expected[str(target)] = model(**inputs).logits.tolist()
    code = f"""
import json, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
result = {{}}
for folder in {list(expected)!r}:
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    inputs = dict(AutoTokenizer.from_pretrained(folder)({TEXTS!r}, padding=True, return_tensors="pt"))
    with torch.no_grad():
        result[folder] = model(**inputs).logits.tolist()
print(json.dumps(result))
"""
    run = run_python_without_labelwise(code, tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    # Progress bars share stdout: the result is the JSON object from its opening brace on.
    got = json.loads(run.stdout[run.stdout.rindex('{"/') :].strip())
    for folder, logits in expected.items():
        assert np.allclose(got[folder], logits, atol=1e-6), folder


def test_a_roberta_checkpoint_builds_a_roberta_encoder_never_a_bert_one(checkpoints, caplog):
    model = lame(checkpoints["roberta"])
    assert type(model.backbone).__name__ == "RobertaModel"
    # Forcing a BERT encoder onto RoBERTa weights is not silent: every encoder weight is named as missing.
    from transformers import BertConfig

    with caplog.at_level(logging.WARNING):
        forced = lame(checkpoints["roberta"], encoder=BertConfig(**COMMON, max_position_embeddings=66))
    assert type(forced.backbone).__name__ == "BertModel"
    warnings = [r.getMessage() for r in caplog.records if "start random" in r.getMessage()]
    assert warnings and "backbone.embeddings.word_embeddings.weight" in warnings[0]


def test_segment_length_follows_the_encoder(checkpoints):
    """RoBERTa-style encoders reserve the positions up to their padding id; ModernBERT reads its whole window."""
    assert encoder_max_length(AutoConfig.for_model("roberta", max_position_embeddings=514, pad_token_id=1)) == 512
    assert encoder_max_length(AutoConfig.for_model("bert", max_position_embeddings=512)) == 512
    assert encoder_max_length(AutoConfig.for_model("modernbert", max_position_embeddings=8192)) == 8192
    model = lame(checkpoints["roberta"], max_document_length=200)
    assert model.config.max_position_embeddings == 66 - 1  # pad id 0: positions start at 1


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_warm_start_from_an_encoder_checkpoint_has_no_model_type_warning_but_a_wrong_load_does(checkpoints, tmp_path):
    """transformers' "model of type X to instantiate a model of type Y" is expected on a warm start from
    an encoder checkpoint (its config becomes the sub-config), so it is not shown there; loading another
    labelwise model's folder as LAME still shows it."""
    from labelwise.modeling import LameConfig

    handler = _Records()
    source = logging.getLogger("transformers.configuration_utils")
    source.addHandler(handler)
    try:
        for family in ("bert", "roberta"):
            lame(checkpoints[family])
            layerwise(checkpoints[family])
        assert not [m for m in handler.messages if "to instantiate a model of type" in m], handler.messages
        layerwise(checkpoints["bert"]).save_pretrained(str(tmp_path))
        LameConfig.from_pretrained(str(tmp_path), label_attention_heads=2)
        assert [m for m in handler.messages if "`labelwise_layerwise` to instantiate a model of type `lame`" in m]
    finally:
        source.removeHandler(handler)


def lame_by_hand(model: LameForSequenceClassification, folder: str, texts: list[str]) -> torch.Tensor:
    """LAME's logits computed from its formulas, with the family's own encoder class loaded from the
    checkpoint (not the model's) and the head's weights read from the model's state dict:
    labels = each description's first-token state; per block, multi-head attention of the labels over
    the document's tokens (padding masked), residual + LayerNorm, feed-forward + LayerNorm; then
    `tanh(dense(s)) . w_l + b_l`."""
    encoder = AutoModel.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    takes_types = "token_type_ids" in encoder.forward.__code__.co_varnames

    def states(batch) -> torch.Tensor:
        inputs = {key: value for key, value in batch.items() if key != "token_type_ids" or takes_types}
        return encoder(**inputs).last_hidden_state

    descriptions = tokenizer(list(DESCRIPTIONS.values()), padding=True, return_tensors="pt")
    documents = tokenizer(texts, padding=True, return_tensors="pt")
    weights = model.state_dict()
    hidden, heads = model.config.hidden_size, model.config.label_attention_heads
    eps = model.config.layer_norm_eps
    with torch.no_grad():
        tokens = states(documents)
        labels = states(descriptions)[:, 0].expand(len(texts), -1, -1)  # (batch, labels, hidden)
        keep = documents["attention_mask"].bool()[:, None, None, :]

        def linear(x, name):
            return F.linear(x, weights[f"{name}.weight"], weights[f"{name}.bias"])

        def split(x):  # (batch, length, hidden) -> (batch, heads, length, hidden / heads)
            return x.view(*x.shape[:2], heads, hidden // heads).transpose(1, 2)

        for block in range(model.config.num_label_attention_blocks):
            name = f"label_blocks.{block}"
            q, k, v = split(linear(labels, f"{name}.query")), split(linear(tokens, f"{name}.key")), split(linear(tokens, f"{name}.value"))
            scores = (q @ k.transpose(-1, -2) / (hidden // heads) ** 0.5).masked_fill(~keep, float("-inf"))
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(labels.shape)
            norm = (hidden,)
            labels = F.layer_norm(labels + linear(context, f"{name}.output"), norm,
                                  weights[f"{name}.attention_norm.weight"], weights[f"{name}.attention_norm.bias"], eps)
            step = linear(F.gelu(linear(labels, f"{name}.feed_forward.0")), f"{name}.feed_forward.2")
            labels = F.layer_norm(labels + step, norm,
                                  weights[f"{name}.feed_forward_norm.weight"], weights[f"{name}.feed_forward_norm.bias"], eps)
        features = torch.tanh(linear(labels, "classifier.dense"))
        return (features * weights["classifier.weight"]).sum(-1) + weights["classifier.bias"]


@pytest.mark.parametrize("family", list(FAMILIES))
def test_lame_on_each_encoder_equals_lame_built_by_hand_on_it(checkpoints, family):
    """Stands in for a second pretrained encoder (none is available offline): on each family, LAME's
    logits are the paper's computation on that family's own encoder. Two blocks, so the second reads
    per-document label states."""
    folder = checkpoints[family]
    model = lame(folder, num_label_attention_blocks=2).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    # The descriptions were tokenized with the checkpoint's own tokenizer.
    assert model.config.label_description_token_ids == tokenizer(list(DESCRIPTIONS.values()))["input_ids"]
    with torch.no_grad():
        got = model(**encoder_inputs(folder)).logits
    want = lame_by_hand(model, folder, TEXTS)
    assert got.shape == (len(TEXTS), len(DESCRIPTIONS))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_a_layerwise_folder_saved_before_the_encoder_seam_is_served_at_its_encoders_positions():
    """The layer-wise predictor cuts texts at the encoder's own maximum positions (here BERT's 64, a
    top-level field of a folder saved by the earlier release), not at its tokenizer's limit (none)."""
    from pathlib import Path

    from labelwise.analysis.predictors import load_predictor

    folder = str(Path(__file__).parent / "fixtures" / "saved_models" / "layerwise")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    text = " ".join(["the patient had a severe rash after the drug dose"] * 10)
    assert tokenizer.model_max_length > 10**9 and len(tokenizer(text)["input_ids"]) > 64
    _, predict = load_predictor(folder, threshold=0.0)
    got = {item["label"]: item["score"] for level in predict(text)["levels"].values() for item in level}
    model = LayerwiseBertForHierarchicalClassification.from_pretrained(folder).eval()
    assert model.config.max_position_embeddings == 64
    with torch.no_grad():
        logits = model(**tokenizer(text, truncation=True, max_length=64, return_tensors="pt")).logits
    want = {name: float(score) for level in model.logits_to_levels(logits) for name, score in zip(level.labels, level.probabilities[0])}
    assert got.keys() == want.keys() and all(abs(got[name] - want[name]) <= 1e-6 for name in want)
