"""EURLEX57K by label frequency: LAME with its scaling options against plain fine-tuning and layer-wise
FLAT, plus the label-agnostic head and an untuned similarity baseline (issue 12 part 6, issue 13).

    python bench/eurlex_label_groups.py --data_dir ../shared/data/eurlex57k              # every method, resumable
    python bench/eurlex_label_groups.py --data_dir ../shared/data/eurlex57k --methods lame vanilla
    python bench/eurlex_label_groups.py --report                                          # Markdown tables
    python bench/eurlex_label_groups.py --data_dir ../shared/data/eurlex57k --estimate 3  # time 3 steps per method
    python bench/eurlex_label_groups.py --data_dir ../shared/data/eurlex57k --work_dir W --results_dir R \
        --budget '{"max_length": 256, "num_train_epochs": 6, "early_stopping_patience": 2}' --seed 13 --methods lame
        # issue 29's ablation budget (patience 2, cap 6 epochs), a second seed; bench/issue29_queue.sh runs the study

Data. A seeded random subset of the EURLEX57K copy (`SUBSET`: training, dev and test documents) is
linked into `<work_dir>/subset` in the original layout, so `train.py`'s `label_set="train"` means
exactly "the labels of the training documents used" (issue 12). Descriptions are the EUROVOC label
and its alternative labels (`descriptions="label+alt"`, the shipped `lame_eurlex57k` config).

Label groups. Counted on the training subset: *frequent* (>= 50 training documents), *few* (1-49)
and *zero* (labels of dev/test documents that no training document carries; issue 13).
`labelwise.metrics.label_groups` scores each group on its own columns and on the documents with a
gold label in it. Label-specific models (vanilla, layer-wise, LAME's per-label head) have no output
for a label outside their training set, so their zero-group scores are "n/a", not 0; the
label-agnostic head and the similarity baseline score the zero labels from their descriptions.
The overall scores (R-Precision, R-Precision@5, P@5, nDCG@5, micro-F1) are over the training label
set for every method, so they compare like with like.

Thresholds. micro-F1 (overall and per group) is at one global threshold tuned on the dev subset
(micro-F1 over the training labels), for every method; the similarity baseline's cosines are mapped
to [0, 1] first.

Budget. One for every trained method (`BUDGET`): the packaged MiniLM (labelwise.default_backbone_path()),
`max_length` pieces, batch 8, encoder 1e-4 and new parts 1e-3 with linear decay after 10% warm-up,
at most `BUDGET["num_train_epochs"]` epochs with early stopping on the dev loss (patience
`BUDGET["early_stopping_patience"]`; the best epoch is kept), one torch thread (`--torch_threads`; the
report says when a run used more). Every per-label output
bias starts at the log-odds of the label's training frequency (`--label_bias_init label_prior`): with
zero biases, 3 epochs ended with every trained model at the label prior (those results are in
`bench/results/eurlex_label_groups_zero_init/`; docs/RESULTS.md). `lame_2048` reads 2,048 pieces per
document (`--max_document_length`, issue 12 part 4) and is otherwise `lame`.

Methods (`METHODS`):
- `vanilla`: `BertForSequenceClassification` (the `vanilla` kind);
- `layerwise_flat`: the layer-wise model with every level on the last layer (FLAT); it trains on
  ancestor-augmented targets (its method) but is scored on the same document labels as the others;
- `lame`: the shipped `lame_eurlex57k` config (sampled label training, bilinear first stage,
  256-label shortlist at inference), on this budget;
- `lame_agnostic`: `lame` with `--label_scoring label_agnostic` (issue 13's head) with [CLS]-pooled
  descriptions and no cosine term (the head as first built; its defaults are now those of
  `lame_agnostic_sim`); new labels are added with `model.add_labels` before scoring;
- `lame_agnostic_sim`: `lame_agnostic` with mean-pooled descriptions and the cosine term
  (`--description_pooling mean --similarity_term true`), the variant that beat the similarity
  baseline on held-out HoC hallmarks (docs/RESULTS.md);
- `lame_all_labels` (issue 29, row b): `lame` with `--all_label_loss true`: every label's logit in the loss
  at every step; the description gradients stay sampled, the other labels' queries come from the
  training cache;
- `lame_mean_queries`: `lame` with label queries from the descriptions' mean token states instead of their
  [CLS] state (`--description_pooling mean`, as the label-agnostic head reads them): all-MiniLM-L6-v2's
  [CLS] was never trained to summarise a text, and its [CLS] states of the EUROVOC descriptions are much
  alike (`--query_similarity`);
- `lame_negatives_256` (row c): `lame` sampling 256 negatives a step instead of 64;
- `lame_joint` (row d): `lame` without sampling (`--label_sampling none`): every description encoded
  with gradient in every step (the paper's joint training); the first stage and shortlist stay;
- `layerwise_flat_mean`, `layerwise_flat_head_lr`: FLAT with one change each, the candidates for its gap
  to vanilla: the last layer's mean token state instead of its [CLS] (`--layer_pooling mean`), and its
  classifier at 1e-2 (the layer-wise grid's rate) instead of the budget's 1e-3. A method's own option
  replaces the budget's entry of the same name;
- `lame_2048`: `lame` with `--max_document_length 2048`;
- `lame_read_2048`: no training of its own; `lame`'s model (trained on 512 pieces) scoring documents
  read in full up to 2,048 pieces (its `max_document_length` set to 2,048): what long-document
  reading gives a model at inference alone, beside `lame_2048`, which also trains on them;
- `lame_2048_exact`: no training of its own; `lame_2048`'s model scored with the label-attention head
  on every label (`--shortlist_size 0`) instead of its 256-label shortlist: what the shortlist costs;
- `similarity`: no training; the untuned encoder's mean-pooled document and description embeddings,
  ranked by cosine (`labelwise.analysis.similarity_baseline`, shared with `bench/hoc_zero_shot.py`).
- `label_prior`: no model; every document gets each training label's frequency in the training
  subset, so every document gets the same ranking. A model that learned only the label prior
  scores about this.
A method whose `train.py` option this checkout lacks is reported as such and skipped.

Patience with a cap. `BUDGET["num_train_epochs"]` is the cap and `early_stopping_patience` the number of
evaluations without a better dev loss that end a run early; each record says which ended it
(`stopped_by`) and keeps the dev curve (`dev_curve`: dev loss and micro-F1 at 0.5 after each epoch).

Seeds and subsets. `--seed N` (training seed; 42 by default) writes `<method>__seed<N>.json` and trains in
`<work_dir>/<method>__seed<N>`; the report gives each repeat its own row. `--subset` replaces `SUBSET`
entries (e.g. the 5,000-document training subset), in its own `--work_dir` and `--results_dir`.

Files. Each method writes `bench/results/eurlex_label_groups/<method>.json` (budget, subset, command,
wall time per epoch, overall and per-group test scores, for LAME the dev recall of its first-stage
shortlist, the training summary without its label descriptions). A method whose file exists is skipped; an interrupted run resumes from its last
checkpoint in `<work_dir>/<method>` (train.py's resume), and a run whose model is saved but not yet
scored is only scored. `--estimate N` times N training steps of each method on the real subset and
writes `bench/results/eurlex_label_groups/estimates/<method>.json` (step time, estimated epoch time).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelwise.cli_errors import EXIT_INTERRUPTED

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
from labelwise.experiments.provenance import code_version  # noqa: E402

RESULTS = HERE / "results" / "eurlex_label_groups"

SUBSET = {"train": 1000, "dev": 300, "test": 1000, "seed": 13}
"""Documents drawn (seeded, without replacement) from each split of the EURLEX57K copy. 1,000 training
documents carry about 1,200 labels (7 frequent, about 1,200 few); 1,000 test documents add about 460
zero-shot labels (measured on ../shared/data/eurlex57k with seed 13)."""

CORPUS_OPTIONS = {"descriptions": "label+alt", "label_set": "train"}
"""How every trained method reads the corpus: the labels of the training subset, described by label + alt labels."""

BUDGET = {
    "max_length": 512,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 16,
    "learning_rate": 1e-4,
    "head_learning_rate": 1e-3,
    "warmup_steps": 0.1,
    "lr_scheduler_type": "linear",
    "optim": "adamw_torch",
    "num_train_epochs": 3,
    "early_stopping_patience": 1,
    "metric_for_best_model": "loss",
    "greater_is_better": False,
    "save_total_limit": 1,
    "logging_steps": 10,
    "label_attention_heads": 12,
    "label_bias_init": "label_prior",
}
"""The CPU budget of every trained method. Early stopping reads the dev loss, which every kind reports
(micro-F1 at 0.5 is often 0 for all methods in the first epochs on thousands of labels)."""


@dataclass(frozen=True)
class Method:
    """One row of the comparison."""

    argv: tuple[str, ...]
    """train.py options that make the method (added to the corpus and budget options); empty: not trained."""
    scores_unseen: bool
    """Whether it can score labels outside its training label set (from their descriptions)."""
    needs: str = ""
    """Where the method's own train.py option comes from, for the message when this checkout lacks it."""
    scores_model_of: str = ""
    """Not trained: score the model another method trained, reading the documents as `argv` says
    (with the model's `max_document_length` set from `argv`)."""
    baseline: str = ""
    """For a row with no model: "similarity" (untuned encoder cosines) or "label_prior" (every
    document gets each training label's frequency)."""


