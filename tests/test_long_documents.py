"""Documents longer than the encoder's window (issue 12, part 4): `max_document_length`, `segment_stride`,
the layer-wise `segment_pooling`, on tiny BERTs whose window is 16 or 32 pieces."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import WORDS, run_python_without_labelwise, tiny_bert_checkpoint
from transformers import AutoTokenizer

from labelwise.modeling import (
    LameClassificationPipeline,
    LameForSequenceClassification,
    LayerwiseBertForHierarchicalClassification,
)
from labelwise.modeling.segments import DocumentSegments, segment_windows

WINDOW = 16  # the tiny encoder's max_position_embeddings: 14 document pieces per segment
TERMS = [w for w in WORDS if w.isalpha()]
DESCRIPTIONS = {f"L{i}": " ".join(TERMS[(3 * i + j) % len(TERMS)] for j in range(2 + i % 3)) for i in range(6)}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("bert16"), max_position_embeddings=WINDOW)


def lame(checkpoint, **kwargs) -> LameForSequenceClassification:
    kwargs.setdefault("label_descriptions", DESCRIPTIONS)
    kwargs.setdefault("label_attention_heads", 4)
    kwargs.setdefault("problem_type", "multi_label_classification")
    torch.manual_seed(0)
    return LameForSequenceClassification.from_pretrained(checkpoint, **kwargs).eval()


def layerwise(checkpoint, **kwargs) -> LayerwiseBertForHierarchicalClassification:
    torch.manual_seed(0)
    return LayerwiseBertForHierarchicalClassification.from_pretrained(
        checkpoint, label_levels=[1, 2, 2], label_parents=[[], [0], [0]], guidance="flat", **kwargs
    ).eval()


def document(length: int, seed: int) -> torch.Tensor:
    """`(length,)` ids: [CLS], random vocabulary pieces, [SEP]."""
    ids = torch.randint(5, 90, (length,), generator=torch.Generator().manual_seed(seed))
    ids[0], ids[-1] = 2, 3
    return ids


def pad(documents: list[torch.Tensor]) -> dict:
    """Right-padded `(batch, longest)` input_ids and attention_mask."""
    width = max(len(d) for d in documents)
    input_ids = torch.zeros(len(documents), width, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    for row, ids in enumerate(documents):
        input_ids[row, : len(ids)] = ids
        attention_mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


# ------------------------------------------------------------------------------ the segment plan
def test_segment_windows_by_hand():
    # 10 pieces: [CLS] at 0, content 1..8, [SEP] at 9; segments of 6 = [CLS] + 4 pieces + [SEP], overlap 1.
    assert segment_windows(10, 6, 1) == [[0, 1, 2, 3, 4, 9], [0, 4, 5, 6, 7, 9], [0, 7, 8, 9]]
    assert segment_windows(10, 6, 0) == [[0, 1, 2, 3, 4, 9], [0, 5, 6, 7, 8, 9]]
    # 9 content pieces need 3 windows of at most 4: spread evenly as 3 + 3 + 3, not 4 + 4 + 1.
    assert segment_windows(11, 6, 0) == [[0, 1, 2, 3, 10], [0, 4, 5, 6, 10], [0, 7, 8, 9, 10]]
    assert segment_windows(11, 6, 2) == [[0, 1, 2, 3, 4, 10], [0, 3, 4, 5, 6, 10], [0, 5, 6, 7, 8, 10], [0, 7, 8, 9, 10]]
    assert segment_windows(6, 6, 0) == [list(range(6))]  # fits: the document itself
    assert segment_windows(2, 6, 0) == [[0, 1]]


def test_segments_fold_adds_the_slots_of_each_piece():
    mask = torch.tensor([[1] * 10, [1] * 4 + [0] * 6])
    segments = DocumentSegments.split(mask, 6, stride=1)
    assert segments.segment_mask.tolist() == [[True, True, True], [True, False, False]]
    weights = torch.arange(1.0, 1 + 2 * 3 * 6).view(2, 3 * 6)  # one value per slot
    folded = segments.fold(weights)
    # Document 0: slots 0..5 -> positions [0,1,2,3,4,9], 6..11 -> [0,4,5,6,7,9], 12..15 -> [0,7,8,9].
    expected = [1 + 7 + 13, 2, 3, 4, 5 + 8, 9, 10, 11 + 14, 15, 6 + 12 + 16]
    assert folded[0].tolist() == expected
    assert folded[1].tolist() == [19, 20, 21, 22, 0, 0, 0, 0, 0, 0]  # padding slots and segments add nothing


def test_segment_pooling_by_hand():
    segments = DocumentSegments.split(torch.tensor([[1] * 10, [1] * 3 + [0] * 7]), 6, stride=0)
    per_segment = torch.tensor([[1.0, -4.0], [3.0, 2.0], [-5.0, -6.0]])  # doc 0: two segments, doc 1: one
    assert segments.pool(per_segment, "mean").tolist() == [[2.0, -1.0], [-5.0, -6.0]]
    assert segments.pool(per_segment, "max").tolist() == [[3.0, 2.0], [-5.0, -6.0]]


def test_left_padding_is_refused(checkpoint):
    model = lame(checkpoint, max_document_length=64)
    with pytest.raises(ValueError, match="right-padded"):
        model(input_ids=torch.tensor([[0, 2, 7, 3]]), attention_mask=torch.tensor([[0, 1, 1, 1]]))
    with pytest.raises(ValueError, match="max_document_length=64.*inputs_embeds"):
        model(inputs_embeds=torch.zeros(1, 4, 32), attention_mask=torch.ones(1, 4))


@pytest.mark.parametrize(
    "owner, options, message",
    [
        ("lame", {"max_document_length": 64, "segment_stride": 14}, "LameConfig.segment_stride"),
        ("lame", {"max_document_length": 1}, "LameConfig.max_document_length"),
        ("layerwise", {"max_document_length": 64, "segment_pooling": "sum"}, "LayerwiseConfig.segment_pooling"),
        ("layerwise", {"segment_stride": -1}, "LayerwiseConfig.segment_stride"),
    ],
)
def test_bad_options_name_the_field(checkpoint, owner, options, message):
    with pytest.raises(ValueError, match=message):
        (lame if owner == "lame" else layerwise)(checkpoint, **options)


# ------------------------------------------------------------- one segment = the plain forward
HEAD_OPTIONS = {
    "default": {},
    "shortlist": {"first_stage": "bilinear", "shortlist_size": 3},
    "chunks_light": {"label_chunk_size": 2, "light_label_head": True},
    "frozen_cnn": {"freeze_encoder": True, "feature_head": "cnn", "label_embedding_mode": "static"},
}


@pytest.mark.parametrize("head", sorted(HEAD_OPTIONS))
def test_lame_document_that_fits_one_segment_equals_the_plain_forward(checkpoint, head):
    plain = lame(checkpoint, **HEAD_OPTIONS[head])
    segmented = lame(checkpoint, max_document_length=256, **HEAD_OPTIONS[head])
    inputs = pad([document(WINDOW, 1), document(9, 2)])
    with torch.no_grad():
        expected = plain(**inputs, output_cross_attentions=True)
        got = segmented(**inputs, output_cross_attentions=True)
    torch.testing.assert_close(got.logits, expected.logits)
    for got_block, expected_block in zip(got.cross_attentions, expected.cross_attentions):
        torch.testing.assert_close(got_block, expected_block)


def test_lame_sampled_training_step_on_one_segment_equals_the_plain_step(checkpoint):
    options = {"label_sampling": "sampled", "label_sample_negatives": 2, "first_stage": "bilinear"}
    inputs = pad([document(WINDOW, 1), document(9, 2)])
    labels = torch.zeros(2, len(DESCRIPTIONS))
    labels[0, 1] = labels[1, 4] = 1.0
    losses = []
    for extra in ({}, {"max_document_length": 256}):
        model = lame(checkpoint, **options, **extra).train()
        torch.manual_seed(5)  # the same negatives are drawn
        losses.append(model(**inputs, labels=labels).loss)
    torch.testing.assert_close(losses[1], losses[0])


def test_lame_sampled_training_on_multi_segment_documents_reaches_every_segment(checkpoint):
    model = lame(checkpoint, max_document_length=256, label_sampling="sampled", label_sample_negatives=2,
                 first_stage="bilinear", label_chunk_size=2).train()
    ids = document(45, 9)  # 4 segments
    inputs = pad([ids, document(12, 10)])
    labels = torch.zeros(2, len(DESCRIPTIONS))
    labels[0, 2] = 1.0
    model(**inputs, labels=labels).loss.backward()
    grad = model.backbone.embeddings.word_embeddings.weight.grad
    # Pieces that occur only in the last segment of the long document still get gradient.
    last_only = set(ids[-10:-1].tolist()) - set(ids[:-10].tolist()) - set(inputs["input_ids"][1].tolist())
    assert last_only and all(grad[piece].abs().sum() > 0 for piece in last_only)


@pytest.mark.parametrize("layer_pooling", ["cls", "mean"])
@pytest.mark.parametrize("segment_pooling", ["mean", "max"])
def test_layerwise_document_that_fits_one_segment_equals_the_plain_forward(checkpoint, layer_pooling, segment_pooling):
    plain = layerwise(checkpoint, layer_pooling=layer_pooling)
    segmented = layerwise(checkpoint, layer_pooling=layer_pooling, max_document_length=256, segment_pooling=segment_pooling)
    inputs = pad([document(WINDOW, 1), document(9, 2)])
    with torch.no_grad():
        torch.testing.assert_close(segmented(**inputs).logits, plain(**inputs).logits)


# ----------------------------------------------------------------- several segments per document
def _hand_segments(ids: torch.Tensor, stride: int) -> list[list[int]]:
    """The flat positions of each segment, written out independently of `segment_windows`: the fewest
    windows of at most WINDOW - 2 pieces, found by trying counts, each `step + stride` wide."""
    content = list(range(1, len(ids) - 1))
    for count in range(1, len(content) + 1):
        step = -(-(len(content) - stride) // count)
        if step + stride <= WINDOW - 2:
            break
    return [[0] + content[i * step : i * step + step + stride] + [len(ids) - 1] for i in range(count)]


@pytest.mark.parametrize("stride", [0, 3])
def test_lame_attends_over_all_segments_of_a_document(checkpoint, stride):
    """Reference: each segment encoded on its own by the plain encoder, the label block over their
    concatenation, the weights of every slot added onto its piece."""
    model = lame(checkpoint, max_document_length=256, segment_stride=stride)
    ids = document(45, 3)
    with torch.no_grad():
        got = model(**pad([ids]), output_cross_attentions=True)
        segments = _hand_segments(ids, stride)
        states = torch.cat([model.backbone(input_ids=ids[s][None]).last_hidden_state[0] for s in segments])
        block_states, weights = model.label_blocks[0](model.encode_label_descriptions(), states[None], torch.ones(1, len(states)))
        expected_logits = model.classifier(block_states)
        folded = torch.zeros(*weights.shape[:-1], len(ids))
        slot = 0
        for segment in segments:
            for position in segment:
                folded[..., position] += weights[..., slot]
                slot += 1
    assert len(segments) >= 3
    torch.testing.assert_close(got.logits, expected_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got.cross_attentions[0], folded, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got.cross_attentions[0].sum(-1), torch.ones(folded.shape[:-1]))


@pytest.mark.parametrize("segment_pooling", ["mean", "max"])
@pytest.mark.parametrize("layer_pooling", ["cls", "mean"])
def test_layerwise_pools_each_layer_over_the_segments(checkpoint, segment_pooling, layer_pooling):
    model = layerwise(checkpoint, max_document_length=256, segment_pooling=segment_pooling, layer_pooling=layer_pooling)
    ids = document(40, 4)
    with torch.no_grad():
        logits = model(**pad([ids]), hierarchical_consistency=False).logits
        vectors = []
        for segment in _hand_segments(ids, 0):
            top = model.backbone(input_ids=ids[segment][None]).last_hidden_state[0]  # flat: every level reads the top layer
            vectors.append(top[0] if layer_pooling == "cls" else top.mean(0))
        stacked = torch.stack(vectors)
        document_vector = stacked.mean(0) if segment_pooling == "mean" else stacked.amax(0)
        expected = torch.cat([head(document_vector) for head in model.classifiers])
    position, _ = model._indices(logits.device)
    torch.testing.assert_close(logits[0], expected.index_select(0, position), atol=1e-5, rtol=1e-5)


def test_padding_segments_do_not_change_results(checkpoint):
    short, long = document(10, 5), document(50, 6)  # 1 and 4 segments
    models = [
        lame(checkpoint, max_document_length=256),
        lame(checkpoint, max_document_length=256, first_stage="bilinear", shortlist_size=2, label_chunk_size=4),
        layerwise(checkpoint, max_document_length=256, segment_pooling="max"),
        layerwise(checkpoint, max_document_length=256, segment_pooling="mean", layer_pooling="mean"),
    ]
    for model in models:
        with torch.no_grad():
            alone = model(**pad([short])).logits
            batched = model(**pad([short, long])).logits
            long_alone = model(**pad([long])).logits
        torch.testing.assert_close(batched[:1], alone, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(batched[1:], long_alone, atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        weights = models[0](**pad([short, long]), output_cross_attentions=True).cross_attentions[-1]
        alone = models[0](**pad([short]), output_cross_attentions=True).cross_attentions[-1]
    torch.testing.assert_close(weights[:1, ..., : len(short)], alone, atol=1e-6, rtol=1e-5)
    assert torch.count_nonzero(weights[0, ..., len(short) :]) == 0


# ---------------------------------------------------------------------- pipeline and evidence
LONG_TEXT = (
    "the patients were treated with the drug . severe rash and fever were seen after the dose . "
    "liver disease was a chronic case in the study group . the results showed acute pain in "
    "patients with heart disease . immune cells and blood vessel growth were reported . "
    "nausea , fever and rash after treatment ; the trade council directive on fish import ."
)


def test_pipeline_evidence_of_a_multi_segment_document_points_at_the_right_characters(checkpoint, tmp_path):
    model = lame(checkpoint, max_document_length=128, segment_stride=2, decision_threshold=0.0)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    pieces = len(tokenizer(LONG_TEXT)["input_ids"])
    assert WINDOW * 3 < pieces <= 128  # several segments, not truncated
    classify = LameClassificationPipeline(model=model, tokenizer=tokenizer)
    result = classify(LONG_TEXT, top_k_evidence=len(LONG_TEXT))
    assert not result["truncated"]
    assert [w["word"] for w in result["words"]] == LONG_TEXT.split()  # every word, to the end of the text
    for word in result["words"]:
        assert LONG_TEXT[word["start"] : word["end"]] == word["word"]
    encoded = tokenizer(LONG_TEXT, return_offsets_mapping=True, return_tensors="pt")
    with torch.no_grad():
        attention = model(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"],
                          output_cross_attentions=True).cross_attentions[-1].mean(1)[0]  # (labels, pieces)
    for label in result["labels"]:
        # Words hold all the attention but that of [CLS] and [SEP] (every segment's copies, folded on them).
        label_id = model.config.label2id[label["label"]]
        words_total = sum(result["word_weights"][label["label"]])
        assert words_total == pytest.approx(float(attention[label_id, 1:-1].sum()), abs=1e-5)
        assert words_total + float(attention[label_id, [0, -1]].sum()) == pytest.approx(1.0, abs=1e-5)
        assert len(label["evidence"]) == len(result["words"])  # threshold 0: every label predicted
        for item in label["evidence"]:
            assert LONG_TEXT[item["start"] : item["end"]] == item["word"]
    # The evidence weight of a word equals the folded attention of its pieces at those offsets.
    last = result["words"][-1]
    columns = [i for i, (s, e) in enumerate(encoded["offset_mapping"][0].tolist()) if s >= last["start"] and e <= last["end"] and e > s]
    name = result["labels"][0]["label"]
    label_id = model.config.label2id[name]
    assert result["word_weights"][name][-1] == pytest.approx(float(attention[label_id, columns].sum()), abs=1e-6)

    # Truncation is reported against max_document_length, not the encoder's window.
    short_model = lame(checkpoint, max_document_length=40)
    assert LameClassificationPipeline(model=short_model, tokenizer=tokenizer)(LONG_TEXT)["truncated"]


def test_layerwise_pipeline_reads_max_document_length(checkpoint):
    from labelwise.modeling import HierarchicalClassificationPipeline

    model = layerwise(checkpoint, max_document_length=128)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    pipe = HierarchicalClassificationPipeline(model=model, tokenizer=tokenizer)
    assert pipe.preprocess(LONG_TEXT)["input_ids"].shape[1] == len(tokenizer(LONG_TEXT)["input_ids"]) > WINDOW
    levels = pipe(LONG_TEXT, threshold=0.0)
    encoded = tokenizer(LONG_TEXT, return_tensors="pt")
    with torch.no_grad():
        probabilities = torch.sigmoid(model(**encoded).logits[0])
    assert levels[0]["labels"][0]["score"] == pytest.approx(float(probabilities[0]), abs=1e-6)


def test_viewer_and_demo_predictor_show_a_long_document(checkpoint, tmp_path):
    from labelwise.analysis.predictors import load_predictor
    from labelwise.analysis.viewer import render_fragment

    model = lame(checkpoint, max_document_length=128, decision_threshold=0.0)
    model.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(checkpoint).save_pretrained(tmp_path)
    kind, predict = load_predictor(str(tmp_path))
    prediction = predict(LONG_TEXT)
    assert kind == "lame" and not prediction["truncated"]
    assert prediction["words"][-1]["word"] == LONG_TEXT.split()[-1]
    html = render_fragment(prediction)
    assert "only its start was read" not in html
    assert "import" in html and "lw-doc" in html  # the last word is rendered with the document

    tree = layerwise(checkpoint, max_document_length=128)
    tree.save_pretrained(tmp_path / "layerwise")
    AutoTokenizer.from_pretrained(checkpoint).save_pretrained(tmp_path / "layerwise")
    kind, predict = load_predictor(str(tmp_path / "layerwise"))
    shown = {row["label"]: row["score"] for rows in predict(LONG_TEXT)["levels"].values() for row in rows}
    encoded = AutoTokenizer.from_pretrained(checkpoint)(LONG_TEXT, return_tensors="pt")
    with torch.no_grad():
        probabilities = torch.sigmoid(tree(**encoded).logits[0])  # the whole text, in segments
    assert kind == "layerwise"
    assert [shown[name] for name in tree.config.labels] == pytest.approx(probabilities.tolist(), abs=1e-6)


# ------------------------------------------------------------------------------ train.py
@pytest.mark.parametrize("kind", ["lame", "layerwise"])
def test_train_py_one_step_with_max_document_length(tmp_path, kind):
    from labelwise.training.cli import run

    checkpoint = tiny_bert_checkpoint(tmp_path / "bert", max_position_embeddings=32)
    extra = ["--segment_pooling", "max", "--guidance", "flat"] if kind == "layerwise" else []
    corpus = "demo" if kind == "lame" else "demo_hierarchical"
    summary = run([
        "--model", kind, "--corpus", corpus, "--model_name_or_path", checkpoint, "--output_dir", str(tmp_path / "out"),
        "--max_train_samples", "8", "--max_eval_samples", "4", "--max_steps", "1", "--per_device_train_batch_size", "8",
        "--label_attention_heads", "4", "--max_length", "32", "--max_document_length", "160", "--segment_stride", "4",
        "--eval_strategy", "no", "--save_strategy", "no", "--load_best_model_at_end", "false",
        "--disable_tqdm", "true", *extra,
    ])
    config = json.loads((tmp_path / "out" / "model" / "config.json").read_text())
    assert config["max_document_length"] == 160 and config["segment_stride"] == 4
    assert summary["hyperparameters"]["max_document_length"] == 160
    if kind == "layerwise":
        assert config["segment_pooling"] == "max" == summary["hyperparameters"]["segment_pooling"]
    card = (tmp_path / "out" / "model" / "README.md").read_text()
    assert "truncation=True, max_length=160)" in card and "Documents are read up to 160 pieces" in card
    # The step read documents of several segments: the demo notes are 34-90 pieces with this vocabulary,
    # and the data preparation tokenizes them to --max_document_length, not --max_length.
    from labelwise.data_scripts import load_corpus
    from labelwise.kinds.base import text_encoder

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    args = type("Args", (), {"max_length": 32, "preprocess_documents": False, "max_document_length": 160})()
    texts = load_corpus(corpus)["train"]["text"][:8]
    assert max(len(ids) for ids in text_encoder(args, tokenizer, 160)(texts)["input_ids"]) > 32


# ------------------------------------------------------------------------ clean-process reload
def test_options_survive_save_and_clean_process_load(checkpoint, tmp_path):
    lame_options = {"max_document_length": 96, "segment_stride": 2}
    layer_options = {"max_document_length": 80, "segment_stride": 1, "segment_pooling": "max"}
    inputs = pad([document(50, 7), document(12, 8)])
    expected = {}
    from labelwise.kinds import KINDS
    from labelwise.kinds.saving import save_model_folder

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    for name, model in (("lame", lame(checkpoint, **lame_options)), ("layerwise", layerwise(checkpoint, **layer_options))):
        save_model_folder(tmp_path / name, model, tokenizer, KINDS[name].saved.pipeline_task)  # as train.py saves
        with torch.no_grad():
            expected[name] = model(**inputs).logits.tolist()
    code = f"""
