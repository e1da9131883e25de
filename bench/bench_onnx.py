"""ONNX Runtime (fp32 and int8) against PyTorch eager, for every model kind, on the packaged MiniLM.

    python bench/bench_onnx.py --lengths 256 512 --batch 8 --threads 1

For each kind (vanilla sequence classification, token classification, LAME, frozen LAME with its
CNN head, layer-wise), the script builds the model on the packaged all-MiniLM-L6-v2 (random heads:
speed does not depend on trained weights), exports it with `labelwise.export` (fp32 + int8), then,
in this one process, on the same inputs, interleaving the engines call by call (so drift in
machine load hits all alike): PyTorch with sdpa attention (the default), PyTorch with eager attention
(timed only, as a second reference), ONNX Runtime fp32 and int8:

- inference throughput (documents/s, median over `--reps` calls after `--warmup`), batch `--batch`,
  every document `length` pieces, at each `--lengths`; the ratios ONNX Runtime / PyTorch;
- peak memory: the peak resident set size (VmHWM) of a fresh process that loads one engine and runs
  one batch at each length (every probe has imported torch, as `onnx_serving.py` does for the
  pipelines' tensors; `imports` is the peak before the engine is loaded).

Torch and ONNX Runtime get the same thread count (`--threads`). One JSON file per kind under
`--output_dir` (a finished kind is skipped on a rerun; `--force` measures again); exports are kept in
`--work_dir`. `--report` prints the markdown table of docs/BENCHMARKS.md from the JSON files.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from labelwise.experiments.measure import interleaved, machine, peak_rss_mib

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_lame import descriptions  # noqa: E402  (the synthetic label descriptions of the LAME benchmark)

KINDS = ("vanilla", "token_classification", "lame", "frozen_lame", "layerwise")
ENGINES = ("torch", "onnx_fp32", "onnx_int8")
#: Timed but not memory-probed: PyTorch with transformers' eager attention (the v4 default and what
#: "PyTorch eager" meant in older comparisons), a second reference beside the default sdpa path.
SPEED_ENGINES = ("torch", "torch_eager_attention", "onnx_fp32", "onnx_int8")
NUM_LABELS = 10  # as HoC


def build(kind: str, folder: Path) -> str:
    """Save a MiniLM model of `kind` (random head) with its tokenizer in `folder`."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

    from labelwise import default_backbone_path
    from labelwise.modeling import LameForSequenceClassification, LayerwiseBertForHierarchicalClassification

    path = default_backbone_path()
    torch.manual_seed(0)
    if kind == "vanilla":
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=NUM_LABELS, problem_type="multi_label_classification")
    elif kind == "token_classification":
        model = AutoModelForTokenClassification.from_pretrained(path, num_labels=3)
    elif kind in ("lame", "frozen_lame"):
        frozen = {"freeze_encoder": True, "feature_head": "cnn"} if kind == "frozen_lame" else {}
        model = LameForSequenceClassification.from_pretrained(
            path, label_descriptions=descriptions(NUM_LABELS), problem_type="multi_label_classification",
            label_attention_heads=12, **frozen,
        )
    elif kind == "layerwise":
        # Two levels (4 + 6 labels), LAST-SIX guidance on the 6-layer encoder.
        names = [f"top{i}" for i in range(4)] + [f"top{i % 4}.sub{i}" for i in range(6)]
        model = LayerwiseBertForHierarchicalClassification.from_pretrained(
            path, label_levels=[1] * 4 + [2] * 6, id2label=dict(enumerate(names)),
            label2id={n: i for i, n in enumerate(names)}, guidance="last_six",
        )
    else:
        raise ValueError(f"unknown kind {kind!r}; choose from {KINDS}")
    model.save_pretrained(str(folder))
    AutoTokenizer.from_pretrained(path).save_pretrained(str(folder))
    return str(folder)


def batch_arrays(length: int, batch: int, vocab_size: int, seed: int = 0) -> dict:
    """Full-length documents (no padding: every row costs `length` pieces), int64 numpy arrays."""
    import numpy as np

    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, vocab_size, size=(batch, length), dtype=np.int64)
    ids[:, 0], ids[:, -1] = 101, 102  # [CLS] ... [SEP]
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}


