"""`train.py --model lame` and `--model layerwise` on each encoder family: train, save, serve, export.

Each family gets a tiny random masked-LM checkpoint saved with a tokenizer of its own kind
(WordPiece for BERT and ELECTRA, byte-level BPE for RoBERTa and ModernBERT, Unigram for XLM-R and
DeBERTa-v2), built here from the test words: nothing is downloaded. `train.py`'s entry point runs
one optimiser step on a tiny CSV, then the saved folder's card names its encoder, it serves through
the predictor the demo uses, and (for three families, to keep the suite short) it exports to ONNX
(the exporter checks ONNX Runtime against PyTorch itself).
"""

from __future__ import annotations

import json
import string

import pytest
import torch
from test_encoders import COMMON, FAMILIES
from test_user_data import DESCRIPTIONS, HIERARCHY, ROWS, quick, write_csv, write_descriptions_csv, write_hierarchy_csv
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import (
    AutoConfig, AutoModelForMaskedLM, BertTokenizer, DebertaV2Tokenizer, ElectraTokenizer, PreTrainedTokenizerFast,
    RobertaTokenizer, XLMRobertaTokenizer,
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


# The export is the slowest step: it runs here on one WordPiece, one Unigram and the ModernBERT family (its
# known failure); test_encoders.py exports a saved folder of every family and checks ONNX Runtime against PyTorch.
EXPORTED_HERE = ("bert", "xlm-roberta", "modernbert")
ONNX_XFAIL = "ONNX Runtime's RotaryEmbedding node rejects the exported cos/sin caches: ModernBERT does not export yet"


@pytest.mark.parametrize("kind", ["lame", "layerwise"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_train_py_trains_saves_serves_and_exports_on_each_family(checkpoints, family, kind, tmp_path):
    from labelwise.analysis.predictors import load_predictor
    from labelwise.export.exporter import ExportOptions, export_model

    data = ["--train_file", write_csv(tmp_path / "notes.csv", ROWS), "--label_delimiter", "|"]
    if kind == "layerwise":
        data += ["--model", "layerwise", "--guidance", "flat",
                 "--label_hierarchy", write_hierarchy_csv(tmp_path / "hierarchy.csv", HIERARCHY)]
    else:
        data += ["--label_descriptions", write_descriptions_csv(tmp_path / "descriptions.csv", DESCRIPTIONS)]
    out = tmp_path / "out"
    run(quick(checkpoints[family], out, *data))
    folder = out / "model"
    config = json.loads((folder / "config.json").read_text())
    assert config["encoder"]["model_type"] == family
    card = (folder / "README.md").read_text()
    assert f"- **Encoder:** {TESTED_ENCODER_FAMILIES[family]} (`model_type` `{family}`)." in card

    served_kind, predict = load_predictor(str(folder))
    assert served_kind == kind
    text = "the patient had a severe rash after the drug"
    result = predict(text)
    if kind == "lame":
        scored, known = result["labels"], set(DESCRIPTIONS)
    else:
        scored, known = [item for level in result["levels"].values() for item in level], set(HIERARCHY)
    assert scored and {item["label"] for item in scored} <= known

    if family not in EXPORTED_HERE:
        return
    if family == "modernbert":
        with pytest.raises(Exception):
            export_model(str(folder), str(tmp_path / "onnx"), ExportOptions())
        pytest.xfail(ONNX_XFAIL)
    manifest = export_model(str(folder), str(tmp_path / "onnx"), ExportOptions())
    assert manifest["kind"] == kind and (tmp_path / "onnx" / "model.onnx").is_file()
