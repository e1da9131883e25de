"""HoC hallmarks held out of training and scored from their descriptions alone (issue 13).

    python bench/hoc_zero_shot.py --data_root ../shared/data            # run every unfinished pair (resumable)
    python bench/hoc_zero_shot.py --pairs 0 --methods lame_agnostic     # one pair, one method
    python bench/hoc_zero_shot.py --report                              # markdown table of the finished runs
    python bench/hoc_zero_shot.py --report --plot docs/images/hoc_zero_shot_auc.png   # and the AUC bars

The rotation, fixed before any run: the 10 hallmark names sorted alphabetically,
    0 Activating invasion and metastasis      1 Avoiding immune destruction
    2 Cellular energetics                     3 Enabling replicative immortality
    4 Evading growth suppressors              5 Genomic instability and mutation
    6 Inducing angiogenesis                   7 Resisting cell death
    8 Sustaining proliferative signaling      9 Tumor promoting inflammation
held out in the 5 disjoint pairs (0,1), (2,3), (4,5), (6,7), (8,9).

For each pair, these methods:
- `lame_agnostic`: `train.py --model lame --label_scoring label_agnostic --exclude_labels <the pair>`
  on HoC's BLUE split with the budget of `bench/lame_comparison.py` (`CPU_BUDGET`, HoC's epochs,
  best dev epoch kept). The pair is removed from the label set and from every document's targets;
  the documents stay with their other labels (`--held_out_documents keep`: a document of the pair
  alone trains as a negative for every label). train.py tunes one decision threshold on the dev split
  over the 8 seen labels. Then the pair is added to the trained model from its descriptions
  (`model.add_labels`) and scored on the test split.
- `lame_agnostic_drop`: the same with `--held_out_documents drop`: the training documents that carry
  a label of the pair are removed from the train split, so the model never reads the held-out topic.
- `lame_agnostic_drop_mean`: `lame_agnostic_drop` with `--description_pooling mean`: label embeddings
  are the mean of the description's token states (how MiniLM was trained) instead of its [CLS] state.
- `lame_agnostic_drop_sim`: `lame_agnostic_drop_mean` with `--similarity_term true`: each logit also
  gets a learned multiple of the cosine between the document's mean token state and the description
  embedding, so the head starts from the `similarity` baseline's ranking and learns a correction.
- `similarity`: the untuned encoder's cosine between the mean-pooled document and description
  embeddings (`labelwise.analysis.similarity_baseline`); its threshold is tuned on the dev split
  over the same 8 seen labels (micro-F1, cosines from -1 to 1 in steps of 0.01).

Per held-out label, on the test split: F1 at 0.5, F1 at the threshold tuned on dev over the seen
labels, and ROC-AUC (None when the test split has no positive or no negative of the label). Each
(pair, method, seed) writes `bench/results/hoc_zero_shot/pair<k>__<method>__seed<seed>.json`; a
finished run is skipped. Model folders go to `--work_dir` (not committed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "hoc_zero_shot"
sys.path.insert(0, str(HERE))

from lame_comparison import budget_arguments, budget_of, corpus_arguments  # noqa: E402
from provenance import code_version  # noqa: E402

PAIRS = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
"""Indices into the sorted hallmark names (see the module docstring)."""
CLS_NO_TERM = ["--description_pooling", "cls", "--similarity_term", "false"]
LAME_METHODS = {
    "lame_agnostic": ["--held_out_documents", "keep", *CLS_NO_TERM],
    "lame_agnostic_drop": ["--held_out_documents", "drop", *CLS_NO_TERM],
    "lame_agnostic_drop_mean": ["--held_out_documents", "drop", "--description_pooling", "mean", "--similarity_term", "false"],
    "lame_agnostic_drop_sim": ["--held_out_documents", "drop", "--description_pooling", "mean", "--similarity_term", "true"],
}
"""The trained methods and their train.py arguments beyond the shared ones. Each names its pooling and
similarity term: the label-agnostic head's defaults (mean pooling and the term, from these results) would
otherwise make the first three the fourth."""
METHODS = (*LAME_METHODS, "similarity")
SHORT_NAMES = {"lame_agnostic": "LAME keep", "lame_agnostic_drop": "LAME drop",
               "lame_agnostic_drop_mean": "LAME drop mean", "lame_agnostic_drop_sim": "LAME drop mean + cosine term",
               "similarity": "cosine"}
COSINE_CANDIDATES = np.round(np.arange(-1.0, 1.0, 0.01), 2)


def held_out(pair: int, names: list[str]) -> list[str]:
    """The two label names held out in rotation pair `pair` (0-4)."""
    ordered = sorted(names)
    if len(ordered) != 10:
        raise ValueError(f"hoc_zero_shot: the rotation is over HoC's 10 hallmarks; the corpus has {len(ordered)} labels.")
    return [ordered[i] for i in PAIRS[pair]]


def load_hoc(data_root: Path):
    """HoC (BLUE split) with every label: its label space and DatasetDict, read as `corpus_arguments` says."""
    from labelwise.data_scripts import load_corpus, load_label_space

    arguments = corpus_arguments("hoc", data_root)
    data_dir = arguments[arguments.index("--data_dir") + 1]
    options = json.loads(arguments[arguments.index("--corpus_options") + 1])
    return load_label_space("hoc", data_dir=data_dir, **options), load_corpus("hoc", data_dir=data_dir, **options)


def gold_matrix(dataset, names: list[str], space_names: list[str]) -> np.ndarray:
    """`(documents, len(names))` 0/1 gold labels of `names` (the dataset's label ids index `space_names`)."""
    columns = {space_names.index(name): j for j, name in enumerate(names)}
    gold = np.zeros((len(dataset), len(names)), dtype=int)
    for row, ids in enumerate(dataset["labels"]):
        for label_id in ids:
            if label_id in columns:
                gold[row, columns[label_id]] = 1
    return gold


def label_scores(gold: np.ndarray, scores: np.ndarray, names: list[str], tuned: float) -> dict[str, dict]:
    """Per label: test positives, F1 at 0.5 and at `tuned`, ROC-AUC (None when undefined)."""
    from sklearn.metrics import f1_score, roc_auc_score

    result = {}
    for j, name in enumerate(names):
        # One label's F1 of its positive class (a one-column matrix given to multilabel_scores would be
        # read by scikit-learn as a binary problem and micro-averaged over both classes: accuracy).
        column, values = gold[:, j], scores[:, j]
        auc = None
        if 0 < column.sum() < len(column):
            auc = float(roc_auc_score(column, values))
        result[name] = {
            "test_positives": int(column.sum()),
            "f1_at_0.5": float(f1_score(column, (values >= 0.5).astype(int), zero_division=0)),
            "f1_at_tuned": float(f1_score(column, (values >= tuned).astype(int), zero_division=0)),
            "roc_auc": auc,
        }
    return result


def model_probabilities(folder: Path, texts: list[str], max_length: int, batch_size: int = 64) -> tuple:
    """The trained model at `folder`, and a function `descriptions -> (documents, labels)` sigmoid
    probabilities of `texts` for labels added from `descriptions` ({name: description})."""
    import torch
    from transformers import AutoTokenizer

    from labelwise.modeling import LameForSequenceClassification

    model = LameForSequenceClassification.from_pretrained(str(folder)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))

    def score(descriptions: dict[str, str]) -> np.ndarray:
        model.add_labels(descriptions, tokenizer)
        columns = [model.config.label2id[name] for name in descriptions]
        parts = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                encoded = tokenizer(texts[start : start + batch_size], truncation=True, max_length=max_length,
                                    padding=True, return_tensors="pt")
                parts.append(torch.sigmoid(model(**encoded).logits[:, columns]).numpy())
        return np.concatenate(parts)

    return model, score


