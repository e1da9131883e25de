"""Layer-utilisation analysis: hand-built cases for the measures, a tiny random BERT end to end."""

import json
import math

import numpy as np
import pytest
import torch
from helpers import tiny_bert_checkpoint
from transformers import AutoTokenizer, BertForSequenceClassification, BertModel

from labelwise.analysis.utilisation import (
    analyse_utilisation,
    angular_distances,
    attention_statistics,
    find_encoder,
    main,
)

TEXTS = [
    "the patients were treated with a drug",
    "cancer cell growth and invasion",
    "the council directive on fish products and the import and export trade of member states",
    "severe rash after the dose",
    "immune signal",
]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    # 3 layers so the layer matrices are not trivially 2 x 2; larger init so attention is not uniform.
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("tiny_bert"), num_hidden_layers=3, initializer_range=0.5)


# --------------------------------------------------------------------------------- hand-built cases


def test_angular_distances_hand_built():
    cls = torch.tensor([[[1.0, 0.0], [0.0, 3.0], [-2.0, 0.0], [5.0, 0.0]]])  # one document, 4 "layers"
    distances = angular_distances(cls)[0]
    expected = torch.tensor(
        [
            [0.0, 0.5, 1.0, 0.0],  # orthogonal -> 0.5 (90 degrees), opposite -> 1, same direction -> 0
            [0.5, 0.0, 0.5, 0.5],
            [1.0, 0.5, 0.0, 1.0],
            [0.0, 0.5, 1.0, 0.0],
        ],
        dtype=distances.dtype,
    )
    assert torch.allclose(distances, expected, atol=1e-7)


def _attention(rows: list[list[list[float]]]) -> torch.Tensor:
    """[heads, T, T] -> [1, heads, T, T]."""
    return torch.tensor(rows, dtype=torch.float32)[None]


