"""Inference throughput (sentences/s): `labelwise.ner.tagger.predict_spans` vs transformers' pipeline.

Both run the same `BertForTokenClassification` (the packaged MiniLM with a token-classification
head, or --model: a trained tagger folder) on the same ADE-Corpus-V2 sentences, on CPU in fp32:

- `predict_spans`: builder sentence/word tokenisation, windows sorted by length and batched,
  first-piece word tags, IOB2 spans.
- `pipeline`: `pipeline("token-classification", aggregation_strategy="simple")` with the same
  `batch_size` (and with batch_size 1, the pipeline default).

Timings alternate between the runners (A, B, C, A, B, C, ...) so that load from other processes
on a shared CPU hits all of them alike; the median of `--repeats` is reported. One JSON result
per (runner, settings) in --output_dir; existing results are skipped (resumable).

    python bench/ner/bench_ner_throughput.py --data_dir ../shared/data/ade_corpus_v2/ADE-Corpus-V2 \\
        --n_sentences 512 --batch_size 32 --repeats 3 --output_dir bench/ner/results
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoTokenizer, pipeline

from labelwise import resolve_backbone
from labelwise.data_scripts import load_corpus
from labelwise.ner.tagger import build_token_classification_model, predict_spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--model", default="default", help="trained tagger folder, or a backbone (a fresh head is added)")
    parser.add_argument("--n_sentences", type=int, default=512)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--output_dir", default="bench/ner/results")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    dataset = load_corpus("ade", data_dir=args.data_dir, include_negative=False)
    texts = [text for split in dataset for text in dataset[split]["text"]][: args.n_sentences]
    path = resolve_backbone(args.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    # Throughput does not depend on the head's weights; a fresh head makes the bench self-contained.
    model = build_token_classification_model(path, ["O", "B-ADR", "I-ADR"]).eval()
    plain = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy="simple", device=-1)

    runners = {
        f"predict_spans_bs{args.batch_size}": lambda: predict_spans(model, tokenizer, texts, batch_size=args.batch_size),
        f"pipeline_simple_bs{args.batch_size}": lambda: plain(texts, batch_size=args.batch_size),
        "pipeline_simple_bs1": lambda: plain(texts, batch_size=1),
    }
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    model_name = Path(args.model.rstrip("/")).name.replace(".", "_") or "model"
    settings = f"{model_name}_n{len(texts)}_t{torch.get_num_threads()}"
    todo = {name: run for name, run in runners.items() if not (output / f"{name}_{settings}.json").exists()}
    for name in runners.keys() - todo.keys():
        print(f"skip {name}: {output / f'{name}_{settings}.json'} exists")
    with torch.inference_mode():
        # Warm-up: first-call allocations, lazy imports (NLTK, the pipeline's post-processing).
        predict_spans(model, tokenizer, texts[:8])
        plain(texts[:8])
        seconds: dict[str, list[float]] = {name: [] for name in todo}
        for _ in tqdm(range(args.repeats), desc="repeats"):
            for name, run in todo.items():
                started = time.perf_counter()
                run()
                seconds[name].append(time.perf_counter() - started)
    for name, values in seconds.items():
        median = statistics.median(values)
        record = {
            "runner": name,
            "model": path,
            "n_sentences": len(texts),
            "batch_size": args.batch_size,
            "threads": torch.get_num_threads(),
            "seconds": values,
            "median_seconds": median,
            "sentences_per_second": len(texts) / median,
            "load_average_at_end": os.getloadavg(),
            "machine": platform.processor() or platform.machine(),
            "torch": torch.__version__,
        }
        (output / f"{name}_{settings}.json").write_text(json.dumps(record, indent=2))
        print(f"{name}: {record['sentences_per_second']:.1f} sentences/s (median of {len(values)}: {median:.2f} s)")


if __name__ == "__main__":
    main()
