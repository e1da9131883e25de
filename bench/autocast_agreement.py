"""How far bf16 / fp16 autocast inference moves LAME's and the layer-wise model's probabilities from fp32.

    OMP_NUM_THREADS=1 python bench/autocast_agreement.py [--texts 8] [--max_length 128] [--device cpu]

The packaged MiniLM backbone with fresh (untrained, seeded) heads, the first `--texts` test texts
of the bundled demo corpus. Prints, per model and autocast dtype, the largest absolute difference
of any label probability from the fp32 run and whether every output is finite (docs/RELIABILITY.md).
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import AutoTokenizer

import labelwise.modeling  # noqa: F401  (registers the model classes)
from labelwise import default_backbone_path
from labelwise.data_scripts import load_corpus, load_label_space
from labelwise.modeling import LameForSequenceClassification, LayerwiseBertForHierarchicalClassification


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=8)
    parser.add_argument("--max_length", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.manual_seed(0)
    path = default_backbone_path()
    texts = load_corpus("demo")["test"]["text"][: args.texts]
    tokenizer = AutoTokenizer.from_pretrained(path)
    batch = tokenizer(texts, padding=True, truncation=True, max_length=args.max_length, return_tensors="pt").to(args.device)
    models = {
        "lame": LameForSequenceClassification.from_pretrained(
            path, label_descriptions=load_label_space("demo").descriptions, problem_type="multi_label_classification"
        ),
        "layerwise (last_six)": LayerwiseBertForHierarchicalClassification.from_pretrained(
            path, label_levels=[1, 1, 2, 2, 2], id2label=dict(enumerate(["a", "b", "a.x", "a.y", "b.z"])),
            label_parents=[[], [], [0], [0], [1]], guidance="last_six",
        ),
    }
    device_type = torch.device(args.device).type
    for name, model in models.items():
        model.eval().to(args.device)
        with torch.no_grad():
            reference = torch.sigmoid(model(**batch).logits.float())
            for dtype in (torch.bfloat16, torch.float16):
                started = time.time()
                with torch.autocast(device_type, dtype=dtype):
                    mixed = torch.sigmoid(model(**batch).logits.float())
                print(
                    f"{name:22s} {str(dtype):15s} max |p - p_fp32| = {(mixed - reference).abs().max().item():.5f}  "
                    f"finite={bool(torch.isfinite(mixed).all())}  {time.time() - started:.1f} s"
                )


if __name__ == "__main__":
    main()