def run_lame(pair: int, seed: int, data_root: Path, work_dir: Path, train_args: list[str],
             method: str = "lame_agnostic") -> dict:
    """Train the label-agnostic LAME without the pair, then score the pair on the test split."""
    from labelwise.training.cli import run

    space, corpus = load_hoc(data_root)
    names = held_out(pair, space.names)
    budget = budget_of("hoc")
    # lame_agnostic keeps the folder name it had before the other methods existed.
    folder = f"pair{pair}" if method == "lame_agnostic" else f"pair{pair}_{method.removeprefix('lame_agnostic_')}"
    output_dir = work_dir / folder / f"seed{seed}"
    argv = (
        ["--model", "lame", "--label_scoring", "label_agnostic", "--exclude_labels", json.dumps(names)]
        + LAME_METHODS[method]
        + corpus_arguments("hoc", data_root) + budget_arguments(budget)
        + ["--seed", str(seed), "--output_dir", str(output_dir), "--save_total_limit", "1", "--disable_tqdm", "true"]
        + train_args
    )
    summary = run(argv)
    for checkpoint in output_dir.glob("checkpoint-*"):
        shutil.rmtree(checkpoint)  # the final model is in output_dir/model
    model, score = model_probabilities(output_dir / "model", corpus["test"]["text"], max_length=int(budget["max_length"]))
    descriptions = dict(zip(space.names, space.descriptions))
    probabilities = score({name: descriptions[name] for name in names})
    tuned = float(model.config.decision_threshold)
    return {
        "budget": budget,
        "command": "python train.py " + " ".join(argv),
        "tuned_threshold": tuned,
        "labels": label_scores(gold_matrix(corpus["test"], names, space.names), probabilities, names, tuned),
        "seen_labels_test": {
            split: {k: summary["metrics"][split][k] for k in ("micro_f1", "macro_f1") if k in summary["metrics"].get(split, {})}
            for split in ("test", "test_tuned")
        },
    }


