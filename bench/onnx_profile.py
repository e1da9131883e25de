"""Where the fp32 time goes: ONNX Runtime's per-operator profile beside PyTorch's, on one batch.

    python bench/onnx_profile.py --kind vanilla --length 512 --batch 8 --threads 1

Uses the model and export of `bench/bench_onnx.py` (same `--work_dir`; built there if missing) and
prints the share of kernel time per operator type for both engines. This is what explains a
throughput ratio near 1.0: if both spend most of their time in matrix products and attention
kernels of the same quality, no export-level graph change can make one much faster than the other.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_onnx import KINDS, batch_arrays, prepare  # noqa: E402


def onnx_profile(onnx_file: Path, arrays: dict, threads: int, runs: int) -> dict[str, float]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "ort")
    session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
    for _ in range(runs):
        session.run(None, arrays)
    events = json.loads(Path(session.end_profiling()).read_text())
    totals: collections.Counter = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            totals[event["args"]["op_name"]] += event["dur"] / 1e6 / runs
    return dict(totals)


def torch_profile(model_folder: Path, arrays: dict, threads: int) -> dict[str, float]:
    import torch
    from torch.profiler import ProfilerActivity, profile

    from labelwise.export.exporter import load_model

    torch.set_num_threads(threads)
    model = load_model(str(model_folder), attn_implementation="sdpa")
    inputs = {name: torch.from_numpy(value) for name, value in arrays.items()}
    with torch.inference_mode():
        model(**inputs)
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            model(**inputs)
    return {event.key: event.self_cpu_time_total / 1e6 for event in profiler.key_averages()}


def shares(seconds: dict[str, float], top: int = 8) -> list[tuple[str, float, float]]:
    total = sum(seconds.values())
    ranked = sorted(seconds.items(), key=lambda item: -item[1])[:top]
    return [(name, value, 100 * value / total) for name, value in ranked]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kind", default="vanilla", choices=KINDS)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2, help="ONNX Runtime calls profiled (after none skipped)")
    parser.add_argument("--work_dir", default="runs/bench_onnx")
    args = parser.parse_args(argv)
    model_folder, onnx_folder = prepare(args.kind, args.work_dir)
    manifest = json.loads((onnx_folder / "onnx_export.json").read_text())
    vocab = json.loads((model_folder / "config.json").read_text())["vocab_size"]
    arrays = batch_arrays(args.length, args.batch, vocab)
    for engine, seconds in (
        ("ONNX Runtime fp32", onnx_profile(onnx_folder / manifest["files"]["fp32"], arrays, args.threads, args.runs)),
        ("PyTorch (sdpa)", torch_profile(model_folder, arrays, args.threads)),
    ):
        print(f"{engine}: {sum(seconds.values()):.2f} s of kernel time per batch of {args.batch} x {args.length}")
        for name, value, share in shares(seconds):
            print(f"  {name:55s} {value:7.3f} s  {share:5.1f}%")


if __name__ == "__main__":
    main()
