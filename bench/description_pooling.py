"""Does the untuned encoder's [CLS] state carry label similarity? A check behind the label-agnostic head (issue 13).

    python bench/description_pooling.py --data_root ../shared/data

LAME embeds a label description as its [CLS] state. The packaged all-MiniLM-L6-v2 was trained with
mean pooling, and its [CLS] state was never trained to summarise a text. This script scores every
HoC hallmark on the BLUE test split by the cosine between document and description embeddings of the
untuned encoder, pooled both ways, and prints each hallmark's ROC-AUC. If [CLS] similarity sits near
chance while mean similarity does not, the label-agnostic head starts from description vectors with
little of the similarity it would need for unseen labels. Result: `bench/results/description_pooling.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from hoc_zero_shot import gold_matrix, load_hoc  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    from sklearn.metrics import roc_auc_score

    from labelwise.analysis.similarity_baseline import similarity_scores

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_root", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "description_pooling.json")
    args = parser.parse_args(argv)
    space, corpus = load_hoc(args.data_root)
    names, descriptions = list(space.names), list(space.descriptions)
    gold = gold_matrix(corpus["test"], names, names)
    result = {"max_length": args.max_length, "documents": len(corpus["test"]), "auc": {}}
    for pooling in ("mean", "cls"):
        scores = similarity_scores(corpus["test"]["text"], descriptions, max_length=args.max_length, pooling=pooling)
        result["auc"][pooling] = {name: float(roc_auc_score(gold[:, j], scores[:, j])) for j, name in enumerate(names)}
    print("| hallmark | AUC, mean pooling | AUC, [CLS] |\n|---|---|---|")
    for name in names:
        print(f"| {name} | {result['auc']['mean'][name]:.3f} | {result['auc']['cls'][name]:.3f} |")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
