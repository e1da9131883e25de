"""Self-contained HTML views of labelwise predictions: LAME evidence, ADR spans, hierarchy levels.

Three prediction shapes are understood (see `prediction_kind`):

* LAME (the `label-attention-classification` pipeline)::

    {"text": str,
     "labels": [{"label", "score", "description", "predicted", "evidence": [{"word", "start", "end", "weight"}]}],
     "words": [{"word", "start", "end"}],
     "word_weights": {label: [one weight per word]},
     "evidence_method": "attention"}   # optional; another method may give weights to some labels only

  `words`/`word_weights` may be absent (a plain sequence classifier): then only the labels are shown.
* NER: `{"text": str, "entities": [{"entity_group", "start", "end", "word", "score"}]}`, the
  spans being the output of a token-classification pipeline with `aggregation_strategy="simple"`.
* Layer-wise: `{"text": str, "levels": {level: [{"label", "score", "predicted"}]}}`.

Every piece of document text, label name and description is HTML-escaped, so a document that
contains markup is shown as text and cannot run script. The label switch of the LAME view is
pure CSS (radio buttons and `:checked` sibling rules): it works in a saved file, in a browser
with JavaScript disabled and inside Gradio's `gr.HTML`, which does not execute `<script>`.

This module imports only the standard library, so a Hub Space can carry it as a single file
(`labelwise.analysis.space.write_space_files`). From the command line, for a model folder:

    python -m labelwise.analysis.viewer --model runs/hoc-lame --text_file abstract.txt \
        --output view.html --png view.png
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["CHROMIUM_FLAGS", "prediction_kind", "render_fragment", "render_html", "render_png"]

# Chromium's shading colour for attention weights (orange) and a palette for entity groups.
_WEIGHT_RGB = "255, 128, 0"
_ENTITY_COLOURS = ("#ffb3b3", "#b3d9ff", "#c2f0c2", "#ffe0a3", "#e0c2ff", "#b3f0ec")
# Flags under which headless Chromium starts on a machine without network or GPU.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)

_CSS = """
.lw{--lw-fg:#1f2328;--lw-muted:#59636e;--lw-line:#d1d9e0;color:var(--lw-fg);background:#fff;
 font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;max-width:60rem;
 margin:0 auto;padding:1rem 1.25rem;box-sizing:border-box;text-align:left}
.lw h1{font-size:1.35rem;margin:0 0 .75rem}
.lw h2{font-size:1.05rem;margin:1rem 0 .4rem}
.lw .lw-note{color:var(--lw-muted);font-size:.85rem;margin:.25rem 0 .5rem}
.lw .lw-doc{white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.9;border:1px solid var(--lw-line);
 border-radius:6px;padding:.75rem 1rem;margin:.5rem 0}
