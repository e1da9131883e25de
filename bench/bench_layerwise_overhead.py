"""Inference cost of layer-wise guidance against FLAT (issue 5; target: under 3 % overhead).

Every model shares the same encoder (the packaged all-MiniLM-L6-v2 by default: 6 layers, hidden
384) and differs only in which layers' [CLS] vectors feed which level classifier. Two hierarchies:

* `eurlex6`: 6 levels with the paper's EURLEX57K label counts per level (Table 1: 21, 127, 567,
  3,861, 2,284, 481; 7,341 labels). On 6 layers only FLAT and LAST-SIX fit (the other variants need
  9 to 12 layers, see `resolve_guidance`).
* `eurlex3`: the same labels in 3 levels (21, 127, 7,193), where all five variants fit 6 layers.

Plus `plain`: `BertModel` + one linear layer on the last [CLS] without collecting hidden states,
i.e. what FLAT costs without this model's machinery.

Three estimates of the overhead against FLAT (same hierarchy):

1. End to end: forward passes in eval mode under `torch.inference_mode()`, random token ids (no
   padding), interleaved: each repetition runs every model once, in a new random order, so load
   changes on a shared machine hit all models alike. Reported: the median time per model, and the
   median over repetitions of the paired ratio time(model) / time(FLAT) within a repetition (less
   sensitive to load drifting between repetitions).
2. Heads only: guided variants and FLAT run the same encoder call (both collect all hidden states);
   they differ only in `score_levels`, the level classifiers on the [CLS] vectors. That part is
   timed alone on cached hidden states (many fast repetitions), and its difference to FLAT's is
   divided by FLAT's median end-to-end time.
3. Analytic: multiply-accumulates of the heads against those of the encoder.

    python bench/bench_layerwise_overhead.py --seq_len 256 --batch_size 8 --repetitions 15
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from datetime import datetime, timezone

import torch
from torch import nn
from tqdm import tqdm
from transformers import BertModel
from transformers.utils import logging as hf_logging

from labelwise.backbone import resolve_backbone
from labelwise.modeling.guidance_layerwise import GUIDANCE_VARIANTS
from labelwise.modeling.modeling_layerwise import LayerwiseBertForHierarchicalClassification

HIERARCHIES = {
    "eurlex6": ([21, 127, 567, 3861, 2284, 481], ["flat", "last_six"]),
    "eurlex3": ([21, 127, 567 + 3861 + 2284 + 481], list(GUIDANCE_VARIANTS)),
}


class PlainFlat(nn.Module):
    """Reference FLAT: one linear layer over all labels on the last layer's [CLS]."""

    def __init__(self, encoder: BertModel, num_labels: int):
        super().__init__()
        self.bert = encoder
        self.classifier = nn.Linear(encoder.config.hidden_size, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.bert(input_ids, attention_mask=attention_mask).last_hidden_state[:, 0])


def build_models(backbone: str) -> dict[str, nn.Module]:
    models: dict[str, nn.Module] = {}
    for hierarchy, (counts, variants) in HIERARCHIES.items():
        levels = [level for level, count in enumerate(counts, start=1) for _ in range(count)]
        for guidance in variants:
            models[f"{hierarchy}/{guidance}"] = LayerwiseBertForHierarchicalClassification.from_pretrained(
                backbone, label_levels=levels, guidance=guidance
            ).eval()
        models[f"{hierarchy}/plain"] = PlainFlat(BertModel.from_pretrained(backbone, add_pooling_layer=False), len(levels)).eval()
    return models


def time_heads(models: dict[str, nn.Module], input_ids: torch.Tensor, attention_mask: torch.Tensor, repetitions: int) -> dict[str, float]:
    """Median time of `score_levels` alone, per layer-wise model, interleaved like the forward passes."""
    layerwise = {name: model for name, model in models.items() if isinstance(model, LayerwiseBertForHierarchicalClassification)}
    with torch.inference_mode():
        hidden_states = next(iter(layerwise.values())).backbone(
            input_ids, attention_mask=attention_mask, output_hidden_states=True
        ).hidden_states
        times: dict[str, list[float]] = {name: [] for name in layerwise}
        names = list(layerwise)
        order = random.Random(1)
        for name in names:
            layerwise[name].score_levels(hidden_states)
        for _ in tqdm(range(repetitions), desc="heads only"):
            order.shuffle(names)
            for name in names:
                start = time.perf_counter()
                layerwise[name].score_levels(hidden_states)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def head_macs(model: LayerwiseBertForHierarchicalClassification) -> int:
    """Multiply-accumulates of the level classifiers per document."""
    return sum(head.in_features * head.out_features for head in model.classifiers)