LAME = ("--config", "lame_eurlex57k")
FLAT = ("--model", "layerwise", "--guidance", "flat")
METHODS = {
    "vanilla": Method(("--model", "vanilla"), False),
    "layerwise_flat": Method(FLAT, False),
    "lame": Method(LAME, False),
    "lame_agnostic": Method(
        LAME + ("--label_scoring", "label_agnostic", "--description_pooling", "cls", "--similarity_term", "false"),
        True, "issue 13 (label_scoring)",
    ),
    "lame_agnostic_sim": Method(
        LAME + ("--label_scoring", "label_agnostic", "--description_pooling", "mean", "--similarity_term", "true"),
        True, "issue 13 (similarity_term)",
    ),
    "lame_all_labels": Method(LAME + ("--all_label_loss", "true"), False, "issue 29 (all_label_loss)"),
    "lame_mean_queries": Method(LAME + ("--description_pooling", "mean"), False),
    "lame_negatives_256": Method(LAME + ("--label_sample_negatives", "256"), False),
    "lame_joint": Method(LAME + ("--label_sampling", "none"), False),
    "layerwise_flat_mean": Method(FLAT + ("--layer_pooling", "mean"), False),
    "layerwise_flat_head_lr": Method(FLAT + ("--head_learning_rate", "0.01"), False),
    "lame_2048": Method(LAME + ("--max_document_length", "2048"), False, "issue 12 part 4 (max_document_length)"),
    "lame_read_2048": Method(LAME + ("--max_document_length", "2048"), False, "issue 12 part 4 (max_document_length)",
                             scores_model_of="lame"),
    "lame_2048_exact": Method(LAME + ("--max_document_length", "2048", "--shortlist_size", "0"), False,
                              "issue 12 part 4 (max_document_length)", scores_model_of="lame_2048"),
    "similarity": Method((), True, baseline="similarity"),
    "label_prior": Method((), False, baseline="label_prior"),
}
GROUPS = ("frequent", "few", "zero")
DEFAULT_SEED = 42
DEV_CURVE = "dev_curve.json"
"""The training seed of the first run of each method; another seed's files carry it in their names."""


def run_key(method: str, seed: int = DEFAULT_SEED) -> str:
    """The name of one run's result file and work folder: the method, plus `__seed<N>` for a repeat."""
    return method if seed == DEFAULT_SEED else f"{method}__seed{seed}"


# ----------------------------------------------------------------------------- data
def make_subset(data_dir: Path, folder: Path, subset: dict | None = None) -> dict:
    """Link a seeded random subset of `data_dir` (EURLEX57K layout) into `folder`; return its manifest.

    The manifest (`folder/subset.json`) lists the chosen files; a folder drawn with other settings is
    refused, so one work folder always holds one subset.
    """
    subset = SUBSET if subset is None else subset  # read at call time: --subset replaces entries
    manifest_path = folder / "subset.json"
    source = data_dir / "dataset" if (data_dir / "dataset" / "train").is_dir() else data_dir
    request = {"source": str(source.resolve()), **subset}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest["request"] != request:
            raise ValueError(f"{folder} holds a subset drawn with {manifest['request']}, not {request}; "
                             "choose another --work_dir.")
        return manifest
    concepts = next((p for p in (data_dir / "EURLEX57K.json", source / "EURLEX57K.json") if p.exists()), None)
    if concepts is None or not (source / "train").is_dir():
        raise FileNotFoundError(f"{data_dir}: expected train/ dev/ test/ and EURLEX57K.json (the EURLEX57K layout).")
    rng = random.Random(subset["seed"])
    documents = {}
    for split in ("train", "dev", "test"):
        files = sorted(p.name for p in (source / split).glob("*.json"))
        if not files:
            raise FileNotFoundError(f"{source / split}: no document files (*.json).")
        chosen = sorted(rng.sample(files, min(subset[split], len(files))))
        (folder / split).mkdir(parents=True, exist_ok=True)
        for name in chosen:
            link = folder / split / name
            if not link.exists():
                link.symlink_to((source / split / name).resolve())
        documents[split] = chosen
    link = folder / "EURLEX57K.json"
    if not link.exists():
        link.symlink_to(concepts.resolve())
    manifest = {"request": request, "documents": documents}
    manifest_path.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