def run_similarity(pair: int, data_root: Path, model_name_or_path: str | None, max_length: int) -> dict:
    """The untuned encoder's cosines: threshold tuned on dev over the 8 seen labels, the pair scored on test."""
    from labelwise.analysis.similarity_baseline import similarity_scores
    from labelwise.metrics.thresholds import tune_global_threshold

    space, corpus = load_hoc(data_root)
    names = held_out(pair, space.names)
    seen = [name for name in space.names if name not in names]
    descriptions = dict(zip(space.names, space.descriptions))
    dev = similarity_scores(corpus["validation"]["text"], [descriptions[n] for n in seen], model_name_or_path, max_length)
    tuned, dev_f1 = tune_global_threshold(gold_matrix(corpus["validation"], seen, space.names), dev, COSINE_CANDIDATES)
    test = similarity_scores(corpus["test"]["text"], [descriptions[n] for n in names], model_name_or_path, max_length)
    return {
        "encoder": model_name_or_path or "default (all-MiniLM-L6-v2)",
        "max_length": max_length,
        "tuned_threshold": tuned,
        "seen_labels_dev_micro_f1_at_tuned": dev_f1,
        "labels": label_scores(gold_matrix(corpus["test"], names, space.names), test, names, tuned),
    }


def result_path(results: Path, pair: int, method: str, seed: int) -> Path:
    return results / f"pair{pair}__{method}__seed{seed}.json"


def run_all(options: argparse.Namespace) -> list[Path]:
    """Run every unfinished (pair, method) of the options; returns the result files written."""
    import torch

    written = []
    for pair in options.pairs:
        for method in options.methods:
            path = result_path(options.results_dir, pair, method, options.seed)
            if path.exists():
                print(f"{path.name}: done earlier, skipped", flush=True)
                continue
            started, code = time.time(), code_version()
            if method in LAME_METHODS:
                record = run_lame(pair, options.seed, options.data_root, options.work_dir, options.train_args, method)
            else:
                record = run_similarity(pair, options.data_root, options.similarity_model,
                                        int(budget_of("hoc")["max_length"]))
            record = {"pair": pair, "method": method, "seed": options.seed, "held_out": list(record["labels"]),
                      "torch_threads": torch.get_num_threads(), "wall_seconds": round(time.time() - started, 1),
                      "code_version": code, **record}
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
            written.append(path)
            print(f"{path.name}: " + ", ".join(
                f"{name}: F1@0.5 {v['f1_at_0.5']:.3f}, F1@tuned {v['f1_at_tuned']:.3f}, AUC "
                f"{'-' if v['roc_auc'] is None else format(v['roc_auc'], '.3f')}" for name, v in record["labels"].items()
            ) + f" ({record['wall_seconds'] / 60:.1f} min)", flush=True)
    return written


