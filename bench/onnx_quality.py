"""What int8 ONNX costs on real metrics: HoC test micro-F1 of a LAME model, ADE fold F1 of a tagger.

    # 1. the models (each one single-thread background process)
    OMP_NUM_THREADS=1 python train.py --model lame --loss bce --corpus hoc ... --output_dir runs/hoc_lame   # bench/lame_comparison.py's budget
    OMP_NUM_THREADS=1 python bench/onnx_quality.py train-ade --data_dir ../shared/data/ade_corpus_v2/ADE-Corpus-V2 --output_dir runs/ade_fold0
    # 2. export (fp32 + int8) and score PyTorch, ONNX fp32 and ONNX int8 on the same test data
    python bench/onnx_quality.py hoc --model runs/hoc_lame/model --data_dir ../shared/data/hoc
    python bench/onnx_quality.py ade --model runs/ade_fold0 --data_dir ../shared/data/ade_corpus_v2/ADE-Corpus-V2

HoC: the BLUE test split (315 abstracts), truncated to the model's training length (128 pieces), a
label predicted at sigmoid >= 0.5, micro-F1 as in training (`labelwise.metrics.multilabel_scores`).
ADE: fold 0 of `labelwise.experiments.crossval`'s protocol (sentences under 130 words, duplicates dropped,
positive sentences only, 5 folds grouped by abstract, seed 42); the tagger is trained on the other
four folds with the `ade_cv_transformer_3ep` settings (3 epochs, lr 1e-4, batch 16, 150-piece
windows, stride 32); entity-level exact-match F1 (`labelwise.metrics.entities.entity_scores`).
Each evaluation writes `bench/results/onnx/quality_<corpus>.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from labelwise.experiments.measure import cpu_flags, machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "onnx"
ADE_OPTIONS = {"include_negative": False}
ADE_FOLD, ADE_FOLDS, ADE_SEED = 0, 5, 42
ADE_TRAINING = {"max_length": 150, "stride": 32, "num_train_epochs": 3.0, "per_device_train_batch_size": 16,
                "learning_rate": 1e-4, "seed": ADE_SEED}


def ade_split(data_dir: str) -> tuple[list[dict], list[dict]]:
    """(train examples, test examples) of fold `ADE_FOLD`, exactly as `labelwise.experiments.crossval` makes them."""
    from labelwise.data_scripts import load_corpus
    from labelwise.experiments.crossval import examples_from_dataset, filter_examples, group_folds

    examples, _ = filter_examples(examples_from_dataset(load_corpus("ade", data_dir=data_dir, **ADE_OPTIONS)), max_words=130)
    folds = group_folds([e["document_id"] for e in examples], ADE_FOLDS, ADE_SEED)
    test = set(folds[ADE_FOLD])
    return [e for i, e in enumerate(examples) if i not in test], [examples[i] for i in folds[ADE_FOLD]]


def train_ade(args) -> None:
    from labelwise.training.tagger import TransformerTagger

    train, test = ade_split(args.data_dir)
    print(f"ADE fold {ADE_FOLD}: {len(train)} training, {len(test)} test sentences", flush=True)
    started = time.time()
    tagger = TransformerTagger(output_dir=args.output_dir, **ADE_TRAINING)
    tagger.fit([e["tokens"] for e in train], [e["tags"] for e in train])
    Path(args.output_dir, "ade_training.json").write_text(json.dumps(
        {"fold": ADE_FOLD, "n_train": len(train), "options": ADE_TRAINING, "train_seconds": round(time.time() - started, 1),
         "torch_threads": torch.get_num_threads()}, indent=2))


def engines(model_folder: str, onnx_folder: str):
    """PyTorch eager, ONNX fp32 and ONNX int8, each callable as `engine(**batch).logits`."""
    from labelwise.export import OnnxModel
    from labelwise.export.exporter import load_model

    return {
        "pytorch": load_model(model_folder, attn_implementation="sdpa"),
        "onnx_fp32": OnnxModel(onnx_folder),
        "onnx_int8": OnnxModel(onnx_folder, quantized=True),
    }


PER_CHANNEL = True  # set by --per_channel / --no-per_channel
REDUCE_RANGE = None  # set by --reduce_range / --no-reduce_range (None: the exporter's default)


def export(model_folder: str, onnx_folder: str) -> dict:
    from labelwise.export import ExportOptions, export_model

    if not Path(onnx_folder, "onnx_export.json").exists():
        export_model(model_folder, onnx_folder, ExportOptions(quantize="int8", per_channel=PER_CHANNEL, reduce_range=REDUCE_RANGE))
    return json.loads(Path(onnx_folder, "onnx_export.json").read_text())


INT8_VARIANTS = {  # name: (per_channel, reduce_range)
    "int8_per_channel_8bit": (True, False),
    "int8_per_channel_7bit": (True, True),
    "int8_per_tensor_8bit": (False, False),
    "int8_per_tensor_7bit": (False, True),
}


def variant_engines(model_folder: str, onnx_folder: str) -> dict:
    """PyTorch, the fp32 graph and one int8 graph per `INT8_VARIANTS` entry, all from one fp32 export."""
    from labelwise.export import ExportOptions, OnnxModel, export_model
    from labelwise.export.exporter import load_model, quantize_int8

    if not Path(onnx_folder, "onnx_export.json").exists():
        export_model(model_folder, onnx_folder, ExportOptions(quantize=None))
    result = {"pytorch": load_model(model_folder, attn_implementation="sdpa"), "onnx_fp32": OnnxModel(onnx_folder)}
    manifest_path = Path(onnx_folder, "onnx_export.json")
    manifest = json.loads(manifest_path.read_text())
    for name, (per_channel, reduce_range) in INT8_VARIANTS.items():
        # OnnxModel(quantized=True) reads the int8 file the manifest names: each variant in turn.
        quantize_int8(str(Path(onnx_folder, "model.onnx")), str(Path(onnx_folder, f"{name}.onnx")), per_channel, reduce_range)
        manifest["files"]["int8"] = f"{name}.onnx"
        manifest_path.write_text(json.dumps(manifest))
        result[name] = OnnxModel(onnx_folder, quantized=True)
    manifest["files"].pop("int8", None)
    manifest_path.write_text(json.dumps(manifest))
    return result


def model_engines(args, onnx_folder: str) -> tuple[dict, dict | None]:
    """The engines to score (`--int8_variants`: one int8 graph per variant) and the export's manifest (None for variants)."""
    if args.int8_variants:
        return variant_engines(args.model, onnx_folder), None
    manifest = export(args.model, onnx_folder)  # first: the engines read the exported files
    return engines(args.model, onnx_folder), manifest


