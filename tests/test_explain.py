"""labelwise.explain: explanation methods on tiny models, HoC rationales, the command end to end."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
import torch
from demo_models import save_lame
from helpers import tiny_bert_checkpoint

from labelwise.data_scripts.hoc import HALLMARKS
from labelwise.data_scripts.rationales import hoc_rationales, read_rationale_file
from labelwise.explain import METHODS, Explainer, evaluate_explanations, gold_words, load_model, word_scores
from labelwise.explain.__main__ import main

pytest.importorskip("captum")

GROWTH, IMMUNE = list(HALLMARKS)[0], list(HALLMARKS)[-1]
SENTENCES = ["Tumor cells showed growth signals .", "The immune reaction was severe .", "Results of the study ."]


def write_hoc_release(folder) -> None:
    """Two abstracts in HoC's release layout: one sentence per line, one '<' group per sentence."""
    (folder / "text").mkdir(parents=True)
    (folder / "labels").mkdir()
    (folder / "text" / "111.txt").write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    (folder / "labels" / "111.txt").write_text(f"<{GROWTH}--<{IMMUNE}--Immunosuppression AND {GROWTH}--<NULL", encoding="utf-8")
    (folder / "text" / "222.txt").write_text("Patients with cancer .\nBlood vessel growth .\n", encoding="utf-8")
    (folder / "labels" / "222.txt").write_text(f"<NULL<{GROWTH}--", encoding="utf-8")


def test_hoc_rationales_are_the_annotated_sentences(tmp_path):
    write_hoc_release(tmp_path)
    records = hoc_rationales(str(tmp_path))
    first = records["111"]
    assert first["text"] == " ".join(SENTENCES)
    spans = {name: [first["text"][s:e] for s, e in spans] for name, spans in first["rationales"].items()}
    assert spans == {GROWTH: SENTENCES[:2], IMMUNE: [SENTENCES[1]]}
    assert records["222"]["rationales"] == {GROWTH: [[23, 44]]}
    fine = hoc_rationales(str(tmp_path), labels="fine")["111"]["rationales"]
    assert fine[f"{IMMUNE}--Immunosuppression"] == [[36, 68]]


def test_rationale_file_errors_name_the_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "abc", "rationales": {"x": [[0, 2]]}}\n{"text": "abc", "rationales": {"x": [[2, 9]]}}\n')
    with pytest.raises(ValueError, match=r"r.jsonl, line 2: expected rationale spans"):
        read_rationale_file(path)


def lame(tmp_path):
    return load_model(save_lame(tmp_path / "lame"))


def test_methods_give_word_scores_and_ig_converges(tmp_path):
    model, tokenizer = lame(tmp_path)
    explainer = Explainer(model, tokenizer, ig_tolerance=0.05)
    encoded = explainer.encode("Tumor cells showed growth signals .")
    assert len(encoded.words) == 6
    scores = {m: explainer.explain(encoded, 0, m) for m in METHODS}
    attention = word_scores(scores["attention"], encoded)
    with torch.no_grad():
        row = model(**encoded.inputs, output_cross_attentions=True).cross_attentions[-1][0].mean(0)[0]
    words_only = torch.tensor([w is not None for w in encoded.word_ids])
    # The words' attention mass: the row (which sums to 1) without [CLS] and [SEP].
    assert attention.sum() == pytest.approx(float(row[words_only].sum()), abs=1e-5) and float(row.sum()) == pytest.approx(1.0, abs=1e-5)
    # One label block: rolling out through it changes nothing.
    assert len(model.label_blocks) == 1 and np.allclose(scores["attention_rollout"], scores["attention"])
    # Integrated Gradients is complete: its attributions add up to the logit's gain over the baseline.
    embed = model.get_input_embeddings()
    ids = encoded.inputs["input_ids"]
    special = torch.tensor([[w is None for w in encoded.word_ids]])
    with torch.no_grad():
        logit = model(**encoded.inputs).logits[0, 0]
        baseline = model(inputs_embeds=embed(torch.where(special, ids, torch.zeros_like(ids))), attention_mask=encoded.inputs["attention_mask"]).logits[0, 0]
    assert scores["integrated_gradients"].sum() == pytest.approx(float(logit - baseline), abs=0.05 * abs(float(logit - baseline)) + 1e-4)
    assert explainer.ig_steps_used and explainer.ig_steps_used[0] >= 16 and explainer.ig_unconverged == 0
    # Keeping every word reproduces the model's probability on the text; erasing changes it.
    kept = explainer.probabilities(encoded, 0, np.ones((1, 6), dtype=bool))
    assert kept[0] == pytest.approx(float(torch.sigmoid(logit)), abs=1e-5)