def encoder_macs(model: LayerwiseBertForHierarchicalClassification, seq_len: int) -> int:
    """Multiply-accumulates of the encoder per document (dense layers plus attention products)."""
    config = model.config
    h, i, n = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    dense = seq_len * (4 * h * h + 2 * h * i)  # Q, K, V, output projection; feed-forward in and out
    attention = 2 * seq_len * seq_len * h  # scores and weighted sum
    return n * (dense + attention)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_name_or_path", default="default", help="BERT checkpoint; 'default' = packaged MiniLM")
    parser.add_argument("--seq_len", type=int, default=256)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--repetitions", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--head_repetitions", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--note", default="", help="free text stored with the result (e.g. machine load)")
    parser.add_argument("--output_dir", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args()

    hf_logging.set_verbosity_error()  # the load reports of the new heads are expected here
    if args.threads:
        torch.set_num_threads(args.threads)
    backbone = resolve_backbone(args.model_name_or_path)
    models = build_models(backbone)
    vocab = next(iter(models.values())).backbone.config.vocab_size
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(1000, vocab, (args.batch_size, args.seq_len), generator=generator)
    input_ids[:, 0], input_ids[:, -1] = 101, 102  # [CLS] ... [SEP] in the uncased BERT vocabulary
    attention_mask = torch.ones_like(input_ids)

    def run(name: str) -> float:
        start = time.perf_counter()
        models[name](input_ids=input_ids, attention_mask=attention_mask)
        return time.perf_counter() - start

    names = list(models)
    order = random.Random(0)
    times: dict[str, list[float]] = {name: [] for name in names}
    load_before = os.getloadavg()
    with torch.inference_mode():
        for name in names:
            for _ in range(args.warmup):
                run(name)
        for _ in tqdm(range(args.repetitions), desc="interleaved repetitions"):
            order.shuffle(names)
            for name in names:
                times[name].append(run(name))
    load_after = os.getloadavg()

    medians = {name: statistics.median(values) for name, values in times.items()}
    head_times = time_heads(models, input_ids, attention_mask, args.head_repetitions)
    overhead = {}
    for name in medians:
        hierarchy, variant = name.split("/")
        flat = f"{hierarchy}/flat"
        paired = [t / f for t, f in zip(times[name], times[flat])]
        row = {
            "median_s": medians[name],
            "min_s": min(times[name]),
            "vs_flat_percent": 100 * (medians[name] / medians[flat] - 1),
            "vs_flat_paired_median_percent": 100 * (statistics.median(paired) - 1),
            "vs_plain_percent": 100 * (medians[name] / medians[f"{hierarchy}/plain"] - 1),
        }
        if name in head_times:
            row["heads_median_s"] = head_times[name]
            row["heads_vs_flat_percent_of_flat_forward"] = 100 * (head_times[name] - head_times[flat]) / medians[flat]
            row["analytic_head_macs_percent_of_encoder"] = 100 * head_macs(models[name]) / encoder_macs(models[name], args.seq_len)
        overhead[name] = row
    result = {
        "benchmark": "layerwise_overhead",
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "backbone": backbone,
        "seq_len": args.seq_len,
        "batch_size": args.batch_size,
        "repetitions": args.repetitions,
        "warmup": args.warmup,
        "head_repetitions": args.head_repetitions,
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
        "loadavg_1min_before_after": [load_before[0], load_after[0]],
        "note": args.note,
        "hierarchies": {name: counts for name, (counts, _) in HIERARCHIES.items()},
        "results": overhead,
        "times_s": times,
    }
    os.makedirs(args.output_dir, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = os.path.join(args.output_dir, f"layerwise_overhead_seq{args.seq_len}_bs{args.batch_size}_{stamp}.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    header = ["model", "median s", "vs FLAT", "paired", "vs plain", "heads ms", "heads vs FLAT", "head MACs"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name in sorted(overhead):
        row = overhead[name]
        cells = [
            name,
            f"{row['median_s']:.4f}",
            f"{row['vs_flat_percent']:+.2f}%",
            f"{row['vs_flat_paired_median_percent']:+.2f}%",
            f"{row['vs_plain_percent']:+.2f}%",
            f"{1000 * row['heads_median_s']:.3f}" if "heads_median_s" in row else "-",
            f"{row['heads_vs_flat_percent_of_flat_forward']:+.3f}%" if "heads_median_s" in row else "-",
            f"{row['analytic_head_macs_percent_of_encoder']:.3f}%" if "heads_median_s" in row else "-",
        ]
        print("| " + " | ".join(cells) + " |")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
