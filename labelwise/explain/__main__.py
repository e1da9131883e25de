"""`python -m labelwise.explain`: measure a trained model's word explanations against rationales."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from labelwise.cli_errors import cli_main, note_output_path
from labelwise.metrics.rationales import FRACTIONS

from .evaluate import evaluate_explanations, load_model, methods_table, write_result
from .methods import IG_STEPS, METHODS


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m labelwise.explain", description=__doc__)
    parser.add_argument("--model", required=True, help="trained model folder (LAME, or a plain classifier for gradient methods)")
    parser.add_argument("--corpus", default="hoc", help="'hoc' (sentence annotations of the original release) or 'file'")
    parser.add_argument("--data_dir", help="HoC release folder (with text/ and labels/, or raw/ holding them)")
    parser.add_argument("--rationale_file", help="JSON Lines rationale records, for --corpus file")
    parser.add_argument("--split", default="test", choices=("train", "validation", "test", "all"), help="HoC split to explain")
    parser.add_argument("--labels", default="top", choices=("top", "fine"), help="HoC label set of the model")
    parser.add_argument("--methods", nargs="+", choices=METHODS, help="default: every method the model supports")
    parser.add_argument("--fractions", nargs="+", type=float, default=list(FRACTIONS), help="k values as fractions of words")
    parser.add_argument("--max_documents", type=int, help="explain only the first N documents")
    parser.add_argument("--max_length", type=int, default=512)
    parser.add_argument("--ig_max_steps", type=int, default=IG_STEPS[1], help="Integrated Gradients' step cap (steps double from 16 until converged)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser.parse_args(argv)


def load_records(args: argparse.Namespace) -> list[dict]:
    """The rationale records the options name, in a stable order."""
    from labelwise.data_scripts.rationales import hoc_rationales, read_rationale_file

    if args.corpus == "file":
        if not args.rationale_file:
            raise ValueError("--corpus file needs --rationale_file (JSON Lines rationale records)")
        records = read_rationale_file(args.rationale_file)
    elif args.corpus == "hoc":
        if not args.data_dir:
            raise ValueError("--corpus hoc needs --data_dir (the HoC release folder)")
        by_id = hoc_rationales(args.data_dir, labels=args.labels)
        if args.split == "all":
            records = list(by_id.values())
        else:
            from labelwise.data_scripts import load_corpus

            corpus = load_corpus("hoc", data_dir=args.data_dir, labels=args.labels)
            split = corpus[args.split]
            records = [by_id[pmid] for pmid in split["id"] if pmid in by_id]
            for pmid, text in zip(split["id"], split["text"]):
                # The spans are offsets into the builder's text; a builder that joined sentences
                # differently would silently shift every rationale.
                if pmid in by_id and by_id[pmid]["text"] != text:
                    raise ValueError(f"hoc {pmid}: the builder's text differs from the release's joined sentences")
    else:
        raise ValueError(f"--corpus must be 'hoc' or 'file', got {args.corpus!r}")
    return records[: args.max_documents] if args.max_documents else records


@cli_main("python -m labelwise.explain")
def main(argv: Sequence[str] | None = None) -> dict:
    args = _parse_args(argv)
    note_output_path(args.output_dir)
    records = load_records(args)
    if not records:
        raise ValueError("no document with a rationale to explain; check --corpus, --split and --data_dir")
    model, tokenizer = load_model(args.model)
    result = evaluate_explanations(
        model, tokenizer, records, methods=args.methods, fractions=args.fractions,
        max_length=args.max_length, ig_max_steps=args.ig_max_steps, resamples=args.resamples, seed=args.seed,
    )
    result["model"] = args.model
    result["corpus"] = args.corpus if args.corpus != "file" else args.rationale_file
    result["split"] = args.split
    files = write_result(result, args.output_dir)
    print(methods_table(result))
    print(f"{result['pairs']} (document, label) pairs; wrote {', '.join(str(p) for p in files.values())}")
    return result


if __name__ == "__main__":
    main()