def evaluate_hoc(args) -> dict:
    from transformers import AutoTokenizer

    from labelwise.data_scripts import load_corpus
    from labelwise.metrics.classification import multilabel_scores

    summary = json.loads(Path(args.model, "training_summary.json").read_text())
    max_length = summary["hyperparameters"]["max_length"]
    split_dir = args.split_dir or os.path.join(args.data_dir, "blue_split")
    test = load_corpus("hoc", data_dir=args.data_dir, split_dir=split_dir)["test"]
    if args.max_documents:
        test = test.select(range(min(args.max_documents, len(test))))
    onnx_folder = args.onnx or os.path.join(args.model, "..", "onnx")
    runners, manifest = model_engines(args, onnx_folder)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    encoded = tokenizer(list(test["text"]), truncation=True, max_length=max_length)
    num_labels = len(json.loads(Path(args.model, "config.json").read_text())["id2label"])
    gold = np.zeros((len(test), num_labels), dtype=int)
    for row, ids in enumerate(test["labels"]):
        gold[row, ids] = 1
    scores = {}
    for name, engine in runners.items():
        logits = []
        started = time.perf_counter()
        for begin in range(0, len(test), 32):
            batch = tokenizer.pad({key: encoded[key][begin : begin + 32] for key in encoded}, return_tensors="pt")
            with torch.inference_mode():
                logits.append(engine(**batch).logits.float())
        predicted = (torch.sigmoid(torch.cat(logits)).numpy() >= 0.5).astype(int)
        scores[name] = {**multilabel_scores(gold, predicted), "seconds": round(time.perf_counter() - started, 1)}
        print(name, json.dumps(scores[name]), flush=True)
    return {"corpus": "hoc", "split": "test (BLUE)", "documents": len(test), "max_length": max_length,
            "training_summary_test": summary["metrics"].get("test"), "scores": scores,
            "export_max_abs_diff": manifest["max_abs_diff_vs_pytorch"] if manifest else None}