@dataclass
class EvalData:
    """Gold labels of the dev and test subsets over the evaluation label set.

    Columns: the training labels first (`seen` of them, in the order of train.py's label space),
    then the zero-shot labels (in dev/test documents, in no training document).
    """

    names: list[str]
    descriptions: list[str]
    seen: int
    train_counts: np.ndarray  # (labels,) training documents per label
    gold: dict[str, np.ndarray]  # split -> (documents, labels) 0/1
    texts: dict[str, list[str]]
    ids: dict[str, list[str]]

    def groups(self) -> dict[str, np.ndarray]:
        from labelwise.metrics.label_groups import frequency_groups

        return frequency_groups(self.train_counts)


def load_eval_data(subset_dir: Path) -> EvalData:
    """Read the subset twice: with train.py's label set (the training labels, in its column order) and
    with every label used in the subset (for the zero-shot columns and the dev/test gold labels)."""
    from labelwise.data_scripts import load_corpus, load_label_space

    train_space = load_label_space("eurlex57k", data_dir=str(subset_dir), **CORPUS_OPTIONS)
    used_options = {**CORPUS_OPTIONS, "label_set": "used"}
    used_space = load_label_space("eurlex57k", data_dir=str(subset_dir), **used_options)
    corpus = load_corpus("eurlex57k", data_dir=str(subset_dir), **used_options)
    description_of = dict(zip(used_space.names, used_space.descriptions))
    seen_names = list(train_space.names)
    zero_names = [n for n in used_space.names if n not in set(seen_names)]
    names = seen_names + zero_names
    column = {name: i for i, name in enumerate(names)}
    feature_names = corpus["train"].features["labels"].feature.names

    def matrix(split: str) -> np.ndarray:
        gold = np.zeros((len(corpus[split]), len(names)), dtype=np.int8)
        for row, ids in enumerate(corpus[split]["labels"]):
            gold[row, [column[feature_names[i]] for i in ids]] = 1
        return gold

    train_counts = matrix("train").sum(axis=0)
    if (train_counts[: len(seen_names)] == 0).any() or train_counts[len(seen_names):].any():
        raise ValueError(f"{subset_dir}: label_set='train' does not match the labels of the training documents.")
    return EvalData(
        names=names,
        descriptions=[description_of[n] for n in names],
        seen=len(seen_names),
        train_counts=train_counts,
        gold={split: matrix(split) for split in ("validation", "test")},
        texts={split: list(corpus[split]["text"]) for split in ("validation", "test")},
        ids={split: list(corpus[split]["id"]) for split in ("validation", "test")},
    )


# ----------------------------------------------------------------------------- scoring
def scores_for_run(
    scores: dict[str, np.ndarray], data: EvalData, scores_unseen: bool, k: int = 5
) -> dict:
    """Test scores of one method from its dev and test label scores.

    Args:
        scores: split -> `(documents, labels)` probabilities in `data`'s column order: every column
            when `scores_unseen`, else the `data.seen` training columns only.
        data: gold labels and groups.
        scores_unseen: whether the zero-shot columns are scored.

    Returns:
        `{"threshold", "dev_micro_f1", "overall": {...}, "groups": {group: {...} or "n/a"}}`.
    """
    from labelwise.metrics.classification import multilabel_scores
    from labelwise.metrics.label_groups import label_group_scores, r_precision_at_k
    from labelwise.metrics.ranking import ndcg_at_k, precision_at_k, r_precision
    from labelwise.metrics.thresholds import tune_global_threshold

    seen = slice(0, data.seen)
    width = len(data.names) if scores_unseen else data.seen
    for split, matrix in scores.items():
        if matrix.shape != (data.gold[split].shape[0], width):
            raise ValueError(f"{split} scores have shape {matrix.shape}; expected {(data.gold[split].shape[0], width)}.")
    threshold, dev_f1 = tune_global_threshold(data.gold["validation"][:, seen], scores["validation"][:, seen])
    gold, test = data.gold["test"][:, seen], scores["test"][:, seen]
    at = multilabel_scores(gold, (test >= threshold).astype(np.int8))
    overall = {
        "r_precision": r_precision(gold, test),
        f"rp_at_{k}": r_precision_at_k(gold, test, k),
        f"p_at_{k}": precision_at_k(gold, test, k),
        f"ndcg_at_{k}": ndcg_at_k(gold, test, k),
        "micro_f1": at["micro_f1"],
        "micro_precision": at["micro_precision"],
        "micro_recall": at["micro_recall"],
    }
    groups = data.groups()
    if scores_unseen:
        flat = label_group_scores(data.gold["test"], scores["test"], groups, k=k, threshold=threshold)
    else:
        flat = label_group_scores(gold, test, {g: groups[g] for g in ("frequent", "few")}, k=k, threshold=threshold)
    by_group: dict[str, dict | str] = {}
    for group in GROUPS:
        prefix = f"{group}_"
        values = {key.removeprefix(prefix): value for key, value in flat.items() if key.startswith(prefix)}
        by_group[group] = values or "n/a"
    return {"threshold": threshold, "dev_micro_f1": dev_f1, "overall": overall, "groups": by_group,
            "group_sizes": {g: {"labels": int(len(groups[g])),
                                "test_documents": int((data.gold["test"][:, groups[g]].sum(axis=1) > 0).sum())}
                            for g in GROUPS}}


def similarity_probabilities(backbone: str, texts: list[str], descriptions: list[str], max_length: int) -> np.ndarray:
    """The shared untuned-encoder baseline (`labelwise.analysis.similarity_baseline`), its cosines mapped
    to [0, 1] by (cos + 1) / 2 so one threshold grid serves every method. `(documents, labels)`."""
    from labelwise.analysis.similarity_baseline import similarity_scores

    return (similarity_scores(texts, descriptions, backbone, max_length) + 1) / 2


def label_prior_scores(data: EvalData) -> dict[str, np.ndarray]:
    """Dev and test scores `(documents, seen labels)`: each training label's share of the training
    documents, the same row for every document."""
    prior = data.train_counts[: data.seen] / SUBSET["train"]
    return {split: np.tile(prior, (len(data.texts[split]), 1)) for split in ("validation", "test")}