.lw .lw-w{border-radius:3px;padding:.1em 0}
.lw .lw-radio{position:absolute;opacity:0;width:1px;height:1px;margin:0}
.lw .lw-labels{display:flex;flex-wrap:wrap;gap:.35rem;margin:.25rem 0 .5rem;padding:0;list-style:none}
.lw .lw-label{display:inline-flex;gap:.4rem;align-items:baseline;border:1px solid var(--lw-line);border-radius:999px;
 padding:.15rem .7rem;cursor:pointer;background:#f6f8fa;user-select:none}
.lw .lw-label.lw-pred{font-weight:600;border-color:#e87a00;background:#fff4e6}
.lw .lw-label.lw-off{cursor:default;color:var(--lw-muted)}
.lw .lw-score{font-variant-numeric:tabular-nums;color:var(--lw-muted);font-weight:400}
.lw .lw-detail{display:none;border-left:3px solid #e87a00;padding:.2rem .75rem;margin:.25rem 0}
.lw .lw-detail p{margin:.2rem 0}
.lw .lw-legend{display:flex;align-items:center;gap:.5rem;font-size:.85rem;color:var(--lw-muted)}
.lw .lw-bar{display:inline-block;width:10rem;height:.8rem;border:1px solid var(--lw-line);border-radius:3px;
 background:linear-gradient(to right,rgba(%(rgb)s,0),rgba(%(rgb)s,1))}
.lw table{border-collapse:collapse;margin:.25rem 0 .75rem;font-size:.9rem;min-width:26rem}
.lw th,.lw td{border-bottom:1px solid var(--lw-line);padding:.2rem .6rem;text-align:left}
.lw td.lw-num{text-align:right;font-variant-numeric:tabular-nums}
.lw .lw-meter{display:inline-block;height:.6rem;background:#e87a00;border-radius:2px;vertical-align:middle}
.lw tr.lw-no{color:var(--lw-muted)}
.lw mark.lw-ent{border-radius:3px;padding:.1em .15em;color:inherit}
.lw .lw-tag{font-size:.7em;font-weight:700;margin-left:.25em;color:#444;vertical-align:super}
""".replace("%(rgb)s", _WEIGHT_RGB)


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def prediction_kind(prediction: Mapping[str, Any]) -> str:
    """The shape of a prediction dict, named by its key (see the module docstring): `"labels"` (LAME or a
    plain classifier), `"entities"` (a tagger) or `"levels"` (layer-wise)."""
    if not isinstance(prediction, Mapping):
        raise TypeError(f"A prediction must be a dict, got {type(prediction).__name__}.")
    if "text" not in prediction or not isinstance(prediction["text"], str):
        raise ValueError(f"A prediction needs a 'text' string; got keys {sorted(prediction)}.")
    for key in ("entities", "levels", "labels"):
        if key in prediction:
            return key
    raise ValueError(
        "Cannot tell the prediction kind: expected 'labels' (LAME / classification), 'entities' (NER) "
        f"or 'levels' (layer-wise) next to 'text'; got keys {sorted(prediction)}."
    )


def _check_spans(spans: Sequence[Mapping[str, Any]], text: str, field: str) -> list[tuple[int, int]]:
    """Validate `start`/`end` offsets (in order, non-overlapping, inside `text`) and return them."""
    result, previous_end = [], 0
    for index, span in enumerate(spans):
        try:
            start, end = int(span["start"]), int(span["end"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"prediction[{field!r}][{index}] needs integer 'start' and 'end', got {span!r}.") from error
        if not 0 <= start <= end <= len(text):
            raise ValueError(
                f"prediction[{field!r}][{index}]: span ({start}, {end}) lies outside the text (length {len(text)})."
            )
        if start < previous_end:
            raise ValueError(
                f"prediction[{field!r}][{index}]: span ({start}, {end}) overlaps or precedes the previous span, "
                f"which ends at {previous_end}; spans must be sorted and disjoint."
            )
        result.append((start, end))
        previous_end = end
    return result


def _uid(prediction: Mapping[str, Any]) -> str:
    """A short id derived from the content, so two views on one page do not share radio groups."""
    digest = hashlib.sha1(json.dumps(prediction, sort_keys=True, default=str).encode("utf-8")).hexdigest()
    return "lw" + digest[:10]


def _format_score(score: float) -> str:
    return f"{float(score):.3f}"


# --------------------------------------------------------------------------------------------- LAME
def _render_lame(prediction: Mapping[str, Any], uid: str, selected_label: str | None, max_switch_labels: int) -> str:
    text: str = prediction["text"]
    labels = list(prediction["labels"])
    for index, item in enumerate(labels):
        for key in ("label", "score"):
            if key not in item:
                raise ValueError(f"prediction['labels'][{index}] has no {key!r}: {item!r}.")
    labels.sort(key=lambda item: float(item["score"]), reverse=True)
    words = list(prediction.get("words") or [])
    word_weights: Mapping[str, Sequence[float]] = prediction.get("word_weights") or {}
    spans = _check_spans(words, text, "words")

    # Labels that get a radio button and a shading rule: every predicted label, then the best
    # others up to `max_switch_labels`. A corpus with thousands of labels would otherwise put
    # thousands of weights on every word.
    switchable = [item for item in labels if item.get("predicted")]
    switchable += [item for item in labels if not item.get("predicted")][: max(0, max_switch_labels - len(switchable))]
    method = prediction.get("evidence_method", "attention")
    if method != "attention":  # a costly method explains only some labels (labelwise.explain.evidence)
        switchable = [item for item in switchable if item["label"] in word_weights]
    missing = [item["label"] for item in switchable if words and item["label"] not in word_weights]
    if missing:
        raise ValueError(f"prediction['word_weights'] has no weights for label(s) {missing}.")
    names = [str(item["label"]) for item in switchable]
    if selected_label is None:
        selected = 0
    elif selected_label in names:
        selected = names.index(selected_label)
    else:
        raise ValueError(f"selected_label {selected_label!r} is not one of the switchable labels {names}.")

    # Per-label normalisation: divide by the label's largest word weight in this document, so the
    # strongest word of every label is fully shaded whatever the document length.
    normalised: list[list[float]] = []
    for name in names if words else []:
        weights = [float(w) for w in word_weights[name]]
        if len(weights) != len(words):
            raise ValueError(
                f"prediction['word_weights'][{name!r}] has {len(weights)} weights for {len(words)} words."
            )
        if any(math.isnan(w) or w < 0 for w in weights):
            raise ValueError(f"prediction['word_weights'][{name!r}] holds a negative or NaN weight.")
        top = max(weights, default=0.0)
        normalised.append([w / top if top > 0 else 0.0 for w in weights])

    css = [
        f"#{uid}-r{i}:checked~.lw-doc .lw-w{{background:rgba({_WEIGHT_RGB},var(--w{i},0))}}"
        f"#{uid}-r{i}:checked~.lw-labels label[for={uid}-r{i}]{{outline:2px solid #e87a00;outline-offset:1px}}"
        f"#{uid}-r{i}:checked~.lw-details .lw-d{i}{{display:block}}"
        for i in range(len(names))
    ]
    parts = [f'<div class="lw lw-lame" id="{uid}"><style>{"".join(css)}</style>']
    for i, name in enumerate(names):
        checked = " checked" if i == selected else ""
        parts.append(
            f'<input type="radio" class="lw-radio" name="{uid}" id="{uid}-r{i}" value="{_esc(name)}"{checked}>'
        )

    predicted = [item for item in labels if item.get("predicted")]
    parts.append(
        f'<p class="lw-note">{len(predicted)} of {len(labels)} labels predicted. '
        + (("Click a label to see the words it attended to." if method == "attention" else
            f"Click a label to see the words it was predicted from ({_esc(method.replace('_', ' '))}).") if words else "")
        + "</p>"
    )
    parts.append('<div class="lw-labels">')
    for item in labels:
        name = str(item["label"])
        classes = "lw-label" + (" lw-pred" if item.get("predicted") else "")
        mark = "&#10003; " if item.get("predicted") else ""
        body = f'{mark}<span class="lw-name">{_esc(name)}</span><span class="lw-score">{_format_score(item["score"])}</span>'
        attributes = f'data-label="{_esc(name)}" data-score="{_format_score(item["score"])}" ' + (
            f'data-predicted="{str(bool(item.get("predicted"))).lower()}" title="{_esc(item.get("description") or name)}"'
        )
        if name in names:
            parts.append(f'<label class="{classes}" for="{uid}-r{names.index(name)}" {attributes}>{body}</label>')
        else:
            parts.append(f'<span class="{classes} lw-off" {attributes}>{body}</span>')
    parts.append("</div>")

    parts.append('<div class="lw-details">')
    for i, item in enumerate(switchable):
        status = "predicted" if item.get("predicted") else "not predicted"
        parts.append(f'<div class="lw-detail lw-d{i}" data-label="{_esc(item["label"])}">')
        parts.append(
            f"<p><strong>{_esc(item['label'])}</strong>: probability {_format_score(item['score'])} ({status})</p>"
        )
        if item.get("description"):
            parts.append(f'<p class="lw-desc">{_esc(item["description"])}</p>')
        evidence = item.get("evidence") or []
        if evidence:
            shown = ", ".join(
                f'<span class="lw-ev">{_esc(text[int(e["start"]):int(e["end"])] if "start" in e else e["word"])}</span>'
                f' ({float(e["weight"]):.3f})'
                for e in evidence
            )
            parts.append(f"<p>Evidence: {shown}</p>")
        parts.append("</div>")
    parts.append("</div>")

    if words:
        parts.append(
            '<div class="lw-legend"><span>0</span><span class="lw-bar"></span><span>1</span>'
            f"<span>Shading: the selected label's {'attention weight' if method == 'attention' else _esc(method.replace('_', ' ')) + ' score (above 0)'}"
            " on each word, divided by that label's largest word weight in this document (darkest word = 1).</span></div>"
        )
    if prediction.get("truncated"):
        parts.append('<p class="lw-note">The document was longer than the model input: only its start was read.</p>')

    # The document: gaps between words verbatim (escaped), each word a span carrying its
    # normalised weight for every switchable label as a CSS variable (omitted when it rounds to 0).
    doc, cursor = ['<div class="lw-doc">'], 0
    for w, (start, end) in enumerate(spans):
        doc.append(_esc(text[cursor:start]))
        variables = ";".join(
            f"--w{i}:{column[w]:.3f}" for i, column in enumerate(normalised) if round(column[w], 3) > 0
        )
        style = f' style="{variables}"' if variables else ""
        doc.append(f'<span class="lw-w" data-i="{w}"{style}>{_esc(text[start:end])}</span>')
        cursor = end
    doc.append(_esc(text[cursor:]))
    doc.append("</div>")
    parts.append("".join(doc))
    parts.append("</div>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------------- NER
def _render_ner(prediction: Mapping[str, Any], uid: str) -> str:
    text: str = prediction["text"]
    entities = sorted(prediction["entities"], key=lambda span: (int(span["start"]), int(span["end"])))
    spans = _check_spans(entities, text, "entities")
    groups = sorted({str(span.get("entity_group", span.get("entity", "ENT"))) for span in entities})
    colour = {group: _ENTITY_COLOURS[i % len(_ENTITY_COLOURS)] for i, group in enumerate(groups)}

    parts = [f'<div class="lw lw-ner" id="{uid}">']
    legend = " ".join(
        f'<mark class="lw-ent" style="background:{colour[g]}">{_esc(g)}</mark> '
        f"{sum(1 for s in entities if str(s.get('entity_group', s.get('entity', 'ENT'))) == g)}"
        for g in groups
    )
    parts.append(
        f'<p class="lw-note">{len(entities)} span(s) found. {legend} '
        "Hover a span for its score (the mean of its tokens' probabilities).</p>"
    )
    doc, cursor = ['<div class="lw-doc">'], 0
    for span, (start, end) in zip(entities, spans):
        group = str(span.get("entity_group", span.get("entity", "ENT")))
        score = float(span.get("score", float("nan")))
        doc.append(_esc(text[cursor:start]))
        doc.append(
            f'<mark class="lw-ent" style="background:{colour[group]}" title="{_esc(group)} (score {score:.3f})" '
            f'data-entity="{_esc(group)}" data-score="{score:.3f}" data-start="{start}" data-end="{end}">'
            f'{_esc(text[start:end])}<span class="lw-tag">{_esc(group)}</span></mark>'
        )
        cursor = end
    doc.append(_esc(text[cursor:]) + "</div>")
    parts.append("".join(doc))
    if entities:
        parts.append("<table><thead><tr><th>entity</th><th>text</th><th>characters</th><th>score</th></tr></thead><tbody>")
        for span, (start, end) in zip(entities, spans):
            group = str(span.get("entity_group", span.get("entity", "ENT")))
            parts.append(
                f"<tr><td>{_esc(group)}</td><td>{_esc(text[start:end])}</td><td>{start}-{end}</td>"
                f'<td class="lw-num">{float(span.get("score", float("nan"))):.3f}</td></tr>'
            )
        parts.append("</tbody></table>")
    parts.append("</div>")
    return "".join(parts)


# ---------------------------------------------------------------------------------------- layer-wise
def _render_layerwise(prediction: Mapping[str, Any], uid: str, max_rows: int) -> str:
    text: str = prediction["text"]
    levels = prediction["levels"]
    if not isinstance(levels, Mapping):
        raise TypeError(f"prediction['levels'] must map a level to its labels, got {type(levels).__name__}.")
    parts = [f'<div class="lw lw-layerwise" id="{uid}">']
    parts.append(
        '<p class="lw-note">Labels per hierarchy level, most probable first; each level is read from its '
        f"own encoder layer(s). At most {max_rows} labels per level are listed, predicted ones always.</p>"
    )
    for level in sorted(levels, key=lambda key: (len(str(key)), str(key))):
        rows = sorted(levels[level], key=lambda item: float(item["score"]), reverse=True)
        shown = [r for r in rows if r.get("predicted")]
        shown += [r for r in rows if not r.get("predicted")][: max(0, max_rows - len(shown))]
        shown.sort(key=lambda item: float(item["score"]), reverse=True)
        count = sum(1 for r in rows if r.get("predicted"))
        parts.append(
            f'<h2 data-level="{_esc(level)}">Level {_esc(level)}: {count} of {len(rows)} labels predicted</h2>'
        )
        parts.append(f'<table data-level="{_esc(level)}"><tbody>')
        for row in shown:
            score = float(row["score"])
            predicted = bool(row.get("predicted"))
            parts.append(
                f'<tr class="{"lw-yes" if predicted else "lw-no"}" data-label="{_esc(row["label"])}" '
                f'data-predicted="{str(predicted).lower()}"><td>{"&#10003;" if predicted else ""}</td>'
                f"<td>{_esc(row['label'])}</td>"
                f'<td class="lw-num">{_format_score(score)}</td>'
                f'<td><span class="lw-meter" style="width:{max(0.0, min(score, 1.0)) * 8:.2f}rem"></span></td></tr>'
            )
        parts.append("</tbody></table>")
    parts.append(f'<div class="lw-doc">{_esc(text)}</div>')
    parts.append("</div>")
    return "".join(parts)


# ------------------------------------------------------------------------------------------- public
def render_fragment(
    prediction: Mapping[str, Any], *, selected_label: str | None = None, max_switch_labels: int = 20
) -> str:
    """An embeddable `<div class="lw">` (with its own `<style>`, no script) showing `prediction`.

    Args:
        prediction: a LAME, NER or layer-wise prediction (module docstring).
        selected_label: LAME only: the label whose attention shades the text at first (default: the
            most probable label).
        max_switch_labels: LAME: how many labels get a switch and shading weights (predicted labels
            always do); layer-wise: rows listed per level.

    Raises:
        ValueError: when offsets, weights or fields are inconsistent; the message names the field.
    """
    kind = prediction_kind(prediction)
    uid = _uid(prediction)
    body = {
        "labels": lambda: _render_lame(prediction, uid, selected_label, max_switch_labels),
        "entities": lambda: _render_ner(prediction, uid),
        "levels": lambda: _render_layerwise(prediction, uid, max_switch_labels),
    }[kind]()
    return f"<style>{_CSS}</style>{body}"


def render_html(
    prediction: Mapping[str, Any],
    *,
    title: str | None = None,
    selected_label: str | None = None,
    max_switch_labels: int = 20,
) -> str:
    """A complete, self-contained HTML page (inline CSS, no script, no external request) for `prediction`.

    LAME: the labels with probabilities (predicted ones marked), the selected label's description
    and evidence words, and the document with every word shaded by that label's attention weight
    (normalised per label); clicking another label re-shades the text. NER: the text with entity
    spans highlighted, the score in each span's tooltip, and a table of spans. Layer-wise: the labels
    of every hierarchy level. Arguments as in `render_fragment`.
    """
    kind = prediction_kind(prediction)
    method = str(prediction.get("evidence_method", "attention")).replace("_", " ")
    labels_heading = ("Label attention" if method == "attention" else f"Evidence words ({method})") if prediction.get("words") else "Labels"
    heading = title or {"labels": labels_heading, "entities": "Adverse drug reaction spans", "levels": "Labels per level"}[kind]
    fragment = render_fragment(prediction, selected_label=selected_label, max_switch_labels=max_switch_labels)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(heading)}</title>"
        "<style>body{margin:0;background:#fff}</style></head><body>"
        f'<div class="lw" style="padding-bottom:0"><h1>{_esc(heading)}</h1></div>{fragment}</body></html>\n'
    )


def render_png(
    prediction: Mapping[str, Any],
    path: str | os.PathLike,
    *,
    title: str | None = None,
    width: int = 1000,
    height: int | None = None,
    chromium: str | None = None,
    selected_label: str | None = None,
) -> str:
    """Render `prediction` to a PNG with headless Chromium; return the path.

    With the `playwright` package installed the whole page is captured (`height=None`); otherwise
    the `chromium` command line takes a `width` x `height` (default 1200) screenshot.

    Raises:
        FileNotFoundError: when no Chromium executable is found (`chromium`, `$CHROMIUM`, PATH).
        RuntimeError: when Chromium fails; the message carries its output.
    """
    executable = chromium or os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable or not os.path.exists(executable):
        raise FileNotFoundError("render_png needs Chromium: install Debian's `chromium` or pass chromium=<path>.")
    path = os.fspath(path)
    page = render_html(prediction, title=title, selected_label=selected_label)
    with tempfile.TemporaryDirectory(prefix="labelwise-png-") as scratch:
        source = os.path.join(scratch, "page.html")
        with open(source, "w", encoding="utf-8") as handle:
            handle.write(page)
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            sync_playwright = None
        if sync_playwright is not None and height is None:
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=executable, args=list(CHROMIUM_FLAGS[1:]))
                try:
                    tab = browser.new_page(viewport={"width": width, "height": 600})
                    tab.goto("file://" + source)
                    tab.screenshot(path=path, full_page=True)
                finally:
                    browser.close()
            return path
        command = [
            executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={os.path.join(scratch, 'profile')}",
            f"--window-size={width},{height or 1200}",
            f"--screenshot={os.path.abspath(path)}",
            "file://" + source,
        ]
        completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if completed.returncode != 0 or not os.path.exists(path):
            raise RuntimeError(f"Chromium could not render {path} (exit {completed.returncode}):\n{completed.stderr[-2000:]}")
    return path


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m labelwise.analysis.viewer --model <folder> --text_file doc.txt --output view.html [--png view.png]`.

    Errors print as one message (`labelwise.cli_errors`); `--debug` shows the traceback.
    """
    # Imported here: the Space copy of this module runs without labelwise.
    from labelwise.analysis.viewer_command import run
    from labelwise.cli_errors import run_cli

    run_cli(lambda arguments: run(arguments, render_html, render_png), argv, prog="python -m labelwise.analysis.viewer")


if __name__ == "__main__":
    main()