def evaluate_ade(args) -> dict:
    from transformers import AutoTokenizer

    from labelwise.metrics.entities import entity_scores
    from labelwise.ner.tagger import predict_tags

    _, test = ade_split(args.data_dir)
    if args.max_documents:
        test = test[: args.max_documents]
    onnx_folder = args.onnx or os.path.join(args.model, "onnx")
    runners, manifest = model_engines(args, onnx_folder)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    gold = [e["tags"] for e in test]
    scores = {}
    for name, engine in runners.items():
        started = time.perf_counter()
        predicted = predict_tags(engine, tokenizer, [e["tokens"] for e in test], ADE_TRAINING["max_length"], ADE_TRAINING["stride"])
        result = entity_scores(gold, predicted)
        scores[name] = {key: result[key] for key in ("precision", "recall", "f1", "support")}
        scores[name]["seconds"] = round(time.perf_counter() - started, 1)
        print(name, json.dumps(scores[name]), flush=True)
    return {"corpus": "ade", "fold": ADE_FOLD, "sentences": len(test), "scores": scores,
            "export_max_abs_diff": manifest["max_abs_diff_vs_pytorch"] if manifest else None}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["train-ade", "hoc", "ade"])
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--split_dir", default=None, help="HoC BLUE split folder (default: <data_dir>/blue_split)")
    parser.add_argument("--model", help="trained model folder (hoc, ade)")
    parser.add_argument("--onnx", default=None, help="export folder (default: beside the model)")
    parser.add_argument("--output_dir", default="runs/ade_fold0", help="train-ade: where the tagger is saved")
    parser.add_argument("--per_channel", action=argparse.BooleanOptionalAction, default=False,
                        help="int8 with per-channel weight scales (the exporter's default; result file *_per_channel.json); "
                             "without it: per-tensor scales (quality_<corpus>.json)")
    parser.add_argument("--reduce_range", action=argparse.BooleanOptionalAction, default=None,
                        help="int8 weights in 7 bits (the exporter's default with per-channel scales); --no-reduce_range: 8 bits")
    parser.add_argument("--int8_variants", action="store_true",
                        help="score one int8 graph per INT8_VARIANTS entry (per-channel/per-tensor x 8/7-bit weights) "
                             "from one fp32 export; result file quality_<corpus>_int8_variants.json")
    parser.add_argument("--max_documents", type=int, default=None, help="score only the first N test documents")
    parser.add_argument("--tag", default="", help="suffix of the result file name")
    args = parser.parse_args(argv)
    global PER_CHANNEL, REDUCE_RANGE
    PER_CHANNEL, REDUCE_RANGE = args.per_channel, args.reduce_range
    if args.command == "train-ade":
        train_ade(args)
        return
    record = evaluate_hoc(args) if args.command == "hoc" else evaluate_ade(args)
    import onnxruntime

    record.update(model=args.model, threads=torch.get_num_threads(), machine=machine(),
                  cpu=cpu_flags(), onnxruntime=onnxruntime.__version__, torch=torch.__version__,
                  command="python bench/onnx_quality.py " + " ".join(sys.argv[1:]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.int8_variants:
        record["int8_variants"] = {name: {"per_channel": pc, "reduce_range": rr} for name, (pc, rr) in INT8_VARIANTS.items()}
        suffix = "_int8_variants"
    else:
        record["per_channel"], record["reduce_range"] = args.per_channel, args.reduce_range
        suffix = "_per_channel" if args.per_channel else ""
    (RESULTS / f"quality_{args.command}{suffix}{args.tag}.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