# ----------------------------------------------------------------------------- training
def train_argv(method: str, subset_dir: Path, output_dir: Path, seed: int, backbone: str) -> list[str]:
    """The train.py command line of a trained method on the subset with the shared budget."""
    from labelwise.training.cli import options_to_argv as budget_arguments

    argv = METHODS[method].argv
    # A method that changes one budget entry (layerwise_flat_head_lr) names it itself; the budget keeps the rest.
    budget = {key: value for key, value in BUDGET.items() if f"--{key}" not in argv}
    return (
        list(argv)
        + ["--corpus", "eurlex57k", "--data_dir", str(subset_dir), "--corpus_options", json.dumps(CORPUS_OPTIONS)]
        + budget_arguments(budget)
        + ["--model_name_or_path", backbone, "--seed", str(seed), "--output_dir", str(output_dir)]
    )


def missing_option(method: str) -> str | None:
    """Why this checkout cannot train `method` (a train.py option it lacks), or None."""
    from labelwise.training.arguments import parse_arguments

    if not METHODS[method].argv:
        return None
    with tempfile.TemporaryDirectory() as folder:
        try:
            parse_arguments(list(METHODS[method].argv) + ["--output_dir", folder])
        except (ValueError, SystemExit) as err:
            options = [a for a in METHODS[method].argv if a.startswith("--") and a != "--config"]
            return (f"train.py here does not accept {' '.join(options)} (needs {METHODS[method].needs or 'a newer labelwise'}): "
                    f"{str(err).splitlines()[0] if str(err) else 'unknown option'}")
    return None


def epoch_timer(path: Path):
    """A `TrainerCallback` appending `{"epoch", "steps", "seconds", "torch_threads"}` of each (part of an)
    epoch to `path` (and each evaluation's dev loss and micro-F1 to `DEV_CURVE` beside it), so a resumed run keeps the times of the epochs before the interruption (and says how
    many threads each part had, as a run may resume with another `--torch_threads`)."""
    import torch
    from transformers import TrainerCallback

    class EpochTimer(TrainerCallback):
        def on_epoch_begin(self, args, state, control, **kwargs):
            self.started, self.first_step = time.time(), state.global_step

        def on_epoch_end(self, args, state, control, **kwargs):
            records = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
            records.append({"epoch": round(state.epoch, 3), "steps": state.global_step - self.first_step,
                            "seconds": round(time.time() - self.started, 1), "torch_threads": torch.get_num_threads()})
            path.write_text(json.dumps(records, indent=1), encoding="utf-8")

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            # The dev curve until patience or the cap ended the run (checkpoints are rotated away).
            curve = path.with_name(DEV_CURVE)
            points = json.loads(curve.read_text(encoding="utf-8")) if curve.exists() else []
            points.append({"epoch": round(state.epoch, 2), "eval_loss": (metrics or {}).get("eval_loss"),
                           "eval_micro_f1": (metrics or {}).get("eval_micro_f1")})
            curve.write_text(json.dumps(points, indent=1), encoding="utf-8")

    return EpochTimer()


def reading_overrides(args, config) -> dict:
    """Config fields a scored model takes from `argv` rather than from its training: how it reads a
    document (segments up to `--max_document_length`: lame_read_2048) and how many first-stage labels
    its head scores (`--shortlist_size`, 0 for every label: lame_2048_exact). Empty for a model
    scored as it was trained."""
    from labelwise.kinds.base import segment_fields

    overrides = {}
    if getattr(args, "max_document_length", None) and hasattr(config, "max_document_length"):
        overrides.update(segment_fields(args))
    if getattr(config, "uses_first_stage", False) and getattr(args, "shortlist_size", None) is not None:
        overrides["shortlist_size"] = args.shortlist_size
    return overrides


def model_scores(argv: list[str], model_dir: Path, data: EvalData, scores_unseen: bool) -> dict[str, np.ndarray]:
    """Sigmoid scores of a trained model on the dev and test subsets, in `data`'s column order.

    The documents go through the kind's own encoding (`prepare_task`, so options such as
    `--max_document_length` apply as in training) and `Trainer.predict`; a model that scores unseen
    labels first gets the zero-shot labels with `model.add_labels` (issue 13's API).
    """
    import torch

    from labelwise.backbone import resolve_backbone
    from labelwise.data_scripts import load_corpus, load_label_space
    from labelwise.kinds import get_kind
    from labelwise.kinds.base import logits_of
    from labelwise.training.arguments import parse_arguments
    from labelwise.training.cli import build_trainer
    from labelwise.training.tasks import prepare_task

    args, training_args = parse_arguments(argv)
    training_args.report_to = []
    space = load_label_space(args.corpus, data_dir=args.data_dir, **args.corpus_config())
    corpus = load_corpus(args.corpus, data_dir=args.data_dir, **args.corpus_config())
    for split in ("validation", "test"):
        if list(corpus[split]["id"]) != data.ids[split]:
            raise ValueError(f"{args.data_dir}: the {split} documents differ between the two readings of the subset.")
    task = prepare_task(args, space, corpus, resolve_backbone(args.model_name_or_path), seed=training_args.seed)
    model = get_kind(args.model).load_model_class().from_pretrained(str(model_dir)).eval()
    model.config.update(reading_overrides(args, model.config))
    if scores_unseen:
        if not hasattr(model, "add_labels"):
            raise ValueError(f"{model_dir}: this model cannot take new labels (no add_labels; issue 13's head).")
        model.add_labels(dict(zip(data.names[data.seen:], data.descriptions[data.seen:])), task.tokenizer)
    task.model = model
    trainer = build_trainer(args, training_args, task)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    wanted = data.names if scores_unseen else data.names[: data.seen]
    position = {name: i for i, name in enumerate(names)}
    missing = [n for n in wanted if n not in position]
    if missing:
        raise ValueError(f"{model_dir}: the model has no output for {len(missing)} label(s), e.g. {missing[:3]}.")
    order = np.array([position[n] for n in wanted])
    out = {}
    for split in ("validation", "test"):
        prediction = trainer.predict(task.datasets[split].remove_columns("labels"), metric_key_prefix=split)
        logits = torch.from_numpy(np.asarray(logits_of(prediction.predictions), dtype=np.float32))
        out[split] = torch.sigmoid(logits).numpy()[:, order]
    return out


