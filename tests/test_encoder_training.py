"""`train.py --model lame` and `--model layerwise` on each encoder family: train, save, serve, export.

Each family gets a tiny random masked-LM checkpoint saved with a tokenizer of its own kind
(WordPiece for BERT and ELECTRA, byte-level BPE for RoBERTa and ModernBERT, Unigram for XLM-R and
DeBERTa-v2), built here from the test words: nothing is downloaded. `train.py`'s entry point runs
one optimiser step on a tiny CSV, then the saved folder's card names its encoder, it serves through
the predictor the demo uses and the PyTorch pipelines, and it exports to ONNX and serves through
ONNX Runtime with the same outputs. This is the one place the six families are exported: an export is the slowest step.
"""

from __future__ import annotations

import json
import string
import warnings

import numpy as np
import pytest
import torch
from test_encoders import COMMON, FAMILIES, TEXTS
from test_user_data import DESCRIPTIONS, HIERARCHY, ROWS, quick, write_csv, write_descriptions_csv, write_hierarchy_csv
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    AutoConfig, AutoModelForMaskedLM, BertTokenizer, DebertaV2Tokenizer, ElectraTokenizer, PreTrainedTokenizerFast,
    RobertaTokenizer, XLMRobertaTokenizer, pipeline,
)

from helpers import SPECIAL_TOKENS, WORDS
from labelwise.publishing.model_card import TESTED_ENCODER_FAMILIES
from labelwise.training.cli import run

LETTERS = list(string.ascii_lowercase)
WHOLE_WORDS = [word for word in WORDS if word.isalpha()]


def _byte_level_vocab(specials: list[str]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Letters and space-prefixed letters (`Ġx`), merged once: the training texts are lower-case words."""
    tokens = specials + LETTERS + ["Ġ"] + ["Ġ" + letter for letter in LETTERS]
    return {token: index for index, token in enumerate(tokens)}, [("Ġ", letter) for letter in LETTERS]


def _modernbert_tokenizer() -> PreTrainedTokenizerFast:
    """ModernBERT's kind: a plain fast tokenizer, byte-level BPE, `[CLS] text [SEP]`."""
    vocab, merges = _byte_level_vocab(SPECIAL_TOKENS)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]",
        mask_token="[MASK]",
    )


def _unigram(tokenizer_class, specials: list[str]):
    pieces = [(token, 0.0) for token in specials] + [("▁" + word, -1.0) for word in WHOLE_WORDS]
    return tokenizer_class(vocab=pieces + [(letter, -5.0) for letter in LETTERS] + [("▁", -3.0)])


def family_tokenizer(family: str):
    """A tiny tokenizer of the kind the family's Hub checkpoints ship."""
    wordpiece = {token: index for index, token in enumerate(SPECIAL_TOKENS + WORDS)}
    roberta_specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    if family == "bert":
        return BertTokenizer(vocab=wordpiece, do_lower_case=True)
    if family == "electra":
        return ElectraTokenizer(vocab=wordpiece, do_lower_case=True)
    if family == "roberta":
        vocab, merges = _byte_level_vocab(roberta_specials)
        return RobertaTokenizer(vocab=vocab, merges=merges)
    if family == "xlm-roberta":
        return _unigram(XLMRobertaTokenizer, roberta_specials)
    if family == "deberta-v2":
        return _unigram(DebertaV2Tokenizer, SPECIAL_TOKENS)
    if family == "modernbert":
        return _modernbert_tokenizer()
    raise KeyError(family)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """{family: folder of a tiny masked-LM checkpoint with its own kind of tokenizer}."""
    root = tmp_path_factory.mktemp("family_checkpoints")
    folders = {}
    for family, fields in FAMILIES.items():
        tokenizer = family_tokenizer(family)
        ids = {key: getattr(tokenizer, f"{name}_token_id") for key, name in
               (("pad_token_id", "pad"), ("bos_token_id", "cls"), ("eos_token_id", "sep"),
                ("cls_token_id", "cls"), ("sep_token_id", "sep"))}
        fields = {**fields, **{key: value for key, value in ids.items() if key in fields or key == "pad_token_id"}}
        torch.manual_seed(0)
        config = AutoConfig.for_model(family, **{**COMMON, "vocab_size": len(tokenizer), **fields})
        folder = root / family
        AutoModelForMaskedLM.from_config(config).save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
        folders[family] = str(folder)
    return folders


def test_the_model_card_names_exactly_the_families_tested_here():
    assert set(TESTED_ENCODER_FAMILIES) == set(FAMILIES)


LONG_TEXT = " ".join(["the patient had a severe rash after the drug dose"] * 40)
"""Longer than every family's encoder window here: serving must cut it at the encoder's own positions."""


def _scores(levels: dict) -> dict[str, float]:
    return {item["label"]: item["score"] for level in levels.values() for item in level}