def test_plain_classifier_gets_gradient_methods_only(tmp_path):
    from transformers import AutoTokenizer, BertForSequenceClassification

    bert = tiny_bert_checkpoint(tmp_path / "bert")
    model = BertForSequenceClassification.from_pretrained(bert, num_labels=2).eval()
    explainer = Explainer(model, AutoTokenizer.from_pretrained(bert))
    assert explainer.methods() == ("grad_x_input", "integrated_gradients", "random")
    encoded = explainer.encode("Blood vessel growth .")
    with pytest.raises(ValueError, match="needs a LAME model's label attention"):
        explainer.explain(encoded, 1, "attention")
    assert explainer.explain(encoded, 1, "grad_x_input").shape == (len(encoded.word_ids),)


def test_gold_words_overlap():
    class Fake:
        words = [(0, 5), (6, 11), (12, 13)]

    assert gold_words(Fake, [[6, 8]]).tolist() == [False, True, False]
    assert gold_words(Fake, [[0, 13]]).tolist() == [True, True, True]


def test_command_end_to_end_on_a_fake_hoc_release_resumes_and_reports(tmp_path, capsys):
    from transformers import AutoTokenizer

    from labelwise.modeling import LameForSequenceClassification

    write_hoc_release(tmp_path / "hoc")
    bert = tiny_bert_checkpoint(tmp_path / "bert")
    model = LameForSequenceClassification.from_pretrained(
        bert, label_descriptions=HALLMARKS, label_attention_heads=4, problem_type="multi_label_classification"
    )
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(bert).save_pretrained(folder)
    (folder / "training_summary.json").write_text(json.dumps({"dataset": {"name": "hoc", "config": {}}, "hyperparameters": {"max_length": 64}}))
    out = tmp_path / "out"
    argv = ["--model", str(folder), "--data_dir", str(tmp_path / "hoc"), "--split", "all", "--output_dir", str(out), "--resamples", "50"]
    result = main(argv)  # no --corpus, no --max_length: the model's (training_summary.json)
    assert json.loads((out / "settings.json").read_text())["max_length"] == 64
    assert result["pairs"] == 3  # (111, growth), (111, immune), (222, growth)
    saved = json.loads((out / "explanations.json").read_text())
    assert set(saved["methods"]) == set(METHODS)
    micro = saved["methods"]["attention"]["micro"]
    assert micro["auprc"]["n"] == 3 and 0 < micro["auprc"]["mean"] <= 1
    assert micro["auprc"]["low"] <= micro["auprc"]["mean"] <= micro["auprc"]["high"]
    assert set(saved["methods"]["random"]["per_label"]) == {GROWTH, IMMUNE}
    assert (out / "comprehensiveness.png").stat().st_size > 1000
    assert "| attention |" in capsys.readouterr().out

    # An interruption inside `attention`: its summary missing, one document kept, the next cut mid-line.
    rows = (out / "attention.rows.jsonl").read_text().splitlines()
    (out / "attention.json").unlink()
    (out / "attention.rows.jsonl").write_text(rows[0] + "\n" + rows[1][:20])
    (out / "random.json").write_text(json.dumps({**json.loads((out / "random.json").read_text()), "pairs": -1}))
    resumed = main(argv)
    assert resumed["methods"] == result["methods"]
    assert [json.loads(line)["position"] for line in (out / "attention.rows.jsonl").read_text().splitlines()] == [0, 1]
    assert json.loads((out / "random.json").read_text())["pairs"] == -1  # finished: not redone
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--max_documents", "1"])  # other settings in the same folder: refused
    assert exit_info.value.code == 2

    # --record_in_model keeps the headline figures in the model folder, for its card (finished methods: not redone).
    from labelwise.explain.evaluate import QUALITY_FILE

    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--methods", "random", "--record_in_model"])  # no attention to state
    assert exit_info.value.code == 2 and not (folder / QUALITY_FILE).exists()
    main([*argv, "--record_in_model"])
    quality = json.loads((folder / QUALITY_FILE).read_text())
    assert quality["evidence_method"] == "attention" and quality["pairs"] == 3 and quality["corpus"] == "hoc"
    assert quality["methods"]["attention"]["auprc"] == result["methods"]["attention"]["micro"]["auprc"]
    assert set(quality["methods"]) == set(METHODS) and "per_label" not in quality["methods"]["random"]

    # The seeds report of finished methods: two "seeds" (the same folder twice) agree, std 0.
    from labelwise.explain.report import main as report

    table = report(["--group", "LAME", str(out), str(out), "--plot", str(tmp_path / "k.png")])
    auprc = result["methods"]["attention"]["micro"]["auprc"]["mean"]
    assert f"| LAME | attention | 2 of 2 | 3 | {auprc:.3f} ± 0.000 |" in table and (tmp_path / "k.png").stat().st_size > 1000


