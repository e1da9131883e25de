"""Per-level table of a layer-wise guidance grid, beside a label-frequency baseline.

    python bench/layerwise_eurlex_report.py --grid_dir outputs/layerwise_eurlex \\
        --data_dir ../shared/data/eurlex57k --max_train_samples 1000 --max_eval_samples 500

The grid is the one `labelwise.training.grid` ran (one folder per guidance variant). Each finished
run becomes one record, `<output_dir>/runs/<variant>.json` (test scores, layer assignment, seed, dev
curve), so a grid that spans sessions keeps the runs of earlier ones: the table is drawn from every
record in the folder, whether or not its run folder is still in `--grid_dir`, and a run finished again
replaces its record. The baseline scores every test document with the training frequency of each label
(the same ranking for every document): a model that learned only the label prior scores about this. It
reads the documents the runs read: train.py draws `--max_train_samples` / `--max_eval_samples` as a
random subset seeded with the run's seed (recorded in each run's training summary), and so does the
baseline. The table and a combined `runs.json` are written to `--output_dir`.
"train time (last segment)" is the training time train.py recorded: for a run resumed from a
checkpoint, only its last part. "epochs (best), stop" reads each run's dev R-Precision (micro) per
epoch from its newest checkpoint: how many epochs ran, the best one, and whether the epoch cap or
early stopping ended the run. `--plot PATH` draws those dev curves, one line per variant (colour:
guidance, line style: layer pooling), from the records and from the runs still in progress in
`--grid_dir`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # curves
from curves import dev_curve, plot_curves  # noqa: E402

LEVEL_KEYS = ("rp_level_1", "rp_level_2", "rp_level_3", "rp_micro", "rp_macro", "p_at_1", "p_at_5", "ndcg_at_5")


def frequency_baseline(data_dir: str, corpus_options: dict, max_train: int, max_eval: int, seed: int) -> dict[str, float]:
    """Scores of ranking labels by their training frequency, on the subsets train.py draws with `seed`."""
    from labelwise.data_scripts import load_corpus, load_label_space, subsample
    from labelwise.metrics.ranking import hierarchical_scores

    space = load_label_space("eurlex57k", data_dir=data_dir, **corpus_options)
    corpus = load_corpus("eurlex57k", data_dir=data_dir, **corpus_options)
    hierarchy = space.hierarchy
    names = hierarchy.labels
    index = {name: i for i, name in enumerate(names)}
    feature_names = corpus["train"].features["labels"].feature.names

    def targets(rows) -> np.ndarray:
        matrix = np.zeros((len(rows), len(names)), dtype=np.int8)
        for row, ids in enumerate(rows):
            for name in hierarchy.augment([feature_names[i] for i in ids]):
                matrix[row, index[name]] = 1
        return matrix

    train = targets(subsample(corpus["train"], max_train, seed)["labels"])
    test = targets(subsample(corpus["test"], max_eval, seed)["labels"])
    prior = train.mean(axis=0)
    scores = np.tile(prior, (test.shape[0], 1))
    levels = [hierarchy.level(name) for name in names]
    return hierarchical_scores(test, scores, levels)


def training_progress(run_dir: Path, max_epochs: float | None) -> dict:
    """A run's dev R-Precision (micro) per epoch, the epochs it ran, its best epoch and what stopped it
    ("cap" when it ran `max_epochs`, "early stopping" before that, "running" with no final model)."""
    curve = dev_curve(run_dir, metric="rp_micro")
    epochs_run = curve[-1]["epoch"] if curve else 0
    best = max(curve, key=lambda point: point["rp_micro"])["epoch"] if curve else None
    if not (run_dir / "model" / "training_summary.json").exists():
        stop = "running"
    else:
        stop = "cap" if max_epochs is not None and epochs_run >= max_epochs else "early stopping"
    return {"dev_curve": curve, "epochs_run": epochs_run, "best_epoch": best, "stopped_by": stop}


GUIDANCE_COLOURS = {"flat": "#4c72b0", "last_six": "#dd8452", "one_by_one": "#55a868", "in_pairs": "#c44e52",
                    "hybrid": "#8172b3"}
POOLING_STYLES = {"cls": "-", "mean": "--"}


def variant_options(variant: str) -> dict[str, str]:
    """`"guidance=flat,layer_pooling=cls"` (the grid's folder name) -> `{"guidance": "flat", "layer_pooling": "cls"}`."""
    return dict(part.split("=", 1) for part in variant.split(",") if "=" in part)


def finished_runs(grid_dir: Path) -> dict[str, dict]:
    """One record per finished run in `grid_dir` (a run with `model/training_summary.json`), by variant."""
    records = {}
    for summary_path in sorted(grid_dir.glob("*/model/training_summary.json")):
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        records[summary_path.parents[1].name] = {
            "test": summary["metrics"]["test"],
            "layer_assignment": summary["notes"]["layer_assignment"],
            "train_runtime_seconds": summary["train_runtime_seconds"],
            "seed": summary["hyperparameters"]["seed"],
            **training_progress(summary_path.parents[1], summary["hyperparameters"].get("epochs")),
        }
    return records


def save_records(records: dict[str, dict], runs_dir: Path) -> None:
    """Write each record to `runs_dir/<variant>.json`, replacing an older record of the variant."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    for variant, record in records.items():
        (runs_dir / f"{variant}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def load_records(runs_dir: Path) -> dict[str, dict]:
    """Every run record in `runs_dir`, by variant (sorted by name)."""
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(runs_dir.glob("*.json"))}


def plot(records: dict[str, dict], grid_dir: Path, path: Path) -> Path:
    """Dev R-Precision (micro) per epoch: of every recorded run, and of every run in `grid_dir` that has
    a checkpoint but no record yet (labelled "running")."""
    curves = {variant: (record["dev_curve"], "") for variant, record in records.items() if record["dev_curve"]}
    run_dirs = sorted(p for p in grid_dir.iterdir() if p.is_dir()) if grid_dir.is_dir() else []
    for run_dir in run_dirs:
        if run_dir.name not in records:
            progress = training_progress(run_dir, None)
            if progress["dev_curve"]:
                curves[run_dir.name] = (progress["dev_curve"], " (running)" if progress["stopped_by"] == "running" else "")
    series = []
    for variant in sorted(curves):
        curve, note = curves[variant]
        options = variant_options(variant)
        series.append({
            "epochs": [point["epoch"] for point in curve],
            "values": [100 * point["rp_micro"] for point in curve],
            "label": variant + note,
            "colour": GUIDANCE_COLOURS.get(options.get("guidance")),
            "linestyle": POOLING_STYLES.get(options.get("layer_pooling"), "-"),
        })
    if not series:
        raise SystemExit(f"{grid_dir}: no run has a record or a checkpoint with a dev R-Precision yet")
    return plot_curves(series, "dev R-Precision, micro (%)", f"{grid_dir.name}: dev R-Precision per epoch", path, size=(8, 4.5))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid_dir", type=Path, required=True)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--corpus_options", default='{"label_set": "used", "max_level": 3}')
    parser.add_argument("--max_train_samples", type=int, default=1000)
    parser.add_argument("--max_eval_samples", type=int, default=500)
    parser.add_argument("--output_dir", type=Path, default=HERE / "results" / "layerwise_eurlex")
    parser.add_argument("--plot", type=Path, default=None, help="Also draw every run's dev curve (PNG).")
    options = parser.parse_args(argv)

    runs_dir = options.output_dir / "runs"
    new_runs = finished_runs(options.grid_dir)
    rows = dict(sorted({**load_records(runs_dir), **new_runs}.items()))
    if not rows:
        raise SystemExit(f"{options.grid_dir}: no finished run (no */model/training_summary.json), "
                         f"and no earlier record in {runs_dir}")
    seeds = {row["seed"] for row in rows.values()}
    if len(seeds) != 1:  # checked before anything is written, so the records stay one set of documents
        raise SystemExit(f"{options.grid_dir} and {runs_dir}: the runs used different seeds ({sorted(seeds)}), "
                         "so different documents")
    save_records(new_runs, runs_dir)
    baseline = frequency_baseline(
        options.data_dir, json.loads(options.corpus_options), options.max_train_samples, options.max_eval_samples,
        seeds.pop(),
    )
    options.output_dir.mkdir(parents=True, exist_ok=True)
    (options.output_dir / "runs.json").write_text(
        json.dumps({"runs": rows, "frequency_baseline": baseline}, indent=2), encoding="utf-8"
    )
    header = "| variant | layers per level | " + " | ".join(LEVEL_KEYS) + " | epochs (best), stop | train time (last segment) |"
    lines = [header, "|---|---|" + "---|" * (len(LEVEL_KEYS) + 2)]
    def cells(scores: dict) -> list[str]:  # a hierarchy shallower than three levels has no rp_level_3
        return [f"{100 * scores[k]:.2f}" if k in scores else "-" for k in LEVEL_KEYS]

    for variant, row in rows.items():
        epochs = f"{row['epochs_run']:g} ({row['best_epoch']:g}), {row['stopped_by']}" if row["dev_curve"] else "-"
        lines.append(f"| {variant} | {row['layer_assignment']} | " + " | ".join(cells(row["test"]))
                     + f" | {epochs} | {row['train_runtime_seconds'] / 60:.1f} min |")
    lines.append("| label frequency (no model) | - | " + " | ".join(cells(baseline)) + " | - | - |")
    table = "\n".join(lines) + "\n"
    (options.output_dir / "table.md").write_text(table, encoding="utf-8")
    print(table)
    if options.plot:
        print(f"wrote {plot(rows, options.grid_dir, options.plot)}")


if __name__ == "__main__":
    main()
