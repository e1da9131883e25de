"""Gradio demo for any trained labelwise model folder (or Hub repo): paste text, see labels and evidence.

    python -m labelwise.demo --model runs/hoc-lame --port 7860

The model kind is read from `config.json`:

* `model_type == "lame"`: the LAME pipeline (`label-attention-classification`); the page shows the
  labels with probabilities and the document shaded by the selected label's attention.
* `model_type == "labelwise_layerwise"`: layer-wise guided model; labels per hierarchy level.
* an `...ForTokenClassification` architecture: ADR tagger; the text with entity spans.
* any other `...ForSequenceClassification`: labels and probabilities.

A model's own code (`auto_map`, `custom_pipelines` in its config.json) runs only with
`--trust_remote_code` (`trust_remote_code=True` in Python), as in transformers. Without it, LAME and
layer-wise models are served by labelwise's own classes (installed with the package) and any other
model by transformers' built-in classes; a model that needs its own code is refused with a message
naming the config entries.

The rendering is `labelwise.analysis.viewer`. This module needs only gradio, transformers, torch
and that viewer, so `labelwise.analysis.space.write_space_files` can copy both files into a Hub
Space that does not install labelwise. Nothing here calls the network unless `model` is a Hub id.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

# Gradio reports usage to a server unless told not to; set before gradio is imported.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

try:
    from labelwise.analysis.viewer import render_fragment
except ImportError:  # inside a Hub Space the viewer is copied next to this file
    from labelwise_viewer import render_fragment  # type: ignore[no-redef]

__all__ = ["KINDS", "RemoteCodeError", "build_demo", "default_theme", "detect_kind", "load_predictor", "main"]

KINDS = ("lame", "layerwise", "ner", "classification")
LAYERWISE_MODEL_TYPE = "labelwise_layerwise"


class RemoteCodeError(ValueError):
    """The model needs code from its own files or repo, and `trust_remote_code` was not given."""


def remote_code_entries(config: dict[str, Any]) -> list[str]:
    """The config.json entries that name code shipped with the model (`auto_map`, `custom_pipelines`).

    (`labelwise.publishing.handler.code_references` reads the same fields; each file keeps its own
    reader because each runs alone: this one in a Space, that one on an endpoint.)
    """
    entries = [f"auto_map[{key!r}] = {value!r}" for key, value in (config.get("auto_map") or {}).items()]
    entries += [
        f"custom_pipelines[{task!r}] = {(spec or {}).get('impl') if isinstance(spec, dict) else spec!r}"
        for task, spec in (config.get("custom_pipelines") or {}).items()
    ]
    return entries


def _served_without_remote_code(config: dict[str, Any]) -> bool:
    """Whether an installed library (labelwise's modeling package, or transformers) has this model's classes."""
    try:
        import labelwise.modeling  # noqa: F401  (registers LAME and layer-wise with the Auto classes)
    except ImportError:  # a Space without labelwise
        pass
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    return config.get("model_type") in CONFIG_MAPPING


def _check_trust(model: str, config: dict[str, Any], trust_remote_code: bool) -> None:
    entries = remote_code_entries(config)
    foreign = [entry for entry in entries if "--" in entry]
    if foreign and trust_remote_code:
        # "org/repo--module.Class" runs another repository's code: trusting this model is not trusting that.
        raise RemoteCodeError(
            f"{model}: config.json points at code in another repository ({'; '.join(foreign)}); labelwise does not "
            "run it, even with --trust_remote_code. Load that repository itself if you trust its code."
        )
    if trust_remote_code or not entries or _served_without_remote_code(config):
        return
    raise RemoteCodeError(
        f"{model}: config.json asks to run code shipped with the model ({'; '.join(entries)}), and no installed "
        f"library has classes for model_type {config.get('model_type')!r}. Running it means running that code on "
        "this machine: read it first, then pass --trust_remote_code (Python: trust_remote_code=True)."
    )


def _read_config(model: str) -> dict[str, Any]:
    if os.path.isdir(model):
        path = os.path.join(model, "config.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{model} has no config.json: is it a saved model folder?")
    elif model.startswith(("/", ".", "~")) or model.count("/") > 1 or os.sep in model.replace("/", ""):
        # Hub ids are "name" or "namespace/name"; anything else was meant as a folder.
        raise FileNotFoundError(f"{model}: no such model folder (nor a Hub repo id of the form 'namespace/name').")
    else:
        from transformers.utils import cached_file

        path = cached_file(model, "config.json")
    with open(path, encoding="utf-8") as handle:
        try:
            return json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error}).") from error


def detect_kind(config: dict[str, Any] | str) -> str:
    """The demo kind of a model (one of `KINDS`) from its `config.json` dict, folder or Hub id."""
    if isinstance(config, str):
        config = _read_config(config)
    model_type = config.get("model_type")
    architectures = config.get("architectures") or []
    if model_type == "lame":
        return "lame"
    if model_type == LAYERWISE_MODEL_TYPE:
        return "layerwise"
    if any(name.endswith("ForTokenClassification") for name in architectures):
        return "ner"
    if any(name.endswith("ForSequenceClassification") for name in architectures):
        return "classification"
    raise ValueError(
        f"config.json (model_type={model_type!r}, architectures={architectures}) is not a labelwise model the "
        "demo knows: expected model_type 'lame' or 'labelwise_layerwise', or a ...ForTokenClassification / "
        "...ForSequenceClassification architecture."
    )


def _tokenizer_and_model(model: str, auto_class: str, device: str | None, trust_remote_code: bool):
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
    network = getattr(transformers, auto_class).from_pretrained(model, trust_remote_code=trust_remote_code)
    network.eval()
    if device:
        network.to(device)
    # Checkpoints saved with a hand-made tokenizer may carry no usable model_max_length.
    limit = getattr(network.config, "max_position_embeddings", 512)
    tokenizer.model_max_length = min(tokenizer.model_max_length, limit)
    return tokenizer, network


def _lame_predictor(
    model: str, config: dict, device: str | None, threshold: float, trust_remote_code: bool
) -> Callable[[str], dict]:
    import transformers

    custom = config.get("custom_pipelines") or {}
    if custom and trust_remote_code:
        # The checkpoint ships its pipeline as remote code (the normal case for a Hub repo).
        task = next(iter(custom))
        classify = transformers.pipeline(task, model=model, trust_remote_code=True, device=device)
    else:
        from labelwise.modeling.pipeline_lame import LameClassificationPipeline

        # labelwise's own pipeline; without trust_remote_code also its own model class (nothing from
        # the model's folder is run).
        tokenizer, network = _tokenizer_and_model(model, "AutoModelForSequenceClassification", device, trust_remote_code)
        classify = LameClassificationPipeline(model=network, tokenizer=tokenizer)
    # The threshold applies to multi-label models; a multi-class model predicts its arg-max.
    return lambda text: classify(text, threshold=threshold)


def _ner_predictor(model: str, device: str | None, trust_remote_code: bool) -> Callable[[str], dict]:
    tokenizer, network = _tokenizer_and_model(model, "AutoModelForTokenClassification", device, trust_remote_code)
    try:
        # Tag word by word exactly as the tagger was trained and evaluated (first piece, windows).
        from labelwise.ner.tagger import predict_spans

        def spans(text: str) -> list[dict]:
            return predict_spans(network, tokenizer, [text], max_length=tokenizer.model_max_length)[0]

    except ImportError:  # a Space without labelwise: transformers' pipeline, first-piece aggregation
        import transformers

        tag = transformers.pipeline(
            "token-classification", model=network, tokenizer=tokenizer, aggregation_strategy="first",
            stride=max(1, tokenizer.model_max_length // 4),
        )

        def spans(text: str) -> list[dict]:
            return [{key: item[key] for key in ("entity_group", "score", "word", "start", "end")} for item in tag(text)]

    return lambda text: {"text": text, "entities": [dict(span, score=float(span["score"])) for span in spans(text)]}


def _scores(text: str, tokenizer, network) -> list[float]:
    """Per-label probabilities `(num_labels,)` of one text: sigmoid for multi-label, else softmax."""
    import torch

    encoded = tokenizer(text, truncation=True, max_length=tokenizer.model_max_length, return_tensors="pt")
    encoded = {key: value.to(network.device) for key, value in encoded.items()}
    with torch.no_grad():
        logits = network(**encoded).logits[0].float()
    if network.config.problem_type == "multi_label_classification":
        return torch.sigmoid(logits).tolist()
    return torch.softmax(logits, dim=-1).tolist()


def _layerwise_predictor(
    model: str, device: str | None, threshold: float, trust_remote_code: bool
) -> Callable[[str], dict]:
    import torch

    tokenizer, network = _tokenizer_and_model(model, "AutoModelForSequenceClassification", device, trust_remote_code)
    if not hasattr(network, "logits_to_levels"):
        raise TypeError(f"{model}: {type(network).__name__} has no logits_to_levels; is it a layer-wise checkpoint?")

    def predict(text: str) -> dict:
        encoded = tokenizer(text, truncation=True, max_length=tokenizer.model_max_length, return_tensors="pt")
        with torch.no_grad():
            logits = network(**{key: value.to(network.device) for key, value in encoded.items()}).logits
        # The model's own split (and hierarchical consistency, when its config asks for it); unlike
        # its pipeline, which keeps only predicted labels, every label's probability is shown.
        levels = {
            str(level.level): [
                {"label": name, "score": float(score), "predicted": bool(keep)}
                for name, score, keep in zip(level.labels, level.probabilities[0].tolist(), level.predicted[0].tolist())
            ]
            for level in network.logits_to_levels(logits, threshold)
        }
        return {"text": text, "levels": levels}

    return predict


def _classification_predictor(
    model: str, device: str | None, threshold: float, trust_remote_code: bool
) -> Callable[[str], dict]:
    tokenizer, network = _tokenizer_and_model(model, "AutoModelForSequenceClassification", device, trust_remote_code)
    multi_label = network.config.problem_type == "multi_label_classification"

    def predict(text: str) -> dict:
        scores = _scores(text, tokenizer, network)
        best = max(range(len(scores)), key=scores.__getitem__)
        labels = [
            {
                "label": network.config.id2label[i],
                "score": score,
                "predicted": score >= threshold if multi_label else i == best,
                "description": "",
                "evidence": [],
            }
            for i, score in enumerate(scores)
        ]
        return {"text": text, "labels": sorted(labels, key=lambda item: item["score"], reverse=True)}

    return predict


def load_predictor(
    model: str, *, device: str | None = None, threshold: float = 0.5, trust_remote_code: bool = False
) -> tuple[str, Callable[[str], dict]]:
    """Load `model` (folder or Hub id) and return `(kind, predict)`; `predict(text)` gives a viewer dict.

    `threshold` is the probability from which a label of a multi-label model (LAME, layer-wise or
    plain) is predicted; multi-class models predict their most probable label.
    `trust_remote_code=True` lets the model's own code run (module docstring); without it a model
    that needs that code raises `RemoteCodeError`. `predict` raises `ValueError` for an empty or
    whitespace-only text, which has no words to classify.
    """
    config = _read_config(model)
    kind = detect_kind(config)
    _check_trust(model, config, trust_remote_code)
    if kind == "lame":
        predict = _lame_predictor(model, config, device, threshold, trust_remote_code)
    elif kind == "ner":
        predict = _ner_predictor(model, device, trust_remote_code)
    elif kind == "layerwise":
        predict = _layerwise_predictor(model, device, threshold, trust_remote_code)
    else:
        predict = _classification_predictor(model, device, threshold, trust_remote_code)

    def checked(text: str) -> dict:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"The text is empty or whitespace only ({text!r}): there is nothing to classify.")
        return predict(text)

    return kind, checked


_INTRO = {
    "lame": "Paste a document: the model predicts its labels, and shades each word by how much the selected "
    "label attended to it. Click a label to switch.",
    "layerwise": "Paste a document: the model predicts labels at every level of the hierarchy.",
    "ner": "Paste a text: the model marks adverse drug reaction spans; hover a span for its score.",
    "classification": "Paste a document: the model predicts its labels with probabilities.",
}


def build_demo(
    model: str,
    *,
    title: str | None = None,
    examples: Sequence[str] | None = None,
    device: str | None = None,
    threshold: float = 0.5,
    trust_remote_code: bool = False,
):
    """A `gradio.Blocks` app serving `model`: a text box, a Predict button and the viewer's HTML.

    `trust_remote_code` as in `load_predictor`.

    The label switch of the LAME view is CSS-only, so it works inside `gr.HTML` (which does not run
    `<script>`). The raw prediction is shown as JSON under the view.
    """
    import gradio as gr

    kind, predict = load_predictor(model, device=device, threshold=threshold, trust_remote_code=trust_remote_code)
    name = title or f"labelwise: {os.path.basename(os.path.normpath(model))}"

    def run(text: str) -> tuple[str, dict]:
        if not text or not text.strip():
            return '<p class="lw-empty">Enter some text first.</p>', {}
        prediction = predict(text)
        return render_fragment(prediction), prediction

    with gr.Blocks(title=name, analytics_enabled=False) as demo:
        gr.Markdown(f"# {name}\n{_INTRO[kind]}")
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
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--device", default=None, help="torch device, e.g. cuda:0 (default: CPU)")
    parser.add_argument(
        "--trust_remote_code",
        action="store_true",
        help="let the model's own code (config.json auto_map / custom_pipelines) run on this machine; read it first",
    )
    args = parser.parse_args(argv)

    demo = build_demo(
        args.model,
        title=args.title,
        examples=args.example,
        device=args.device,
        threshold=args.threshold,
        trust_remote_code=args.trust_remote_code,
    )
    demo.launch(server_name=args.host, server_port=args.port, share=False, ssr_mode=False, theme=default_theme())


if __name__ == "__main__":
    main()