import json, torch
from transformers import AutoModelForSequenceClassification, pipeline
inputs = {{k: torch.tensor(v) for k, v in {json.dumps({k: v.tolist() for k, v in inputs.items()})}.items()}}
out = {{}}
for name, fields in (("lame", {sorted(lame_options)!r}), ("layerwise", {sorted(layer_options)!r})):
    folder = {str(tmp_path)!r} + "/" + name
    model = AutoModelForSequenceClassification.from_pretrained(folder, trust_remote_code=True).eval()
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    with torch.no_grad():
        out[name] = {{"logits": model(**inputs).logits.tolist(), "fields": {{k: getattr(model.config, k) for k in fields}}}}
    out[name]["pipeline"] = pipeline(model=folder, trust_remote_code=True)({LONG_TEXT!r}, threshold=0.0)
print(json.dumps(out))
"""
    result = run_python_without_labelwise(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["lame"]["fields"] == lame_options and payload["layerwise"]["fields"] == layer_options
    for name in ("lame", "layerwise"):
        for row, reference in zip(payload[name]["logits"], expected[name]):
            assert row == pytest.approx(reference, abs=1e-5)
    assert (tmp_path / "lame" / "segments.py").is_file() and (tmp_path / "layerwise" / "segments.py").is_file()
    # The pipelines shipped as remote code read the whole text (96 pieces > the 16-piece window).
    read = payload["lame"]["pipeline"]
    assert [w["word"] for w in read["words"]] == LONG_TEXT.split() and not read["truncated"]
    assert [level["level"] for level in payload["layerwise"]["pipeline"]] == [1, 2]


def test_onnx_export_refuses_max_document_length(checkpoint, tmp_path):
    from labelwise.export.exporter import export_model

    lame(checkpoint, max_document_length=64).save_pretrained(tmp_path / "model")
    AutoTokenizer.from_pretrained(checkpoint).save_pretrained(tmp_path / "model")
    with pytest.raises(ValueError, match="max_document_length=64"):
        export_model(str(tmp_path / "model"), str(tmp_path / "onnx"))