def load_engine(engine: str, model_folder: str, onnx_folder: str, threads: int):
    """A callable running one batch (dict of numpy arrays) on `engine`."""
    if engine in ("torch", "torch_eager_attention"):
        import torch

        from labelwise.export.exporter import load_model

        torch.set_num_threads(threads)
        # `torch` is what users get by default (sdpa attention); the other reference is eager attention.
        model = load_model(model_folder, attn_implementation="sdpa" if engine == "torch" else "eager")
        kind = type(model).__name__

        def run(arrays):
            with torch.inference_mode():
                inputs = {name: torch.from_numpy(value) for name, value in arrays.items()}
                # The outputs a served model needs: LAME's pipeline asks for the label attention too.
                extra = {"output_cross_attentions": True} if kind.startswith("Lame") else {}
                return model(**inputs, **extra)

        return run
    import onnxruntime as ort

    manifest = json.loads((Path(onnx_folder) / "onnx_export.json").read_text())
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    file = manifest["files"]["int8" if engine == "onnx_int8" else "fp32"]
    session = ort.InferenceSession(str(Path(onnx_folder) / file), options, providers=["CPUExecutionProvider"])
    return lambda arrays: session.run(None, arrays)


def measure_speed(kind: str, model_folder: str, onnx_folder: str, lengths: list[int], batch: int, threads: int,
                  reps: int, warmup: int) -> dict:
    from transformers import AutoConfig

    vocab = AutoConfig.from_pretrained(model_folder, trust_remote_code=True).vocab_size
    engines = {engine: load_engine(engine, model_folder, onnx_folder, threads) for engine in SPEED_ENGINES}
    result = {}
    for length in lengths:
        arrays = batch_arrays(length, batch, vocab)
        timed = interleaved({engine: (lambda run=run: run(arrays)) for engine, run in engines.items()}, reps, warmup,
                            rotate=True)  # each round starts with the next engine
        times = {engine: timed[engine]["wall"] for engine in SPEED_ENGINES}
        medians = {engine: statistics.median(values) for engine, values in times.items()}
        result[str(length)] = {
            "docs_per_s": {engine: batch / medians[engine] for engine in SPEED_ENGINES},
            "ratio_vs_torch": {engine: medians["torch"] / medians[engine] for engine in SPEED_ENGINES if engine != "torch"},
            "ratio_vs_torch_eager_attention": {
                engine: medians["torch_eager_attention"] / medians[engine] for engine in ("onnx_fp32", "onnx_int8")
            },
            "seconds_per_batch": times,
        }
        print(f"{kind} {length}: " + ", ".join(f"{e} {batch / medians[e]:.2f} docs/s" for e in SPEED_ENGINES), flush=True)
    return result


def memory_probe(engine: str, model_folder: str, onnx_folder: str, lengths: list[int], batch: int, threads: int) -> dict:
    """Run in a fresh process: peak RSS after loading, and after one batch at each length (MiB)."""
    import transformers  # noqa: F401  (every probe pays the same imports; the torch engine needs it)

    out = {"imports": peak_rss_mib()}
    run = load_engine(engine, model_folder, onnx_folder, threads)
    out["loaded"] = peak_rss_mib()
    vocab = json.loads((Path(model_folder) / "config.json").read_text())["vocab_size"]
    for length in lengths:
        run(batch_arrays(length, batch, vocab))
        out[str(length)] = peak_rss_mib()
    return out