def results_by_label(results: Path) -> tuple[dict[tuple[int, str], dict[str, tuple[dict, dict]]], list[str]]:
    """The finished runs: `{(pair, held-out label): {method: (record, the label's scores)}}`, and the
    methods (in `METHODS` order) that have at least one result."""
    rows: dict[tuple[int, str], dict[str, tuple[dict, dict]]] = {}
    for path in sorted(results.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        for name, values in record["labels"].items():
            rows.setdefault((record["pair"], name), {})[record["method"]] = (record, values)
    return rows, [method for method in METHODS if any(method in entries for entries in rows.values())]


def report(results: Path) -> str:
    """Markdown table: one row per held-out label, the methods with results side by side (test split, one seed)."""
    rows, methods = results_by_label(results)

    def auc(entry) -> str:
        return "-" if entry is None or entry[1]["roc_auc"] is None else f"{entry[1]['roc_auc']:.3f}"

    def f1(entry, key: str) -> str:
        if entry is None:
            return "-"
        record, values = entry
        tuned = f" ({record['tuned_threshold']:.2f})" if key == "f1_at_tuned" else ""
        return f"{100 * values[key]:.1f}{tuned}"

    header = " | ".join(SHORT_NAMES[method] for method in methods)
    lines = [
        f"| pair | held-out hallmark | test positives | AUC: {header} | F1@0.5: {header} "
        f"| F1@tuned (thr): {header} |",
        "|---|---|---|" + "---|" * (3 * len(methods)),
    ]
    for (pair, name), entries in sorted(rows.items()):
        positives = next(iter(entries.values()))[1]["test_positives"]
        found = [entries.get(method) for method in methods]
        lines.append(
            f"| {pair} | {name} | {positives} | "
            + " | ".join([auc(e) for e in found] + [f1(e, "f1_at_0.5") for e in found]
                         + [f1(e, "f1_at_tuned") for e in found]) + " |"
        )
    return "\n".join(lines)


def plot_auc(results: Path, path: Path) -> Path:
    """Grouped bars: each held-out hallmark's test ROC-AUC, one bar per method with results; chance at 0.5."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, methods = results_by_label(results)
    names = [name for _, name in sorted(rows)]
    aucs = {name: {method: values["roc_auc"] for method, (_, values) in entries.items()} for (_, name), entries in rows.items()}
    width = 0.8 / max(len(methods), 1)
    figure, axis = plt.subplots(figsize=(9, 4.5))
    for k, method in enumerate(methods):
        heights = [aucs[name].get(method) for name in names]
        positions = [i + (k - (len(methods) - 1) / 2) * width for i in range(len(names))]
        axis.bar([x for x, h in zip(positions, heights) if h is not None], [h for h in heights if h is not None],
                 width=width, label=SHORT_NAMES[method])
    axis.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
    axis.set_xticks(range(len(names)))
    axis.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
    axis.set_ylim(0, 1.12)  # room for the legend above the bars
    axis.set_ylabel("test ROC-AUC of the held-out hallmark")
    axis.set_title("HoC hallmarks unseen in training, scored from their descriptions")
    axis.legend(fontsize=8, ncol=len(methods) + 1, loc="upper center")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_root", type=Path, default=REPO.parent / "shared" / "data",
                        help="Folder holding hoc/ (raw/ and blue_split/), as in ../shared/data.")
    parser.add_argument("--work_dir", type=Path, default=REPO / "outputs" / "hoc_zero_shot")
    parser.add_argument("--results_dir", type=Path, default=RESULTS)
    parser.add_argument("--pairs", type=int, nargs="+", default=list(range(len(PAIRS))), choices=range(len(PAIRS)))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--similarity_model", default=None, help="Encoder of the similarity baseline (default MiniLM).")
    parser.add_argument("--train_args", nargs=argparse.REMAINDER, default=[],
                        help="Further train.py arguments, after everything else (e.g. a smaller budget for a check).")
    parser.add_argument("--report", action="store_true", help="Print the table of the finished runs.")
    parser.add_argument("--plot", type=Path, default=None,
                        help="With --report: also draw each held-out hallmark's AUC per method to this PNG.")
    options = parser.parse_args(argv)
    if options.report:
        print(report(options.results_dir))
        if options.plot:
            print(f"plot: {plot_auc(options.results_dir, options.plot)}")
        return
    run_all(options)


if __name__ == "__main__":
    main()
