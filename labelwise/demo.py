"""Gradio demo for any trained labelwise model folder (or Hub repo): paste text, see labels and evidence.

    python -m labelwise.demo --model runs/hoc-lame --port 7860

What the page shows depends on the model's saved kind (`labelwise.saved_kinds.SAVED_KINDS`, re-exported by
`labelwise.analysis.predictors`, read from `config.json`): LAME labels with the document shaded by the selected label's attention, labels per
hierarchy level, ADR entity spans, or labels with probabilities.

The loading is `labelwise.analysis.predictors` and the rendering `labelwise.analysis.viewer`. This
module needs only gradio, transformers, torch and those two (with `labelwise.saved_kinds`, which the
predictors read), so `labelwise.analysis.space.write_space_files` can copy them into a Hub Space
that does not install labelwise. Nothing here calls the network unless `model` is a Hub id.

A model's own code (`auto_map`, `custom_pipelines` in its config.json) runs only with
`--trust_remote_code` (`trust_remote_code=True` in Python), as in transformers; see
`labelwise.analysis.predictors`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

# Gradio reports usage to a server unless told not to; set before gradio is imported.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

try:
    from labelwise.analysis.predictors import SAVED_KINDS, RemoteCodeError, detect_kind, load_predictor
    from labelwise.analysis.viewer import render_fragment
except ImportError:  # inside a Hub Space the predictors and the viewer are copied next to this file
    from labelwise_predictors import SAVED_KINDS, RemoteCodeError, detect_kind, load_predictor  # type: ignore[no-redef]
    from labelwise_viewer import render_fragment  # type: ignore[no-redef]

__all__ = ["KINDS", "RemoteCodeError", "build_demo", "default_theme", "detect_kind", "load_predictor", "main"]

KINDS = tuple(SAVED_KINDS)
"""The saved kinds the demo shows (`labelwise.saved_kinds`, through `labelwise.analysis.predictors`)."""


def build_demo(
    model: str,
    *,
    title: str | None = None,
    examples: Sequence[str] | None = None,
    device: str | None = None,
    threshold: float | None = None,
    trust_remote_code: bool = False,
    evidence_method: str = "attention",
):
    """A `gradio.Blocks` app serving `model`: a text box, a Predict button and the viewer's HTML.

    The label switch of the LAME view is CSS-only, so it works inside `gr.HTML` (which does not run
    `<script>`). The raw prediction is shown as JSON under the view. `trust_remote_code` as in
    `load_predictor`: a model's own code runs only when it is True; `evidence_method` too
    ("integrated_gradients": slower, more faithful evidence words).
    """
    import gradio as gr

    kind, predict = load_predictor(
        model, device=device, threshold=threshold, trust_remote_code=trust_remote_code, evidence_method=evidence_method
    )
    name = title or f"labelwise: {os.path.basename(os.path.normpath(model))}"

    def run(text: str) -> tuple[str, dict]:
        if not text or not text.strip():
            return '<p class="lw-empty">Enter some text first.</p>', {}
        prediction = predict(text)
        return render_fragment(prediction), prediction

    with gr.Blocks(title=name, analytics_enabled=False) as demo:
        slow = "" if evidence_method == "attention" else (
            f"\n\nEvidence words by {evidence_method.replace('_', ' ')}: many forward passes for each predicted label, "
            "so a prediction takes far longer than with attention (about a minute a label on one CPU thread at 512 pieces)."
        )
        gr.Markdown(f"# {name}\n{SAVED_KINDS[kind].intro}{slow}")
        text = gr.Textbox(label="Text", lines=8, max_lines=30, elem_id="lw-input")
        button = gr.Button("Predict", variant="primary", elem_id="lw-submit")
        # No js_on_load: the default listener would report every click in the view to the server.
        view = gr.HTML(elem_id="lw-view", js_on_load=None)
        with gr.Accordion("Raw prediction (JSON)", open=False):
            raw = gr.JSON(elem_id="lw-json")
        if examples:
            gr.Examples(list(examples), inputs=text)
        button.click(run, inputs=text, outputs=[view, raw], api_name="predict")
    return demo


def default_theme():
    """Gradio's default theme on system fonts: the stock one fetches Google Fonts, and nothing here needs the network."""
    import gradio as gr

    return gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m labelwise.demo --model <folder or repo> [--trust_remote_code]`; errors print as one message."""
    from labelwise.cli_errors import run_cli  # here, not at the top: a Space runs this file without labelwise

    run_cli(_main, argv, prog="python -m labelwise.demo")


def _main(argv: Sequence[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m labelwise.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="saved labelwise model folder (or Hub repo id)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: localhost only)")
    parser.add_argument("--title", default=None)
    parser.add_argument("--example", action="append", default=None, help="example text (repeatable)")
    parser.add_argument(
        "--threshold", type=float, default=None,
        help="probability from which a label is predicted (default: the model's tuned thresholds, else 0.5)",
    )
    parser.add_argument("--device", default=None, help="torch device, e.g. cuda:0 (default: CPU)")
    parser.add_argument(
        "--trust_remote_code",
        action="store_true",
        help="let the model's own code (config.json auto_map / custom_pipelines) run on this machine; read it first",
    )
    parser.add_argument(
        "--evidence_method", default="attention",
        help="'attention' (LAME's label attention, one forward: the default) or 'integrated_gradients' (more faithful "
        "on HoC, many forward passes per label; also explains plain classifiers)",
    )
    args = parser.parse_args(argv)

    demo = build_demo(
        args.model,
        title=args.title,
        examples=args.example,
        device=args.device,
        threshold=args.threshold,
        trust_remote_code=args.trust_remote_code,
        evidence_method=args.evidence_method,
    )
    demo.launch(server_name=args.host, server_port=args.port, share=False, ssr_mode=False, theme=default_theme())


if __name__ == "__main__":
    main()