def test_command_names_user_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", str(tmp_path), "--corpus", "file", "--output_dir", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "--rationale_file" in capsys.readouterr().err


def test_api_on_a_rationale_file(tmp_path):
    model, tokenizer = lame(tmp_path)
    path = tmp_path / "r.jsonl"
    text = "Tumor cells showed growth signals . The immune reaction was severe ."
    path.write_text(json.dumps({"id": "d1", "text": text, "rationales": {"growth": [[0, 33]], "unknown": [[0, 5]]}}) + "\n")
    result = evaluate_explanations(model, tokenizer, read_rationale_file(path), methods=["attention", "random"], resamples=20, progress=False)
    assert result["pairs"] == 1 and result["skipped"]["unknown_label"] == 1 and result["seconds_per_prediction"] > 0
    assert set(result["methods"]["attention"]["micro"]) >= {"auprc", "comprehensiveness@20", "sufficiency_area", "full"}


def test_ade_rationales_are_entity_spans(tmp_path):
    from labelwise.data_scripts.rationales import ade_rationales

    sentence = "Lithium caused tremor and rash ."
    (tmp_path / "DRUG-AE.rel").write_text(  # document offsets: the sentence starts at 50
        f"7|{sentence}|tremor|{50 + 15}|{50 + 21}|Lithium|50|57\n7|{sentence}|rash|{50 + 26}|{50 + 30}|Lithium|50|57\n")
    (tmp_path / "ADE-NEG.txt").write_text("8 NEG Nothing happened .\n")
    records = ade_rationales(str(tmp_path), split="all")
    assert len(records) == 1  # the negative sentence has no rationale
    spans = {name: [records[0]["text"][s:e] for s, e in spans] for name, spans in records[0]["rationales"].items()}
    assert spans == {"ADR": ["tremor", "rash"], "DRUG": ["Lithium"]}  # the drug of both relations once
    assert ade_rationales(str(tmp_path), split="all", entity_types=("ADR",))[0]["labels"] == ["ADR"]
    # The command on an ADE sentence classifier: its ADR label is explained against the effect words.
    from transformers import AutoTokenizer

    from labelwise.modeling import LameForSequenceClassification

    bert = tiny_bert_checkpoint(tmp_path / "bert")
    model = LameForSequenceClassification.from_pretrained(
        bert, label_descriptions={"ADR": "adverse drug reaction"}, label_attention_heads=4, problem_type="multi_label_classification"
    )
    model.save_pretrained(tmp_path / "model")
    AutoTokenizer.from_pretrained(bert).save_pretrained(tmp_path / "model")
    result = main(["--model", str(tmp_path / "model"), "--corpus", "ade", "--data_dir", str(tmp_path), "--split", "all",
                   "--methods", "attention", "--resamples", "10", "--output_dir", str(tmp_path / "out")])
    assert result["pairs"] == 1 and result["skipped"]["unknown_label"] == 1  # DRUG is not a label of this model


