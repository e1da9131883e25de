"""Time per explained (document, label) of each explanation method, beside one plain prediction (issue 33).

    OMP_NUM_THREADS=1 python bench/explain_timing.py --model <LAME folder> --data_dir ../shared/data/hoc \
        --documents 10 --repeats 3

The methods are timed interleaved, document by document, each repeat starting one method later, all in one
process, so a change of machine load hits every method alike; each (document, method) keeps its
median over the repeats, and the table shows the mean over documents and the ratio to the plain
prediction of the same documents. One label per document (its first gold hallmark): LAME's attention
methods get every label's weights from one forward, gradient methods need their passes per label.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from functools import partial
from types import SimpleNamespace

import torch

from labelwise.explain.__main__ import load_records, training_dataset
from labelwise.explain.evaluate import load_model
from labelwise.experiments.measure import interleaved
from labelwise.explain.methods import Explainer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data_dir", required=True, help="HoC release folder")
    parser.add_argument("--documents", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max_length", type=int, help="default: the model's training max_length")
    args = parser.parse_args(argv)
    _, trained, max_length = training_dataset(args.model)
    options = SimpleNamespace(corpus="hoc", data_dir=args.data_dir, split="test", labels=None, split_dir=None, max_documents=None)
    model, tokenizer = load_model(args.model)
    explainer = Explainer(model, tokenizer, max_length=args.max_length or max_length or 512)
    label2id = dict(model.config.label2id)
    jobs = []
    for record in load_records(options, trained):
        encoded = explainer.encode(record["text"])
        names = [n for n in sorted(record["rationales"]) if n in label2id]
        if encoded.words and names:
            jobs.append((encoded, label2id[names[0]]))
        if len(jobs) == args.documents:
            break
    def run(encoded, label: int, method: str) -> None:
        if method == "prediction":
            with torch.no_grad():
                model(**encoded.inputs)
        else:
            explainer.explain(encoded, label, method)

    methods = ["prediction", *explainer.methods()]
    times: dict[str, list[float]] = {m: [] for m in methods}
    for encoded, label in jobs:
        rounds = interleaved({m: partial(run, encoded, label, m) for m in methods}, reps=args.repeats, rotate=True)
        for method in methods:
            times[method].append(statistics.median(rounds[method]["wall"]))
    base = statistics.mean(times["prediction"])
    pieces = statistics.mean(int(e.inputs["attention_mask"].sum()) for e, _ in jobs)
    print(f"{len(jobs)} documents ({pieces:.0f} pieces on average), {args.repeats} repeats, "
          f"{torch.get_num_threads()} torch thread(s); IG steps used: {sorted(set(explainer.ig_steps_used))}, "
          f"unconverged: {explainer.ig_unconverged}")
    print("| method | seconds per (document, label) | x plain prediction |\n|---|---|---|")
    for method in methods:
        mean = statistics.mean(times[method])
        print(f"| {method} | {mean:.3f} | {mean / base:.1f} |")


if __name__ == "__main__":
    sys.exit(main())