def measure_memory(engine: str, model_folder: str, onnx_folder: str, lengths: list[int], batch: int, threads: int) -> dict:
    command = [sys.executable, __file__, "--probe", engine, model_folder, onnx_folder,
               "--lengths", *map(str, lengths), "--batch", str(batch), "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(kind: str, work_dir: str, per_channel: bool = False) -> tuple[Path, Path]:
    """Build and export `kind` into `work_dir` unless done before; returns (model folder, export folder)."""
    from labelwise.export import ExportOptions, export_model

    model_folder, onnx_folder = Path(work_dir) / kind / "model", Path(work_dir) / kind / "onnx"
    if not (model_folder / "config.json").exists():
        build(kind, model_folder)
    if not (onnx_folder / "onnx_export.json").exists():
        export_model(str(model_folder), str(onnx_folder), ExportOptions(quantize="int8", per_channel=per_channel))
    return model_folder, onnx_folder


def run_kind(kind: str, args) -> dict:
    model_folder, onnx_folder = prepare(kind, args.work_dir, args.per_channel)
    manifest = json.loads((onnx_folder / "onnx_export.json").read_text())
    speed = measure_speed(kind, str(model_folder), str(onnx_folder), args.lengths, args.batch, args.threads, args.reps, args.warmup)
    memory = {engine: measure_memory(engine, str(model_folder), str(onnx_folder), args.lengths, args.batch, args.threads)
              for engine in ENGINES}
    import onnxruntime
    import torch

    return {
        "kind": kind, "per_channel": args.per_channel, "batch": args.batch, "threads": args.threads, "reps": args.reps, "warmup": args.warmup,
        "speed": speed, "peak_rss_mib": memory,
        "export_max_abs_diff": manifest["max_abs_diff_vs_pytorch"],
        "graph_mib": {key: round(os.path.getsize(onnx_folder / name) / 2**20, 1) for key, name in manifest["files"].items()},
        "machine": machine(),
        "versions": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
        "load_average": os.getloadavg(),
        "command": "python bench/bench_onnx.py " + " ".join(sys.argv[1:]),
    }


def report(output_dir: Path, lengths: list[int]) -> str:
    lines = ["| kind | pieces | PyTorch docs/s | ORT fp32 docs/s | ORT int8 docs/s | fp32 / PyTorch | int8 / PyTorch "
             "| fp32 / PyTorch eager attention | peak RSS MiB PyTorch / fp32 / int8 |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for kind in KINDS:
        path = output_dir / f"{kind}.json"
        if not path.exists():
            continue
        record = json.loads(path.read_text())
        for length in lengths:
            speed = record["speed"].get(str(length))
            if speed is None:
                continue
            rate, ratio = speed["docs_per_s"], speed["ratio_vs_torch"]
            rss = " / ".join(f"{record['peak_rss_mib'][e][str(length)]:.0f}" for e in ENGINES)
            eager = speed.get("ratio_vs_torch_eager_attention", {}).get("onnx_fp32")
            eager_cell = f"{eager:.2f}x" if eager is not None else "not measured"
            lines.append(f"| {kind} | {length} | {rate['torch']:.2f} | {rate['onnx_fp32']:.2f} | {rate['onnx_int8']:.2f} "
                         f"| {ratio['onnx_fp32']:.2f}x | {ratio['onnx_int8']:.2f}x | {eager_cell} | {rss} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--lengths", nargs="+", type=int, default=[256, 512])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--output_dir", default=str(HERE / "results" / "onnx"))
    parser.add_argument("--work_dir", default="runs/bench_onnx", help="models and exports (not committed)")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--per_channel", action=argparse.BooleanOptionalAction, default=False,
                        help="int8 with per-channel weight scales (the exporter's default; use its own --work_dir); without it: per-tensor")
    parser.add_argument("--prepare", action="store_true", help="only build and export the models (nothing timed)")
    parser.add_argument("--report", action="store_true", help="print the table from the JSON files and exit")
    parser.add_argument("--probe", nargs=3, metavar=("ENGINE", "MODEL", "ONNX"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe:
        print(json.dumps(memory_probe(*args.probe, args.lengths, args.batch, args.threads)))
        return
    output = Path(args.output_dir)
    if args.report:
        print(report(output, args.lengths))
        return
    if args.prepare:
        for kind in args.kinds:
            print(kind, *prepare(kind, args.work_dir, args.per_channel), flush=True)
        return
    output.mkdir(parents=True, exist_ok=True)
    for kind in args.kinds:
        path = output / f"{kind}.json"
        if path.exists() and not args.force:
            print(f"{kind}: {path} exists, skipped (--force to measure again)")
            continue
        record = run_kind(kind, args)
        path.write_text(json.dumps(record, indent=2))
    print(report(output, args.lengths))


if __name__ == "__main__":
    main()