def test_paired_differences_pool_the_seeds_pairs(tmp_path):
    """`differences_table`: method minus reference on the same (document, label) pairs, pooled over
    folders; pairs one method lacks are left out; an interval excludes 0 only for a real difference."""
    from labelwise.explain.report import KEYS, differences_table

    def folder(name, methods):
        path = tmp_path / name
        path.mkdir()
        for method, rows in methods.items():
            (path / f"{method}.json").write_text("{}")
            lines = [json.dumps({"rows": [{"id": doc, "label": label, **dict.fromkeys(KEYS, value)}]})
                     for (doc, label), value in rows.items()]
            (path / f"{method}.rows.jsonl").write_text("\n".join(lines) + "\n")
        return path

    seed1 = folder("s1", {"random": {("d1", "a"): 0.1, ("d2", "a"): 0.3}, "attention": {("d1", "a"): 0.5, ("d2", "a"): 0.6, ("d3", "a"): 9.0}})
    seed2 = folder("s2", {"random": {("d1", "a"): 0.2}, "attention": {("d1", "a"): 0.7}})
    for method in ("random", "attention"):  # kept gzipped, as the committed results are
        rows = seed2 / f"{method}.rows.jsonl"
        (seed2 / f"{method}.rows.jsonl.gz").write_bytes(gzip.compress(rows.read_bytes()))
        rows.unlink()
    table = differences_table({"LAME": [seed1, seed2]}, "random", resamples=200)
    # (0.4 + 0.3 + 0.5) / 3 pairs; every difference is positive, so the interval is too.
    row = next(line for line in table.splitlines() if "| attention |" in line)
    assert row.startswith("| LAME | attention | 3 | +0.400 [+0.3") and row.count("+0.400") == len(KEYS)
    # A method that equals the reference: difference 0, interval [0, 0].
    same = folder("s3", {"random": {("d1", "a"): 0.2}, "attention": {("d1", "a"): 0.2}})
    assert "| LAME | attention | 1 | +0.000 [+0.000, +0.000]" in differences_table({"LAME": [same]}, "random")


def test_gauss_legendre_rule_and_unconverged_integrated_gradients():
    from labelwise.modeling.integrated_gradients import gauss_legendre, integrated_gradients

    for steps in (1, 3, 16, 64):
        points, weights = gauss_legendre(steps)
        nodes, reference = np.polynomial.legendre.leggauss(steps)
        assert np.allclose(points.numpy(), (nodes + 1) / 2) and np.allclose(weights.numpy(), reference / 2)
    # A quadratic logit: Integrated Gradients is exact with 2 Gauss-Legendre points, so it converges at once.
    x, base = torch.tensor([[[1.0, 2.0], [3.0, -1.0]]]), torch.zeros(1, 2, 2)
    quadratic = lambda e: (e**2).sum((1, 2))  # noqa: E731
    scores, steps, converged = integrated_gradients(quadratic, x, base, steps=2, max_steps=2)
    assert converged and steps == 2 and torch.allclose(scores, torch.tensor([5.0, 10.0]))
    # exp is not integrated exactly by 1 point; a cap of 2 points with a tolerance of 0 stops unconverged.
    scores, steps, converged = integrated_gradients(lambda e: e.exp().sum((1, 2)), x, base, steps=1, max_steps=2, tolerance=0.0)
    assert steps == 2 and not converged


def test_pipeline_integrated_gradients_equal_captums_and_batch_like_one_by_one(tmp_path):
    """The LAME pipeline's own Integrated Gradients (remote code, no captum) give the scores that the
    evaluation measured with captum, for every explained label, alone or in a padded batch."""
    from transformers import pipeline

    folder = save_lame(tmp_path / "lame")
    classify = pipeline("label-attention-classification", model=folder, trust_remote_code=True)
    texts = ["Severe rash and fever after the drug; cancer cell growth in blood vessel.", "Tumor growth ."]
    alone = [classify(text, evidence_method="integrated_gradients", threshold=0.01) for text in texts]
    batched = classify(texts, evidence_method="integrated_gradients", threshold=0.01, batch_size=2)
    explainer = Explainer(classify.model, classify.tokenizer)
    ids = {name: index for index, name in classify.model.config.id2label.items()}
    for text, one, many in zip(texts, alone, batched):
        assert one["evidence_method"] == "integrated_gradients" and set(one["word_weights"]) == {"growth", "immune", "vessel"}
        encoded = explainer.encode(text)
        for label, weights in one["word_weights"].items():
            expected = word_scores(explainer.explain(encoded, ids[label], "integrated_gradients"), encoded)
            assert weights == pytest.approx(np.clip(expected, 0, None).tolist(), abs=1e-4)
            assert many["word_weights"][label] == pytest.approx(weights, abs=1e-4)
    # Without a predicted label, the most probable one is explained, and only it.
    none = classify(texts[0], evidence_method="integrated_gradients", threshold=1.0)
    assert list(none["word_weights"]) == [none["labels"][0]["label"]] and none["labels"][0]["evidence"]
    with pytest.raises(ValueError, match="choose from attention, integrated_gradients"):
        classify(texts[0], evidence_method="saliency")
