"""Issue 29 probe: how two trained EURLEX57K study models score when their probabilities are mixed.

    python bench/eurlex_mix_probe.py --data_dir ../shared/data/eurlex57k --work_dir /work/runs_out/issue29/subset5000_len128 \
        --subset '{"train": 5000, "dev": 1000, "test": 1000, "seed": 13}' \
        --runs vanilla lame_agnostic_sim_neg32_static --output mix.json

Each run's saved model (`<work_dir>/<run>/model`) scores the subset's dev and test documents on the
training labels (cached in `<work_dir>/mix_scores/<run>.npz`); the mixes `w * first + (1 - w) * second`
for w in 0, 0.25, 0.5, 0.75, 1 are scored like a study row (threshold tuned on dev). A diagnostic for
whether the two models err on different documents and labels: a mix above both says a model holding
both heads could gain; it is not a trained model, and no table of the study reports it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from eurlex_label_groups import STUDY
from labelwise import default_backbone_path
from labelwise.experiments.label_groups import scores_for_run

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def run_scores(work_dir: Path, run: str, data) -> dict[str, np.ndarray]:
    cache = work_dir / "mix_scores" / f"{run}.npz"
    if cache.exists():
        with np.load(cache) as saved:
            return {split: saved[split] for split in saved.files}
    method, _, seed = run.partition("__seed")
    with tempfile.TemporaryDirectory() as scratch:
        options = {**STUDY.train_options(method, work_dir / "subset", int(seed or STUDY.default_seed),
                                         str(default_backbone_path())), "output_dir": scratch}
        scores = STUDY.model_scores(options, work_dir / run / "model", data, False)
    cache.parent.mkdir(exist_ok=True)
    np.savez(cache, **scores)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", type=Path, required=True, help="the EURLEX57K copy the subset was drawn from")
    parser.add_argument("--work_dir", type=Path, required=True)
    parser.add_argument("--subset", type=json.loads, help="the subset request the work_dir was drawn with")
    parser.add_argument("--runs", nargs=2, required=True, metavar=("FIRST", "SECOND"))
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    if args.subset:
        STUDY.subset = args.subset
    STUDY.budget = json.loads((args.work_dir / "budget.json").read_text())  # the runs' pieces per document
    _, data = STUDY.eval_data(args.data_dir, args.work_dir)
    first, second = (run_scores(args.work_dir, run, data) for run in args.runs)
    mixes = {}
    for weight in WEIGHTS:
        mixed = {split: weight * first[split] + (1 - weight) * second[split] for split in first}
        result = scores_for_run(mixed, data, False)
        mixes[str(weight)] = result
        overall, groups = result["overall"], result["groups"]
        print(f"{weight:.2f} x {args.runs[0]} + {1 - weight:.2f} x {args.runs[1]}: RP {100 * overall['r_precision']:.2f}, "
              f"RP@5 {100 * overall['rp_at_5']:.2f}, frequent RP@5 {100 * groups['frequent']['rp_at_5']:.2f}, "
              f"few RP@5 {100 * groups['few']['rp_at_5']:.2f}")
    args.output.write_text(json.dumps({"runs": args.runs, "subset": STUDY.subset, "work_dir": str(args.work_dir),
                                       "scored_labels": "training labels only", "mixes": mixes}, indent=2))


if __name__ == "__main__":
    main()
