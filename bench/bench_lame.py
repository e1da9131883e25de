"""LAME against transformers' BertForSequenceClassification: speed and memory ratios.

    python bench/bench_lame.py --labels 10 100 1000 --seq_len 256 --batch 8

For each label count, on the same inputs, in one run, interleaving the two models repetition by
repetition (so drift in machine load hits both alike):

- inference throughput (documents/s): eval mode, LAME with its cached label embeddings;
- training step time (forward + backward + AdamW step): LAME re-encodes the descriptions in every
  step (`label_embedding_mode="joint"`), as in training;
- peak memory: the peak resident set size (VmHWM) of a fresh process that loads the model and runs
  two training steps and two inferences, measured for each model separately.

One JSON file per label count under `--output_dir` (a finished count is skipped on a rerun; pass
`--force` to measure again). The figures reported in docs/BENCHMARKS.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
WORDS = (
    "tumour growth immune response blood vessel formation cell death genome instability energy metabolism "
    "inflammation invasion metastasis signalling replication angiogenesis mutation therapy resistance"
).split()


def descriptions(count: int) -> list[str]:
    """`count` distinct synthetic descriptions of 8-16 words (real label sets have such lengths)."""
    out = []
    for i in range(count):
        length = 8 + i % 9
        out.append(f"label {i} " + " ".join(WORDS[(i * 7 + j) % len(WORDS)] for j in range(length)))
    return out


def build(kind: str, labels: int):
    from transformers import AutoModelForSequenceClassification

    from labelwise import default_backbone_path
    from labelwise.modeling import LameForSequenceClassification

    path = default_backbone_path()
    torch.manual_seed(0)
    if kind == "vanilla":
        return AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=labels, problem_type="multi_label_classification"
        )
    return LameForSequenceClassification.from_pretrained(
        path, label_descriptions=descriptions(labels), problem_type="multi_label_classification"
    )


def inputs(seq_len: int, batch: int) -> dict:
    from transformers import AutoTokenizer

    from labelwise import default_backbone_path

    tokenizer = AutoTokenizer.from_pretrained(default_backbone_path())
    text = " ".join(WORDS * 40)
    encoded = tokenizer([text] * batch, truncation=True, max_length=seq_len, padding="max_length", return_tensors="pt")
    return dict(encoded)


def train_step(model, optimizer, batch: dict, targets: torch.Tensor) -> float:
    start = time.perf_counter()
    loss = model(**batch, labels=targets).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


@torch.no_grad()
def infer(model, batch: dict) -> float:
    start = time.perf_counter()
    model(**batch)
    return time.perf_counter() - start


def measure_speed(labels: int, seq_len: int, batch_size: int, reps: int, warmup: int) -> dict:
    batch = inputs(seq_len, batch_size)
    targets = (torch.rand(batch_size, labels, generator=torch.Generator().manual_seed(0)) < 0.1).float()
    models = {kind: build(kind, labels) for kind in ("vanilla", "lame")}
    optimizers = {kind: torch.optim.AdamW(m.parameters(), lr=1e-5) for kind, m in models.items()}
    times: dict[str, dict[str, list[float]]] = {k: {"train": [], "infer": []} for k in models}
    for phase in ("train", "infer"):
        for kind, model in models.items():
            model.train(phase == "train")
        for rep in range(warmup + reps):
            for kind, model in models.items():
                if phase == "train":
                    seconds = train_step(model, optimizers[kind], batch, targets)
                else:
                    seconds = infer(model, batch)
                if rep >= warmup:
                    times[kind][phase].append(seconds)
    result = {}
    for kind in models:
        train = statistics.median(times[kind]["train"])
        infer_s = statistics.median(times[kind]["infer"])
        result[kind] = {
            "train_step_s": train,
            "infer_batch_s": infer_s,
            "infer_docs_per_s": batch_size / infer_s,
            "train_step_all_s": times[kind]["train"],
            "infer_batch_all_s": times[kind]["infer"],
        }
    return result


def peak_rss_mib() -> float:
    """This process's peak resident set size (VmHWM). Unlike `ru_maxrss`, which Linux carries over
    from the parent across fork/exec, VmHWM belongs to the new address space alone."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure_memory(kind: str, labels: int, seq_len: int, batch_size: int) -> float:
    """Peak RSS (MiB) of a fresh process that loads `kind` and runs 2 training steps + 2 inferences."""
    code = (
        "import sys, resource, torch; sys.path.insert(0, %r)\n"
        "import bench_lame as b\n"
        "m = b.build(%r, %d); batch = b.inputs(%d, %d)\n"
        "opt = torch.optim.AdamW(m.parameters(), lr=1e-5); y = torch.zeros(%d, %d)\n"
        "m.train(); [b.train_step(m, opt, batch, y) for _ in range(2)]\n"
        "m.eval(); [b.infer(m, batch) for _ in range(2)]\n"
        "print(b.peak_rss_mib())\n"
    ) % (str(HERE), kind, labels, seq_len, batch_size, batch_size, labels)
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(output.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--seq_len", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--output_dir", default=str(HERE / "results" / "lame_overhead"))
    parser.add_argument("--force", action="store_true")
    options = parser.parse_args(argv)
    os.makedirs(options.output_dir, exist_ok=True)
    for labels in options.labels:
        path = Path(options.output_dir, f"labels_{labels}.json")
        if path.exists() and not options.force:
            print(f"{path}: exists, skipped")
            continue
        load_before = os.getloadavg()
        speed = measure_speed(labels, options.seq_len, options.batch, options.reps, options.warmup)
        memory = {kind: measure_memory(kind, labels, options.seq_len, options.batch) for kind in ("vanilla", "lame")}
        record = {
            "labels": labels,
            "seq_len": options.seq_len,
            "batch": options.batch,
            "reps": options.reps,
            "torch_threads": torch.get_num_threads(),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "load_average_before_after": [load_before, os.getloadavg()],
            "speed": speed,
            "peak_rss_mib": memory,
            "ratios": {
                "inference_throughput_lame_over_vanilla": speed["lame"]["infer_docs_per_s"] / speed["vanilla"]["infer_docs_per_s"],
                "train_speed_lame_over_vanilla": speed["vanilla"]["train_step_s"] / speed["lame"]["train_step_s"],
                "peak_memory_lame_over_vanilla": memory["lame"] / memory["vanilla"],
            },
        }
        path.write_text(json.dumps(record, indent=2))
        ratios = record["ratios"]
        print(
            f"labels={labels}: inference {ratios['inference_throughput_lame_over_vanilla']:.3f}x, "
            f"training speed {ratios['train_speed_lame_over_vanilla']:.3f}x, "
            f"peak memory {ratios['peak_memory_lame_over_vanilla']:.3f}x (LAME / vanilla)"
        )


if __name__ == "__main__":
    main()