def dev_shortlist_recall(argv: list[str], model_dir: Path, data: EvalData) -> float | None:
    """Share of the dev documents' gold (training) labels inside LAME's first-stage shortlist, or None
    when the model has no shortlist. Documents are read as `train.py --max_length` truncates them."""
    import torch
    from transformers import AutoTokenizer

    from labelwise.kinds import get_kind
    from labelwise.modeling import shortlist_recall
    from labelwise.training.arguments import parse_arguments

    args, training_args = parse_arguments(argv)
    model = get_kind(args.model).load_model_class().from_pretrained(str(model_dir)).eval()
    config = model.config
    if not getattr(config, "uses_first_stage", False) or not getattr(config, "effective_shortlist_size", 0):
        return None
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    position = {config.id2label[i]: i for i in range(config.num_labels)}
    targets = np.zeros((len(data.texts["validation"]), config.num_labels), dtype=np.int8)
    for name, column in zip(data.names[: data.seen], range(data.seen)):
        targets[:, position[name]] = data.gold["validation"][:, column]
    shortlists = []
    texts, batch = data.texts["validation"], training_args.per_device_eval_batch_size
    with torch.inference_mode():
        for start in range(0, len(texts), batch):
            encoded = tokenizer(texts[start : start + batch], truncation=True, max_length=args.max_length,
                                padding=True, return_tensors="pt")
            shortlists.append(model.shortlist_labels(encoded["input_ids"], encoded["attention_mask"]))
    return shortlist_recall(torch.cat(shortlists), torch.from_numpy(targets))


def result_path(results: Path, method: str, seed: int = DEFAULT_SEED) -> Path:
    return results / f"{run_key(method, seed)}.json"


def steps_per_epoch() -> int:
    return math.ceil(SUBSET["train"] / BUDGET["per_device_train_batch_size"])


def run_one(method: str, data_dir: Path, work_dir: Path, results: Path, seed: int = DEFAULT_SEED, backbone: str | None = None,
            torch_threads: int = 1) -> dict:
    """Train (or resume) and score one method with `torch_threads` threads; write and return its result record."""
    import torch

    from labelwise import default_backbone_path
    from labelwise.training.cli import run

    torch.set_num_threads(torch_threads)
    backbone = backbone or str(default_backbone_path())
    subset_dir = work_dir / "subset"
    manifest = make_subset(data_dir, subset_dir)
    data = load_eval_data(subset_dir)
    spec = METHODS[method]
    why = missing_option(method)  # None for the rows without train.py options
    if why:
        raise ValueError(f"{method}: {why}")
    record = {"method": method, "subset": manifest["request"], "budget": BUDGET, "seed": seed,
              "backbone": backbone, "torch_threads": torch.get_num_threads(), "scores_unseen": spec.scores_unseen,
              "code_version": code_version()}
    started = time.time()
    if spec.baseline == "label_prior":
        scores = label_prior_scores(data)
        record["command"] = f"python bench/eurlex_label_groups.py --methods {method} (no model)"
    elif not spec.argv:
        scores = {split: similarity_probabilities(backbone, data.texts[split], data.descriptions if spec.scores_unseen
                                           else data.descriptions[: data.seen], BUDGET["max_length"])
                  for split in ("validation", "test")}
        record["command"] = f"python bench/eurlex_label_groups.py --methods {method} (no training)"
        record["wall_seconds"] = round(time.time() - started, 1)
    elif spec.scores_model_of:
        model_dir = work_dir / spec.scores_model_of / "model"
        if not (model_dir / "training_summary.json").exists():
            raise ValueError(f"{method} scores the model of {spec.scores_model_of}, and {model_dir} has none yet: "
                             f"run --methods {spec.scores_model_of} first.")
        record.update(command=f"python bench/eurlex_label_groups.py --methods {method} (no training: {model_dir} "
                              f"scored with {' '.join(spec.argv)})", model_of=spec.scores_model_of)
        with tempfile.TemporaryDirectory() as scratch:  # the Trainer's output folder; nothing is kept
            scores = model_scores(train_argv(method, subset_dir, Path(scratch), seed, backbone), model_dir, data,
                                  spec.scores_unseen)
        record["scoring_seconds"] = round(time.time() - started, 1)
    else:
        output_dir = work_dir / run_key(method, seed)
        output_dir.mkdir(parents=True, exist_ok=True)
        argv = train_argv(method, subset_dir, output_dir, seed, backbone)
        summary_path = output_dir / "model" / "training_summary.json"
        if not summary_path.exists():  # else trained earlier, only the scoring was interrupted
            run(argv, extra_callbacks=(epoch_timer(output_dir / "epoch_times.json"),))
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        summary.pop("label_descriptions", None)
        epochs = json.loads((output_dir / "epoch_times.json").read_text(encoding="utf-8")) \
            if (output_dir / "epoch_times.json").exists() else []
        steps, seconds = sum(e["steps"] for e in epochs), sum(e["seconds"] for e in epochs)
        record.update(
            command="python train.py " + " ".join(argv),
            epoch_times=epochs,
            seconds_per_epoch=round(seconds / steps * steps_per_epoch(), 1) if steps else None,
            epochs_run=round(epochs[-1]["epoch"]) if epochs else None,
            best_checkpoint=_best_epoch(output_dir),
            dev_curve=_dev_curve(output_dir),
            summary=summary,
        )
        # Patience with a cap: a run that ended before the cap was stopped by its dev score.
        record["stopped_by"] = ("cap" if record["epochs_run"] is None or record["epochs_run"] >= BUDGET["num_train_epochs"]
                                else "patience")
        scoring_started = time.time()
        scores = model_scores(argv, output_dir / "model", data, spec.scores_unseen)
        if "--max_document_length" in argv:
            record["dev_shortlist_recall"] = "not measured (the shortlist of segmented documents)"
        else:
            record["dev_shortlist_recall"] = dev_shortlist_recall(argv, output_dir / "model", data)
        record["scoring_seconds"] = round(time.time() - scoring_started, 1)
        # This process only: a resumed run trained its earlier part in another one (see epoch_times).
        record["wall_seconds_this_process"] = round(time.time() - started, 1)
    record["test"] = scores_for_run(scores, data, spec.scores_unseen)
    results.mkdir(parents=True, exist_ok=True)
    result_path(results, method, seed).write_text(json.dumps(record, indent=2, default=_json_default), encoding="utf-8")
    if spec.argv and not spec.scores_model_of:
        for checkpoint in (work_dir / run_key(method, seed)).glob("checkpoint-*"):
            shutil.rmtree(checkpoint)  # the best model is in <work_dir>/<method>/model
    return record


