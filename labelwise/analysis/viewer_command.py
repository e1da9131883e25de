"""The command line of `labelwise.analysis.viewer`: predict one text with a model folder, write the page.

`python -m labelwise.analysis.viewer` (its `main`) runs `run` here. It lives apart from the
renderers because the Space copies `viewer.py` alone, and this part needs labelwise's predictors.
The viewer hands its renderers in, so this module does not import the viewer back (no import circle).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["run"]


def run(argv: Sequence[str], render_html: Callable[..., str], render_png: Callable[..., str]) -> None:
    """Parse the options, predict the text, write the HTML page (`render_html`) and the PNG (`render_png`)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m labelwise.analysis.viewer",
        description="Predict one text with a labelwise model folder and save the explanation as HTML (and PNG).",
    )
    parser.add_argument("--model", required=True, help="saved labelwise model folder (or Hub repo id)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the document")
    source.add_argument("--text_file", help="a UTF-8 file holding the document")
    parser.add_argument("--output", required=True, help="HTML file to write")
    parser.add_argument("--png", default=None, help="also render a PNG with headless Chromium")
    parser.add_argument("--label", default=None, help="LAME: the label shading the text at first")
    parser.add_argument(
        "--threshold", type=float, default=None,
        help="probability from which a label is predicted (default: the model's tuned thresholds, else 0.5)",
    )
    parser.add_argument("--title", default=None)
    parser.add_argument(
        "--evidence_method", default="attention",
        help="how the predicted labels' evidence words are found: LAME's attention (one forward, the default) or "
        "Integrated Gradients (more faithful on HoC, tens of forwards per label; also explains plain classifiers)",
    )
    parser.add_argument(
        "--trust_remote_code", action="store_true", help="let the model's own code run on this machine (read it first)"
    )
    args = parser.parse_args(argv)

    from labelwise.analysis.predictors import load_predictor
    from labelwise.cli_errors import note_output_path

    note_output_path(args.output)

    if args.text is not None:
        text = args.text
    else:
        try:
            with open(args.text_file, encoding="utf-8") as handle:
                text = handle.read()
        except UnicodeDecodeError as error:
            raise ValueError(f"--text_file {args.text_file}: not UTF-8 text (byte {error.start}: {error.reason}).") from error
    _, predict = load_predictor(
        args.model, threshold=args.threshold, trust_remote_code=args.trust_remote_code, evidence_method=args.evidence_method
    )
    prediction = predict(text)
    # Rendered before the file is opened: a refused option (an unknown --label) leaves no empty file.
    page = render_html(prediction, title=args.title, selected_label=args.label)
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(page)
    print(f"wrote {args.output}")
    if args.png:
        render_png(prediction, args.png, title=args.title, selected_label=args.label)
        print(f"wrote {args.png}")
