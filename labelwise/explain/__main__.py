"""`python -m labelwise.explain`: measure a trained model's word explanations against rationales.

One command on a trained model folder; the corpus, its split options and `max_length` default to
those in the folder's `training_summary.json`, so a HoC model needs only the release folder:

    python -m labelwise.explain --model runs/hoc/model --data_dir ../shared/data/hoc --output_dir explain/hoc

Resumable: run the same command again after an interruption (finished methods and documents are kept).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from labelwise.cli_errors import cli_main, note_output_path
from labelwise.metrics.rationales import FRACTIONS

from .evaluate import QUALITY_FILE, evaluate_explanations, load_model, methods_table, quality_record, write_result
from .methods import IG_STEPS, METHODS


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m labelwise.explain", description=__doc__)
    parser.add_argument("--model", required=True, help="trained model folder (LAME, or a plain classifier for gradient methods)")
    parser.add_argument("--corpus", choices=("hoc", "ade", "file"),
                        help="'hoc' (sentence annotations of the original release), 'ade' (ADE-Corpus-V2 entity spans) or "
                             "'file'; default: the corpus the model was trained on")
    parser.add_argument("--data_dir", help="HoC release folder (with text/ and labels/, or raw/ holding them) or ADE folder")
    parser.add_argument("--split_dir", help="HoC: folder of {train,dev,test}_docid.txt (default: the model's training split)")
    parser.add_argument("--rationale_file", help="JSON Lines rationale records, for --corpus file")
    parser.add_argument("--split", default="test", choices=("train", "validation", "test", "all"), help="HoC split to explain")
    parser.add_argument("--labels", choices=("top", "fine"), help="HoC label set of the model (default: the model's)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, help="default: every method the model supports")
    parser.add_argument("--fractions", nargs="+", type=float, default=list(FRACTIONS), help="k values as fractions of words")
    parser.add_argument("--max_documents", type=int, help="explain only the first N documents")
    parser.add_argument("--max_length", type=int, help="default: the model's training max_length, else 512")
    parser.add_argument("--ig_max_steps", type=int, default=IG_STEPS[1], help="Integrated Gradients' step cap (steps double from 16 until converged)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--record_in_model", action="store_true",
                        help="also write the headline figures into the model folder (explanation_quality.json), "
                             "so its model card states how plausible and faithful its evidence words measured")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser.parse_args(argv)


def training_dataset(model_dir: str) -> tuple[str | None, dict, int | None]:
    """The corpus name, its options and the max_length the model folder was trained with (if recorded)."""
    path = Path(model_dir) / "training_summary.json"
    if not path.is_file():
        return None, {}, None
    summary = json.loads(path.read_text(encoding="utf-8"))
    dataset = summary.get("dataset") or {}
    return dataset.get("name"), dict(dataset.get("config") or {}), (summary.get("hyperparameters") or {}).get("max_length")


def load_records(args: argparse.Namespace, trained: dict | None = None) -> list[dict]:
    """The rationale records the options name, in a stable order (`trained`: the model's corpus options)."""
    from labelwise.data_scripts.rationales import ade_rationales, hoc_rationales, read_rationale_file

    trained = trained or {}
    if args.corpus == "file":
        if not args.rationale_file:
            raise ValueError("--corpus file needs --rationale_file (JSON Lines rationale records)")
        records = read_rationale_file(args.rationale_file)
    elif args.corpus == "ade":
        if not args.data_dir:
            raise ValueError("--corpus ade needs --data_dir (the ADE-Corpus-V2 folder)")
        split_options = {k: trained[k] for k in ("fold", "num_folds", "split_ratio", "seed") if k in trained}
        records = ade_rationales(args.data_dir, split=args.split, **split_options)
    elif args.corpus == "hoc":
        if not args.data_dir:
            raise ValueError("--corpus hoc needs --data_dir (the HoC release folder)")
        labels = args.labels or trained.get("labels", "top")
        by_id = hoc_rationales(args.data_dir, labels=labels)
        if args.split == "all":
            records = list(by_id.values())
        else:
            from labelwise.data_scripts import load_corpus

            split_dir = args.split_dir or trained.get("split_dir")
            corpus = load_corpus("hoc", data_dir=args.data_dir, labels=labels, **({"split_dir": split_dir} if split_dir else {}))
            split = corpus[args.split]
            records = [by_id[pmid] for pmid in split["id"] if pmid in by_id]
            for pmid, text in zip(split["id"], split["text"]):
                # The spans are offsets into the builder's text; a builder that joined sentences
                # differently would silently shift every rationale.
                if pmid in by_id and by_id[pmid]["text"] != text:
                    raise ValueError(f"hoc {pmid}: the builder's text differs from the release's joined sentences")
    else:
        raise ValueError("--corpus is needed: the model folder's training_summary.json names no corpus ('hoc', 'ade' or 'file')")
    return records[: args.max_documents] if args.max_documents else records


@cli_main("python -m labelwise.explain")
def main(argv: Sequence[str] | None = None) -> dict:
    args = _parse_args(argv)
    note_output_path(args.output_dir)
    corpus, trained, max_length = training_dataset(args.model)
    if args.corpus is None and corpus in ("hoc", "ade"):
        args.corpus = corpus
    trained = trained if args.corpus == corpus else {}
    args.max_length = args.max_length or max_length or 512
    records = load_records(args, trained)
    if not records:
        raise ValueError("no document with a rationale to explain; check --corpus, --split and --data_dir")
    model, tokenizer = load_model(args.model)
    source = args.corpus if args.corpus != "file" else args.rationale_file
    result = evaluate_explanations(
        model, tokenizer, records, methods=args.methods, fractions=args.fractions,
        max_length=args.max_length, ig_max_steps=args.ig_max_steps, resamples=args.resamples, seed=args.seed,
        output_dir=args.output_dir, settings={"model": str(Path(args.model).resolve()), "corpus": source, "split": args.split},
    )
    result["model"] = args.model
    result["corpus"] = source
    result["split"] = args.split
    files = write_result(result, args.output_dir)
    if args.record_in_model:
        if "attention" not in result["methods"] or "random" not in result["methods"]:
            raise ValueError("--record_in_model needs the methods 'attention' (the evidence the model's pipeline shows) "
                             "and 'random' (the baseline the card compares it with) among --methods")
        files["model"] = Path(args.model) / QUALITY_FILE
        files["model"].write_text(json.dumps(quality_record(result), indent=2), encoding="utf-8")
    print(methods_table(result))
    print(f"{result['pairs']} (document, label) pairs; wrote {', '.join(str(p) for p in files.values())}")
    return result


if __name__ == "__main__":
    main()