def test_uniform_attention_has_entropy_log_n_and_padding_is_masked():
    # 5 positions, the last 2 are padding. Rows put weight on the padded keys too: the analysis
    # must drop it and renormalise over the 3 real keys, giving uniform 1/3 -> entropy log(3).
    row = [0.2, 0.2, 0.2, 0.3, 0.1]
    attention = _attention([[row] * 5, [row] * 5])  # 2 identical heads
    key_mask = torch.tensor([[1, 1, 1, 0, 0]])
    stats = attention_statistics([attention, attention], key_mask)
    assert stats["entropy"].shape == (1, 2)
    assert torch.allclose(stats["entropy"], torch.full((1, 2), math.log(3), dtype=torch.float64), atol=1e-6)
    # identical heads and identical layers: KL 0
    assert torch.allclose(stats["head_kl"], torch.zeros(1, 2, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(stats["layer_kl"], torch.zeros(1, 2, 2, dtype=torch.float64), atol=1e-6)


def test_head_and_layer_kl_hand_computed():
    p, q = [0.5, 0.5], [0.9, 0.1]
    kl = lambda a, b: sum(x * math.log(x / y) for x, y in zip(a, b))  # noqa: E731
    entropy = lambda a: -sum(x * math.log(x) for x in a)  # noqa: E731
    layer_a = _attention([[p, p], [q, q]])  # head 1 attends p, head 2 attends q, for both queries
    layer_b = _attention([[p, p], [p, p]])
    stats = attention_statistics([layer_a, layer_b], torch.tensor([[1, 1]]))
    # Head KL of layer a: mean over ordered pairs (1,2), (2,1).
    assert stats["head_kl"][0, 0].item() == pytest.approx((kl(p, q) + kl(q, p)) / 2, rel=1e-5)
    assert stats["head_kl"][0, 1].item() == pytest.approx(0.0, abs=1e-6)
    mean_a = [0.7, 0.3]  # head average of p and q
    assert stats["entropy"][0, 0].item() == pytest.approx(entropy(mean_a), rel=1e-5)
    assert stats["entropy"][0, 1].item() == pytest.approx(math.log(2), rel=1e-5)
    # Layer KL is not symmetric: [a, b] = KL(a || b).
    assert stats["layer_kl"][0, 0, 1].item() == pytest.approx(kl(mean_a, p), rel=1e-5)
    assert stats["layer_kl"][0, 1, 0].item() == pytest.approx(kl(p, mean_a), rel=1e-5)


def test_query_mask_selects_the_cls_row():
    uniform, peaked = [0.25] * 4, [0.97, 0.01, 0.01, 0.01]
    attention = _attention([[uniform, peaked, peaked, peaked]])  # one head; row 0 is [CLS]
    key_mask = torch.ones(1, 4, dtype=torch.long)
    cls_only = torch.tensor([[1, 0, 0, 0]])
    assert attention_statistics([attention], key_mask, cls_only)["entropy"][0, 0].item() == pytest.approx(
        math.log(4), rel=1e-6
    )
    all_rows = attention_statistics([attention], key_mask)["entropy"][0, 0].item()
    peaked_entropy = -sum(x * math.log(x) for x in peaked)
    assert all_rows == pytest.approx((math.log(4) + 3 * peaked_entropy) / 4, rel=1e-5)


# ------------------------------------------------------------------------------ tiny BERT end to end


def test_analysis_on_tiny_bert(checkpoint):
    model = BertModel.from_pretrained(checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    before = model.config._attn_implementation
    report = analyse_utilisation(model, tokenizer, TEXTS, batch_size=2, show_progress=False)
    assert model.config._attn_implementation == before  # eager only during the analysis
    assert report.layers == [1, 2, 3] and report.n_documents == len(TEXTS)
    assert report.angular_distance.shape == (3, 3) and report.layer_kl.shape == (3, 3)
    assert report.attention_entropy.shape == (3,) and report.head_kl.shape == (3,)
    assert np.allclose(report.angular_distance, report.angular_distance.T)
    assert np.all(np.diag(report.angular_distance) == 0) and np.all(np.diag(report.layer_kl) == 0)
    assert np.all((report.angular_distance >= 0) & (report.angular_distance <= 1))
    off_diagonal = ~np.eye(3, dtype=bool)
    assert np.all(report.angular_distance[off_diagonal] > 0) and np.all(report.layer_kl[off_diagonal] > 0)
    longest = max(len(tokenizer(text)["input_ids"]) for text in TEXTS)
    assert np.all(report.attention_entropy > 0) and np.all(report.attention_entropy <= math.log(longest))
    assert np.all(report.head_kl > 0)


def test_padding_does_not_change_a_documents_statistics(checkpoint):
    model = BertModel.from_pretrained(checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    short, long = TEXTS[4], TEXTS[2]
    alone = analyse_utilisation(model, tokenizer, [short], show_progress=False)
    both = analyse_utilisation(model, tokenizer, [short, long], batch_size=2, show_progress=False)
    long_alone = analyse_utilisation(model, tokenizer, [long], show_progress=False)
    # In the batch the short document is padded; its values must equal those computed alone.
    tokenizer.padding_side = "left"  # the analysis pads on the right anyway: [CLS] stays at position 0
    left = analyse_utilisation(model, tokenizer, [short, long], batch_size=2, show_progress=False)
    for name in ("angular_distance", "attention_entropy", "head_kl", "layer_kl"):
        combined = (getattr(alone, name) + getattr(long_alone, name)) / 2
        assert np.allclose(getattr(both, name), combined, atol=1e-4), name
        assert np.allclose(getattr(left, name), combined, atol=1e-4), name


def test_encoder_inside_a_task_model_and_cls_queries(checkpoint):
    model = BertForSequenceClassification.from_pretrained(checkpoint, num_labels=2)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    assert find_encoder(model) is model.bert
    report = analyse_utilisation(model, tokenizer, TEXTS[:3], query_tokens="cls", show_progress=False)
    full = analyse_utilisation(model, tokenizer, TEXTS[:3], show_progress=False)
    assert report.query_tokens == "cls"
    assert np.allclose(report.angular_distance, full.angular_distance)  # [CLS] vectors do not depend on it
    assert not np.allclose(report.attention_entropy, full.attention_entropy)


def test_encoders_without_an_encoder_attribute_and_inside_labelwise_models(checkpoint):
    """ModernBERT keeps its layers under `.layers` and takes no segment ids; LAME holds its encoder as `.backbone`."""
    from transformers import ModernBertConfig, ModernBertModel

    from labelwise.modeling import LameForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    torch.manual_seed(0)
    modernbert = ModernBertModel(ModernBertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        max_position_embeddings=128, pad_token_id=0, cls_token_id=2, sep_token_id=3, bos_token_id=2, eos_token_id=3,
        global_attn_every_n_layers=2, local_attention=16,
    ))
    assert find_encoder(modernbert) is modernbert
    report = analyse_utilisation(modernbert, tokenizer, TEXTS[:2], show_progress=False)
    assert report.angular_distance.shape == (2, 2) and np.isfinite(report.attention_entropy).all()
    lame = LameForSequenceClassification.from_pretrained(checkpoint, label_descriptions={"a": "cancer", "b": "fever"}, label_attention_heads=4)
    assert find_encoder(lame) is lame.backbone


def test_errors():
    with pytest.raises(TypeError, match="no transformer encoder"):
        find_encoder(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="query_tokens"):
        analyse_utilisation(torch.nn.Linear(2, 2), None, ["x"], query_tokens="sep")
    with pytest.raises(ValueError, match="Text 1 is empty"):
        analyse_utilisation(torch.nn.Linear(2, 2), None, ["x", "  "])


def test_cli_writes_json_table_and_heatmaps(checkpoint, tmp_path, capsys):
    texts = tmp_path / "dev.txt"
    texts.write_text("\n".join(TEXTS) + "\n\n", encoding="utf-8")
    output = tmp_path / "out"
    report = main(
        ["--model", checkpoint, "--texts", str(texts), "--output_dir", str(output), "--max_length", "16",
         "--batch_size", "2", "--device", "cpu", "--name", "tiny"]
    )
    saved = json.loads((output / "utilisation.json").read_text())
    assert saved["n_documents"] == len(TEXTS) and saved["max_length"] == 16 and saved["model"] == "tiny"
    assert np.allclose(saved["angular_distance"], report.angular_distance)
    table = (output / "attention_table.md").read_text().splitlines()
    assert table[0].startswith("| Layer |") and [row.split("|")[1].strip() for row in table[2:5]] == ["1", "2", "3"]
    for name in ("angular_distance.png", "attention_kl_layers.png"):
        data = (output / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert "attention_table.md" in capsys.readouterr().out


def test_cli_rejects_unknown_texts(tmp_path):
    with pytest.raises(SystemExit, match="neither a file nor a corpus"):
        main(["--model", "default", "--texts", str(tmp_path / "missing.txt"), "--output_dir", str(tmp_path)])
