"""Encoding sampled label descriptions with gradient: one padded batch against length chunks (issue 12).

    python bench/bench_description_encoding.py --data_dir ../shared/data/eurlex57k --threads 1

A sampled LAME training step encodes its batch's positive labels plus `label_sample_negatives`
negatives with gradient (about 104 descriptions at 4,271 labels). Real descriptions differ in
length: EUROVOC's label + alternative labels run from 3 to 64 pieces (median 9), so one batch padded
to the longest description is mostly padding. `LameForSequenceClassification._encode_descriptions`
encodes them in chunks of similar length instead (`length_chunks`). This script measures both ways
on the real descriptions: the same random samples of `--sample` descriptions, encoder forward and
backward, process CPU seconds (one torch thread: CPU time is the work, not the waits on a shared
machine), interleaved sample by sample, and the share of real tokens in the padded batches.
Writes `bench/results/lame_scale/description_encoding_<corpus>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def step_seconds(model, label_ids: list[int], chunked: bool) -> float:
    """CPU seconds of encoding `label_ids`' descriptions with gradient and back-propagating through them."""
    start = time.process_time()
    if chunked:
        embeddings = model._encode_descriptions(label_ids)
    else:
        input_ids, mask = model._description_batch(model.device, label_ids)
        embeddings = model._pool_description(model.backbone(input_ids=input_ids, attention_mask=mask).last_hidden_state, mask)
    embeddings.square().sum().backward()
    model.zero_grad(set_to_none=True)
    return time.process_time() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", required=True, help="The EURLEX57K folder.")
    parser.add_argument("--corpus_options", default='{"descriptions": "label+alt", "label_set": "used"}')
    parser.add_argument("--sample", type=int, default=104, help="Descriptions per step (40 positives + 64 negatives).")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "lame_scale" / "description_encoding_eurlex57k.json")
    options = parser.parse_args(argv)
    torch.set_num_threads(options.threads)

    from labelwise import default_backbone_path
    from labelwise.data_scripts import load_label_space
    from labelwise.modeling import LameForSequenceClassification
    from labelwise.modeling.modeling_lame import length_chunks

    corpus_options = json.loads(options.corpus_options)
    space = load_label_space("eurlex57k", data_dir=options.data_dir, **corpus_options)
    descriptions = list(space.descriptions)
    path = default_backbone_path()
    model = LameForSequenceClassification.from_pretrained(
        path, label_descriptions=descriptions, problem_type="multi_label_classification"
    )
    model.train()
    lengths = [len(ids) for ids in model.config.label_description_token_ids]
    generator = random.Random(0)
    samples = [generator.sample(range(len(lengths)), options.sample) for _ in range(options.reps + 1)]
    seconds = {"one_batch": [], "length_chunks": []}
    real_share = {"one_batch": [], "length_chunks": []}
    for rep, label_ids in enumerate(samples):
        for name in seconds:
            value = step_seconds(model, label_ids, chunked=name == "length_chunks")
            if rep:  # the first sample warms up
                seconds[name].append(value)
        widths = [lengths[i] for i in label_ids]
        real_share["one_batch"].append(sum(widths) / (len(widths) * max(widths)))
        chunks = length_chunks(widths)
        real_share["length_chunks"].append(sum(widths) / sum(len(c) * max(widths[i] for i in c) for c in chunks))
    result = {
        "corpus": "eurlex57k",
        "corpus_options": corpus_options,
        "labels": len(lengths),
        "description_pieces": {"min": min(lengths), "median": statistics.median(lengths), "max": max(lengths),
                               "mean": statistics.mean(lengths)},
        "sample": options.sample,
        "reps": options.reps,
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "median_cpu_s": {name: statistics.median(values) for name, values in seconds.items()},
        "all_cpu_s": seconds,
        "mean_real_token_share": {name: statistics.mean(values) for name, values in real_share.items()},
    }
    result["speedup"] = result["median_cpu_s"]["one_batch"] / result["median_cpu_s"]["length_chunks"]
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(result, indent=2))
    print(json.dumps({key: result[key] for key in ("description_pieces", "median_cpu_s", "mean_real_token_share", "speedup")}, indent=2))


if __name__ == "__main__":
    main()
