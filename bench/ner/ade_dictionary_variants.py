"""Why our ADE dictionary baseline scores 11 F1 points below the BioBERT ADR paper's (issue 17).

    python bench/ner/ade_dictionary_variants.py --data_dir ../shared/data/ade_corpus_v2/ADE-Corpus-V2

The paper reports 58.91 F1 for its dictionary and does not say how it was built. This script runs
the obvious constructions through the same 5-fold cross-validation as our baseline table
(positive sentences, fewer than 130 words, duplicates dropped, folds grouped by abstract, seed 42,
entity-level exact match) and one evaluation variant:

- `lower_longest` (our published baseline): training-fold ADR strings, lower-cased, longest match;
- `exact_case`: case-sensitive matching;
- `stems`: Porter stems of every word (a stand-in for lemmas);
- `shortest`: the shortest of overlapping matches instead of the longest;
- `precision_0.5` / `stems_precision_0.5`: entries whose training matches are ADRs less than half
  of the time are dropped;
- `with_negative_sentences`: the baseline on all sentences, the 16,695 without an ADR included;
- `leaky_all_folds`: the dictionary built from every fold, the test fold included. Not a valid
  method: it bounds what a dictionary that saw the test mentions would score;
- `lower_longest` scored leniently, in case the paper's dictionary was: with overlap matching (a
  predicted mention counts when it overlaps a gold mention of the same type; `overlap_f1`), and
  per word (a word counts when both sides tag it as part of a mention of the same type; `word_f1`).

Each variant writes its fold records to `bench/results/ade_dictionary/<variant>/` (finished folds
are skipped) and the script prints one table.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import datasets

from labelwise.data_scripts import load_corpus
from labelwise.metrics.entities import entity_scores, entity_spans
from labelwise.ner.baselines import DictionaryTagger
from labelwise.ner.crossval import examples_from_dataset, filter_examples, group_folds, run_crossval

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results" / "ade_dictionary"
VARIANTS = {
    "lower_longest": {},
    "exact_case": {"lowercase": False},
    "stems": {"stem": True},
    "shortest": {"overlap": "shortest"},
    "precision_0.5": {"min_precision": 0.5},
    "stems_precision_0.5": {"stem": True, "min_precision": 0.5},
}
PAPER_F1 = 58.91


def overlap_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """Lenient P/R/F1: a mention is right when it overlaps a mention of the same type on the other side."""
    true_pred = n_pred = true_gold = n_gold = 0
    for gold_tags, predicted_tags in zip(gold, predicted):
        gold_spans, predicted_spans = entity_spans(gold_tags), entity_spans(predicted_tags)

        def overlaps(span, others):
            return any(span[0] == o[0] and span[1] < o[2] and o[1] < span[2] for o in others)

        n_pred += len(predicted_spans)
        n_gold += len(gold_spans)
        true_pred += sum(overlaps(s, gold_spans) for s in predicted_spans)
        true_gold += sum(overlaps(s, predicted_spans) for s in gold_spans)
    precision = true_pred / n_pred if n_pred else 0.0
    recall = true_gold / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def word_scores(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """Per-word P/R/F1: each word inside a mention is one decision, its type read from the B-/I- tag."""
    true = n_pred = n_gold = 0
    for gold_tags, predicted_tags in zip(gold, predicted):
        for g, p in zip(gold_tags, predicted_tags):
            n_gold += g != "O"
            n_pred += p != "O"
            true += g != "O" and p != "O" and g[2:] == p[2:]
    precision = true / n_pred if n_pred else 0.0
    recall = true / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def load_examples(data_dir: str, include_negative: bool) -> list[dict]:
    dataset = load_corpus("ade", data_dir=data_dir, include_negative=include_negative)
    examples, counts = filter_examples(examples_from_dataset(dataset), max_words=130, drop_duplicates=True)
    print(f"include_negative={include_negative}: {counts}", flush=True)
    return examples


def fold_scores(examples: list[dict], fit_on_all: bool = False, scoring=entity_scores, seed: int = 42) -> list[float]:
    """F1 per fold of the baseline dictionary, fitted on the training folds (or on everything)."""
    folds = group_folds([e["document_id"] for e in examples], 5, seed)
    scores = []
    for fold in folds:
        test = set(fold)
        train = examples if fit_on_all else [e for i, e in enumerate(examples) if i not in test]
        tagger = DictionaryTagger().fit([e["tokens"] for e in train], [e["tags"] for e in train])
        gold = [examples[i]["tags"] for i in fold]
        predicted = tagger.predict([examples[i]["tokens"] for i in fold])
        scores.append(scoring(gold, predicted)["f1"])
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", required=True, help="ADE-Corpus-V2 folder (DRUG-AE.rel, ADE-NEG.txt)")
    parser.add_argument("--output_dir", type=Path, default=RESULTS)
    options = parser.parse_args(argv)
    datasets.disable_progress_bars()

    positive = load_examples(options.data_dir, include_negative=False)
    rows = {}
    for name, tagger_options in VARIANTS.items():
        records = run_crossval(
            positive, ["dictionary"], str(options.output_dir / name), method_options={"dictionary": tagger_options},
            data_options={"corpus": "ade", "corpus_options": {"include_negative": False}, "max_words": 130,
                          "drop_duplicates": True, "only_with_entities": False},
        )
        rows[name] = [r["f1"] for r in records]
    everything = load_examples(options.data_dir, include_negative=True)
    rows["with_negative_sentences"] = fold_scores(everything)
    rows["leaky_all_folds (not valid)"] = fold_scores(positive, fit_on_all=True)
    rows["lower_longest, overlap_f1"] = fold_scores(positive, scoring=overlap_scores)
    rows["lower_longest, word_f1"] = fold_scores(positive, scoring=word_scores)

    lines = ["| variant | F1 mean (%) | F1 per fold | vs paper's 58.91 |", "|---|---|---|---|"]
    for name, values in rows.items():
        mean = 100 * statistics.fmean(values)
        lines.append(f"| {name} | {mean:.2f} | {', '.join(f'{100 * v:.2f}' for v in values)} | {mean - PAPER_F1:+.2f} |")
    table = "\n".join(lines)
    options.output_dir.mkdir(parents=True, exist_ok=True)
    (options.output_dir / "table.md").write_text(table + "\n", encoding="utf-8")
    (options.output_dir / "extra_variants.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