@pytest.mark.parametrize("kind", ["lame", "layerwise"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_train_py_trains_saves_serves_and_exports_on_each_family(checkpoints, family, kind, tmp_path):
    """Done-when of issue 35, per family and model: train.py trains and saves; the folder serves
    (the demo's predictor; LAME's evidence words point into the text), reads a long text up to the
    encoder's own maximum positions, exports to ONNX in eval mode, and the ONNX serving path gives
    the PyTorch folder's outputs."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    import labelwise.modeling  # noqa: F401  (registers the labelwise classes and pipelines)
    from labelwise.analysis.predictors import load_predictor
    from labelwise.export import OnnxModel, export_model, onnx_pipeline
    from labelwise.modeling.encoders import encoder_max_length

    data = ["--train_file", write_csv(tmp_path / "notes.csv", ROWS), "--label_delimiter", "|"]
    if kind == "layerwise":
        data += ["--model", "layerwise", "--guidance", "flat",
                 "--label_hierarchy", write_hierarchy_csv(tmp_path / "hierarchy.csv", HIERARCHY)]
    else:
        data += ["--label_descriptions", write_descriptions_csv(tmp_path / "descriptions.csv", DESCRIPTIONS)]
    out = tmp_path / "out"
    run(quick(checkpoints[family], out, *data))
    folder = str(out / "model")
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["encoder"]["model_type"] == family
    card = (out / "model" / "README.md").read_text()
    assert f"- **Encoder:** {TESTED_ENCODER_FAMILIES[family]} (`model_type` `{family}`)." in card

    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    limit = encoder_max_length(model.config.encoder)
    assert len(tokenizer(LONG_TEXT)["input_ids"]) > limit

    # Served with PyTorch (the demo's predictor), on a text longer than the encoder's window.
    served_kind, predict = load_predictor(folder, threshold=0.0)
    assert served_kind == kind
    served = predict(LONG_TEXT)
    if kind == "lame":
        assert served["truncated"] and {item["label"] for item in served["labels"]} == set(DESCRIPTIONS)
        evidence = [word for item in served["labels"] for word in item["evidence"]]
        assert evidence and all(LONG_TEXT[word["start"] : word["end"]] == word["word"] for word in evidence)
    else:
        # The layer-wise predictor reads exactly the encoder's positions (RoBERTa's and XLM-R's
        # exclude those up to the padding id), like the LAME pipeline.
        truncated = tokenizer(LONG_TEXT, truncation=True, max_length=limit, return_tensors="pt")
        with torch.no_grad():
            logits = model(**truncated).logits
        want = {item.labels[i]: float(item.probabilities[0, i]) for item in model.logits_to_levels(logits)
                for i in range(len(item.labels))}
        got = _scores(served["levels"])
        assert got.keys() == want.keys() == set(HIERARCHY)
        assert all(abs(got[name] - want[name]) <= 1e-6 for name in want)

    # Exported in eval mode (no "training mode" warning), with the exporter's own parity check.
    onnx_folder = str(tmp_path / "onnx")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manifest = export_model(folder, onnx_folder)
    assert not [w for w in caught if "training mode" in str(w.message)]
    assert manifest["kind"] == kind and max(manifest["max_abs_diff_vs_pytorch"]["fp32"].values()) <= 1e-4

    # ONNX Runtime on a padded batch gives the folder's PyTorch logits.
    batch = dict(tokenizer(TEXTS, padding=True, return_tensors="pt"))
    with torch.no_grad():
        want_logits = model(**batch).logits.numpy()
    got_logits = OnnxModel(onnx_folder).run(**batch)["logits"]
    assert float(np.abs(got_logits - want_logits).max()) <= 1e-4

    # The ONNX serving pipeline answers as the PyTorch pipeline does, on the long text too.
    if kind == "lame":
        on_torch = pipeline("label-attention-classification", model=model, tokenizer=tokenizer)(LONG_TEXT, threshold=0.0)
        on_onnx = onnx_pipeline(onnx_folder)(LONG_TEXT, threshold=0.0)
        assert on_onnx["words"] == on_torch["words"] and on_onnx["truncated"]
        for mine, theirs in zip(on_onnx["labels"], on_torch["labels"]):
            assert mine["label"] == theirs["label"] and abs(mine["score"] - theirs["score"]) <= 1e-5
            assert all(LONG_TEXT[word["start"] : word["end"]] == word["word"] for word in mine["evidence"])
        for name, weights in on_torch["word_weights"].items():
            assert np.allclose(on_onnx["word_weights"][name], weights, atol=1e-5)
    else:
        on_torch = pipeline("hierarchical-classification", model=model, tokenizer=tokenizer)(LONG_TEXT, threshold=0.0)
        on_onnx = onnx_pipeline(onnx_folder)(LONG_TEXT, threshold=0.0)
        assert [level["level"] for level in on_onnx] == [level["level"] for level in on_torch]
        got = {item["label"]: item["score"] for level in on_onnx for item in level["labels"]}
        want = {item["label"]: item["score"] for level in on_torch for item in level["labels"]}
        assert got.keys() == want.keys() == set(HIERARCHY)
        assert all(abs(got[name] - want[name]) <= 1e-5 for name in want)
