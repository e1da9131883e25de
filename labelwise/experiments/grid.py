"""Grid search over `train.py` options, resumable, best setting chosen on validation.

    python -m labelwise.experiments.grid --output_dir runs/grid \\
        --grid learning_rate=2e-5,3e-5,5e-5 --grid dropout=0,0.1 \\
        -- --config layerwise_paper --corpus eurlex57k --data_dir data/eurlex57k

Every combination trains in `<output_dir>/<name=value,...>/`; a combination whose
`model/training_summary.json` exists is not trained again, so an interrupted grid continues
where it stopped (and an interrupted run resumes from its last checkpoint). The table of all
runs goes to `<output_dir>/grid_results.md` and `.json`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
from pathlib import Path

from labelwise.training.cli import run


def parse_grid(specs: list[str]) -> dict[str, list[str]]:
    """`["learning_rate=2e-5,3e-5", "dropout=0,0.1"]` -> `{"learning_rate": ["2e-5", "3e-5"], ...}`."""
    grid: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        if not sep or not name or not values:
            raise ValueError(f"--grid {spec!r}: expected NAME=VALUE1,VALUE2,...")
        grid[name.strip().lstrip("-")] = [v.strip() for v in values.split(",") if v.strip()]
    return grid


def combinations(grid: dict[str, list[str]]) -> list[dict[str, str]]:
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]


def run_name(setting: dict[str, str]) -> str:
    return ",".join(f"{name}={value}" for name, value in setting.items())


def selection_metric(summary: dict, metric: str | None) -> tuple[str, float, bool]:
    """(name, value, greater_is_better) of the validation metric a run is ranked by."""
    validation = summary["metrics"].get("validation", {})
    if metric is None:
        metric = "loss" if summary["task"] == "hierarchical" else {"multi_class": "accuracy", "ner": "f1"}.get(
            summary["task"], "micro_f1"
        )
    if metric not in validation:
        raise KeyError(f"Validation metric {metric!r} missing; the run reported {sorted(validation)}.")
    return metric, float(validation[metric]), metric != "loss"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--grid", action="append", required=True, help="NAME=V1,V2,... (repeatable)")
    parser.add_argument("--metric", default=None, help="Validation metric to rank by (default: the task's).")
    parser.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then the train.py arguments")
    options = parser.parse_args(argv)
    train_args = [a for a in options.train_args if a != "--"]
    if any(a.startswith("--output_dir") for a in train_args):
        raise ValueError("Give --output_dir to the grid command, not to the train.py arguments.")

    rows = []
    for setting in combinations(parse_grid(options.grid)):
        folder = os.path.join(options.output_dir, run_name(setting))
        summary_path = Path(folder, "model", "training_summary.json")
        if summary_path.is_file():
            print(f"[grid] {run_name(setting)}: done earlier, skipped")
        else:
            print(f"[grid] {run_name(setting)}: training")
            overrides = [item for name, value in setting.items() for item in (f"--{name}", value)]
            run(train_args + overrides + ["--output_dir", folder])
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        metric, value, greater = selection_metric(summary, options.metric)
        rows.append({"setting": setting, "metric": metric, "value": value, "greater_is_better": greater,
                     "validation": summary["metrics"].get("validation", {}), "test": summary["metrics"].get("test", {})})

    greater = rows[0]["greater_is_better"]
    best = max(rows, key=lambda r: r["value"] if greater else -r["value"])
    report = {"best": best, "runs": rows}
    os.makedirs(options.output_dir, exist_ok=True)
    Path(options.output_dir, "grid_results.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    Path(options.output_dir, "grid_results.md").write_text(_markdown(rows, best), encoding="utf-8")
    print(_markdown(rows, best))
    return report


def _markdown(rows: list[dict], best: dict) -> str:
    metric = best["metric"]
    names = list(best["setting"])
    lines = [
        f"Ranked by validation {metric} ({'higher' if best['greater_is_better'] else 'lower'} is better).",
        "",
        "| " + " | ".join(names + [f"validation {metric}", "best"]) + " |",
        "|" + "---|" * (len(names) + 2),
    ]
    for row in rows:
        value = row["value"]
        shown = "nan" if math.isnan(value) else f"{value:.4f}"
        lines.append("| " + " | ".join([row["setting"][n] for n in names] + [shown, "yes" if row is best else ""]) + " |")
    lines.append("")
    lines.append(f"Best: {run_name(best['setting'])}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