def _dev_curve(output_dir: Path) -> list[dict]:
    """Each evaluation's epoch, dev loss and dev micro-F1 at 0.5 (written by `epoch_timer`): how the dev
    score moved until patience or the cap ended the run."""
    path = output_dir / DEV_CURVE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def _best_epoch(output_dir: Path) -> float | None:
    states = sorted(output_dir.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    if not states:
        return None
    state = json.loads(states[-1].read_text(encoding="utf-8"))
    best = state.get("best_model_checkpoint")
    if not best:
        return None
    step = int(Path(best).name.split("-")[1])
    return round(step / steps_per_epoch(), 2)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


# ----------------------------------------------------------------------------- diagnostics
def query_similarity(data_dir: Path, work_dir: Path, results: Path, backbone: str | None = None) -> dict:
    """How alike the untuned encoder's label queries are: the mean pairwise cosine of the training labels'
    description embeddings, [CLS] against mean pooling, and the share of their squared norm in the vector
    all of them share (their mean). Writes `query_similarity.json`."""
    import torch
    from transformers import AutoTokenizer, BertModel

    from labelwise import default_backbone_path
    from labelwise.data_scripts import load_label_space
    from labelwise.modeling.segments import masked_mean

    backbone = backbone or str(default_backbone_path())
    subset_dir = work_dir / "subset"
    make_subset(data_dir, subset_dir)
    descriptions = list(load_label_space("eurlex57k", data_dir=str(subset_dir), **CORPUS_OPTIONS).descriptions)
    tokenizer, encoder = AutoTokenizer.from_pretrained(backbone), BertModel.from_pretrained(backbone).eval()
    pooled: dict[str, list] = {"cls": [], "mean": []}
    with torch.no_grad():
        for start in range(0, len(descriptions), 64):
            encoded = tokenizer(descriptions[start : start + 64], padding=True, truncation=True, max_length=64,
                                return_tensors="pt")
            states = encoder(**encoded).last_hidden_state
            pooled["cls"].append(states[:, 0])
            pooled["mean"].append(masked_mean(states, encoded["attention_mask"]))
    record = {"backbone": backbone, "labels": len(descriptions), "max_description_length": 64}
    for pooling, parts in pooled.items():
        vectors = torch.cat(parts)
        unit = torch.nn.functional.normalize(vectors, dim=-1)
        cosines = (unit @ unit.T)[~torch.eye(len(unit), dtype=torch.bool)]
        common = (vectors.mean(0).norm() ** 2 / (vectors.norm(dim=-1) ** 2).mean()).item()
        record[pooling] = {"mean_pairwise_cosine": round(cosines.mean().item(), 4),
                           "cosine_p5": round(cosines.quantile(0.05).item(), 4),
                           "cosine_p95": round(cosines.quantile(0.95).item(), 4),
                           "share_of_squared_norm_in_the_mean": round(common, 4)}
    results.mkdir(parents=True, exist_ok=True)
    (results / "query_similarity.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return record


# ----------------------------------------------------------------------------- estimates
def estimate(method: str, data_dir: Path, work_dir: Path, results: Path, steps: int, backbone: str | None = None) -> dict:
    """Time `steps` training steps (and the prediction of 16 dev documents) of `method` on the real
    subset, one thread, and extrapolate an epoch; writes `estimates/<method>.json`."""
    import torch

    from labelwise import default_backbone_path
    from labelwise.backbone import resolve_backbone
    from labelwise.data_scripts import load_corpus, load_label_space
    from labelwise.training.arguments import parse_arguments
    from labelwise.training.cli import build_trainer
    from labelwise.training.tasks import prepare_task
    from transformers import TrainerCallback

    torch.set_num_threads(1)
    backbone = backbone or str(default_backbone_path())
    subset_dir = work_dir / "subset"
    make_subset(data_dir, subset_dir)
    spec = METHODS[method]
    record: dict = {"method": method, "budget": BUDGET, "subset": SUBSET, "torch_threads": 1}
    if spec.baseline == "label_prior":
        record["not_estimated"] = "no model: label frequencies"
    elif not spec.argv:
        data = load_eval_data(subset_dir)
        started = time.time()
        similarity_probabilities(backbone, data.texts["validation"][:16], data.descriptions, BUDGET["max_length"])
        record["seconds_16_dev_documents_all_descriptions"] = round(time.time() - started, 1)
    elif spec.scores_model_of:
        record["not_estimated"] = f"no training: it scores the model of {spec.scores_model_of}"
    else:
        why = missing_option(method)
        if why:
            record["not_estimated"] = why
        else:
            with tempfile.TemporaryDirectory() as folder:
                argv = train_argv(method, subset_dir, Path(folder), 42, backbone) + [
                    "--max_steps", str(steps), "--eval_strategy", "no", "--save_strategy", "no",
                    "--load_best_model_at_end", "false", "--early_stopping_patience", "0", "--disable_tqdm", "true"]
                args, training_args = parse_arguments(argv)
                corpus_options = args.corpus_config()
                space = load_label_space(args.corpus, data_dir=args.data_dir, **corpus_options)
                corpus = load_corpus(args.corpus, data_dir=args.data_dir, **corpus_options)
                started = time.time()
                task = prepare_task(args, space, corpus, resolve_backbone(args.model_name_or_path), seed=42)
                record["prepare_seconds"] = round(time.time() - started, 1)
                times: list[float] = []
                cpu_times: list[float] = []  # one thread: the work of a step, without its waits for a core

                class StepTimer(TrainerCallback):
                    def on_step_begin(self, a, s, c, **k):
                        self.started, self.cpu_started = time.time(), time.process_time()

                    def on_step_end(self, a, s, c, **k):
                        times.append(time.time() - self.started)
                        cpu_times.append(time.process_time() - self.cpu_started)

                trainer = build_trainer(args, training_args, task, (StepTimer(),))
                trainer.train()
                started = time.time()
                trainer.predict(task.datasets["validation"].select(range(16)))
                predict_16 = time.time() - started
            # The first step also builds the label cache (LAME) and warms up: the later ones are the rate.
            def steady(values: list[float]) -> float:
                return float(np.median(values[1:])) if len(values) > 1 else values[0]

            rate = steady(times)
            record.update(
                labels=len(space.names),
                step_seconds=[round(t, 2) for t in times],
                seconds_per_step=round(rate, 2),
                step_cpu_seconds=[round(t, 2) for t in cpu_times],
                cpu_seconds_per_step=round(steady(cpu_times), 2),
                load_average=os.getloadavg(),
                estimated_train_minutes_per_epoch=round(rate * steps_per_epoch() / 60, 1),
                seconds_predict_16_dev_documents=round(predict_16, 1),
                estimated_dev_eval_minutes=round(predict_16 / 16 * SUBSET["dev"] / 60, 1),
                estimated_test_eval_minutes=round(predict_16 / 16 * SUBSET["test"] / 60, 1),
            )
            # Per epoch: train + dev eval; after training: train.py's dev and test pass, then the
            # benchmark's own scoring pass over dev and test.
            per_epoch = record["estimated_train_minutes_per_epoch"] + record["estimated_dev_eval_minutes"]
            final = 2 * (record["estimated_dev_eval_minutes"] + record["estimated_test_eval_minutes"])
            record["estimated_hours_per_run_at_max_epochs"] = round((BUDGET["num_train_epochs"] * per_epoch + final) / 60, 1)
    folder = results / "estimates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{method}.json").write_text(json.dumps(record, indent=2), encoding="utf-8")
    return record


# ----------------------------------------------------------------------------- report
def _cell(value, scale: float = 100.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * scale:.2f}"


def finished_records(results: Path) -> dict[str, dict]:
    """The result file of each finished run, in `METHODS` order, each method's repeats with other seeds
    (`<method>__seed<N>`) after its first run."""
    records = {}
    for method in METHODS:
        paths = [result_path(results, method)] + sorted(results.glob(f"{method}__seed*.json"))
        for path in paths:
            if path.exists():
                records[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return records


def threads_note(record: dict) -> str:
    """"" for a run trained on one thread throughout, else how many steps ran on how many threads
    (an epoch timed before threads were recorded ran on one)."""
    steps_by_threads: dict[int, int] = {}
    for epoch in record.get("epoch_times", []):
        threads = epoch.get("torch_threads", 1)
        steps_by_threads[threads] = steps_by_threads.get(threads, 0) + epoch["steps"]
    if set(steps_by_threads) <= {1}:
        return ""
    return " (" + ", ".join(f"{steps} steps on {threads} thread{'s' if threads > 1 else ''}"
                            for threads, steps in sorted(steps_by_threads.items())) + ")"


def report(results: Path) -> str:
    """Markdown: the overall test scores per method, then R-Precision@5 / nDCG@5 / micro-F1 per group."""
    records = finished_records(results)
    # One row per run: each method's first run (or "not yet run"), then its repeats with other seeds.
    rows = [(key, method) for method in METHODS
            for key in ([k for k in records if k == method or k.startswith(f"{method}__seed")] or [method])]
    lines = [
        "| method | status | train s/epoch | epochs run (best) | RP | RP@5 | P@5 | nDCG@5 | micro-F1 (P / R) @ dev threshold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, method in rows:
        record = records.get(key)
        if record is None:
            lines.append(f"| {key} | not yet run | | | | | | | |")
            continue
        o = record["test"]["overall"]
        spec = METHODS[method]
        stopped = f", {record['stopped_by']}" if record.get("stopped_by") else ""
        epochs = (f"{spec.scores_model_of}'s model" if spec.scores_model_of
                  else f"{record.get('epochs_run')} ({record.get('best_checkpoint')}{stopped})" if spec.argv
                  else "no model" if spec.baseline == "label_prior" else "no training")
        seconds = record.get("seconds_per_epoch")
        lines.append(
            f"| {key} | done | {seconds if seconds is not None else '-'}{threads_note(record)} | {epochs} | {_cell(o['r_precision'])} | "
            f"{_cell(o['rp_at_5'])} | {_cell(o['p_at_5'])} | {_cell(o['ndcg_at_5'])} | "
            f"{_cell(o['micro_f1'])} ({_cell(o['micro_precision'])} / {_cell(o['micro_recall'])}) @ {record['test']['threshold']:.2f} |"
        )
    lines += ["", "| method | " + " | ".join(f"{g} RP@5 | {g} nDCG@5 | {g} micro-F1" for g in GROUPS) + " |",
              "|---|" + "---|" * (3 * len(GROUPS))]
    for key, method in rows:
        record = records.get(key)
        if record is None:
            lines.append(f"| {key} | not yet run |" + " |" * (3 * len(GROUPS) - 1))
            continue
        cells = []
        for group in GROUPS:
            values = record["test"]["groups"][group]
            if values == "n/a":
                cells += ["n/a"] * 3
            else:
                cells += [_cell(values.get("rp_at_5")), _cell(values.get("ndcg_at_5")), _cell(values.get("micro_f1"))]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    recalls = [f"{m} {r['dev_shortlist_recall']:.4f}" for m, r in records.items()
               if isinstance(r.get("dev_shortlist_recall"), float)]
    if recalls:
        lines += ["", "Dev recall of gold labels inside LAME's first-stage shortlist: " + "; ".join(recalls)]
    if records:
        sizes = next(iter(records.values()))["test"]["group_sizes"]
        lines += ["", "Groups (test subset): " + "; ".join(
            f"{g}: {s['labels']} labels, {s['test_documents']} documents" for g, s in sizes.items())]
    return "\n".join(lines)


def plot_groups(results: Path, path: Path, metric: str = "rp_at_5") -> dict[str, dict[str, float | None]]:
    """Grouped bars: test `metric` (in %) of each finished method, overall and per label group. A
    label-specific model has no score on the zero group: its bar is missing and marked n/a. Returns
    the values drawn, by method and group (None where n/a)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = ("overall",) + GROUPS
    values: dict[str, dict[str, float | None]] = {}
    for method, record in finished_records(results).items():
        test = record["test"]
        row = {"overall": 100.0 * test["overall"][metric]}
        for group in GROUPS:
            scores = test["groups"][group]
            row[group] = None if scores == "n/a" else 100.0 * scores[metric]
        values[method] = row
    if not values:
        raise FileNotFoundError(f"No finished method in {results}: nothing to plot.")
    width = 0.8 / len(values)
    figure, axis = plt.subplots(figsize=(max(7.0, 1.1 * len(values) + 4), 4))
    for i, (method, row) in enumerate(values.items()):
        xs = [c + (i - (len(values) - 1) / 2) * width for c in range(len(columns))]
        heights = [row[c] if row[c] is not None else 0.0 for c in columns]
        axis.bar(xs, heights, width, label=method)
        for x, column in zip(xs, columns):
            if row[column] is None:
                axis.text(x, 1.0, "n/a", rotation=90, ha="center", va="bottom", fontsize=7)
    ticks = {"overall": "overall", "frequent": "frequent\n(>= 50 training docs)", "few": "few\n(1-49)",
             "zero": "zero\n(not in training)"}
    axis.set_xticks(range(len(columns)), [ticks[c] for c in columns])
    name = {"rp_at_5": "R-Precision@5", "ndcg_at_5": "nDCG@5", "micro_f1": "micro-F1"}.get(metric, metric)
    axis.set_ylabel(f"test {name} (%)")
    axis.set_title(f"EURLEX57K subset: test {name} by label group")
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return values


# ----------------------------------------------------------------------------- command
def run_all(methods: list[str], data_dir: Path, work_dir: Path, results: Path, seed: int, budget: str | None = None,
            torch_threads: int = 1, subset: str | None = None) -> bool:
    """Each unfinished method in its own process, one at a time, on `torch_threads` torch threads (`budget`,
    `subset`: the `--budget` and `--subset` JSON, passed on to each). False when a signal stopped a method
    (its checkpoint saved, nothing further started), so that a queue of runs stops too."""
    check_same_budget(work_dir, results, methods, seed)
    todo = [m for m in methods if not result_path(results, m, seed).exists()]
    print(f"{len(methods) - len(todo)} of {len(methods)} methods done earlier; {len(todo)} to run", flush=True)
    (work_dir / "logs").mkdir(parents=True, exist_ok=True)
    (work_dir / "budget.json").write_text(json.dumps(BUDGET, indent=1), encoding="utf-8")
    for method in todo:
        why = missing_option(method)
        if why:
            print(f"{method}: skipped, {why}", flush=True)
            continue
        command = [sys.executable, str(Path(__file__).resolve()), "--only", method, "--data_dir", str(data_dir),
                   "--work_dir", str(work_dir), "--results_dir", str(results), "--seed", str(seed),
                   "--torch_threads", str(torch_threads)]
        if budget:
            command += ["--budget", budget]
        if subset:
            command += ["--subset", subset]
        env = {**os.environ, "OMP_NUM_THREADS": str(torch_threads), "MKL_NUM_THREADS": str(torch_threads)}
        started = time.time()
        with open(work_dir / "logs" / f"{run_key(method, seed)}.log", "a", encoding="utf-8") as log:
            code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        if code == EXIT_INTERRUPTED:  # SIGTERM/Ctrl-C: train.py saved a checkpoint; start nothing new
            print(f"{method}: stopped by a signal after {(time.time() - started) / 60:.1f} min, checkpoint saved; "
                  "run the same command again to resume", flush=True)
            return False
        status = "ok" if code == 0 else f"FAILED (exit {code}, see {work_dir / 'logs' / (run_key(method, seed) + '.log')})"
        print(f"{method}: {status} in {(time.time() - started) / 60:.1f} min", flush=True)
    return True


LEGACY_BUDGET = {"label_bias_init": "zero"}
"""Budget entries added later, with the value that records written before them were run with."""


def budget_differences(recorded: dict) -> dict[str, tuple]:
    """`{key: (recorded value, current value)}` where a recorded budget differs from `BUDGET`."""
    recorded = {**LEGACY_BUDGET, **recorded}
    return {key: (recorded.get(key), value) for key, value in BUDGET.items() if recorded.get(key) != value}


def check_same_budget(work_dir: Path, results: Path, methods: list[str], seed: int = DEFAULT_SEED) -> None:
    """Stop, naming the file and the entries, when finished results or the checkpoints in `work_dir` are
    from another budget: they would be skipped or resumed as if they were this one's."""
    recorded = [(result_path(results, m, seed), "budget") for m in methods if result_path(results, m, seed).exists()]
    recorded.append((work_dir / "budget.json", None))
    for path, key in recorded:
        if not path.exists():
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        differences = budget_differences(data[key] if key else data)
        if differences:
            listed = ", ".join(f"{k}: {old!r} there, {new!r} now" for k, (old, new) in differences.items())
            raise SystemExit(f"{path} is from another budget ({listed}). Give this budget its own --results_dir "
                             "and --work_dir, or run with the budget it was made with (--budget).")


def budget_overrides(text: str) -> dict:
    """`--budget` JSON -> the `BUDGET` entries it replaces (an error names any key BUDGET lacks)."""
    overrides = json.loads(text)
    if not isinstance(overrides, dict):
        raise SystemExit(f"--budget: expected a JSON object of BUDGET entries, got {text!r}")
    unknown = sorted(set(overrides) - set(BUDGET))
    if unknown:
        raise SystemExit(f"--budget: unknown key(s) {unknown}; the budget's keys are {sorted(BUDGET)}")
    return overrides


def subset_overrides(text: str) -> dict:
    """`--subset` JSON -> the `SUBSET` entries it replaces (an error names any key SUBSET lacks)."""
    overrides = json.loads(text)
    if not isinstance(overrides, dict) or set(overrides) - set(SUBSET):
        raise SystemExit(f"--subset: expected a JSON object with keys among {sorted(SUBSET)}, got {text!r}")
    return overrides


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, help="The EURLEX57K copy (train/ dev/ test/, EURLEX57K.json); needed to run.")
    parser.add_argument("--work_dir", type=Path, default=REPO / "outputs" / "eurlex_label_groups")
    parser.add_argument("--results_dir", type=Path, default=RESULTS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seed", type=int, default=42, help="Training seed (the subset's seed is SUBSET['seed']).")
    parser.add_argument("--only", choices=list(METHODS), help="Run one method in this process (used by the runner).")
    parser.add_argument("--torch_threads", type=int, default=1,
                        help="Threads per training run (recorded per epoch). One keeps two runs side by side on two "
                             "cores comparable; a resumed run may change it.")
    parser.add_argument("--report", action="store_true", help="Print the Markdown tables of the finished runs.")
    parser.add_argument("--plot", type=Path, metavar="PNG",
                        help="With --report: also draw test R-Precision@5 per label group, one bar per finished method.")
    parser.add_argument("--estimate", type=int, metavar="STEPS", help="Time STEPS training steps of each method.")
    parser.add_argument("--budget", default=None, metavar="JSON",
                        help="Replace BUDGET entries for this run, e.g. '{\"head_learning_rate\": 0.01}'. Give the run "
                             "its own --work_dir and --results_dir: results at another budget are another table.")
    parser.add_argument("--query_similarity", action="store_true",
                        help="Measure how alike the untuned encoder's label queries are ([CLS] against mean pooling).")
    parser.add_argument("--subset", default=None, metavar="JSON",
                        help="Replace SUBSET entries, e.g. '{\"train\": 5000, \"dev\": 6000, \"test\": 6000}' (more "
                             "documents than a split has: all of them). Another subset needs its own --work_dir.")
    options = parser.parse_args(argv)
    if options.budget:
        BUDGET.update(budget_overrides(options.budget))
    if options.subset:
        SUBSET.update(subset_overrides(options.subset))
    if not options.report and options.data_dir is None:
        parser.error("--data_dir is needed (e.g. ../shared/data/eurlex57k).")
    if options.report:
        print(report(options.results_dir))
        if options.plot:
            plot_groups(options.results_dir, options.plot)
            print(f"wrote {options.plot}")
    elif options.query_similarity:
        print(json.dumps(query_similarity(options.data_dir, options.work_dir, options.results_dir), indent=2))
    elif options.estimate:
        for method in options.methods:
            print(method, json.dumps(estimate(method, options.data_dir, options.work_dir, options.results_dir,
                                              options.estimate)), flush=True)
    elif options.only:
        run_one(options.only, options.data_dir, options.work_dir, options.results_dir, options.seed,
                torch_threads=options.torch_threads)
    else:
        if not run_all(options.methods, options.data_dir, options.work_dir, options.results_dir, options.seed,
                       options.budget, options.torch_threads, options.subset):
            sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
