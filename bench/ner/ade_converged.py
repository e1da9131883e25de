"""The ADR tagger trained until dev entity F1 levels off (issue 17).

    python bench/ner/ade_converged.py --data_root ../shared/data            # fold 0 (resumable)
    python bench/ner/ade_converged.py --report --plot docs/images/ade_converged_curve.png

The 5-fold comparison (`labelwise.ner.crossval`, results in bench/ner/results/ade_cv_transformer_3ep)
fine-tunes for a fixed 3 epochs with no dev set, at one learning rate (1e-4) for every parameter.
Here `train.py` trains the same tagger (packaged MiniLM, 150-piece windows, batch 16, 10% warm-up,
linear decay) with train.py's two learning rates: 1e-4 for the encoder and its default 1e-3 for the
new output layer (`BUDGET` sets no `head_learning_rate`, so the first run used the default; kept
so that every fold shares one budget)
on ADE fold k of 5 (the ADE builder's fold: test = fold k, dev = fold k + 1, train = the other three
folds, split by PMID, sentences without an entity left out as in the cross-validation) and evaluates on
dev after every epoch, until dev entity F1 has not improved for `PATIENCE` epochs (cap `MAX_EPOCHS`).
The best dev epoch is kept and scored on the test fold: exact-match entity P/R/F1 over whole sentences.

One JSON file per fold in `bench/results/ade_converged/`; a finished fold is skipped, an interrupted
one resumes from its last checkpoint in `--work_dir`. The report puts the 3-epoch cross-validation
fold's F1 (read from its result file) beside the converged one; note that the converged run trains on
three folds, not four, because one fold is its dev set.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

from curves import dev_curve, plot_curves  # noqa: E402  (one place for learning curves)
from lame_comparison import budget_arguments  # noqa: E402

RESULTS = REPO / "bench" / "results" / "ade_converged"
THREE_EPOCH_CV = HERE / "results" / "ade_cv_transformer_3ep"
MAX_EPOCHS = 15
PATIENCE = 3
NUM_FOLDS = 5
BUDGET = {
    "max_length": 150,
    "per_device_train_batch_size": 16,
    "per_device_eval_batch_size": 64,
    "learning_rate": 1e-4,
    "warmup_steps": 0.1,
    "lr_scheduler_type": "linear",
    "num_train_epochs": MAX_EPOCHS,
    "early_stopping_patience": PATIENCE,
    "metric_for_best_model": "f1",
    "save_total_limit": 2,
}


def result_path(results: Path, fold: int) -> Path:
    return results / f"transformer__fold{fold}.json"


def run_fold(fold: int, data_root: Path, work_dir: Path, results: Path, seed: int) -> dict:
    import torch

    from labelwise.training.cli import run

    output_dir = work_dir / f"fold{fold}"
    options = {"fold": fold, "num_folds": NUM_FOLDS, "include_negative": False}
    argv = (
        ["--model", "token_classification", "--corpus", "ade", "--data_dir", str(data_root / "ade_corpus_v2" / "ADE-Corpus-V2"),
         "--corpus_options", json.dumps(options)]
        + budget_arguments(BUDGET)
        + ["--seed", str(seed), "--output_dir", str(output_dir), "--disable_tqdm", "true"]
    )
    started = time.time()
    summary = run(argv)
    curve = dev_curve(output_dir, metric="f1")
    best = max(range(len(curve)), key=lambda i: curve[i]["f1"]) if curve else None
    record = {
        "corpus": "ade",
        "fold": fold,
        "num_folds": NUM_FOLDS,
        "seed": seed,
        "budget": BUDGET,
        "torch_threads": torch.get_num_threads(),
        "wall_seconds_this_session": round(time.time() - started, 1),
        "command": "python train.py " + " ".join(argv),
        "epochs_run": len(curve),
        "best_epoch": best + 1 if best is not None else None,
        "stopped_by": "patience" if len(curve) < MAX_EPOCHS else "epoch cap",
        "dev_curve": curve,
        "test": summary["metrics"].get("test"),
        "summary": summary,
    }
    results.mkdir(parents=True, exist_ok=True)
    result_path(results, fold).write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
    for checkpoint in output_dir.glob("checkpoint-*"):
        shutil.rmtree(checkpoint)
    return record


def report(results: Path) -> str:
    lines = [
        "| fold | epochs run (best) | stopped by | dev F1 at best | test P | test R | **test F1** | 3-epoch CV fold F1 (4 training folds) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for path in sorted(results.glob("transformer__fold*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        fold, test = record["fold"], record["test"] or {}
        reference = THREE_EPOCH_CV / f"transformer_fold{fold}.json"
        old = json.loads(reference.read_text(encoding="utf-8"))["f1"] if reference.exists() else None
        best = record["dev_curve"][record["best_epoch"] - 1]["f1"] if record["best_epoch"] else float("nan")
        pct = lambda v: f"{100 * v:.2f}" if isinstance(v, (int, float)) else "-"  # noqa: E731
        lines.append(
            f"| {fold} | {record['epochs_run']} ({record['best_epoch']}) | {record['stopped_by']} | {pct(best)} | "
            f"{pct(test.get('precision'))} | {pct(test.get('recall'))} | **{pct(test.get('f1'))}** | {pct(old)} |"
        )
    return "\n".join(lines)


def plot(results: Path, path: Path) -> Path:
    """Dev entity F1 per epoch, one line per fold."""
    series = []
    for result in sorted(results.glob("transformer__fold*.json")):
        record = json.loads(result.read_text(encoding="utf-8"))
        curve = record["dev_curve"]
        series.append({"epochs": [p["epoch"] for p in curve], "values": [100 * p["f1"] for p in curve],
                       "label": f"fold {record['fold']}"})
    return plot_curves(series, "dev entity F1 (%)", f"ADE tagger: dev entity F1 per epoch (patience {PATIENCE}, cap {MAX_EPOCHS})",
                       path, size=(6, 3.6))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work_dir", type=Path, default=REPO / "outputs" / "ade_converged")
    parser.add_argument("--results_dir", type=Path, default=RESULTS)
    parser.add_argument("--folds", type=int, nargs="+", default=[0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--report", action="store_true", help="Print the table of the finished folds.")
    parser.add_argument("--plot", type=Path, default=None, help="With --report: draw the dev curves (PNG).")
    options = parser.parse_args(argv)
    if options.report:
        print(report(options.results_dir))
        if options.plot:
            print(f"wrote {plot(options.results_dir, options.plot)}")
        return
    for fold in options.folds:
        if result_path(options.results_dir, fold).exists():
            print(f"fold {fold}: done earlier, skipped")
            continue
        record = run_fold(fold, options.data_root, options.work_dir, options.results_dir, options.seed)
        print(f"fold {fold}: test F1 {record['test']}, {record['epochs_run']} epochs (best {record['best_epoch']}), "
              f"stopped by {record['stopped_by']}", flush=True)


if __name__ == "__main__":
    main()
