"""Explanation examples of a trained LAME model on HoC test abstracts (the paper's Figure 1).

    python bench/lame_explanations.py --data_root ../shared/data            # markdown to stdout + file
    python bench/lame_explanations.py --data_root ../shared/data --png docs/images/demo_hoc_lame.png

The model is the `lame_bce` HoC run of `bench/lame_comparison.py` with the best dev micro-F1
(its folder under `--work_dir`), unless `--model` names one. The abstracts are the first
`--num_examples` test abstracts that have at least one gold label, in the split's order, so the
examples are not picked for looking good. For each, the gold labels, every predicted label with
its probability (marked correct or not) and the label's `--top_k` highest-attention words, read
at the sequence length the model was trained and evaluated with.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "lame_comparison"


def best_run(corpus: str = "hoc", method: str = "lame_bce") -> dict:
    """The finished run of `method` on `corpus` with the best validation metric."""
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(RESULTS.glob(f"{corpus}__{method}__seed*.json"))]
    if not runs:
        raise FileNotFoundError(f"No {corpus} {method} result in {RESULTS}: run bench/lame_comparison.py first.")
    return max(runs, key=lambda r: r["summary"]["metrics"]["validation"]["micro_f1"])


def explain(model: Path, texts: list[str], max_length: int, threshold: float, top_k: int) -> list[dict]:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from labelwise.modeling.pipeline_lame import LameClassificationPipeline

    tokenizer = AutoTokenizer.from_pretrained(model)
    network = AutoModelForSequenceClassification.from_pretrained(model).eval()
    classify = LameClassificationPipeline(model=network, tokenizer=tokenizer)
    return [classify(text, threshold=threshold, top_k_evidence=top_k, max_length=max_length) for text in texts]


def markdown(examples: list[dict], golds: list[list[str]], ids: list[str]) -> str:
    lines = []
    for prediction, gold, doc_id in zip(examples, golds, ids):
        predicted = [label for label in prediction["labels"] if label["predicted"]]
        lines += [f"**Test abstract {doc_id}** (gold: {', '.join(gold) or 'none'})", "",
                  "| predicted label | probability | correct | top evidence words (attention weight) |",
                  "|---|---|---|---|"]
        for label in predicted:
            words = ", ".join(f"{e['word']} ({e['weight']:.2f})" for e in label["evidence"])
            mark = "yes" if label["label"] in gold else "**no**"
            lines.append(f"| {label['label']} | {label['score']:.2f} | {mark} | {words} |")
        if not predicted:
            lines.append("| (none above the threshold) | | | |")
        missed = [g for g in gold if g not in {label["label"] for label in predicted}]
        if missed:
            lines.append(f"\nMissed: {', '.join(missed)}.")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work_dir", type=Path, default=REPO / "outputs" / "lame_comparison")
    parser.add_argument("--model", type=Path, default=None, help="A LAME model folder (default: best lame_bce HoC run).")
    parser.add_argument("--num_examples", type=int, default=3)
    parser.add_argument("--top_k", type=int, default=6)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--output", type=Path, default=RESULTS / "explanations.md")
    parser.add_argument("--png", type=Path, default=None, help="Also render the first example with the viewer.")
    options = parser.parse_args(argv)

    from labelwise.data_scripts import load_corpus

    if options.model is None:
        run = best_run()
        options.model = options.work_dir / "hoc" / "lame_bce" / f"seed{run['seed']}" / "model"
        print(f"model: {options.model} (seed {run['seed']}, dev micro-F1 {run['summary']['metrics']['validation']['micro_f1']:.4f})")
    # Read the abstracts at the length the model was trained and evaluated with.
    summary = json.loads((options.model / "training_summary.json").read_text(encoding="utf-8"))
    max_length = int(summary["hyperparameters"]["max_length"])
    test = load_corpus("hoc", options.data_root / "hoc", split_dir=str(options.data_root / "hoc" / "blue_split"))["test"]
    names = test.features["labels"].feature.names
    chosen = [row for row in test if row["labels"]][: options.num_examples]
    golds = [[names[i] for i in row["labels"]] for row in chosen]
    ids = [str(row.get("id", index)) for index, row in enumerate(chosen)]
    examples = explain(options.model, [row["text"] for row in chosen], max_length, options.threshold, options.top_k)
    text = markdown(examples, golds, ids)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {options.output}")
    if options.png:
        from labelwise.analysis.viewer import render_png

        render_png(examples[0], options.png, title=f"LAME (MiniLM, CPU budget) on HoC test abstract {ids[0]}")
        print(f"wrote {options.png}")


if __name__ == "__main__":
    main()
