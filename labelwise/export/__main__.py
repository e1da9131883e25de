"""`python -m labelwise.export --model <folder or Hub id> --output <dir> [--quantize int8]`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from labelwise.cli_errors import cli_main, note_output_path
from labelwise.export.exporter import QUANTIZATIONS, ExportOptions, export_model


@cli_main("python -m labelwise.export")
def main(argv: Sequence[str] | None = None) -> dict:
    """Errors in the model folder or the options print as one line and exit 2 (`labelwise.cli_errors`)."""
    parser = argparse.ArgumentParser(
        prog="python -m labelwise.export",
        description="Export a labelwise model (LAME, frozen LAME, layer-wise, token or sequence classification) to ONNX.",
    )
    parser.add_argument("--model", required=True, help="model folder (e.g. outputs/lame-demo/model) or Hub repo id")
    parser.add_argument("--output", required=True, help="folder for model.onnx, config, tokenizer, onnx_serving.py")
    parser.add_argument("--revision", default=None, help="Hub revision when --model is a repo id")
    parser.add_argument("--quantize", choices=QUANTIZATIONS, default=None, help="also write model_int8.onnx (dynamic int8)")
    parser.add_argument("--per_channel", action=argparse.BooleanOptionalAction, default=True,
                        help="int8 weights with one scale per output channel (default; --no-per_channel: one per matrix)")
    parser.add_argument("--reduce_range", action=argparse.BooleanOptionalAction, default=None,
                        help="int8 weights in 7 bits, so that x86 CPUs without VNNI (AVX2) compute what others do "
                             "(default with per-channel scales; --no-reduce_range: 8 bits; docs/EXPORT.md)")
    parser.add_argument("--opset", type=int, default=23, help="ONNX opset (23: the first with the fused Attention operator)")
    parser.add_argument("--attn_implementation", default="sdpa", choices=["eager", "sdpa"],
                        help="encoder attention while exporting (sdpa + opset 23: one Attention node per layer)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="max |ONNX - PyTorch| allowed for fp32 outputs")
    args = parser.parse_args(argv)
    options = ExportOptions(
        quantize=args.quantize, per_channel=args.per_channel, reduce_range=args.reduce_range, opset=args.opset,
        attn_implementation=args.attn_implementation, tolerance=args.tolerance,
    )
    note_output_path(args.output)
    manifest = export_model(args.model, args.output, options, revision=args.revision)
    print(f"labelwise: exported {manifest['kind']} to {args.output} ({', '.join(manifest['files'].values())}) in {manifest['seconds']} s")
    print("max |ONNX Runtime - PyTorch|: " + json.dumps(manifest["max_abs_diff_vs_pytorch"]))
    print(f"Serve it with:  from labelwise.export import onnx_pipeline; onnx_pipeline({args.output!r})")
    return manifest


if __name__ == "__main__":
    main()
